//! log_watcher as a peer: the newest error events of one service (its `/logs` route), for
//! alerts and deploy notifications that carry the failing service's own words.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use super::{query_value, Peer, PeerError};

/// Error lines an alert carries, at most.
pub const ERROR_LINES: usize = 5;

/// One event as `/logs` serves it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct LogEvent {
    /// When (RFC 3339).
    pub timestamp: String,
    /// The Compose service.
    pub service: String,
    /// `error`, `critical`...
    pub level: String,
    /// The message (several lines for a traceback).
    pub message: String,
}

#[derive(Deserialize)]
struct LogsAnswer {
    events: Vec<LogEvent>,
}

/// The newest `limit` events of level error or worse of `service` since `since`, oldest
/// first.
pub async fn recent_errors(
    peer: &Peer,
    service: &str,
    since: DateTime<Utc>,
    limit: usize,
) -> Result<Vec<LogEvent>, PeerError> {
    let path = format!(
        "/logs?service={}&level=error&since={}&limit={limit}",
        query_value(service),
        query_value(&since.to_rfc3339_opts(SecondsFormat::Secs, true))
    );
    let answer: LogsAnswer = peer.get(&path).await?;
    Ok(answer.events)
}

/// The events as lines for a message: `01:23:45Z [error] Database connection failed`,
/// each cut to its first line and 200 characters.
pub fn format_lines(events: &[LogEvent]) -> String {
    events
        .iter()
        .map(|event| {
            let time = event
                .timestamp
                .split_once('T')
                .map_or(event.timestamp.as_str(), |(_, time)| time);
            let time: String = time.chars().take(8).collect();
            let first = event.message.lines().next().unwrap_or("");
            let first: String = first.chars().take(200).collect();
            format!("{time}Z [{}] {first}", event.level)
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_show_the_time_level_and_first_line() {
        let events = vec![LogEvent {
            timestamp: "2024-06-12T01:23:45.123Z".into(),
            service: "api".into(),
            level: "error".into(),
            message: "Database connection failed: timeout\nTraceback ...".into(),
        }];
        assert_eq!(
            format_lines(&events),
            "01:23:45Z [error] Database connection failed: timeout"
        );
    }
}
