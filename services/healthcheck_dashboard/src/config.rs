//! Configuration of the healthcheck dashboard: the spec's `config.toml` (`[checks]`,
//! `[dashboard]`, `[alerts]`) plus optional per-endpoint settings, env vars and validation.
//!
//! Everything is checked before the service starts; the first problem becomes one line that
//! names the endpoint and the key (see [`service_kit::config::ConfigError`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use service_kit::auth::AuthConfig;
use service_kit::config::{env_parse, env_string, ConfigError};

/// Default port of `/health` and the dashboard (the spec's `DASHBOARD_PORT=9100`).
pub const DEFAULT_PORT: u16 = 9100;

/// The whole configuration file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// What to probe and how often.
    #[serde(default)]
    pub checks: ChecksConfig,
    /// The HTTP side: port, page, who may see it.
    #[serde(default)]
    pub dashboard: DashboardConfig,
    /// Where failures and recoveries are announced.
    #[serde(default)]
    pub alerts: AlertsConfig,
    /// Credentials protecting the dashboard and API (open when empty).
    #[serde(default)]
    pub auth: AuthConfig,
    /// Where history is kept.
    #[serde(default)]
    pub storage: StorageConfig,
}

/// `[checks]`: the endpoints and the defaults they share.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChecksConfig {
    /// Seconds between two checks of an endpoint (default 10); an endpoint may override it.
    #[serde(default = "default_interval_secs")]
    pub interval_secs: u64,
    /// Default time limit of one check in milliseconds (default 5000).
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// How many checks may run at the same moment (default 256); the rest wait their turn.
    #[serde(default = "default_concurrency")]
    pub max_concurrent: usize,
    /// The targets.
    #[serde(default)]
    pub endpoints: Vec<EndpointConfig>,
}

impl Default for ChecksConfig {
    fn default() -> Self {
        ChecksConfig {
            interval_secs: default_interval_secs(),
            timeout_ms: default_timeout_ms(),
            max_concurrent: default_concurrency(),
            endpoints: Vec::new(),
        }
    }
}

/// One target to probe, as in the spec: `{ name = "api", url = "http://api:8000/health", type = "http" }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointConfig {
    /// Unique name shown in `/health` and on the dashboard.
    pub name: String,
    /// What to probe: a URL for `http`, `host:port` or `tcp://host:port` for `tcp`, a DSN for
    /// `postgres`; unused for `command`.
    #[serde(default)]
    pub url: Option<String>,
    /// Check type: `http`, `https`, `tcp`, `postgres` or `command` (default `http`).
    #[serde(rename = "type", default = "default_type")]
    pub kind: String,
    /// Time limit of one check in milliseconds (default `[checks] timeout_ms`).
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// Seconds between checks of this endpoint (default `[checks] interval_secs`).
    #[serde(default)]
    pub interval_secs: Option<u64>,
    /// HTTP method (default `GET`).
    #[serde(default)]
    pub method: Option<String>,
    /// Extra HTTP request headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Accepted HTTP status codes: numbers or ranges such as `"200-299"` (default 200-399).
    #[serde(default)]
    pub expected_status: Vec<StatusSpec>,
    /// Text the HTTP response body must contain.
    #[serde(default)]
    pub body_contains: Option<String>,
    /// JSON fields the response must have: dotted path to expected value,
    /// such as `{ "status" = "ok", "checks.db" = true }`.
    #[serde(default)]
    pub json: BTreeMap<String, toml::Value>,
    /// Responses slower than this many milliseconds count as `degraded` (yellow).
    #[serde(default)]
    pub degraded_ms: Option<u64>,
    /// Consecutive failures before the endpoint is reported down to alert sinks (default 3).
    #[serde(default)]
    pub failure_threshold: Option<u32>,
    /// Consecutive successes before a down endpoint is reported recovered (default 2).
    #[serde(default)]
    pub success_threshold: Option<u32>,
    /// A TLS certificate expiring within this many days makes the check `degraded` (default 14).
    #[serde(default)]
    pub cert_expiry_warn_days: Option<u32>,
    /// Verify TLS certificates (default true); false accepts self-signed certificates.
    #[serde(default)]
    pub tls_verify: Option<bool>,
    /// For `command` checks: a string split into words without a shell, or a list such as
    /// `["sh", "-c", "pg_isready -h db"]`.
    #[serde(default)]
    pub command: Option<CommandSpec>,
}

