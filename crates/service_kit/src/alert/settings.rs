//! The alert settings every service's `[alerts]` section shares: where messages go (webhook,
//! Slack, Discord, email) and the SMTP relay, plus turning them into [`Sink`]s with errors
//! that name the key. Each service embeds these fields in its own `[alerts]` table (serde's
//! `flatten` cannot be combined with `deny_unknown_fields`), and calls [`build_sinks`].

use std::time::Duration;

use serde::Deserialize;

use super::{Sink, SmtpSecurity, SmtpSettings};
use crate::config::{env_parse, env_string, ConfigError};

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
    /// `none` (plain, for local relays), `starttls` or `tls` (implicit TLS). Default `none`.
    #[serde(default = "default_smtp_security")]
    pub security: String,
    /// Login user (env `SMTP_USERNAME`).
    #[serde(default)]
    pub username: Option<String>,
    /// Login password (env `SMTP_PASSWORD`).
    #[serde(default)]
    pub password: Option<String>,
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
            security: default_smtp_security(),
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

fn default_smtp_security() -> String {
    "none".to_string()
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
            self.password = Some(password);
        }
        if let Some(from) = env_string("SMTP_FROM") {
            self.from = Some(from);
        }
        Ok(())
    }

    fn security(&self) -> Result<SmtpSecurity, ConfigError> {
        match self.security.as_str() {
            "none" => Ok(SmtpSecurity::None),
            "starttls" => Ok(SmtpSecurity::StartTls),
            "tls" => Ok(SmtpSecurity::Tls),
            other => Err(ConfigError::new(
                "alerts.smtp.security",
                format!("unknown value {other:?}; expected \"none\", \"starttls\" or \"tls\""),
            )),
        }
    }
}

/// Where a service's alerts go; empty strings and lists mean "not this one".
#[derive(Debug, Clone, Copy)]
pub struct SinkTargets<'a> {
    /// Any webhook URL; Slack and Discord URLs are recognised and get their format.
    pub webhook: &'a str,
    /// A Slack incoming-webhook URL.
    pub slack: &'a str,
    /// A Discord webhook URL.
    pub discord: &'a str,
    /// Email recipients.
    pub email: &'a [String],
    /// The relay for email.
    pub smtp: &'a SmtpConfig,
    /// Sender address when `smtp.from` is not set.
    pub default_from: &'a str,
}

/// Builds the sinks, naming the `alerts.*` key of the first problem.
pub fn build_sinks(targets: SinkTargets<'_>) -> Result<Vec<Sink>, ConfigError> {
    type MakeSink = fn(&str) -> Result<Sink, super::AlertError>;
    let mut sinks = Vec::new();
    let url_sinks: [(&str, &str, MakeSink); 3] = [
        ("alerts.webhook", targets.webhook, Sink::from_webhook_url),
        ("alerts.slack", targets.slack, Sink::slack),
        ("alerts.discord", targets.discord, Sink::discord),
    ];
    for (key, url, make) in url_sinks {
        if !url.trim().is_empty() {
            sinks.push(make(url.trim()).map_err(|e| ConfigError::new(key, e.to_string()))?);
        }
    }
    let smtp = targets.smtp;
    let security = smtp.security()?;
    if !targets.email.is_empty() {
        let port = smtp.port.unwrap_or(match security {
            SmtpSecurity::None => 25,
            SmtpSecurity::StartTls => 587,
            SmtpSecurity::Tls => 465,
        });
        let settings = SmtpSettings {
            host: smtp.host.clone(),
            port,
            security,
            username: smtp.username.clone(),
            password: smtp.password.clone(),
            timeout: Duration::from_secs(10),
            accept_invalid_certs: smtp.accept_invalid_certs,
        };
        let from = smtp.from.as_deref().unwrap_or(targets.default_from);
        let sink = Sink::email(settings, from, targets.email)
            .map_err(|e| ConfigError::new("alerts.email", e.to_string()))?;
        sinks.push(sink);
    }
    Ok(sinks)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn targets<'a>(smtp: &'a SmtpConfig, email: &'a [String]) -> SinkTargets<'a> {
        SinkTargets {
            webhook: "",
            slack: "",
            discord: "",
            email,
            smtp,
            default_from: "svc@localhost",
        }
    }

    #[test]
    fn nothing_configured_means_no_sinks() {
        let smtp = SmtpConfig::default();
        assert!(build_sinks(targets(&smtp, &[])).unwrap().is_empty());
    }

    #[test]
    fn bad_email_names_the_key() {
        let smtp = SmtpConfig::default();
        let err = build_sinks(targets(&smtp, &["not an address".to_string()])).unwrap_err();
        assert_eq!(err.key, "alerts.email");
    }

    #[test]
    fn bad_security_names_the_key() {
        let smtp = SmtpConfig {
            security: "ssl3".into(),
            ..SmtpConfig::default()
        };
        let err = build_sinks(targets(&smtp, &[])).unwrap_err();
        assert_eq!(err.key, "alerts.smtp.security");
    }

    #[test]
    fn bad_webhook_url_names_the_key() {
        let smtp = SmtpConfig::default();
        let mut t = targets(&smtp, &[]);
        t.discord = "ftp://nope";
        assert_eq!(build_sinks(t).unwrap_err().key, "alerts.discord");
    }
}
