//! Configuration loading shared by every service.
//!
//! Layering is: built-in defaults (serde `default`s) < TOML file < environment variables <
//! CLI flags. This module does the file part and offers small helpers for the env part; each
//! service applies its own env vars and flags on top, because their names come from the specs.
//! A bad file never half-loads: the first problem becomes one line naming the file, the key
//! and what is wrong, and the process exits with [`EXIT_CONFIG`].

use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

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
        let message = inner.message().lines().next().unwrap_or("invalid value");
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
    fn list_env_values_are_split_and_trimmed() {
        assert_eq!(split_list(" error, warning ,,"), vec!["error", "warning"]);
    }
}
