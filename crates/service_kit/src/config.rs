//! Configuration loading shared by every service: one path from the file to the runtime
//! settings.
//!
//! Each service has a raw file struct (what the TOML says, strings and numbers, serde
//! defaults) implementing [`ConfigFile`], and runtime settings implementing
//! [`ServiceSettings`]. [`load`] finds the file (`--config`, the service's env vars,
//! `./config.toml`), parses it, applies the environment variables on top
//! ([`ConfigFile::apply_env`]), then turns it once into the runtime settings
//! ([`ServiceSettings::from_file`]: probes, sinks, compiled regexes, enums), which is what
//! `run` takes. The file type never names the settings type, so the two stay one way round. Layering is therefore built-in defaults < TOML file < environment variables <
//! CLI flags (`--listen`, `--data-dir`). A bad file never half-loads: the first problem
//! becomes one line naming the file, the key and what is wrong, and the process exits with
//! [`EXIT_CONFIG`].

use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

/// A service's configuration file as written: the raw struct serde reads, and the
/// environment variables of its spec layered on top. Implemented by each service's
/// `config::Config`, which knows nothing of the runtime settings built from it.
pub trait ConfigFile: DeserializeOwned + Default {
    /// Env vars naming the config file when `--config` does not, first set wins (for example
    /// `HEALTHCHECK_CONFIG` then `CONFIG_PATH`).
    const PATH_ENV_VARS: &'static [&'static str];

    /// Applies the environment variables the service's spec documents on top of the file.
    fn apply_env(&mut self) -> Result<(), ConfigError>;
}

/// A service's runtime settings: what its `run` takes, built once from its [`ConfigFile`]
/// with everything checked and built (probes, sinks, compiled regexes, enums).
pub trait ServiceSettings: Sized {
    /// The file the settings are built from.
    type File: ConfigFile;

    /// The one conversion: checks and builds everything; the first problem names its key.
    fn from_file(file: Self::File) -> Result<Self, ConfigError>;

    /// `HOST:PORT` to listen on when `--listen` does not say.
    fn listen_address(&self) -> String;

    /// One line for `check-config`, such as `3 endpoint(s), port 9100`.
    fn summary(&self) -> String;
}

/// Loads a service's settings: the file at `path`, else `./config.toml` when it exists, else
/// the built-in defaults; then the env vars; then the one conversion. Errors name the file.
pub fn load<S: ServiceSettings>(path: Option<&Path>) -> Result<S, ConfigError> {
    let fallback = PathBuf::from("config.toml");
    let path = path.or_else(|| fallback.exists().then_some(fallback.as_path()));
    let mut file = match path {
        Some(path) => load_toml_file::<S::File>(path)?,
        None => S::File::default(),
    };
    file.apply_env()?;
    S::from_file(file).map_err(|e| match path {
        Some(path) => e.in_file(path),
        None => e,
    })
}

/// Builds a service's settings from config text alone, without env vars (tests, the demo).
pub fn from_toml<S: ServiceSettings>(text: &str) -> Result<S, ConfigError> {
    S::from_file(parse_toml::<S::File>(text)?)
}

/// Loads a service's settings `S` from `--config` (`cli`) or its file's env vars, exiting
/// with one line and [`EXIT_CONFIG`] when they are unusable.
pub fn load_or_exit<S: ServiceSettings>(cli: Option<PathBuf>) -> S {
    let path = config_path(cli, S::File::PATH_ENV_VARS);
    load::<S>(path.as_deref()).unwrap_or_else(|e| crate::cli::exit_on_config_error(&e))
}

/// Exit code for a configuration that cannot be used (as `sysexits` would say, usage error).
pub const EXIT_CONFIG: i32 = 2;

/// A configuration problem, rendered as a single line for the operator.
#[derive(Debug, thiserror::Error)]
pub struct ConfigError {
    /// The file the problem is in, if it came from a file.
    pub file: Option<PathBuf>,
    /// Dotted path of the offending key, such as `checks.endpoints[1].url`, or an env var name.
    pub key: String,
    /// What is wrong with it, in plain words.
    pub problem: String,
}

