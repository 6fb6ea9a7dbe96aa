//! Configuration of the log watcher: the spec's `config.toml` (`[log_sources]`, `[filters]`,
//! `[alerts]`), its env vars (`LOG_FILTER`, `ALERT_EMAIL`, `CONFIG_PATH`, `LOG_WATCHER_PORT`),
//! and validation that names the offending key.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use service_kit::auth::AuthConfig;
use service_kit::config::{env_parse, env_string, split_list, ConfigError};

use crate::parse::Level;

/// Default port of the API (`[api] port`, env `LOG_WATCHER_PORT`).
pub const DEFAULT_PORT: u16 = 9200;

/// Env vars naming the config file, in order of precedence (after `--config`).
pub const CONFIG_ENV_VARS: [&str; 1] = ["CONFIG_PATH"];

/// The whole configuration file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where logs come from.
    #[serde(default)]
    pub log_sources: SourcesConfig,
    /// Which lines are events.
    #[serde(default)]
    pub filters: FiltersConfig,
    /// Where events are announced.
    #[serde(default)]
    pub alerts: AlertsConfig,
    /// The HTTP API.
    #[serde(default)]
    pub api: ApiConfig,
    /// The periodic stdout summary.
    #[serde(default)]
    pub summary: SummaryConfig,
    /// Limits and retention.
    #[serde(default)]
    pub storage: StorageConfig,
    /// Joining multi-line events (tracebacks).
    #[serde(default)]
    pub multiline: MultilineSettings,
    /// Credentials protecting the API and dashboard (open when empty).
    #[serde(default)]
    pub auth: AuthConfig,
}

/// `[log_sources]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourcesConfig {
    /// Docker's container directory (json-file logs), such as `/var/lib/docker/containers`.
    #[serde(default)]
    pub docker_logs_dir: Option<PathBuf>,
    /// Plain log files: paths or globs (`/logs/*.log`). The service name is the file stem.
    #[serde(default)]
    pub extra_files: Vec<String>,
    /// Service names for files whose stem is not the service: path (or glob) to name.
    #[serde(default)]
    pub file_services: BTreeMap<String, String>,
    /// How often files are polled for new lines, in milliseconds (default 250). Changes
    /// are noticed at once through inotify where it works; this is the safety net.
    #[serde(default = "default_poll_ms")]
    pub poll_interval_ms: u64,
    /// `[log_sources.docker_api]`: follow containers through the Docker Engine API (off
    /// unless the section is present).
    #[serde(default)]
    pub docker_api: Option<DockerApiConfig>,
}

// Written out because a derived Default would make `poll_interval_ms` 0 when the whole
// `[log_sources]` table is absent, which validation rejects.
impl Default for SourcesConfig {
    fn default() -> Self {
        SourcesConfig {
            docker_logs_dir: None,
            extra_files: Vec::new(),
            file_services: BTreeMap::new(),
            poll_interval_ms: default_poll_ms(),
            docker_api: None,
        }
    }
}

/// `[log_sources.docker_api]`: the Docker Engine API over its unix socket. Containers whose
/// json-file log is also visible under `docker_logs_dir` are left to that source, so no
/// line is read twice (see `source::docker_api`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DockerApiConfig {
    /// Follow containers through the API (default true when the section exists).
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// The engine's unix socket (default: `DOCKER_HOST` when it is `unix:///PATH`, else
    /// `/var/run/docker.sock`). Only unix sockets are supported.
    #[serde(default)]
    pub socket: Option<PathBuf>,
    /// Only containers of this Compose project (label `com.docker.compose.project`); default:
    /// every container.
    #[serde(default)]
    pub project: Option<String>,
    /// Only these containers: container or Compose service names, `*` and `?` wildcards
    /// allowed (default: all).
    #[serde(default)]
    pub include: Vec<String>,
    /// Never these containers: container or Compose service names with wildcards; wins over
    /// `include` (default: none).
    #[serde(default)]
    pub exclude: Vec<String>,
}