/// An accepted status: a single code or an inclusive range written `"200-299"`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum StatusSpec {
    /// One code.
    Code(u16),
    /// A range such as `"200-299"`, or one code as text.
    Text(String),
}

/// A command as a single string or as argv.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum CommandSpec {
    /// Split into words (quotes respected), run without a shell.
    Line(String),
    /// Run exactly as given.
    Argv(Vec<String>),
}

/// `[dashboard]`: the HTTP side.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DashboardConfig {
    /// Serve the HTML dashboard (default true); `/health` works either way.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Port of `/health`, the dashboard and the API (default 9100; env `DASHBOARD_PORT`).
    #[serde(default = "default_port")]
    pub port: u16,
    /// Address to listen on (default `0.0.0.0`, as a container needs).
    #[serde(default = "default_host")]
    pub host: String,
    /// Page title.
    #[serde(default = "default_title")]
    pub title: String,
    /// Keep `/health`, `/health/NAME` and badges open when `[auth]` is set (default true), so
    /// load balancers and uptime robots need no credentials.
    #[serde(default = "default_true")]
    pub public_health: bool,
    /// The dashboard's address as people reach it, used as the link in alerts.
    #[serde(default)]
    pub public_url: Option<String>,
}

impl Default for DashboardConfig {
    fn default() -> Self {
        DashboardConfig {
            enabled: true,
            port: DEFAULT_PORT,
            host: default_host(),
            title: default_title(),
            public_health: true,
            public_url: None,
        }
    }
}

/// `[alerts]`: where transitions are announced.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertsConfig {
    /// Send alerts at all (default false, as in the spec).
    #[serde(default)]
    pub enabled: bool,
    /// A webhook URL: Slack and Discord URLs get their own format, others generic JSON.
    #[serde(default)]
    pub webhook: String,
    /// A Slack incoming-webhook URL (Slack format whatever the host).
    #[serde(default)]
    pub slack: String,
    /// A Discord webhook URL (Discord format whatever the host).
    #[serde(default)]
    pub discord: String,
    /// Email recipients, one address or a list.
    #[serde(default)]
    pub email: EmailRecipients,
    /// The SMTP relay for email.
    #[serde(default)]
    pub smtp: service_kit::alert::SmtpConfig,
    /// Also announce recoveries (default true).
    #[serde(default = "default_true")]
    pub resolved: bool,
    /// Repeat a down alert every this many minutes while it lasts (default 0 = never).
    #[serde(default)]
    pub reminder_mins: u64,
    /// Minimum seconds between two messages about the same service and state (default 300).
    #[serde(default = "default_cooldown_secs")]
    pub cooldown_secs: u64,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        AlertsConfig {
            enabled: false,
            webhook: String::new(),
            slack: String::new(),
            discord: String::new(),
            email: EmailRecipients::default(),
            smtp: service_kit::alert::SmtpConfig::default(),
            resolved: true,
            reminder_mins: 0,
            cooldown_secs: default_cooldown_secs(),
        }
    }
}

/// One address or several.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum EmailRecipients {
    /// `email = "ops@example.com"` (empty means none).
    One(String),
    /// `email = ["a@example.com", "b@example.com"]`.
    Many(Vec<String>),
}

impl Default for EmailRecipients {
    fn default() -> Self {
        EmailRecipients::One(String::new())
    }
}

impl EmailRecipients {
    /// The non-empty addresses.
    pub fn addresses(&self) -> Vec<String> {
        match self {
            EmailRecipients::One(one) => service_kit::config::split_list(one),
            EmailRecipients::Many(many) => many
                .iter()
                .map(|a| a.trim().to_string())
                .filter(|a| !a.is_empty())
                .collect(),
        }
    }
}

/// `[storage]`: history retention.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageConfig {
    /// Days of history kept in SQLite (default 7).
    #[serde(default = "default_retention_days")]
    pub retention_days: u64,
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            retention_days: default_retention_days(),
        }
    }
}

