//! The probes: what one check of one endpoint does, and what it found.
//!
//! [`Probe`] is built once from an endpoint's config (so bad config is caught at start-up)
//! and then run on every tick by the scheduler. Running never panics and never hangs: every
//! failure, timeout included, becomes an [`Outcome`] with `Status::Down` and an error text.

mod command;
mod http;
mod postgres;
mod tcp;

use std::time::Duration;

use serde::Serialize;

use crate::config::{ChecksConfig, EndpointConfig};

pub use command::CommandProbe;
pub use http::HttpProbe;
pub use postgres::PostgresProbe;
pub use tcp::TcpProbe;

/// The state of an endpoint, as `/health` and the dashboard show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Not checked yet.
    Unknown,
    /// Reachable and correct.
    Up,
    /// Reachable and correct, but slow or warning (certificate expiring soon).
    Degraded,
    /// Failing.
    Down,
}

impl Status {
    /// Whether the service counts as working (`ok` in `/health`).
    pub fn is_ok(self) -> bool {
        matches!(self, Status::Up | Status::Degraded)
    }

    /// The lower-case name used in JSON and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Unknown => "unknown",
            Status::Up => "up",
            Status::Degraded => "degraded",
            Status::Down => "down",
        }
    }
}

/// What one run of a probe found.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// Up, degraded or down.
    pub status: Status,
    /// How long the check took.
    pub elapsed: Duration,
    /// Why it failed or is degraded (already free of credentials).
    pub error: Option<String>,
    /// A short fact worth showing, such as `HTTP 200` or a command's first output line.
    pub detail: Option<String>,
    /// HTTP status code, for HTTP checks that got an answer.
    pub http_status: Option<u16>,
    /// Days until the TLS certificate expires, for HTTPS checks.
    pub cert_days_left: Option<i64>,
    /// When the certificate expires (unix seconds), for HTTPS checks.
    pub cert_not_after: Option<i64>,
}

impl Outcome {
    /// A successful outcome.
    pub fn up(elapsed: Duration) -> Outcome {
        Outcome {
            status: Status::Up,
            elapsed,
            error: None,
            detail: None,
            http_status: None,
            cert_days_left: None,
            cert_not_after: None,
        }
    }

    /// A failed outcome with its reason.
    pub fn down(elapsed: Duration, error: impl Into<String>) -> Outcome {
        Outcome {
            status: Status::Down,
            error: Some(error.into()),
            ..Outcome::up(elapsed)
        }
    }

    /// Adds a detail line.
    pub fn with_detail(mut self, detail: impl Into<String>) -> Outcome {
        self.detail = Some(detail.into());
        self
    }
}

/// A configured check, ready to run.
#[derive(Debug, Clone)]
pub enum Probe {
    /// HTTP(S) request with status/body/JSON expectations.
    Http(HttpProbe),
    /// TCP connect.
    Tcp(TcpProbe),
    /// Postgres connect + `SELECT 1`.
    Postgres(PostgresProbe),
    /// A local command; exit 0 is up.
    Command(CommandProbe),
}

/// A config problem: the endpoint field and what is wrong with it.
pub type FieldProblem = (&'static str, String);

/// Every check type the `type` key accepts.
pub const CHECK_TYPES: &str = "\"http\", \"https\", \"tcp\", \"postgres\", \"command\"";

impl Probe {
    /// Builds the probe for `endpoint`, or names the field that is wrong.
    pub fn from_config(
        endpoint: &EndpointConfig,
        checks: &ChecksConfig,
    ) -> Result<Probe, FieldProblem> {
        let timeout = Duration::from_millis(endpoint.timeout_ms.unwrap_or(checks.timeout_ms));
        let url = || {
            endpoint
                .url
                .as_deref()
                .map(str::trim)
                .filter(|u| !u.is_empty())
                .ok_or(("url", "is required for this type".to_string()))
        };
        match endpoint.kind.as_str() {
            "http" | "https" => Ok(Probe::Http(HttpProbe::new(endpoint, url()?, timeout)?)),
            "tcp" => Ok(Probe::Tcp(TcpProbe::new(url()?, timeout)?)),
            "postgres" | "postgresql" => Ok(Probe::Postgres(PostgresProbe::new(url()?, timeout)?)),
            "command" => Ok(Probe::Command(CommandProbe::new(endpoint, timeout)?)),
            other => Err((
                "type",
                format!("unknown check type {other:?}; expected one of {CHECK_TYPES}"),
            )),
        }
    }

    /// Runs the check once. Never panics, never outlives its timeout by more than a moment.
    pub async fn run(&self, http: &reqwest::Client, insecure_http: &reqwest::Client) -> Outcome {
        let limit = self.timeout() + Duration::from_millis(500);
        let started = std::time::Instant::now();
        let run = async {
            match self {
                Probe::Http(p) => p.run(if p.tls_verify { http } else { insecure_http }).await,
                Probe::Tcp(p) => p.run().await,
                Probe::Postgres(p) => p.run().await,
                Probe::Command(p) => p.run().await,
            }
        };
        // Each probe enforces its own timeout; this outer one is the guarantee that a probe
        // with a bug cannot hold a scheduler slot forever.
        match tokio::time::timeout(limit, run).await {
            Ok(outcome) => outcome,
            Err(_) => Outcome::down(
                started.elapsed(),
                format!("timed out after {} ms", self.timeout().as_millis()),
            ),
        }
    }

    /// The configured time limit.
    pub fn timeout(&self) -> Duration {
        match self {
            Probe::Http(p) => p.timeout,
            Probe::Tcp(p) => p.timeout,
            Probe::Postgres(p) => p.timeout,
            Probe::Command(p) => p.timeout,
        }
    }

    /// The check type name as in config (`http`, `tcp`, ...).
    pub fn kind(&self) -> &'static str {
        match self {
            Probe::Http(_) => "http",
            Probe::Tcp(_) => "tcp",
            Probe::Postgres(_) => "postgres",
            Probe::Command(_) => "command",
        }
    }

    /// What is probed, safe to show (credentials masked).
    pub fn target(&self) -> String {
        match self {
            Probe::Http(p) => service_kit::redact::redact_url(p.url.as_str()),
            Probe::Tcp(p) => p.address.clone(),
            Probe::Postgres(p) => p.display.clone(),
            Probe::Command(p) => p.argv.join(" "),
        }
    }
}

/// Makes an error text fit for display: one line, bounded length.
pub fn one_line(text: &str, max_chars: usize) -> String {
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    if line.chars().count() > max_chars {
        let cut: String = line.chars().take(max_chars).collect();
        format!("{cut}…")
    } else {
        line.to_string()
    }
}