/// The Docker socket used when neither `socket` nor `DOCKER_HOST` names one.
pub const DEFAULT_DOCKER_SOCKET: &str = "/var/run/docker.sock";

impl DockerApiConfig {
    /// The socket to connect to: `socket`, else `DOCKER_HOST` (`unix://` only), else
    /// [`DEFAULT_DOCKER_SOCKET`]. An explicit `socket` wins over `DOCKER_HOST` because the
    /// latter is the Docker CLI's general default, not a setting of this service.
    pub fn socket_path(&self) -> Result<PathBuf, ConfigError> {
        if let Some(socket) = &self.socket {
            // `unix:///run/docker.sock`, as DOCKER_HOST spells it, is accepted too.
            let text = socket.to_string_lossy();
            return Ok(text
                .strip_prefix("unix://")
                .map_or_else(|| socket.clone(), PathBuf::from));
        }
        match env_string("DOCKER_HOST") {
            Some(host) => match host.strip_prefix("unix://") {
                Some(path) if path.starts_with('/') => Ok(PathBuf::from(path)),
                _ => Err(ConfigError::new(
                    "DOCKER_HOST",
                    format!(
                        "{host:?} is not a unix socket (unix:///path); log_watcher reads the Docker \
                         Engine API over its unix socket only: set log_sources.docker_api.socket"
                    ),
                )),
            },
            None => Ok(PathBuf::from(DEFAULT_DOCKER_SOCKET)),
        }
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let key = |field: &str| format!("log_sources.docker_api.{field}");
        if let Some(socket) = &self.socket {
            let text = socket.to_string_lossy();
            if text.starts_with("tcp://") || text.starts_with("http") || text.starts_with("ssh://")
            {
                return Err(ConfigError::new(
                    key("socket"),
                    "only unix sockets are supported (a path)",
                ));
            }
            if text.strip_prefix("unix://").unwrap_or(&text).is_empty() {
                return Err(ConfigError::new(key("socket"), "must not be empty"));
            }
        }
        if self.project.as_deref().is_some_and(|p| p.trim().is_empty()) {
            return Err(ConfigError::new(
                key("project"),
                "must not be empty (leave it out for every project)",
            ));
        }
        for (name, list) in [("include", &self.include), ("exclude", &self.exclude)] {
            if let Some(i) = list.iter().position(|n| n.trim().is_empty()) {
                return Err(ConfigError::new(
                    format!("{}[{i}]", key(name)),
                    "must not be empty",
                ));
            }
        }
        if self.enabled {
            self.socket_path()?;
        }
        Ok(())
    }
}

/// `[filters]`: a line is an event when its level is listed or a regex matches it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FiltersConfig {
    /// Levels that make a line an event (env `LOG_FILTER=error,warning`).
    #[serde(default = "default_levels")]
    pub levels: Vec<String>,
    /// Regular expressions that make a line an event whatever its level.
    #[serde(default)]
    pub regexes: Vec<String>,
}

impl Default for FiltersConfig {
    fn default() -> Self {
        FiltersConfig {
            levels: default_levels(),
            regexes: Vec::new(),
        }
    }
}

/// `[alerts]`: the spec's `email` and `webhook`, plus chat sinks and rules.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertsConfig {
    /// Email recipients (env `ALERT_EMAIL`), one address or comma-separated.
    #[serde(default)]
    pub email: String,
    /// A webhook URL: Slack and Discord URLs get their own format, others generic JSON.
    #[serde(default)]
    pub webhook: String,
    /// A Slack incoming-webhook URL.
    #[serde(default)]
    pub slack: String,
    /// A Discord webhook URL.
    #[serde(default)]
    pub discord: String,
    /// The SMTP relay for email (env `SMTP_HOST`, `SMTP_PORT`, ...).
    #[serde(default)]
    pub smtp: service_kit::alert::SmtpConfig,
    /// Minimum seconds between two alerts of one rule for one service (default 300).
    #[serde(default = "default_cooldown_secs")]
    pub cooldown_secs: u64,
    /// Alert rules, applied to events; a rule's regex also makes matching lines events.
    /// Without any rule, every event of level error or worse alerts.
    #[serde(default)]
    pub rules: Vec<AlertRule>,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        AlertsConfig {
            email: String::new(),
            webhook: String::new(),
            slack: String::new(),
            discord: String::new(),
            smtp: service_kit::alert::SmtpConfig::default(),
            cooldown_secs: default_cooldown_secs(),
            rules: Vec::new(),
        }
    }
}

