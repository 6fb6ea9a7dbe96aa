//! `GET /logs` (the newest matching events as JSON) and `GET /logs/stream` (matching events
//! as server-sent events while they are committed), with the same query:
//! `service`, `level` (that level and worse), `q` (text, any case), `since` (RFC 3339 or a
//! duration back from now) and `limit` (default 100, at most [`MAX_LIMIT`]).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::Json;
use chrono::{DateTime, Utc};
use futures_util::stream::Stream;
use serde::Deserialize;
use service_kit::http_error::ApiError;

use crate::parse::Level;
use crate::store::LogQuery;

use super::{duration, App};

/// Largest `limit` accepted by `/logs`.
pub const MAX_LIMIT: usize = 10_000;

/// Query of `/logs` and `/logs/stream`.
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
    pub limit: Option<usize>,
}

impl LogsParams {
    /// The checked query (400 for a bad level, time or limit).
    pub fn to_query(&self) -> Result<LogQuery, ApiError> {
        let min_level = match self.level.as_deref().filter(|l| !l.is_empty()) {
            Some(name) => Some(Level::parse(name).ok_or_else(|| {
                ApiError::BadRequest(format!(
                    "unknown level {name:?}; expected trace, debug, info, warning, error or critical"
                ))
            })?),
            None => None,
        };
        let since = match self.since.as_deref().filter(|s| !s.is_empty()) {
            Some(text) => Some(parse_since(text)?),
            None => None,
        };
        let limit = self.limit.unwrap_or(100);
        if limit == 0 || limit > MAX_LIMIT {
            return Err(ApiError::BadRequest(format!(
                "limit must be between 1 and {MAX_LIMIT}"
            )));
        }
        Ok(LogQuery::new(
            self.service.as_deref(),
            min_level,
            self.q.as_deref(),
            since,
            limit,
        ))
    }
}

/// `since=2024-06-12T01:00:00Z` or `since=15m`.
fn parse_since(text: &str) -> Result<DateTime<Utc>, ApiError> {
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(at.with_timezone(&Utc));
    }
    let secs = duration::parse_secs(text).ok_or_else(|| {
        ApiError::BadRequest(format!(
            "since must be an RFC 3339 time or a duration such as 15m, got {text:?}"
        ))
    })?;
    Ok(Utc::now() - chrono::Duration::seconds(secs))
}

/// `GET /logs`.
pub(super) async fn logs(
    State(app): State<Arc<App>>,
    params: Result<Query<LogsParams>, QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Query(params) = params.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let query = params.to_query()?;
    let events = app
        .store
        .query(query)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(Json(serde_json::json!({ "events": events })))
}

/// `GET /logs/stream`.
pub(super) async fn stream(
    State(app): State<Arc<App>>,
    params: Result<Query<LogsParams>, QueryRejection>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let Query(params) = params.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let query = params.to_query()?;
    let receiver = app.store.subscribe();
    let stream =
        futures_util::stream::unfold((receiver, query), |(mut receiver, query)| async move {
            loop {
                match receiver.recv().await {
                    Ok(event) if query.matches(&event) => {
                        let data = serde_json::to_string(&*event).unwrap_or_default();
                        return Some((
                            Ok(Event::default().event("log").data(data)),
                            (receiver, query),
                        ));
                    }
                    Ok(_) => continue,
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                        let event = Event::default().event("lagged").data(n.to_string());
                        return Some((Ok(event), (receiver, query)));
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
                }
            }
        });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}
