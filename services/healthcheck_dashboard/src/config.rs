//! The configuration file as written: the spec's `config.toml` (`[checks]` with its
//! `endpoints`, `[dashboard]`, `[alerts]`) plus `[auth]`, `[storage]`, `[peers]` and the
//! optional per-endpoint keys, and the environment variables layered on top of it.
//!
//! This is only what the TOML says, with its defaults. The conversion in [`crate::settings`]
//! turns it into the runtime `Settings` once, which is where every value is checked and every probe
//! and alert sink is built.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use service_kit::alert::AlertsConfig;
use service_kit::auth::AuthConfig;
use service_kit::config::{default_host, default_true, env_parse, env_string};
use service_kit::config::{ConfigError, ConfigFile};
use service_kit::peers::PeersConfig;
use service_kit::redact::{redact_header, redact_url};

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
    /// Where failures and recoveries are announced (off unless `enabled = true` or
    /// `ALERT_WEBHOOK`/`ALERT_EMAIL` is set; `resolved` defaults to true, `reminder_mins`
    /// to 0, no alert rules).
    #[serde(default)]
    pub alerts: AlertsConfig,
    /// Credentials protecting the dashboard and API (open when empty; env `DASHBOARD_TOKEN`).
    #[serde(default)]
    pub auth: AuthConfig,
    /// Where history is kept.
    #[serde(default)]
    pub storage: StorageConfig,
    /// Where the other sidecars are: `log_watcher` (error lines carried by down alerts; env
    /// `LOG_WATCHER_URL`, token `LOG_WATCHER_TOKEN`) and `webhook_handler` (deploy markers;
    /// env `WEBHOOK_HANDLER_URL`, token `WEBHOOK_TOKEN`). Each is off without its URL;
    /// `healthcheck_dashboard` (this service) is accepted and unused.
    #[serde(default)]
    pub peers: PeersConfig,
    /// The Docker Engine and Compose project that `docker` checks look at.
    #[serde(default)]
    pub discovery: DiscoveryConfig,
}

/// `[discovery]`: where the Docker Engine listens and which Compose project the stack is.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscoveryConfig {
    /// Check every service of `project` without configuration (default false).
    #[serde(default)]
    pub docker: bool,
    /// The Compose project of `docker` checks that name none (default: the service in any
    /// project).
    #[serde(default)]
    pub project: Option<String>,
    /// The engine's unix socket (default `/var/run/docker.sock`).
    #[serde(default = "default_docker_socket")]
    pub socket: std::path::PathBuf,
}

impl Default for DiscoveryConfig {
    fn default() -> Self {
        DiscoveryConfig {
            docker: false,
            project: None,
            socket: default_docker_socket(),
        }
    }
}

fn default_docker_socket() -> std::path::PathBuf {
    compose_engine::DEFAULT_SOCKET.into()
}

impl ConfigFile for Config {
    const PATH_ENV_VARS: &'static [&'static str] = &["HEALTHCHECK_CONFIG", "CONFIG_PATH"];

    /// `DASHBOARD_PORT`, `HEALTHCHECK_INTERVAL_SECS`, `DASHBOARD_TOKEN`, the shared
    /// `ALERT_WEBHOOK`, `ALERT_EMAIL` (each turns alerts on) and `SMTP_*`, and the peers'
    /// `LOG_WATCHER_URL`, `WEBHOOK_HANDLER_URL` with their tokens.
    fn apply_env(&mut self) -> Result<(), ConfigError> {
        if let Some(port) = env_parse::<u16>("DASHBOARD_PORT")? {
            self.dashboard.port = port;
        }
        if let Some(secs) = env_parse::<u64>("HEALTHCHECK_INTERVAL_SECS")? {
            self.checks.interval_secs = secs;
        }
        self.alerts.apply_env()?;
        if let Some(token) = env_string("DASHBOARD_TOKEN") {
            self.auth.token = Some(token.into());
        }
        self.peers.apply_env();
        Ok(())
    }
}