/// One alert rule: which lines count, and how many within a window make an alert.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertRule {
    /// Rule name, shown in the alert.
    pub name: String,
    /// Lines of this level or worse match (default: any level).
    #[serde(default)]
    pub level: Option<String>,
    /// Lines matching this regex match.
    #[serde(default)]
    pub regex: Option<String>,
    /// Only lines of these services (default: all).
    #[serde(default)]
    pub services: Vec<String>,
    /// Matches needed within `window_secs` to alert (default 1).
    #[serde(default = "default_threshold")]
    pub threshold: u32,
    /// Window for `threshold`, in seconds (default 60).
    #[serde(default = "default_window_secs")]
    pub window_secs: u64,
}

/// `[api]`: the HTTP side.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiConfig {
    /// Port (default 9200; env `LOG_WATCHER_PORT`).
    #[serde(default = "default_port")]
    pub port: u16,
    /// Address (default `0.0.0.0`).
    #[serde(default = "default_host")]
    pub host: String,
    /// Serve the HTML dashboard (default true).
    #[serde(default = "default_true")]
    pub dashboard: bool,
    /// The address people reach this service at, such as `https://logs.example.com`; alert
    /// messages then link to the dashboard filtered on the service (default: no link).
    #[serde(default)]
    pub public_url: Option<String>,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            port: DEFAULT_PORT,
            host: default_host(),
            dashboard: true,
            public_url: None,
        }
    }
}

/// `[summary]`: the periodic stdout line `Summary (last 10 min): 5 errors, 2 warnings.`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SummaryConfig {
    /// Minutes between two summary lines and the window they cover (default 10; 0 = off).
    #[serde(default = "default_summary_mins")]
    pub interval_mins: u64,
    /// The same in seconds, for short windows; wins over `interval_mins` when set.
    #[serde(default)]
    pub interval_secs: Option<u64>,
}

impl SummaryConfig {
    /// Seconds between two summary lines (and the window they cover); 0 = off.
    pub fn every_secs(&self) -> u64 {
        self.interval_secs
            .unwrap_or(self.interval_mins.saturating_mul(60))
    }
}

impl Default for SummaryConfig {
    fn default() -> Self {
        SummaryConfig {
            interval_mins: default_summary_mins(),
            interval_secs: None,
        }
    }
}

/// `[storage]`: bounds.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageConfig {
    /// Recent events kept in memory for `/logs` (default 10,000).
    #[serde(default = "default_ring_size")]
    pub ring_size: usize,
    /// Days events are kept in SQLite (default 7).
    #[serde(default = "default_retention_days")]
    pub retention_days: u64,
    /// Longer lines are cut to this many bytes with a marker (default 262144).
    #[serde(default = "default_max_line_bytes")]
    pub max_line_bytes: usize,
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            ring_size: default_ring_size(),
            retention_days: default_retention_days(),
            max_line_bytes: default_max_line_bytes(),
        }
    }
}

