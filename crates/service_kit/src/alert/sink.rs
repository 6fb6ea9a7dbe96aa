//! Where alerts go: the four sink flavours, how they are built from config, and how they
//! are named in log lines without leaking secrets.

use std::fmt;
use std::time::Duration;

use reqwest::Url;

use super::email::EmailSink;
use super::error::AlertError;

/// How an email sink talks to its SMTP relay; written `none`, `starttls` or `tls` in config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    /// Plain SMTP without TLS, for relays on the local host or network (port 25).
    None,
    /// Plain connection upgraded with `STARTTLS`, which is required (port 587).
    #[default]
    StartTls,
    /// Implicit TLS from the first byte, "SMTPS" (port 465).
    Tls,
}

/// Connection settings for an SMTP relay.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpSettings {
    /// Relay host name or IP address; also the name checked against its certificate.
    /// Default `localhost`.
    pub host: String,
    /// Relay port. Default 587.
    pub port: u16,
    /// Plain, STARTTLS or implicit TLS. Default STARTTLS.
    pub security: SmtpSecurity,
    /// User name for `AUTH`; no authentication when `None` (the default).
    pub username: Option<String>,
    /// Password for `AUTH`; used only with a username.
    pub password: Option<String>,
    /// Socket timeout for each step of the SMTP conversation. Default 10 s.
    pub timeout: Duration,
    /// Accept self-signed or otherwise invalid certificates, for local relays. Default false.
    pub accept_invalid_certs: bool,
}

impl Default for SmtpSettings {
    fn default() -> Self {
        SmtpSettings {
            host: "localhost".to_string(),
            port: 587,
            security: SmtpSecurity::StartTls,
            username: None,
            password: None,
            timeout: Duration::from_secs(10),
            accept_invalid_certs: false,
        }
    }
}

impl fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The password never reaches a log line, even through `{:?}`.
        f.debug_struct("SmtpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("timeout", &self.timeout)
            .field("accept_invalid_certs", &self.accept_invalid_certs)
            .finish()
    }
}

/// Which kind of receiver a [`Sink`] is, and so which payload it gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SinkFlavour {
    /// Any HTTP endpoint taking the alert as JSON.
    Webhook,
    /// A Slack incoming webhook.
    Slack,
    /// A Discord channel webhook.
    Discord,
    /// Email through an SMTP relay.
    Email,
}

/// One destination for alerts. Built once from config; every constructor validates its
/// input so that bad config is rejected at start-up, not at the first incident.
#[derive(Clone)]
pub struct Sink {
    /// The flavour and its validated settings.
    pub(crate) kind: SinkKind,
    /// The human name for log lines, computed once.
    described: String,
}

/// The validated settings of each flavour.
#[derive(Clone)]
pub(crate) enum SinkKind {
    /// Generic JSON webhook.
    Webhook(Url),
    /// Slack incoming webhook.
    Slack(Url),
    /// Discord webhook.
    Discord(Url),
    /// SMTP email, boxed because the transport is large.
    Email(Box<EmailSink>),
}

impl Sink {
    /// A sink for a webhook URL whose flavour is detected from the URL: host
    /// `hooks.slack.com` is Slack; host `discord.com` or `discordapp.com` (or a subdomain
    /// such as `canary.discord.com`) with a path under `/api/webhooks/` is Discord;
    /// anything else is a generic JSON webhook.
    pub fn from_webhook_url(url: &str) -> Result<Sink, AlertError> {
        let parsed = parse_http_url(url)?;
        let host = parsed.host_str().unwrap_or_default().to_ascii_lowercase();
        let is_discord_host = ["discord.com", "discordapp.com"]
            .iter()
            .any(|d| host == *d || host.ends_with(&format!(".{d}")));
        let kind = if host == "hooks.slack.com" {
            SinkKind::Slack(parsed)
        } else if is_discord_host && parsed.path().starts_with("/api/webhooks/") {
            SinkKind::Discord(parsed)
        } else {
            SinkKind::Webhook(parsed)
        };
        Ok(Sink::from_kind(kind))
    }

    /// A generic JSON webhook at `url`, whatever its host.
    pub fn webhook(url: &str) -> Result<Sink, AlertError> {
        Ok(Sink::from_kind(SinkKind::Webhook(parse_http_url(url)?)))
    }

    /// A Slack incoming webhook at `url`, whatever its host (tests use a local receiver).
    pub fn slack(url: &str) -> Result<Sink, AlertError> {
        Ok(Sink::from_kind(SinkKind::Slack(parse_http_url(url)?)))
    }

    /// A Discord webhook at `url`, whatever its host (tests use a local receiver).
    pub fn discord(url: &str) -> Result<Sink, AlertError> {
        Ok(Sink::from_kind(SinkKind::Discord(parse_http_url(url)?)))
    }

