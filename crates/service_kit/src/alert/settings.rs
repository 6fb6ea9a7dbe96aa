//! The `[alerts]` section every service shares, as written in its config file: where messages
//! go (webhook, Slack, Discord, email and the SMTP relay), whether alerts are on, the
//! cooldown, and the service's own rules; plus [`AlertsConfig::sinks`], which turns the
//! targets into [`Sink`]s with errors that name the key.
//!
//! One struct serves every service as it is. What differs is the type of `rules`: a
//! service with alert rules (log_watcher) names its raw rule type, the others keep the
//! default [`NoRules`], which rejects any rule with a clear message.

use std::fmt;
use std::time::Duration;

use serde::de::{DeserializeOwned, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;

use super::{Sink, SmtpSecurity, SmtpSettings};
use crate::config::{env_parse, env_string, split_list, ConfigError};
use crate::secret::Secret;

/// Default seconds between two messages about the same thing.
pub const DEFAULT_COOLDOWN_SECS: u64 = 300;

/// `[alerts]`: the same keys in every service. `R` is the service's raw alert rule type.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields, bound(deserialize = "R: DeserializeOwned"))]
pub struct AlertsConfig<R = NoRules> {
    /// Send alerts at all. Unset means the service's default: healthcheck_dashboard's spec
    /// has them off until `enabled = true` (or `ALERT_WEBHOOK`/`ALERT_EMAIL` is set), the
    /// other services send as soon as a target is named.
    #[serde(default)]
    pub enabled: Option<bool>,
    /// A webhook URL (env `ALERT_WEBHOOK`): Slack and Discord URLs get their own format,
    /// others generic JSON.
    #[serde(default)]
    pub webhook: String,
    /// A Slack incoming-webhook URL (Slack format whatever the host).
    #[serde(default)]
    pub slack: String,
    /// A Discord webhook URL (Discord format whatever the host).
    #[serde(default)]
    pub discord: String,
    /// Email recipients (env `ALERT_EMAIL`): one address, a comma-separated list, or a list.
    #[serde(default)]
    pub email: EmailRecipients,
    /// The SMTP relay for email.
    #[serde(default)]
    pub smtp: SmtpConfig,
    /// Minimum seconds between two messages about the same thing (default 300).
    #[serde(default = "default_cooldown_secs")]
    pub cooldown_secs: u64,
    /// Also announce recoveries (healthcheck_dashboard; default true).
    #[serde(default)]
    pub resolved: Option<bool>,
    /// Repeat a down alert every this many minutes while it lasts (healthcheck_dashboard;
    /// default 0 = never).
    #[serde(default)]
    pub reminder_mins: Option<u64>,
    /// The service's alert rules (`[[alerts.rules]]`, log_watcher).
    #[serde(default = "Vec::new")]
    pub rules: Vec<R>,
}

/// Webhook URLs are secrets themselves (whoever has a Slack or Discord URL can post to the
/// channel), so `Debug` only says whether each is set.
impl<R: std::fmt::Debug> std::fmt::Debug for AlertsConfig<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = |url: &str| if url.is_empty() { "" } else { "***" };
        f.debug_struct("AlertsConfig")
            .field("enabled", &self.enabled)
            .field("webhook", &shown(&self.webhook))
            .field("slack", &shown(&self.slack))
            .field("discord", &shown(&self.discord))
            .field("email", &self.email)
            .field("smtp", &self.smtp)
            .field("cooldown_secs", &self.cooldown_secs)
            .field("resolved", &self.resolved)
            .field("reminder_mins", &self.reminder_mins)
            .field("rules", &self.rules)
            .finish()
    }
}

impl<R> Default for AlertsConfig<R> {
    fn default() -> Self {
        AlertsConfig {
            enabled: None,
            webhook: String::new(),
            slack: String::new(),
            discord: String::new(),
            email: EmailRecipients::default(),
            smtp: SmtpConfig::default(),
            cooldown_secs: DEFAULT_COOLDOWN_SECS,
            resolved: None,
            reminder_mins: None,
            rules: Vec::new(),
        }
    }
}

fn default_cooldown_secs() -> u64 {
    DEFAULT_COOLDOWN_SECS
}

impl<R> AlertsConfig<R> {
    /// Applies `ALERT_WEBHOOK`, `ALERT_EMAIL` (each also turns alerts on) and the `SMTP_*`
    /// variables.
    pub fn apply_env(&mut self) -> Result<(), ConfigError> {
        if let Some(url) = env_string("ALERT_WEBHOOK") {
            self.webhook = url;
            self.enabled = Some(true);
        }
        if let Some(email) = env_string("ALERT_EMAIL") {
            self.email = EmailRecipients::One(email);
            self.enabled = Some(true);
        }
        self.smtp.apply_env()
    }

    /// Whether alerts are on: `enabled` when set, else `default`.
    pub fn is_enabled(&self, default: bool) -> bool {
        self.enabled.unwrap_or(default)
    }