impl ConfigError {
    /// A problem with `key` that is not tied to a particular file (env vars, CLI flags).
    pub fn new(key: impl Into<String>, problem: impl Into<String>) -> Self {
        ConfigError {
            file: None,
            key: key.into(),
            problem: problem.into(),
        }
    }

    /// Attach the file the key was read from.
    pub fn in_file(mut self, file: &Path) -> Self {
        self.file = Some(file.to_path_buf());
        self
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.file {
            Some(file) => write!(
                f,
                "invalid config {}: {}: {}",
                file.display(),
                self.key,
                self.problem
            ),
            None => write!(f, "invalid config: {}: {}", self.key, self.problem),
        }
    }
}

/// Reads and parses a TOML file into `T`, naming the offending key on failure.
///
/// Unknown keys are rejected by `T` itself (`#[serde(deny_unknown_fields)]`); this function
/// turns serde's error into a [`ConfigError`] whose `key` is the dotted path to the problem.
pub fn load_toml_file<T: DeserializeOwned>(path: &Path) -> Result<T, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::new("(file)", format!("cannot read: {e}")).in_file(path))?;
    parse_toml(&text).map_err(|e| e.in_file(path))
}

/// Parses TOML text into `T`; see [`load_toml_file`].
pub fn parse_toml<T: DeserializeOwned>(text: &str) -> Result<T, ConfigError> {
    let deserializer = toml::Deserializer::new(text);
    serde_path_to_error::deserialize(deserializer).map_err(|err| {
        let key = err.path().to_string();
        let inner = err.into_inner();
        // toml's own message carries a multi-line source excerpt; keep its first sentence.
        let message = inner.message().lines().next().unwrap_or("invalid regex");
        let key = if key == "." {
            "(top level)".to_string()
        } else {
            name_list_items(text, &key)
        };
        let location = inner
            .span()
            .map(|span| format!(" (line {})", line_of(text, span.start)))
            .unwrap_or_default();
        ConfigError::new(key, format!("{message}{location}"))
    })
}

/// Adds the `name` (or `id`) of list items to a key path, so that
/// `checks.endpoints[1].type` reads `checks.endpoints[1] ("api").type`: operators know their
/// endpoints by name, not by position.
fn name_list_items(text: &str, key: &str) -> String {
    let Ok(root) = text.parse::<toml::Table>() else {
        return key.to_string();
    };
    let mut current: Option<&toml::Value> = None;
    let mut out = String::new();
    for (i, segment) in key.split('.').enumerate() {
        if i > 0 {
            out.push('.');
        }
        out.push_str(segment);
        let (field, index) = match segment.split_once('[') {
            Some((field, rest)) => (field, rest.trim_end_matches(']').parse::<usize>().ok()),
            None => (segment, None),
        };
        current = match current {
            None => root.get(field),
            Some(value) => value.get(field),
        };
        if let Some(index) = index {
            current = current.and_then(|list| list.get(index));
            let label = current
                .and_then(|item| item.get("name").or_else(|| item.get("id")))
                .and_then(|v| v.as_str());
            if let Some(label) = label {
                out.push_str(&format!(" ({label:?})"));
            }
        }
    }
    out
}

/// The key of `field` in item `index` of the list at `list`, named as [`parse_toml`] names it:
/// `item_key("checks.endpoints", 1, "api", "url")` is `checks.endpoints[1] ("api").url`, so
/// a problem found after parsing reads exactly like one serde found.
pub fn item_key(list: &str, index: usize, name: &str, field: &str) -> String {
    format!("{list}[{index}] ({name:?}).{field}")
}

/// 1-based line number of byte offset `at` in `text`.
fn line_of(text: &str, at: usize) -> usize {
    text[..at.min(text.len())]
        .bytes()
        .filter(|b| *b == b'\n')
        .count()
        + 1
}

