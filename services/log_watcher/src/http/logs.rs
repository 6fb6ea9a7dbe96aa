//! `GET /logs` (the newest matching events as JSON) and `GET /logs/stream` (matching events
//! as server-sent events while they are committed), with the same query:
//! `service`, `level` (that level and worse), `q` (text, any case), `since` (RFC 3339 or a
//! duration back from now) and `limit` (default 100, at most [`MAX_LIMIT`]).
//!
//! Both are bounded: a `/logs` answer holds at most `[api] max_response_bytes` (older
//! matching events beyond it are left out, and `"truncated": true` says so), and at most
//! `[api] max_streams` streams are open at once (one more gets 503 with `Retry-After`).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::header;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use futures_util::stream::Stream;
use serde::Deserialize;
use service_kit::http_error::ApiError;

use crate::event::LogEvent;
use crate::parse::Level;
use crate::store::{LogQuery, ReadError};

use super::query::{self, bad, non_empty, quoted, Params};
use super::App;

/// Largest `limit` accepted by `/logs`.
pub const MAX_LIMIT: u64 = 10_000;

/// `limit` when none is given.
pub const DEFAULT_LIMIT: usize = 100;

/// Query of `/logs` and `/logs/stream`, as text: [`LogsParams::to_query`] checks it.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct LogsParams {
    /// Only this service.
    pub service: Option<String>,
    /// This level and worse.
    pub level: Option<String>,
    /// Text the message contains (case-insensitive).
    pub q: Option<String>,
    /// RFC 3339 time, or a duration back from now such as `15m`.
    pub since: Option<String>,
    /// How many of the newest (default 100).
    pub limit: Option<String>,
}

impl LogsParams {
    /// The checked query at `now` (a 400 naming the parameter for a bad level, text, time
    /// or limit).
    pub fn to_query(&self, now: DateTime<Utc>) -> Result<LogQuery, ApiError> {
        let min_level = match non_empty(&self.level) {
            Some(name) => Some(Level::parse(name).ok_or_else(|| {
                bad(
                    "level",
                    format!(
                        "unknown level {}; expected trace, debug, info, warning, error or critical",
                        quoted(name)
                    ),
                )
            })?),
            None => None,
        };
        let since = match non_empty(&self.since) {
            Some(text) => Some(parse_since(text, now)?),
            None => None,
        };
        let limit = match non_empty(&self.limit) {
            Some(text) => query::number("limit", text, 1, MAX_LIMIT)? as usize,
            None => DEFAULT_LIMIT,
        };
        Ok(LogQuery::new(
            query::text("service", &self.service)?,
            min_level,
            query::text("q", &self.q)?,
            since,
            limit,
        ))
    }
}

/// `since=2024-06-12T01:00:00Z` or `since=15m` (back from `now`).
fn parse_since(text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, ApiError> {
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(at.with_timezone(&Utc));
    }
    let secs = super::duration::parse_secs(text).map_err(|why| {
        bad(
            "since",
            format!(
                "must be an RFC 3339 time or a duration back from now ({why}), got {}",
                quoted(text)
            ),
        )
    })?;
    chrono::Duration::try_seconds(secs)
        .and_then(|back| now.checked_sub_signed(back))
        .ok_or_else(|| bad("since", format!("{} is too far back", quoted(text))))
}

/// A read error as the client sees it: 503 when the readers are busy, else 500.
pub(super) fn read_error(error: ReadError) -> ApiError {
    match error {
        ReadError::Busy => ApiError::Unavailable(error.to_string()),
        ReadError::Storage(error) => ApiError::Internal(error.to_string()),
    }
}