/// `[multiline]`: joining continuation lines (tracebacks, indented details) to their event.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MultilineSettings {
    /// Join continuation lines at all (default true); false makes every line its own event.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// A regex that starts a new event; other lines continue the previous one. Without it,
    /// indented lines, tracebacks, panics and exception chains continue the event before them.
    #[serde(default)]
    pub start_pattern: Option<String>,
    /// An event is complete when no line followed it for this many milliseconds (default 200).
    #[serde(default = "default_multiline_timeout_ms")]
    pub timeout_ms: u64,
    /// Most lines joined into one event (default 500).
    #[serde(default = "default_multiline_max_lines")]
    pub max_lines: usize,
}

impl Default for MultilineSettings {
    fn default() -> Self {
        MultilineSettings {
            enabled: true,
            start_pattern: None,
            timeout_ms: default_multiline_timeout_ms(),
            max_lines: default_multiline_max_lines(),
        }
    }
}

fn default_multiline_timeout_ms() -> u64 {
    200
}
fn default_multiline_max_lines() -> usize {
    500
}

fn default_poll_ms() -> u64 {
    250
}
fn default_levels() -> Vec<String> {
    vec!["error".to_string(), "warning".to_string()]
}
fn default_cooldown_secs() -> u64 {
    300
}
fn default_threshold() -> u32 {
    1
}
fn default_window_secs() -> u64 {
    60
}
fn default_port() -> u16 {
    DEFAULT_PORT
}
fn default_host() -> String {
    "0.0.0.0".to_string()
}
fn default_true() -> bool {
    true
}
fn default_summary_mins() -> u64 {
    10
}
fn default_ring_size() -> usize {
    10_000
}
fn default_retention_days() -> u64 {
    7
}
fn default_max_line_bytes() -> usize {
    crate::parse::DEFAULT_MAX_LINE_BYTES
}