/// Picks the config file path: the CLI flag, else the first env var of `env_vars` that is set
/// and non-empty (for example `HEALTHCHECK_CONFIG` then `CONFIG_PATH`), else `None`.
pub fn config_path(cli: Option<PathBuf>, env_vars: &[&str]) -> Option<PathBuf> {
    cli.or_else(|| {
        env_vars
            .iter()
            .filter_map(std::env::var_os)
            .find(|value| !value.is_empty())
            .map(PathBuf::from)
    })
}

/// Reads env var `name` and parses it with `FromStr`; `Ok(None)` when unset or empty.
pub fn env_parse<T>(name: &str) -> Result<Option<T>, ConfigError>
where
    T: std::str::FromStr,
    T::Err: fmt::Display,
{
    match std::env::var(name) {
        Ok(value) if !value.trim().is_empty() => value
            .trim()
            .parse()
            .map(Some)
            .map_err(|e| ConfigError::new(name, format!("{e} (got {value:?})"))),
        _ => Ok(None),
    }
}

/// Reads env var `name` as a string; `None` when unset or empty.
pub fn env_string(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// `true`, for serde `default =` attributes of switches that are on unless turned off.
pub fn default_true() -> bool {
    true
}

/// `0.0.0.0`, the default listen host: in a container the service must be reachable from
/// the other containers of the Compose network.
pub fn default_host() -> String {
    "0.0.0.0".to_string()
}

/// The line of a regex error that says what is wrong: its message draws the pattern over
/// several lines and ends with the reason, and a config error is one line.
fn regex_problem(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .unwrap_or("invalid regex")
        .to_string()
}

/// Compiles `pattern`, naming `key` in the error (for every regex a config holds).
pub fn regex(key: impl Into<String>, pattern: &str) -> Result<regex::Regex, ConfigError> {
    regex::Regex::new(pattern).map_err(|e| ConfigError::new(key, regex_problem(&e.to_string())))
}

/// Splits a comma-separated env value such as `LOG_FILTER=error,warning` into trimmed items.
pub fn split_list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Sample {
        server: Server,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Server {
        port: u16,
    }

    #[test]
    fn unknown_key_is_named_with_its_path_and_line() {
        let err = parse_toml::<Sample>("[server]\nport = 1\nprot = 2\n").unwrap_err();
        assert_eq!(err.key, "server.prot");
        assert!(err.problem.contains("unknown field `prot`"), "{err}");
        assert!(err.problem.contains("line 3"), "{err}");
    }

    #[test]
    fn bad_value_is_named_with_its_path() {
        let err = parse_toml::<Sample>("[server]\nport = \"x\"\n").unwrap_err();
        assert_eq!(err.key, "server.port");
        assert_eq!(err.to_string().lines().count(), 1);
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Listed {
        checks: Checks,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Checks {
        endpoints: Vec<Endpoint>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Endpoint {
        name: String,
        url: String,
    }

    #[test]
    fn list_items_are_named_in_the_key_path() {
        let text = "[checks]\nendpoints = [\n { name = \"web\", url = \"x\" },\n { name = \"api\", url = 5 },\n]\n";
        let err = parse_toml::<Listed>(text).unwrap_err();
        assert_eq!(err.key, "checks.endpoints[1] (\"api\").url");
    }

    #[test]
    fn keys_named_after_parsing_read_like_the_parser_names_them() {
        let text = "[checks]\nendpoints = [\n { name = \"web\", url = \"x\" },\n { name = \"api\", url = 5 },\n]\n";
        let parsed = parse_toml::<Listed>(text).unwrap_err().key;
        assert_eq!(parsed, item_key("checks.endpoints", 1, "api", "url"));
    }

    #[test]
    fn list_env_values_are_split_and_trimmed() {
        assert_eq!(split_list(" error, warning ,,"), vec!["error", "warning"]);
    }
}
