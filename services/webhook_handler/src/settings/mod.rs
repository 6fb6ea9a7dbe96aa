//! The runtime settings, built once from the file ([`Settings::build`]): every hook with its
//! secret loaded, verifier, compiled filters, action, notification sinks and sender networks
//! ([`hook`]); limits; the sinks of `[alerts]`. Every problem stops start-up with one line
//! naming its key, such as `hooks[0] ("app").branches[1]: ...`.

pub mod deploy;
pub mod hook;

use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;
use service_kit::alert::Sink;
use service_kit::auth::AuthConfig;
use service_kit::config::{ConfigError, ServiceSettings};

use crate::config::{Config, NotifyTargets, NotifyWhen, Provider, VerifyMode};
use crate::network::parse_networks;
use service_kit::secret::Secret;

pub use deploy::{DeployAction, Target, Update};
pub use hook::{Action, ComposeAction, Hook, DEFAULT_HOOK_ID};

/// Sender address of email notifications when `[alerts.smtp] from` is not set.
pub const DEFAULT_FROM: &str = "webhook-handler@localhost";

/// Everything the service runs with.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `HOST:PORT` from `[server]`.
    pub listen: String,
    /// The hooks: the spec's single hook at `POST /` first when configured, then `[[hooks]]`.
    pub hooks: Vec<Arc<Hook>>,
    /// Largest body accepted.
    pub max_body_bytes: u64,
    /// Longest a sender may take to send its body.
    pub read_timeout: Duration,
    /// Bearer token of the trigger and retry routes (disabled without one).
    pub admin_token: Option<Secret>,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpNet>,
    /// Serve the HTML dashboard.
    pub dashboard: bool,
    /// Where people reach this service, for links in notifications.
    pub public_url: Option<String>,
    /// How jobs run.
    pub jobs: JobLimits,
    /// `[alerts]` sinks: they hear about every failed job of every hook.
    pub failure_alerts: Vec<Sink>,
    /// Cooldown of `[alerts]` per hook.
    pub alerts_cooldown: Duration,
    /// Who may read jobs, logs, the dashboard and metrics.
    pub auth: AuthConfig,
    /// Environment variables never passed to commands: they hold this service's secrets.
    pub hidden_env: Vec<String>,
    /// Whether `[server] secret` is still the spec's example value (start-up warns).
    pub default_secret_is_example: bool,
}

/// `[jobs]`, checked.
#[derive(Debug, Clone, Copy)]
pub struct JobLimits {
    /// Jobs of different hooks running at once.
    pub max_parallel: usize,
    /// Bytes of output kept per job (the tail).
    pub output_limit_bytes: usize,
    /// How long jobs and deliveries are kept.
    pub retention: Duration,
    /// Wait before the first retry of a failed job; doubles each further one.
    pub retry_backoff: Duration,
}

/// The secret the spec's example `config.toml` shows.
pub const EXAMPLE_SECRET: &str = "your_shared_secret";

/// How long a delivery id is remembered, so that a redelivery runs nothing.
pub const DUPLICATE_WINDOW: Duration = Duration::from_secs(7 * 86_400);