impl Config {
    /// Loads the config: `path` if given, else `./config.toml` if present, else defaults;
    /// then env vars; then validation.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        let fallback = PathBuf::from("config.toml");
        let path = path.or_else(|| fallback.exists().then_some(fallback.as_path()));
        let mut config = match path {
            Some(path) => service_kit::config::load_toml_file::<Config>(path)?,
            None => Config::default(),
        };
        config.apply_env()?;
        config.validate().map_err(|e| match path {
            Some(path) => e.in_file(path),
            None => e,
        })?;
        Ok(config)
    }

    /// Parses config text (tests, demo), then validates it.
    pub fn from_toml(text: &str) -> Result<Config, ConfigError> {
        let config: Config = service_kit::config::parse_toml(text)?;
        config.validate()?;
        Ok(config)
    }

    /// Applies the spec's environment variables.
    pub fn apply_env(&mut self) -> Result<(), ConfigError> {
        if let Some(filter) = env_string("LOG_FILTER") {
            self.filters.levels = split_list(&filter);
        }
        if let Some(email) = env_string("ALERT_EMAIL") {
            self.alerts.email = email;
        }
        if let Some(url) = env_string("ALERT_WEBHOOK") {
            self.alerts.webhook = url;
        }
        if let Some(port) = env_parse::<u16>("LOG_WATCHER_PORT")? {
            self.api.port = port;
        }
        self.alerts.smtp.apply_env()?;
        if let Some(token) = env_string("LOG_WATCHER_TOKEN") {
            self.auth.token = Some(token);
        }
        Ok(())
    }

    /// Checks what serde cannot: level names, regexes, ranges.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (i, level) in self.filters.levels.iter().enumerate() {
            if Level::parse(level).is_none() {
                return Err(ConfigError::new(
                    format!("filters.levels[{i}]"),
                    format!("unknown level {level:?}; expected trace, debug, info, warning, error or critical"),
                ));
            }
        }
        for (i, pattern) in self.filters.regexes.iter().enumerate() {
            regex::Regex::new(pattern).map_err(|e| {
                ConfigError::new(format!("filters.regexes[{i}]"), first_line(&e.to_string()))
            })?;
        }
        if let Some(pattern) = &self.multiline.start_pattern {
            regex::Regex::new(pattern).map_err(|e| {
                ConfigError::new("multiline.start_pattern", first_line(&e.to_string()))
            })?;
        }
        for (i, rule) in self.alerts.rules.iter().enumerate() {
            let key = |field: &str| format!("alerts.rules[{i}] ({:?}).{field}", rule.name);
            if let Some(level) = &rule.level {
                if Level::parse(level).is_none() {
                    return Err(ConfigError::new(
                        key("level"),
                        format!("unknown level {level:?}"),
                    ));
                }
            }
            if let Some(pattern) = &rule.regex {
                regex::Regex::new(pattern)
                    .map_err(|e| ConfigError::new(key("regex"), first_line(&e.to_string())))?;
            }
            if rule.threshold == 0 {
                return Err(ConfigError::new(key("threshold"), "must be at least 1"));
            }
            if rule.window_secs == 0 {
                return Err(ConfigError::new(key("window_secs"), "must be at least 1"));
            }
        }
        if let Some(url) = &self.api.public_url {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(ConfigError::new(
                    "api.public_url",
                    format!("{url:?} is not an http(s) URL"),
                ));
            }
        }
        if self.storage.ring_size == 0 {
            return Err(ConfigError::new("storage.ring_size", "must be at least 1"));
        }
        if self.storage.max_line_bytes < 1024 {
            return Err(ConfigError::new(
                "storage.max_line_bytes",
                "must be at least 1024",
            ));
        }
        if self.multiline.max_lines == 0 {
            return Err(ConfigError::new(
                "multiline.max_lines",
                "must be at least 1",
            ));
        }
        if self.log_sources.poll_interval_ms == 0 {
            return Err(ConfigError::new(
                "log_sources.poll_interval_ms",
                "must be at least 1",
            ));
        }
        if let Some(docker_api) = &self.log_sources.docker_api {
            docker_api.validate()?;
        }
        self.sinks()?;
        Ok(())
    }

    /// The alert sinks `[alerts]` names (checked at start-up).
    pub fn sinks(&self) -> Result<Vec<service_kit::alert::Sink>, ConfigError> {
        service_kit::alert::build_sinks(service_kit::alert::SinkTargets {
            webhook: &self.alerts.webhook,
            slack: &self.alerts.slack,
            discord: &self.alerts.discord,
            email: &split_list(&self.alerts.email),
            smtp: &self.alerts.smtp,
            default_from: "log-watcher@localhost",
        })
    }

    /// How lines become events: multiline joining and the line limit.
    pub fn decode_settings(&self) -> crate::decode::DecodeSettings {
        let multiline = &self.multiline;
        crate::decode::DecodeSettings {
            multiline: multiline.enabled.then(|| crate::parse::MultilineConfig {
                // Validated at load time.
                start_pattern: multiline
                    .start_pattern
                    .as_deref()
                    .and_then(|p| regex::Regex::new(p).ok()),
                max_lines: multiline.max_lines,
                max_bytes: self.storage.max_line_bytes,
            }),
            flush_after: std::time::Duration::from_millis(multiline.timeout_ms),
            max_line_bytes: self.storage.max_line_bytes,
        }
    }

    /// The regexes that make a line an event: `[filters] regexes`, and the regex of every
    /// alert rule, so that a line a rule alerts on is also kept and shown in `/logs`.
    pub fn event_regexes(&self) -> Vec<String> {
        let mut regexes = self.filters.regexes.clone();
        for rule in &self.alerts.rules {
            if let Some(regex) = &rule.regex {
                if !regexes.contains(regex) {
                    regexes.push(regex.clone());
                }
            }
        }
        regexes
    }

    /// The levels that make a line an event.
    pub fn event_levels(&self) -> Vec<Level> {
        self.filters
            .levels
            .iter()
            .filter_map(|l| Level::parse(l))
            .collect()
    }
}

/// Regex errors are multi-line drawings; the config error is one line.
fn first_line(text: &str) -> String {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    lines.last().copied().unwrap_or("invalid regex").to_string()
}