/// `[checks]`: the endpoints and the defaults they share.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChecksConfig {
    /// Seconds between two checks of an endpoint (default 10, at most 86400; env
    /// `HEALTHCHECK_INTERVAL_SECS`); an endpoint may override it.
    #[serde(default = "default_interval_secs")]
    pub interval_secs: u64,
    /// Default time limit of one check in milliseconds (default 5000, at most 600000).
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// How many checks may run at the same moment (default 256, at most 65536); the rest
    /// wait their turn.
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
/// Its `Debug` masks the secrets a URL, a header or a command may hold.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointConfig {
    /// Unique name shown in `/health` and on the dashboard.
    pub name: String,
    /// What to probe: a URL for `http`, `host:port` or `tcp://host:port` for `tcp`, a DSN for
    /// `postgres`; for `command`, a command line when `command` is not set.
    #[serde(default)]
    pub url: Option<String>,
    /// Check type (default `http`).
    #[serde(rename = "type", default)]
    pub kind: CheckKind,
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
    /// For `docker` checks: the Compose service (default: the check's `name`).
    #[serde(default)]
    pub service: Option<String>,
    /// For `docker` checks: the Compose project (default `[discovery] project`).
    #[serde(default)]
    pub project: Option<String>,
}

impl fmt::Debug for EndpointConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: BTreeMap<&str, String> = self
            .headers
            .iter()
            .map(|(name, value)| (name.as_str(), redact_header(name, value)))
            .collect();
        let command = self.command.as_ref().map(|command| match command {
            CommandSpec::Line(line) => match shlex::split(line) {
                Some(argv) => crate::check::shown_command(&argv),
                None => redact_url(line),
            },
            CommandSpec::Argv(argv) => crate::check::shown_command(argv),
        });
        f.debug_struct("EndpointConfig")
            .field("name", &self.name)
            .field("url", &self.url.as_deref().map(redact_url))
            .field("kind", &self.kind)
            .field("timeout_ms", &self.timeout_ms)
            .field("interval_secs", &self.interval_secs)
            .field("method", &self.method)
            .field("headers", &headers)
            .field("command", &command)
            .finish_non_exhaustive()
    }
}

/// The `type` of an endpoint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum CheckKind {
    /// `http`: an HTTP(S) request (the default).
    #[default]
    Http,
    /// `https`: the same as `http`; the URL decides the scheme.
    Https,
    /// `tcp`: a TCP connect.
    Tcp,
    /// `postgres` (or `postgresql`): connect and `SELECT 1`.
    Postgres,
    /// `command`: run a program; exit 0 is up.
    Command,
    /// `docker`: a Compose service's containers, as the Docker Engine reports them.
    Docker,
}

/// Every check type the `type` key accepts, as the error for an unknown one lists them.
pub const CHECK_TYPES: &str = "\"http\", \"https\", \"tcp\", \"postgres\", \"command\", \"docker\"";

impl TryFrom<String> for CheckKind {
    type Error = String;

    // By hand rather than serde's derive so that an unknown type reads
    // `unknown check type "ftp"; expected one of ...`, as operators have seen it so far.
    fn try_from(text: String) -> Result<CheckKind, String> {
        match text.as_str() {
            "http" => Ok(CheckKind::Http),
            "https" => Ok(CheckKind::Https),
            "tcp" => Ok(CheckKind::Tcp),
            "postgres" | "postgresql" => Ok(CheckKind::Postgres),
            "command" => Ok(CheckKind::Command),
            "docker" => Ok(CheckKind::Docker),
            other => Err(format!(
                "unknown check type {other:?}; expected one of {CHECK_TYPES}"
            )),
        }
    }
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
    /// Split into words (quotes respected, as a POSIX shell would), run without a shell.
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
    /// Connections open at once (default 1024, at most 65536); one more gets `503` with
    /// `Retry-After` and is closed.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// Live dashboards (`/events` streams) open at once (default 64, at most 10000); one
    /// more gets `503` with `Retry-After`.
    #[serde(default = "default_max_streams")]
    pub max_streams: usize,
    /// Seconds a client has to send its request headers before it is cut off (default 10,
    /// 1 to 30), so slow or stalled clients cannot hold connections.
    #[serde(default = "default_header_timeout_secs")]
    pub header_timeout_secs: u64,
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
            max_connections: default_max_connections(),
            max_streams: default_max_streams(),
            header_timeout_secs: default_header_timeout_secs(),
        }
    }
}

/// `[storage]`: history retention.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageConfig {
    /// Days of history kept in SQLite (default 7, at most 3650).
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
fn default_port() -> u16 {
    DEFAULT_PORT
}
fn default_title() -> String {
    "Stack health".to_string()
}
fn default_retention_days() -> u64 {
    7
}
fn default_max_connections() -> usize {
    1024
}
fn default_max_streams() -> usize {
    64
}
fn default_header_timeout_secs() -> u64 {
    10
}