impl Settings {
    /// Checks and builds everything once.
    pub fn build(config: Config) -> Result<Settings, ConfigError> {
        let mut hidden_env: Vec<String> = [
            "WEBHOOK_SECRET",
            "WEBHOOK_ADMIN_TOKEN",
            "WEBHOOK_TOKEN",
            "SMTP_PASSWORD",
        ]
        .map(String::from)
        .to_vec();
        let mut hooks = Vec::new();
        if let Some(default) = hook::default_hook(&config)? {
            hooks.push(Arc::new(default));
        }
        for (index, raw) in config.hooks.iter().enumerate() {
            let built = hook::build(&config, index, raw)?;
            if hooks.iter().any(|h: &Arc<Hook>| h.id == built.id) {
                return Err(ConfigError::new(
                    service_kit::config::item_key("hooks", index, &raw.id, "id"),
                    if built.id == DEFAULT_HOOK_ID {
                        "is the id of the spec's single hook at POST / ([server] secret); choose another"
                            .to_string()
                    } else {
                        "is used by another hook".to_string()
                    },
                ));
            }
            if let Some(var) = &raw.secret_env {
                hidden_env.push(var.clone());
            }
            hooks.push(Arc::new(built));
        }
        let server = &config.server;
        if server.max_body_bytes == 0 {
            return Err(ConfigError::new(
                "server.max_body_bytes",
                "must be at least 1",
            ));
        }
        if server.read_timeout_secs == 0 {
            return Err(ConfigError::new(
                "server.read_timeout_secs",
                "must be at least 1",
            ));
        }
        let trusted_proxies = parse_networks(&server.trusted_proxies).map_err(|(i, problem)| {
            ConfigError::new(format!("server.trusted_proxies[{i}]"), problem)
        })?;
        if let Some(url) = &server.public_url {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(ConfigError::new(
                    "server.public_url",
                    format!("{url:?} is not an http(s) URL"),
                ));
            }
        }
        let jobs = &config.jobs;
        if jobs.max_parallel == 0 {
            return Err(ConfigError::new("jobs.max_parallel", "must be at least 1"));
        }
        if jobs.output_limit_bytes < 1024 {
            return Err(ConfigError::new(
                "jobs.output_limit_bytes",
                "must be at least 1024",
            ));
        }
        if jobs.retention_days == 0 {
            return Err(ConfigError::new(
                "jobs.retention_days",
                "must be at least 1",
            ));
        }
        config.alerts.reject_health_only_keys("webhook_handler")?;
        let failure_alerts = if config.alerts.is_enabled(true) {
            config.alerts.sinks(DEFAULT_FROM)?
        } else {
            config.alerts.sinks(DEFAULT_FROM)?;
            Vec::new()
        };
        Ok(Settings {
            listen: format!("{}:{}", server.host, server.port),
            hooks,
            max_body_bytes: server.max_body_bytes,
            read_timeout: Duration::from_secs(server.read_timeout_secs),
            admin_token: server
                .admin_token
                .as_ref()
                .map(Secret::expose)
                .filter(|t| !t.trim().is_empty())
                .map(Secret::new),
            trusted_proxies,
            dashboard: server.dashboard,
            public_url: server.public_url.clone(),
            jobs: JobLimits {
                max_parallel: jobs.max_parallel,
                output_limit_bytes: jobs.output_limit_bytes,
                retention: Duration::from_secs(jobs.retention_days.saturating_mul(86_400)),
                retry_backoff: Duration::from_secs(jobs.retry_backoff_secs),
            },
            failure_alerts,
            alerts_cooldown: config.alerts.cooldown(),
            auth: config.auth.clone(),
            hidden_env,
            default_secret_is_example: server.secret.as_ref().map(Secret::expose)
                == Some(EXAMPLE_SECRET),
        })
    }

    /// Settings from config text alone, without env vars (tests, the demo).
    pub fn from_toml(text: &str) -> Result<Settings, ConfigError> {
        service_kit::config::from_toml::<Settings>(text)
    }

    /// The hook with `id`.
    pub fn hook(&self, id: &str) -> Option<&Arc<Hook>> {
        self.hooks.iter().find(|h| h.id == id)
    }
}

impl ServiceSettings for Settings {
    type File = Config;

    fn from_file(file: Config) -> Result<Settings, ConfigError> {
        file.auth.validate()?;
        Settings::build(file)
    }

    fn listen_address(&self) -> String {
        self.listen.clone()
    }

    fn summary(&self) -> String {
        format!(
            "{} hook(s), port {}",
            self.hooks.len(),
            self.listen.rsplit(':').next().unwrap_or("?")
        )
    }
}

/// The notification sinks of `targets`: URLs (Slack and Discord recognised), email
/// addresses (`ops@example.com` or `mailto:ops@example.com`, sent through `[alerts.smtp]`).
pub(crate) fn notify_sinks(
    config: &Config,
    key: &str,
    targets: &NotifyTargets,
) -> Result<Vec<Sink>, ConfigError> {
    let mut sinks = Vec::new();
    for (i, target) in targets.targets().iter().enumerate() {
        let item = format!("{key}[{i}]");
        let address = target.strip_prefix("mailto:").unwrap_or(target);
        let sink = if target.starts_with("http://") || target.starts_with("https://") {
            Sink::from_webhook_url(target)
        } else if address.contains('@') {
            let from = config.alerts.smtp.from.as_deref().unwrap_or(DEFAULT_FROM);
            Sink::email(config.alerts.smtp.settings(), from, &[address.to_string()])
        } else {
            return Err(ConfigError::new(
                item,
                format!("{target:?} is neither an http(s) URL nor an email address"),
            ));
        };
        sinks.push(sink.map_err(|e| ConfigError::new(item, e.to_string()))?);
    }
    Ok(sinks)
}

/// Whether a hook hears about an outcome.
pub fn notifies(on: &[NotifyWhen], succeeded: bool) -> bool {
    on.contains(&if succeeded {
        NotifyWhen::Success
    } else {
        NotifyWhen::Failure
    })
}

/// The verify mode a hook uses: the configured one, else the provider's own (a token in a
/// header for generic hooks).
pub(crate) fn verify_mode(provider: Provider, verify: Option<VerifyMode>) -> VerifyMode {
    verify.unwrap_or(match provider {
        Provider::Generic => VerifyMode::Token,
        _ => VerifyMode::Provider,
    })
}