fn default_interval_secs() -> u64 {
    10
}
fn default_timeout_ms() -> u64 {
    5000
}
fn default_concurrency() -> usize {
    256
}
fn default_type() -> String {
    "http".to_string()
}
fn default_true() -> bool {
    true
}
fn default_port() -> u16 {
    DEFAULT_PORT
}
fn default_host() -> String {
    "0.0.0.0".to_string()
}
fn default_title() -> String {
    "Stack health".to_string()
}
fn default_cooldown_secs() -> u64 {
    300
}
fn default_retention_days() -> u64 {
    7
}

/// Env vars naming the config file, in order of precedence (after `--config`).
pub const CONFIG_ENV_VARS: [&str; 2] = ["HEALTHCHECK_CONFIG", "CONFIG_PATH"];

impl Config {
    /// Loads the config: `path` if given, else `./config.toml` if it exists, else defaults;
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

    /// Parses config text (used by the demo and tests), then validates it.
    pub fn from_toml(text: &str) -> Result<Config, ConfigError> {
        let config: Config = service_kit::config::parse_toml(text)?;
        config.validate()?;
        Ok(config)
    }

    /// Applies the environment variables the spec and README document.
    pub fn apply_env(&mut self) -> Result<(), ConfigError> {
        if let Some(port) = env_parse::<u16>("DASHBOARD_PORT")? {
            self.dashboard.port = port;
        }
        if let Some(secs) = env_parse::<u64>("HEALTHCHECK_INTERVAL_SECS")? {
            self.checks.interval_secs = secs;
        }
        if let Some(url) = env_string("ALERT_WEBHOOK") {
            self.alerts.webhook = url;
            self.alerts.enabled = true;
        }
        if let Some(email) = env_string("ALERT_EMAIL") {
            self.alerts.email = EmailRecipients::One(email);
            self.alerts.enabled = true;
        }
        self.alerts.smtp.apply_env()?;
        if let Some(token) = env_string("DASHBOARD_TOKEN") {
            self.auth.token = Some(token);
        }
        Ok(())
    }

    /// Checks everything that serde cannot: names, URLs, types, ranges.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.checks.interval_secs == 0 {
            return Err(ConfigError::new(
                "checks.interval_secs",
                "must be at least 1",
            ));
        }
        if self.checks.timeout_ms == 0 {
            return Err(ConfigError::new("checks.timeout_ms", "must be at least 1"));
        }
        if self.checks.max_concurrent == 0 {
            return Err(ConfigError::new(
                "checks.max_concurrent",
                "must be at least 1",
            ));
        }
        let mut seen = std::collections::HashSet::new();
        for (index, endpoint) in self.checks.endpoints.iter().enumerate() {
            let key =
                |field: &str| format!("checks.endpoints[{index}] ({:?}).{field}", endpoint.name);
            if endpoint.name.trim().is_empty() {
                return Err(ConfigError::new(
                    format!("checks.endpoints[{index}].name"),
                    "must not be empty",
                ));
            }
            if !seen.insert(endpoint.name.as_str()) {
                return Err(ConfigError::new(key("name"), "is used by another endpoint"));
            }
            crate::check::Probe::from_config(endpoint, &self.checks)
                .map_err(|(field, problem)| ConfigError::new(key(field), problem))?;
            if endpoint.interval_secs == Some(0) {
                return Err(ConfigError::new(key("interval_secs"), "must be at least 1"));
            }
            if endpoint.timeout_ms == Some(0) {
                return Err(ConfigError::new(key("timeout_ms"), "must be at least 1"));
            }
            if endpoint.failure_threshold == Some(0) {
                return Err(ConfigError::new(
                    key("failure_threshold"),
                    "must be at least 1",
                ));
            }
            if endpoint.success_threshold == Some(0) {
                return Err(ConfigError::new(
                    key("success_threshold"),
                    "must be at least 1",
                ));
            }
        }
        self.validate_alerts()?;
        Ok(())
    }

    fn validate_alerts(&self) -> Result<(), ConfigError> {
        // Sinks are built (and so checked) even when alerts are off, so a typo is caught
        // before the day someone turns them on.
        crate::alerting::build_sinks(&self.alerts)?;
        Ok(())
    }

    /// The interval of `endpoint`, falling back to `[checks] interval_secs`.
    pub fn interval_of(&self, endpoint: &EndpointConfig) -> Duration {
        Duration::from_secs(endpoint.interval_secs.unwrap_or(self.checks.interval_secs))
    }
}