    /// The cooldown as a duration.
    pub fn cooldown(&self) -> Duration {
        Duration::from_secs(self.cooldown_secs)
    }

    /// Builds the sinks the targets name (checked even when alerts are off, so a typo is
    /// caught before the day someone turns them on), naming the `alerts.*` key of the first
    /// problem. `default_from` is the sender when `smtp.from` is not set.
    pub fn sinks(&self, default_from: &str) -> Result<Vec<Sink>, ConfigError> {
        type MakeSink = fn(&str) -> Result<Sink, super::AlertError>;
        let mut sinks = Vec::new();
        let url_sinks: [(&str, &str, MakeSink); 3] = [
            ("alerts.webhook", &self.webhook, Sink::from_webhook_url),
            ("alerts.slack", &self.slack, Sink::slack),
            ("alerts.discord", &self.discord, Sink::discord),
        ];
        for (key, url, make) in url_sinks {
            if !url.trim().is_empty() {
                sinks.push(make(url.trim()).map_err(|e| ConfigError::new(key, e.to_string()))?);
            }
        }
        let email = self.email.addresses();
        if !email.is_empty() {
            let from = self.smtp.from.as_deref().unwrap_or(default_from);
            let sink = Sink::email(self.smtp.settings(), from, &email)
                .map_err(|e| ConfigError::new("alerts.email", e.to_string()))?;
            sinks.push(sink);
        }
        Ok(sinks)
    }

    /// Rejects the keys only healthcheck_dashboard reads (`resolved`, `reminder_mins`), for
    /// a service named `service` that has no such thing, so that a setting never silently
    /// does nothing.
    pub fn reject_health_only_keys(&self, service: &str) -> Result<(), ConfigError> {
        if self.resolved.is_some() {
            return Err(ConfigError::new(
                "alerts.resolved",
                format!("{service} has no recoveries to announce; remove the key"),
            ));
        }
        if self.reminder_mins.is_some() {
            return Err(ConfigError::new(
                "alerts.reminder_mins",
                format!("{service} sends no reminders; remove the key"),
            ));
        }
        Ok(())
    }
}

/// The rule type of a service without alert rules: any `[[alerts.rules]]` entry is an error
/// saying so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoRules {}

impl<'de> Deserialize<'de> for NoRules {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Refuse;
        impl<'de> Visitor<'de> for Refuse {
            type Value = NoRules;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("no alert rules (this service alerts on its own conditions)")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<NoRules, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Err(serde::de::Error::custom(
                    "this service takes no alert rules; remove [[alerts.rules]]",
                ))
            }
        }
        deserializer.deserialize_any(Refuse)
    }
}

/// Email recipients: one address (or several separated by commas) or a list.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum EmailRecipients {
    /// `email = "ops@example.com"` or `"a@example.com, b@example.com"` (empty means none).
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
    /// The non-empty addresses, trimmed.
    pub fn addresses(&self) -> Vec<String> {
        match self {
            EmailRecipients::One(one) => split_list(one),
            EmailRecipients::Many(many) => many
                .iter()
                .map(|a| a.trim().to_string())
                .filter(|a| !a.is_empty())
                .collect(),
        }
    }
}

/// `[alerts.smtp]`: the mail relay.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    /// Relay host (env `SMTP_HOST`; default `localhost`).
    #[serde(default = "default_smtp_host")]
    pub host: String,
    /// Relay port (env `SMTP_PORT`; default 25 for `none`, 587 for `starttls`, 465 for `tls`).
    #[serde(default)]
    pub port: Option<u16>,
    /// `none` (plain, for local relays), `starttls` or `tls` (implicit TLS). Default: `starttls`
    /// (required) when a username is set, so a password never crosses the network in clear
    /// text unless `none` is chosen here explicitly; `none` without credentials.
    #[serde(default)]
    pub security: Option<SmtpSecurity>,
    /// Login user (env `SMTP_USERNAME`).
    #[serde(default)]
    pub username: Option<String>,
    /// Login password (env `SMTP_PASSWORD`).
    #[serde(default)]
    pub password: Option<Secret>,
    /// Sender address (env `SMTP_FROM`); the service picks the default.
    #[serde(default)]
    pub from: Option<String>,
    /// Accept self-signed relay certificates (default false).
    #[serde(default)]
    pub accept_invalid_certs: bool,
}

impl Default for SmtpConfig {
    fn default() -> Self {
        SmtpConfig {
            host: default_smtp_host(),
            port: None,
            security: None,
            username: None,
            password: None,
            from: None,
            accept_invalid_certs: false,
        }
    }
}

fn default_smtp_host() -> String {
    "localhost".to_string()
}

