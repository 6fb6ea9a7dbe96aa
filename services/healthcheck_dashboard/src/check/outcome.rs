//! What one run of a probe found ([`Outcome`]) and the status it gives the check
//! ([`Status`]), shared by everything after the probes: state, history, alerts, the API.

use std::time::Duration;

use serde::Serialize;

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
