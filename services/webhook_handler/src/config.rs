//! The webhook handler's configuration file as written: the spec's `config.toml` (`[server]`,
//! `[actions]`, `[filters]`, the single hook at `POST /`), more hooks as `[[hooks]]` tables,
//! and the shared `[alerts]` and `[auth]` sections; plus the environment variables the spec
//! documents (applied in [`crate::settings`], with the one conversion into the runtime
//! [`Settings`](crate::settings::Settings)). Everything here is plain data.

use std::collections::BTreeMap;

use serde::Deserialize;
use service_kit::alert::AlertsConfig;
use service_kit::auth::AuthConfig;
use service_kit::config::{
    default_host, default_true, env_parse, env_string, ConfigError, ConfigFile,
};
use service_kit::secret::Secret;

/// Default port (the spec's `WEBHOOK_PORT=9000`).
pub const DEFAULT_PORT: u16 = 9000;

/// Largest body accepted by default: 25 MiB, the cap GitHub itself puts on payloads.
pub const DEFAULT_MAX_BODY_BYTES: u64 = 25 * 1024 * 1024;

/// The whole configuration file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The HTTP side and the secret of the single hook at `POST /`.
    #[serde(default)]
    pub server: ServerConfig,
    /// What the single hook at `POST /` does.
    #[serde(default)]
    pub actions: ActionsConfig,
    /// Which deliveries the single hook at `POST /` accepts.
    #[serde(default)]
    pub filters: FiltersConfig,
    /// More hooks, each served at `POST /hooks/ID`.
    #[serde(default)]
    pub hooks: Vec<HookConfig>,
    /// How jobs run: parallelism, output kept, retention.
    #[serde(default)]
    pub jobs: JobsConfig,
    /// Where failed jobs of every hook are announced, and the SMTP relay of every email
    /// notification (the shared `[alerts]` section).
    #[serde(default)]
    pub alerts: AlertsConfig,
    /// Credentials protecting the job list, logs, dashboard and metrics (the receiving routes
    /// verify signatures instead; `/livez` is always open).
    #[serde(default)]
    pub auth: AuthConfig,
}

/// `[server]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Port (default 9000; env `WEBHOOK_PORT`).
    #[serde(default = "default_port")]
    pub port: u16,
    /// Address to listen on (default `0.0.0.0`, as a container needs).
    #[serde(default = "default_host")]
    pub host: String,
    /// Shared secret of the single hook at `POST /` (env `WEBHOOK_SECRET`): GitHub's HMAC key.
    #[serde(default)]
    pub secret: Option<Secret>,
    /// Largest request body accepted, in bytes (default 25 MiB, GitHub's own cap); larger
    /// bodies get 413 before they are read.
    #[serde(default = "default_max_body_bytes")]
    pub max_body_bytes: u64,
    /// Seconds a sender may take to send its body (default 10); slower ones get 408.
    #[serde(default = "default_read_timeout_secs")]
    pub read_timeout_secs: u64,
    /// Bearer token for `POST /hooks/ID/trigger` and `POST /jobs/ID/retry` (env
    /// `WEBHOOK_ADMIN_TOKEN`); both are disabled without one.
    #[serde(default)]
    pub admin_token: Option<Secret>,
    /// Proxies whose `X-Forwarded-For` is believed (CIDRs such as `10.0.0.0/8`); default
    /// none, so the peer address is the sender.
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    /// Serve the HTML dashboard (default true).
    #[serde(default = "default_true")]
    pub dashboard: bool,
    /// This service's address as people reach it, such as `https://hooks.example.com`;
    /// notifications then link to the job.
    #[serde(default)]
    pub public_url: Option<String>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            port: DEFAULT_PORT,
            host: default_host(),
            secret: None,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            read_timeout_secs: default_read_timeout_secs(),
            admin_token: None,
            trusted_proxies: Vec::new(),
            dashboard: true,
            public_url: None,
        }
    }
}

/// `[actions]`: the spec's actions of the single hook at `POST /`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionsConfig {
    /// Script run for `push` events (env `ACTION_SCRIPT`), without a shell; the payload facts
    /// are in its environment.
    #[serde(default)]
    pub push_event_script: Option<String>,
    /// Where the outcome of each job is announced: a Discord, Slack or any webhook URL.
    #[serde(default)]
    pub notify_webhook: Option<String>,
}

