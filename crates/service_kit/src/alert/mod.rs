//! Alert delivery shared by every service: generic JSON webhook, Slack, Discord and SMTP email.
//!
//! A service builds one [`AlertDispatcher`] from its config and hands it [`Alert`]s. The
//! dispatcher applies a per-key cooldown (one incident, one message; later ones are counted
//! and reported as "N more suppressed" in the next message for that key), then delivers to
//! every sink with a timeout and retries with exponential backoff.
//!
//! ```no_run
//! # async fn example() -> Result<(), service_kit::alert::AlertError> {
//! use service_kit::alert::{Alert, AlertDispatcher, DeliveryPolicy, Severity, Sink};
//!
//! let sinks = vec![Sink::from_webhook_url("https://hooks.slack.com/services/T0/B0/XXX")?];
//! let alerts = AlertDispatcher::new(sinks, DeliveryPolicy::default());
//! alerts.send_in_background(Alert {
//!     key: "check:api:down".into(),
//!     source: "healthcheck_dashboard".into(),
//!     title: "api is DOWN".into(),
//!     text: "connection refused".into(),
//!     severity: Severity::Critical,
//!     fields: vec![("service".into(), "api".into())],
//!     link: Some("http://localhost:9100/dashboard".into()),
//! });
//! # Ok(()) }
//! ```
//!
//! # Layout
//! - `dispatcher`: [`AlertDispatcher`], [`Dispatch`], [`AlertStats`].
//! - `cooldown`: the per-key suppression bookkeeping.
//! - `retry`: [`DeliveryPolicy`] and the retry loop with backoff and `Retry-After`.
//! - `sink`: [`Sink`] and its settings; flavour detection and log-safe names.
//! - `settings`: the `[alerts]` section every service shares ([`AlertsConfig`], [`SmtpConfig`])
//!   and the sinks it names.
//! - `message`: the alert as sent (timestamp, suppressed count, `(N more suppressed)` line).
//! - [`webhook`], [`slack`], [`discord`], [`email`]: each flavour's exact payload, documented
//!   in its module.
//! - `http`: one JSON POST with its answer classified.
//! - `error`: [`AlertError`].

use serde::Serialize;

mod cooldown;
mod dispatcher;
mod error;
mod http;
mod message;
mod retry;
mod settings;
mod sink;

pub mod discord;
pub mod email;
pub mod slack;
pub mod webhook;

pub use dispatcher::{AlertDispatcher, AlertStats, Dispatch};
pub use error::AlertError;
pub use retry::{DeliveryPolicy, MAX_BACKOFF};
pub use settings::{AlertsConfig, EmailRecipients, NoRules, SmtpConfig, DEFAULT_COOLDOWN_SECS};
pub use sink::{Sink, SinkFlavour, SmtpSecurity, SmtpSettings};

/// How bad an alert is; sinks use it for colour and wording.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Something is broken (a check is down, an error burst).
    Critical,
    /// Something deserves a look (degraded, certificate expiring).
    Warning,
    /// A previous problem is over.
    Resolved,
    /// Plain information (a deploy finished).
    Info,
}

/// One message for people.
#[derive(Debug, Clone, Serialize)]
pub struct Alert {
    /// Cooldown key: alerts with the same key within the cooldown are suppressed and counted.
    pub key: String,
    /// Which service raised it, such as `healthcheck_dashboard`.
    pub source: String,
    /// One-line summary, such as `api is DOWN`.
    pub title: String,
    /// Longer text (error details); may be empty.
    pub text: String,
    /// How bad it is.
    pub severity: Severity,
    /// Extra facts as ordered name/value pairs (service, state, since, error...).
    pub fields: Vec<(String, String)>,
    /// Where to look, such as the dashboard URL.
    pub link: Option<String>,
}