/// `GET /logs`.
pub(super) async fn logs(
    State(app): State<Arc<App>>,
    Params(params): Params<LogsParams>,
) -> Result<Response, ApiError> {
    let query = params
        .to_query(Utc::now())?
        .with_max_bytes(app.max_response_bytes);
    let answer = app.store.query(query).await.map_err(read_error)?;
    let body = bounded_json(&answer.events, answer.truncated, app.max_response_bytes);
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// `{"events": [...], "truncated": bool}` in at most `max_bytes` (plus the few bytes of the
/// frame): the newest events that fit, oldest first. `truncated` is true when older events
/// were left out, here or by the store.
pub fn bounded_json(events: &[LogEvent], truncated: bool, max_bytes: usize) -> String {
    let mut kept: Vec<String> = Vec::new();
    let mut bytes = 0usize;
    let mut truncated = truncated;
    for event in events.iter().rev() {
        let json = serde_json::to_string(event).unwrap_or_default();
        // The comma between two events counts too.
        bytes = bytes.saturating_add(json.len() + 1);
        if bytes > max_bytes {
            truncated = true;
            break;
        }
        kept.push(json);
    }
    kept.reverse();
    format!(
        "{{\"events\":[{}],\"truncated\":{truncated}}}",
        kept.join(",")
    )
}

/// `GET /logs/stream`.
pub(super) async fn stream(
    State(app): State<Arc<App>>,
    Params(params): Params<LogsParams>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let query = params.to_query(Utc::now())?;
    // Held as long as the stream lives: dropped with it when the client goes.
    let slot = app.streams.take()?;
    let receiver = app.store.subscribe();
    let stream = futures_util::stream::unfold(
        (receiver, query, slot),
        |(mut receiver, query, slot)| async move {
            loop {
                match receiver.recv().await {
                    Ok(event) if query.matches(&event) => {
                        let data = serde_json::to_string(&*event).unwrap_or_default();
                        return Some((
                            Ok(Event::default().event("log").data(data)),
                            (receiver, query, slot),
                        ));
                    }
                    Ok(_) => continue,
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                        let event = Event::default().event("lagged").data(n.to_string());
                        return Some((Ok(event), (receiver, query, slot)));
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
                }
            }
        },
    );
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn event(message: &str) -> LogEvent {
        LogEvent {
            id: 0,
            timestamp: DateTime::from_timestamp(1_718_155_425, 0).unwrap(),
            service: Arc::from("api"),
            level: Level::Error,
            message: message.to_string(),
        }
    }

    #[test]
    fn an_answer_keeps_the_newest_events_that_fit_and_says_it_left_some_out() {
        let events: Vec<LogEvent> = (0..10)
            .map(|i| event(&format!("{i}{}", "x".repeat(99))))
            .collect();
        let body = bounded_json(&events, false, 500);
        assert!(body.len() <= 500 + 40, "{}", body.len());
        let parsed: serde_json::Value = serde_json::from_str(&body).unwrap();
        let kept = parsed["events"].as_array().unwrap();
        assert!(!kept.is_empty() && kept.len() < 10);
        assert!(kept.last().unwrap()["message"]
            .as_str()
            .unwrap()
            .starts_with('9'));
        assert_eq!(parsed["truncated"], true);
        let all: serde_json::Value =
            serde_json::from_str(&bounded_json(&events, false, 1 << 20)).unwrap();
        assert_eq!(all["events"].as_array().unwrap().len(), 10);
        assert_eq!(all["truncated"], false);
    }

    fn params(level: &str, since: &str, limit: &str) -> LogsParams {
        LogsParams {
            level: Some(level.to_string()),
            since: Some(since.to_string()),
            limit: Some(limit.to_string()),
            ..LogsParams::default()
        }
    }

    #[test]
    fn bad_values_are_400s_naming_their_parameter() {
        let now = Utc::now();
        let error = |p: LogsParams| p.to_query(now).unwrap_err().to_string();
        assert!(error(params("", "100000000d", "")).starts_with("since: "));
        assert!(error(params("", "99999999999999999", "")).starts_with("since: "));
        assert!(error(params("", "", "-1")).starts_with("limit: "));
        assert!(error(params("", "", "0")).starts_with("limit: "));
        assert!(error(params("", "", "10001")).starts_with("limit: "));
        assert!(error(params("loud", "", "")).starts_with("level: unknown level"));
        let q = LogsParams {
            q: Some("x".repeat(5000)),
            ..LogsParams::default()
        };
        assert!(error(q).starts_with("q: "));
        let query = params("warn", "15m", "5").to_query(now).unwrap();
        assert_eq!(query.limit, 5);
        assert_eq!(query.min_level, Some(Level::Warning));
        assert_eq!(query.since, Some(now - chrono::Duration::minutes(15)));
    }

    proptest! {
        /// Any values at all: a query, or a 400 naming one of the parameters; no panic.
        #[test]
        fn any_logs_query_is_checked_or_refused_with_its_parameter_named(
            service in proptest::option::of(".{0,20}"),
            level in proptest::option::of(".{0,12}"),
            q in proptest::option::of(".{0,20}"),
            since in proptest::option::of(prop_oneof![
                ".{0,30}",
                any::<i64>().prop_map(|n| n.to_string()),
                (any::<u64>(), "[smhdwy]").prop_map(|(n, u)| format!("{n}{u}")),
                "[+-]?[0-9]{4,6}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(Z|[+-][0-9]{2}:[0-9]{2})",
            ]),
            limit in proptest::option::of(prop_oneof![".{0,12}", any::<i64>().prop_map(|n| n.to_string())]),
        ) {
            let params = LogsParams { service, level, q, since, limit };
            match params.to_query(Utc::now()) {
                Ok(query) => prop_assert!((1..=MAX_LIMIT as usize).contains(&query.limit)),
                Err(error) => {
                    let text = error.to_string();
                    prop_assert!(
                        ["service: ", "level: ", "q: ", "since: ", "limit: "].iter().any(|p| text.starts_with(p)),
                        "{}", text
                    );
                }
            }
        }
    }
}