/// `[filters]`: the spec's filters of the single hook at `POST /`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FiltersConfig {
    /// Repositories (`org/name`, `*` wildcards) whose deliveries are accepted (default all).
    #[serde(default)]
    pub allowed_repos: Vec<String>,
    /// Events accepted (default all); the script runs for `push`, the others are logged.
    #[serde(default)]
    pub allowed_events: Vec<String>,
}

/// Who sends a hook's deliveries, and so how they are signed and what their payload says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// GitHub: `X-Hub-Signature-256`, `X-GitHub-Event`, `X-GitHub-Delivery`.
    #[default]
    Github,
    /// GitLab: `X-Gitlab-Token`, `X-Gitlab-Event`.
    Gitlab,
    /// Gitea and Forgejo: `X-Gitea-Signature`/`X-Forgejo-Signature` (or GitHub's header).
    Gitea,
    /// Standard Webhooks (Svix and many SaaS senders): `webhook-id`, `webhook-timestamp`,
    /// `webhook-signature`.
    Standard,
    /// Anything else: a shared secret in a header, an HMAC of the body, or nothing.
    Generic,
}

/// How a hook's deliveries are verified when the provider's own way is not the one wanted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum VerifyMode {
    /// The provider's own scheme (the default for every provider but `generic`).
    Provider,
    /// `generic`: the secret itself in a header (default `X-Webhook-Token`).
    Token,
    /// `generic`: HMAC-SHA256 of the body in a header (default `X-Signature-256`), hex,
    /// optionally prefixed `sha256=`.
    HmacSha256,
    /// No verification at all: anyone who can reach the port can trigger the hook. Must be
    /// said explicitly; start-up warns.
    None,
}

/// A hook's notification targets: one or several.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum NotifyTargets {
    /// `notify = "https://discord.com/api/webhooks/..."`.
    One(String),
    /// `notify = ["https://hooks.slack.com/...", "ops@example.com"]`.
    Many(Vec<String>),
}

impl NotifyTargets {
    /// The non-empty targets.
    pub fn targets(&self) -> Vec<String> {
        let all = match self {
            NotifyTargets::One(one) => vec![one.clone()],
            NotifyTargets::Many(many) => many.clone(),
        };
        all.into_iter()
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
            .collect()
    }
}

/// When a hook's notification targets hear about a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NotifyWhen {
    /// The job succeeded.
    Success,
    /// The job failed, timed out or was interrupted.
    Failure,
}

/// One `[[hooks]]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HookConfig {
    /// Served at `POST /hooks/ID`: letters, digits, `-` and `_`.
    pub id: String,
    /// Who sends it (default `github`).
    #[serde(default)]
    pub provider: Provider,
    /// The shared secret, written here (prefer `secret_env` or `secret_file`).
    #[serde(default)]
    pub secret: Option<Secret>,
    /// The environment variable holding the secret.
    #[serde(default)]
    pub secret_env: Option<String>,
    /// A file holding the secret, such as a Docker secret under `/run/secrets/` (trailing
    /// newline ignored).
    #[serde(default)]
    pub secret_file: Option<String>,
    /// How deliveries are verified (default: the provider's way; `token` for `generic`).
    #[serde(default)]
    pub verify: Option<VerifyMode>,
    /// For `generic`: the header carrying the token or signature.
    #[serde(default)]
    pub header: Option<String>,
    /// GitHub: also accept the legacy SHA-1 `X-Hub-Signature` (default false).
    #[serde(default)]
    pub allow_sha1: bool,
    /// Events accepted, such as `push`, `release`, `tag_push` (default all).
    #[serde(default)]
    pub events: Vec<String>,
    /// Repositories accepted, `org/name` with `*` wildcards (default all).
    #[serde(default)]
    pub repos: Vec<String>,
    /// Branches accepted, globs such as `release/*` (default all; deliveries without a
    /// branch, such as tags, pass only when this is empty).
    #[serde(default)]
    pub branches: Vec<String>,
    /// The command run for an accepted delivery: an argv list, run without a shell.
    #[serde(default)]
    pub command: Option<Vec<String>>,
    /// A script run for an accepted delivery (the same as `command = [script]`).
    #[serde(default)]
    pub script: Option<String>,
    /// Working directory of the command (default: the service's).
    #[serde(default)]
    pub working_dir: Option<String>,
    /// Extra environment variables for the command.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// A Compose action: `pull` then `up -d` for these services.
    #[serde(default)]
    pub compose: Option<ComposeConfig>,
    /// `[hooks.deploy]`: a health-gated Compose deploy that rolls back by itself.
    #[serde(default)]
    pub deploy: Option<DeployConfig>,
    /// Where job outcomes are announced: webhook, Slack or Discord URLs, email addresses.
    #[serde(default)]
    pub notify: Option<NotifyTargets>,
    /// Which outcomes are announced (default both `success` and `failure`).
    #[serde(default = "default_notify_on")]
    pub notify_on: Vec<NotifyWhen>,
    /// Seconds a job may run before its whole process group is killed (default 600).
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: u64,
    /// Further attempts after a failed one, with backoff (default 0).
    #[serde(default)]
    pub retries: u32,
    /// Sender networks allowed (CIDRs); default any.
    #[serde(default)]
    pub allowed_ips: Vec<String>,
}