    /// An email sink sending from `from` to every address in `to` through `smtp`.
    ///
    /// Addresses may be bare (`alerts@example.com`) or named (`Ops <ops@example.com>`).
    /// Fails with [`AlertError::InvalidAddress`] for an unparsable address,
    /// [`AlertError::NoRecipients`] for an empty `to` and [`AlertError::Tls`] when the TLS
    /// settings cannot be built.
    pub fn email(smtp: SmtpSettings, from: &str, to: &[String]) -> Result<Sink, AlertError> {
        let email = EmailSink::new(&smtp, from, to)?;
        Ok(Sink::from_kind(SinkKind::Email(Box::new(email))))
    }

    /// Which kind of receiver this is.
    pub fn flavour(&self) -> SinkFlavour {
        match self.kind {
            SinkKind::Webhook(_) => SinkFlavour::Webhook,
            SinkKind::Slack(_) => SinkFlavour::Slack,
            SinkKind::Discord(_) => SinkFlavour::Discord,
            SinkKind::Email(_) => SinkFlavour::Email,
        }
    }

    /// The target for log lines such as `Alert sent to: alerts@example.com`.
    ///
    /// Email: the recipients joined by ", ". Webhooks: the URL without user info, query and
    /// fragment; for Slack (`/services/T/B/SECRET`) and Discord (`/api/webhooks/ID/TOKEN`)
    /// URLs the secret last path segment is shown as `***`.
    pub fn describe(&self) -> &str {
        &self.described
    }

    fn from_kind(kind: SinkKind) -> Sink {
        let described = match &kind {
            SinkKind::Webhook(url) => describe_url(url, None),
            SinkKind::Slack(url) => describe_url(url, Some(("/services/", 3))),
            SinkKind::Discord(url) => describe_url(url, Some(("/api/webhooks/", 2))),
            SinkKind::Email(email) => email.describe(),
        };
        Sink { kind, described }
    }
}

impl fmt::Debug for Sink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Only the described form: URLs and settings may carry secrets.
        f.debug_struct("Sink")
            .field("flavour", &self.flavour())
            .field("target", &self.described)
            .finish()
    }
}

/// Parses an absolute `http`/`https` URL, naming the problem otherwise.
fn parse_http_url(url: &str) -> Result<Url, AlertError> {
    let invalid = |reason: String| AlertError::InvalidUrl {
        url: strip_userinfo(url),
        reason,
    };
    let parsed = Url::parse(url.trim()).map_err(|e| invalid(e.to_string()))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(invalid(format!(
            "scheme must be http or https, not `{}`",
            parsed.scheme()
        )));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(invalid("no host".to_string()));
    }
    Ok(parsed)
}

/// Removes `user:password@` from a URL that failed to parse, for the error message.
fn strip_userinfo(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            format!("{}***@{}", &url[..scheme_end + 3], &url[at + 1..])
        }
        _ => url.to_string(),
    }
}

/// `scheme://host[:port]/path` without credentials, query or fragment. With
/// `secret_path = Some((prefix, segments))`, a path starting with `prefix` and having at
/// least `segments` segments after it has its last segment replaced by `***`.
fn describe_url(url: &Url, secret_path: Option<(&str, usize)>) -> String {
    let mut clean = url.clone();
    let _ = clean.set_username("");
    let _ = clean.set_password(None);
    clean.set_query(None);
    clean.set_fragment(None);
    if let Some((prefix, segments)) = secret_path {
        let path = clean.path().to_string();
        if let Some(rest) = path.strip_prefix(prefix) {
            let parts: Vec<&str> = rest.trim_end_matches('/').split('/').collect();
            if parts.len() >= segments {
                let kept = &parts[..parts.len() - 1];
                let mut masked = format!("{prefix}{}", kept.join("/"));
                if !kept.is_empty() {
                    masked.push('/');
                }
                masked.push_str("***");
                clean.set_path(&masked);
            }
        }
    }
    clean.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slack_url_is_described_without_its_secret() {
        let sink = Sink::from_webhook_url("https://hooks.slack.com/services/T0/B1/s3cr3t").unwrap();
        assert_eq!(
            sink.describe(),
            "https://hooks.slack.com/services/T0/B1/***"
        );
    }

    #[test]
    fn discord_url_is_described_without_its_token() {
        let sink = Sink::from_webhook_url("https://discord.com/api/webhooks/123/tok-en").unwrap();
        assert_eq!(sink.describe(), "https://discord.com/api/webhooks/123/***");
    }

    #[test]
    fn generic_url_loses_credentials_query_and_fragment() {
        let sink = Sink::webhook("https://user:pw@example.com:8443/hook?token=x#frag").unwrap();
        assert_eq!(sink.describe(), "https://example.com:8443/hook");
    }

    #[test]
    fn unparsable_url_error_hides_credentials() {
        let err = Sink::webhook("http://user:pw@exa mple.com/").unwrap_err();
        assert!(!err.to_string().contains("pw"), "{err}");
    }
}
