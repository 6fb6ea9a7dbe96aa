//! A log event: one line (or one joined multi-line record) that passed the filters, with the
//! four facts every view shows.

use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use crate::parse::Level;

/// One event as `/logs` returns it and stdout prints it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogEvent {
    /// Storage id, increasing in arrival order.
    #[serde(skip)]
    pub id: i64,
    /// When the line was written (from the line or Docker), else when it was read.
    #[serde(serialize_with = "rfc3339")]
    pub timestamp: DateTime<Utc>,
    /// Compose service name (containers) or file stem (files).
    pub service: Arc<str>,
    /// Normalised level.
    pub level: Level,
    /// The text, without the leading timestamp.
    pub message: String,
}

fn rfc3339<S: serde::Serializer>(at: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&format_time(*at))
}

/// `2024-06-12T01:23:45Z`, as the spec prints it.
pub fn format_time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

impl LogEvent {
    /// The stdout line of the spec: `[2024-06-12T01:23:45Z][api][ERROR] message`.
    pub fn stdout_line(&self) -> String {
        format!(
            "[{}][{}][{}] {}",
            format_time(self.timestamp),
            self.service,
            self.level.label(),
            self.message
        )
    }
}