/// `compose = { file = "...", services = [...] }`: a Compose action.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComposeConfig {
    /// The Compose file.
    pub file: String,
    /// Only these services are pulled and recreated (default: all of the file).
    #[serde(default)]
    pub services: Vec<String>,
    /// The Compose project name (default: Compose's own rule, the file's folder).
    #[serde(default)]
    pub project: Option<String>,
    /// Pull the images first (default true); false for images built locally.
    #[serde(default = "default_true")]
    pub pull: bool,
}

/// `[hooks.deploy]`: update some Compose services, verify them with healthcheck_dashboard,
/// roll them back to the images they ran before when they do not come up healthy.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeployConfig {
    /// The Compose file of the stack. Without it, the deploy runs commands instead:
    /// `record`, `update` and `restore`.
    #[serde(default)]
    pub compose_file: Option<String>,
    /// The Compose project name (default, as Compose's own rule: `COMPOSE_PROJECT_NAME`, else
    /// the file's folder name).
    #[serde(default)]
    pub project: Option<String>,
    /// Only these services are touched (they must be in the Compose file).
    pub services: Vec<String>,
    /// How the new version is made: `"pull"` (default), `"build"`, or an argv list that
    /// produces the new image (run without a shell, with the delivery's facts in its
    /// environment).
    #[serde(default)]
    pub update: Option<UpdateConfig>,
    /// healthcheck_dashboard's base URL; its checks are named like the services.
    pub health_url: String,
    /// Bearer token for it (default: env `DASHBOARD_TOKEN`).
    #[serde(default)]
    pub health_token: Option<Secret>,
    /// Consecutive green rounds each service needs (default 2).
    #[serde(default = "default_healthy_rounds")]
    pub healthy_rounds: u32,
    /// Seconds to reach them, counted from the new containers' start (default 60).
    #[serde(default = "default_grace_secs")]
    pub grace_secs: u64,
    /// log_watcher's base URL: error lines for notifications, and the error budget.
    #[serde(default)]
    pub logs_url: Option<String>,
    /// Bearer token for it (default: env `LOG_WATCHER_TOKEN`).
    #[serde(default)]
    pub logs_token: Option<Secret>,
    /// More error events than this since the deploy started fail it (needs `logs_url`).
    #[serde(default)]
    pub max_error_events: Option<u64>,
    /// Roll back a failed deploy (default true); false leaves it as it is, `failed`.
    #[serde(default = "default_true")]
    pub rollback: bool,
    /// Without `compose_file`: prints (first line of stdout) what runs now, such as a version
    /// or an image id, before anything changes.
    #[serde(default)]
    pub record: Option<Vec<String>>,
    /// Without `compose_file`: brings back what `record` printed, given to it in
    /// `WEBHOOK_PREVIOUS`.
    #[serde(default)]
    pub restore: Option<Vec<String>>,
}

/// `update`: a word or an argv list.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum UpdateConfig {
    /// `"pull"` or `"build"`.
    Word(String),
    /// A program and its arguments.
    Argv(Vec<String>),
}

fn default_healthy_rounds() -> u32 {
    2
}
fn default_grace_secs() -> u64 {
    60
}

