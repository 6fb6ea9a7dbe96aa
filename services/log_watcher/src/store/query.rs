//! Which events a `/logs` request (or the dashboard's tail) asks for: service, minimum
//! level, text, time, and how many of the newest. The same test runs on the in-memory ring,
//! on rows from SQLite and on events streamed live.

use chrono::{DateTime, Utc};

use crate::event::LogEvent;
use crate::parse::Level;

/// A `/logs` request.
#[derive(Debug, Clone, Default)]
pub struct LogQuery {
    /// Only this service.
    pub service: Option<String>,
    /// This level and worse.
    pub min_level: Option<Level>,
    /// Case-insensitive text the message must contain (lower-cased).
    pub text: Option<String>,
    /// Only events at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// The newest this many.
    pub limit: usize,
}

impl LogQuery {
    /// The newest `limit` events of `service` (any when `None`) at `min_level` or worse
    /// whose message contains `text` in any case, written at or after `since`. Empty
    /// strings mean "any".
    pub fn new(
        service: Option<&str>,
        min_level: Option<Level>,
        text: Option<&str>,
        since: Option<DateTime<Utc>>,
        limit: usize,
    ) -> LogQuery {
        LogQuery {
            service: service.filter(|s| !s.is_empty()).map(str::to_string),
            min_level,
            text: text.filter(|t| !t.is_empty()).map(str::to_lowercase),
            since,
            limit,
        }
    }

    /// Whether `event` passes every filter.
    pub fn matches(&self, event: &LogEvent) -> bool {
        self.service.as_deref().is_none_or(|s| &*event.service == s)
            && self.min_level.is_none_or(|l| event.level >= l)
            && self.since.is_none_or(|s| event.timestamp >= s)
            && self
                .text
                .as_deref()
                .is_none_or(|t| event.message.to_lowercase().contains(t))
    }
}
