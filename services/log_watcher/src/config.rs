//! The configuration file as written: the spec's `config.toml` (`[log_sources]`,
//! `[filters]`, `[alerts]`) plus `[api]`, `[summary]`, `[storage]`, `[multiline]`,
//! `[auth]` and `[peers]`, with their defaults, and the environment variables on top of it
//! ([`Config::apply_env`]: `LOG_FILTER`, `ALERT_EMAIL`, `ALERT_WEBHOOK`, `SMTP_*`,
//! `LOG_WATCHER_PORT`, `LOG_WATCHER_TOKEN`, `WEBHOOK_HANDLER_URL`, `WEBHOOK_TOKEN`; the
//! file itself comes from `--config`, `CONFIG_PATH` or `./config.toml`).
//!
//! Nothing here is checked beyond what serde checks (unknown keys, types): the one
//! conversion into the runtime `Settings` does every other check and build
//! ([`crate::settings`]).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;
use service_kit::alert::AlertsConfig;
use service_kit::auth::AuthConfig;
use service_kit::config::{
    default_host, default_true, env_parse, env_string, split_list, ConfigError, ConfigFile,
};
use service_kit::peers::PeersConfig;

/// Default port of the API (`[api] port`, env `LOG_WATCHER_PORT`).
pub const DEFAULT_PORT: u16 = 9200;

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
    /// Where events are announced, and the alert rules (on unless `enabled = false`).
    #[serde(default)]
    pub alerts: AlertsConfig<AlertRuleConfig>,
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
    pub multiline: MultilineConfig,
    /// Credentials protecting the API and dashboard (open when empty).
    #[serde(default)]
    pub auth: AuthConfig,
    /// Where the other sidecars are. log_watcher uses only `webhook_handler` (and its
    /// token): its deploys become markers on the dashboard's chart (none without it). The
    /// other keys are accepted, so that one `[peers]` block can serve every sidecar, and
    /// ignored.
    #[serde(default)]
    pub peers: PeersConfig,
}

impl ConfigFile for Config {
    const PATH_ENV_VARS: &'static [&'static str] = &["CONFIG_PATH"];

    /// Applies the spec's environment variables.
    fn apply_env(&mut self) -> Result<(), ConfigError> {
        if let Some(filter) = env_string("LOG_FILTER") {
            self.filters.levels = split_list(&filter);
        }
        if let Some(port) = env_parse::<u16>("LOG_WATCHER_PORT")? {
            self.api.port = port;
        }
        self.alerts.apply_env()?;
        if let Some(token) = env_string("LOG_WATCHER_TOKEN") {
            self.auth.token = Some(token.into());
        }
        self.peers.apply_env();
        // Started by Compose with its project's name, follow that project (as Compose's own
        // commands would) unless the file names another.
        if let Some(docker_api) = &mut self.log_sources.docker_api {
            if docker_api.project.is_none() {
                docker_api.project = env_string("COMPOSE_PROJECT_NAME");
            }
        }
        Ok(())
    }
}

/// `[log_sources]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourcesConfig {
    /// Docker's container directory (json-file logs), such as `/var/lib/docker/containers`.
    #[serde(default)]
    pub docker_logs_dir: Option<PathBuf>,
    /// Plain log files: paths or globs (`/logs/*.log`, `/logs/*/app.log`). The service name
    /// is the file stem.
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
// `[log_sources]` table is absent, which the settings reject.
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
    /// `COMPOSE_PROJECT_NAME` when set, else every container.
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
    /// Container lifecycle (`die` with its exit code and last lines, `oom`, restart loops,
    /// HEALTHCHECK changes) as events of their own (default true).
    #[serde(default = "default_true")]
    pub lifecycle: bool,
    /// Lines before a container's death attached to its `die` event (default 20, at most
    /// 1000; 0 attaches none).
    #[serde(default = "default_last_lines")]
    pub last_lines: usize,
    /// Starts of one service within `restart_loop_minutes` that make a restart loop
    /// (critical; default 3).
    #[serde(default = "default_restart_loop_starts")]
    pub restart_loop_starts: u32,
    /// The window of a restart loop, in minutes (default 5).
    #[serde(default = "default_restart_loop_minutes")]
    pub restart_loop_minutes: u64,
}

fn default_last_lines() -> usize {
    20
}

fn default_restart_loop_starts() -> u32 {
    3
}

fn default_restart_loop_minutes() -> u64 {
    5
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

/// `[[alerts.rules]]`: which lines count, and how many within a window make an alert. A
/// rule's regex also makes matching lines events. Without any rule, every event of level
/// error or worse alerts.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertRuleConfig {
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
    /// Most bytes of one `/logs` answer (default 4 MiB, at least 64 KiB): older matching
    /// events beyond it are left out and the answer says `"truncated": true`.
    #[serde(default = "default_max_response_bytes")]
    pub max_response_bytes: usize,
    /// Most HTTP connections open at once (default 1024); beyond, 503 with `Retry-After`.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// Most live streams (`/logs/stream`, which the dashboard uses) open at once (default
    /// 64); beyond, 503 with `Retry-After`.
    #[serde(default = "default_max_streams")]
    pub max_streams: usize,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            port: DEFAULT_PORT,
            host: default_host(),
            dashboard: true,
            public_url: None,
            max_response_bytes: default_max_response_bytes(),
            max_connections: default_max_connections(),
            max_streams: default_max_streams(),
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
pub struct MultilineConfig {
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

impl Default for MultilineConfig {
    fn default() -> Self {
        MultilineConfig {
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
fn default_threshold() -> u32 {
    1
}
fn default_window_secs() -> u64 {
    60
}
fn default_port() -> u16 {
    DEFAULT_PORT
}
fn default_max_response_bytes() -> usize {
    4 * 1024 * 1024
}
fn default_max_connections() -> usize {
    1024
}
fn default_max_streams() -> usize {
    64
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