/// `[jobs]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobsConfig {
    /// Jobs of different hooks running at the same time (default 4); one per hook always.
    #[serde(default = "default_max_parallel")]
    pub max_parallel: usize,
    /// Bytes of a job's output kept (the tail; default 256 KiB).
    #[serde(default = "default_output_limit_bytes")]
    pub output_limit_bytes: usize,
    /// Days jobs and deliveries are kept (default 30).
    #[serde(default = "default_retention_days")]
    pub retention_days: u64,
    /// Seconds before the first retry of a failed job; doubles each further one (default 10).
    #[serde(default = "default_retry_backoff_secs")]
    pub retry_backoff_secs: u64,
}

impl Default for JobsConfig {
    fn default() -> Self {
        JobsConfig {
            max_parallel: default_max_parallel(),
            output_limit_bytes: default_output_limit_bytes(),
            retention_days: default_retention_days(),
            retry_backoff_secs: default_retry_backoff_secs(),
        }
    }
}

fn default_port() -> u16 {
    DEFAULT_PORT
}
fn default_max_body_bytes() -> u64 {
    DEFAULT_MAX_BODY_BYTES
}
fn default_read_timeout_secs() -> u64 {
    10
}
fn default_notify_on() -> Vec<NotifyWhen> {
    vec![NotifyWhen::Success, NotifyWhen::Failure]
}
fn default_timeout_secs() -> u64 {
    600
}
fn default_max_parallel() -> usize {
    4
}
fn default_output_limit_bytes() -> usize {
    256 * 1024
}
fn default_retention_days() -> u64 {
    30
}
fn default_retry_backoff_secs() -> u64 {
    10
}

impl ConfigFile for Config {
    const PATH_ENV_VARS: &'static [&'static str] = &["WEBHOOK_CONFIG", "CONFIG_PATH"];

    /// `WEBHOOK_PORT`, `WEBHOOK_SECRET`, `ACTION_SCRIPT`, `NOTIFY_WEBHOOK`,
    /// `WEBHOOK_ADMIN_TOKEN`, `WEBHOOK_TOKEN` (the `[auth]` token), and the shared
    /// `ALERT_WEBHOOK`, `ALERT_EMAIL`, `SMTP_*`.
    fn apply_env(&mut self) -> Result<(), ConfigError> {
        if let Some(port) = env_parse::<u16>("WEBHOOK_PORT")? {
            self.server.port = port;
        }
        if let Some(secret) = env_string("WEBHOOK_SECRET") {
            self.server.secret = Some(secret.into());
        }
        if let Some(script) = env_string("ACTION_SCRIPT") {
            self.actions.push_event_script = Some(script);
        }
        if let Some(url) = env_string("NOTIFY_WEBHOOK") {
            self.actions.notify_webhook = Some(url);
        }
        if let Some(token) = env_string("WEBHOOK_ADMIN_TOKEN") {
            self.server.admin_token = Some(token.into());
        }
        if let Some(token) = env_string("WEBHOOK_TOKEN") {
            self.auth.token = Some(token.into());
        }
        self.alerts.apply_env()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_specs_config_loads_unchanged() {
        let text = r#"
[server]
port = 9000
secret = "your_shared_secret"

[actions]
push_event_script = "/app/scripts/deploy.sh"
notify_webhook = "https://discord.com/api/webhooks/..."

[filters]
allowed_repos = ["yourorg/yourrepo"]
allowed_events = ["push", "release"]
"#;
        let config: Config = service_kit::config::parse_toml(text).unwrap();
        assert_eq!(config.server.port, 9000);
        assert_eq!(
            config.server.secret.as_ref().map(Secret::expose),
            Some("your_shared_secret")
        );
        assert_eq!(config.filters.allowed_events, ["push", "release"]);
    }

    #[test]
    fn an_unknown_hook_key_is_named_with_the_hook_id() {
        let text = "[[hooks]]\nid = \"app\"\nsecret = \"s\"\ncomand = [\"x\"]\n";
        let err = service_kit::config::parse_toml::<Config>(text).unwrap_err();
        assert_eq!(err.key, "hooks[0] (\"app\").comand");
    }

    #[test]
    fn an_unknown_provider_is_refused_with_the_choices() {
        let text = "[[hooks]]\nid = \"app\"\nprovider = \"bitbucket\"\n";
        let err = service_kit::config::parse_toml::<Config>(text).unwrap_err();
        assert_eq!(err.key, "hooks[0] (\"app\").provider");
        assert!(err.problem.contains("gitlab"), "{err}");
    }
}