impl SmtpConfig {
    /// Applies `SMTP_HOST`, `SMTP_PORT`, `SMTP_USERNAME`, `SMTP_PASSWORD`, `SMTP_FROM`.
    pub fn apply_env(&mut self) -> Result<(), ConfigError> {
        if let Some(host) = env_string("SMTP_HOST") {
            self.host = host;
        }
        if let Some(port) = env_parse::<u16>("SMTP_PORT")? {
            self.port = Some(port);
        }
        if let Some(user) = env_string("SMTP_USERNAME") {
            self.username = Some(user);
        }
        if let Some(password) = env_string("SMTP_PASSWORD") {
            self.password = Some(Secret::new(&password));
        }
        if let Some(from) = env_string("SMTP_FROM") {
            self.from = Some(from);
        }
        Ok(())
    }

    /// The security in force: the configured one, else STARTTLS with credentials, else none.
    pub fn security(&self) -> SmtpSecurity {
        self.security
            .unwrap_or(if self.username.as_deref().is_some_and(|u| !u.is_empty()) {
                SmtpSecurity::StartTls
            } else {
                SmtpSecurity::None
            })
    }

    /// The connection settings, with the port the security implies when none is set.
    pub fn settings(&self) -> SmtpSettings {
        let security = self.security();
        let port = self.port.unwrap_or(match security {
            SmtpSecurity::None => 25,
            SmtpSecurity::StartTls => 587,
            SmtpSecurity::Tls => 465,
        });
        SmtpSettings {
            host: self.host.clone(),
            port,
            security,
            username: self.username.clone(),
            password: self.password.as_ref().map(|p| p.expose().to_string()),
            timeout: Duration::from_secs(10),
            accept_invalid_certs: self.accept_invalid_certs,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alerts(text: &str) -> Result<AlertsConfig, ConfigError> {
        crate::config::parse_toml::<AlertsConfig>(text)
    }

    #[test]
    fn nothing_configured_means_no_sinks() {
        assert!(AlertsConfig::<NoRules>::default()
            .sinks("svc@localhost")
            .unwrap()
            .is_empty());
    }

    #[test]
    fn bad_email_names_the_key() {
        let config = alerts("email = \"not an address\"").unwrap();
        assert_eq!(
            config.sinks("svc@localhost").unwrap_err().key,
            "alerts.email"
        );
    }

    #[test]
    fn email_is_one_address_a_comma_separated_list_or_a_list() {
        let one = alerts("email = \"a@example.com, b@example.com\"").unwrap();
        let many = alerts("email = [\"a@example.com\", \" b@example.com \"]").unwrap();
        assert_eq!(one.email.addresses(), many.email.addresses());
        assert_eq!(one.sinks("svc@localhost").unwrap().len(), 1);
    }

    #[test]
    fn bad_security_names_the_key() {
        let err = alerts("[smtp]\nsecurity = \"ssl3\"").unwrap_err();
        assert_eq!(err.key, "smtp.security");
        assert!(err.problem.contains("starttls"), "{err}");
    }

    #[test]
    fn bad_webhook_url_names_the_key() {
        let config = alerts("discord = \"ftp://nope\"").unwrap();
        assert_eq!(
            config.sinks("svc@localhost").unwrap_err().key,
            "alerts.discord"
        );
    }

    #[test]
    fn a_service_without_rules_refuses_them_with_a_reason() {
        let err = alerts("[[rules]]\nname = \"x\"").unwrap_err();
        assert!(err.key.starts_with("rules[0]"), "{err}");
        assert!(err.problem.contains("takes no alert rules"), "{err}");
    }

    #[test]
    fn credentials_are_never_sent_in_clear_unless_chosen_explicitly() {
        let with_login = alerts("[smtp]\nusername = \"u\"\npassword = \"p\"").unwrap();
        assert_eq!(with_login.smtp.security(), SmtpSecurity::StartTls);
        assert_eq!(with_login.smtp.settings().port, 587);
        let anonymous = alerts("[smtp]\nhost = \"relay\"").unwrap();
        assert_eq!(anonymous.smtp.security(), SmtpSecurity::None);
        let explicit = alerts("[smtp]\nusername = \"u\"\nsecurity = \"none\"").unwrap();
        assert_eq!(explicit.smtp.security(), SmtpSecurity::None);
    }

    #[test]
    fn the_smtp_password_never_shows_in_debug() {
        let config = alerts("[smtp]\npassword = \"hunter2\"").unwrap();
        assert!(!format!("{config:?}").contains("hunter2"));
    }

    #[test]
    fn debug_hides_webhook_urls_and_the_smtp_password() {
        let config = alerts(
            "slack = \"https://hooks.slack.com/services/T0/B1/s3cr3t\"\n\
             [smtp]\nusername = \"u\"\npassword = \"hunter2\"",
        )
        .unwrap();
        let shown = format!("{config:?}");
        assert!(
            !shown.contains("s3cr3t") && !shown.contains("hunter2"),
            "{shown}"
        );
        assert!(shown.contains("slack: \"***\""), "{shown}");
    }
}
