//! The HTTP API: `/logs`, `/logs/stream` (server-sent events), `/summary`, `/livez` and
//! `/metrics`, as in DESIGN.md.
//!
//! | route | what | protected by `[auth]` |
//! |---|---|---|
//! | `GET /livez` | process alive, and the followed sources | never |
//! | `GET /logs`, `GET /logs/stream` | events (`service`, `level`, `q`, `since`, `limit`), as JSON or live | yes |
//! | `GET /summary?window=10m` | lines per level and service in the window | yes |
//! | `GET /summary/series?window=1h&step=60&service=` | lines per level in equal buckets ([`crate::series`]) | yes |
//! | `GET /metrics` | Prometheus text | yes |
//! | `GET /dashboard`, `GET /` | the HTML page ([`crate::dashboard`]; 404 with `[api] dashboard = false`) | yes |

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::header;
use axum::middleware::from_fn_with_state;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use futures_util::stream::Stream;
use serde::Deserialize;
use service_kit::http_error::ApiError;
use service_kit::metrics_text::{MetricKind, MetricsText, CONTENT_TYPE};

use crate::parse::Level;
use crate::store::LogQuery;
use crate::summary::{Summary, LEVELS, MEMORY_WINDOW_SECS};
use crate::App;

/// Largest `limit` accepted by `/logs`.
pub const MAX_LIMIT: usize = 10_000;

/// Builds every route.
pub fn router(app: Arc<App>) -> Router {
    let private = Router::new()
        .route("/logs", get(logs))
        .route("/logs/stream", get(stream))
        .route("/summary", get(summary))
        .route("/metrics", get(metrics))
        .route("/summary/series", get(crate::series::series_handler))
        .merge(crate::dashboard::routes(app.config.api.dashboard))
        .layer(from_fn_with_state(
            app.auth.clone(),
            service_kit::auth::require_auth,
        ));
    Router::new()
        .route("/livez", get(livez))
        .merge(private)
        .fallback(service_kit::http_error::not_found)
        .with_state(app)
}

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
    pub(crate) fn to_query(&self) -> Result<LogQuery, ApiError> {
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
        Ok(LogQuery {
            service: self.service.clone().filter(|s| !s.is_empty()),
            min_level,
            text: self
                .q
                .as_deref()
                .filter(|q| !q.is_empty())
                .map(str::to_lowercase),
            since,
            limit,
        })
    }
}

/// `since=2024-06-12T01:00:00Z` or `since=15m`.
fn parse_since(text: &str) -> Result<DateTime<Utc>, ApiError> {
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(at.with_timezone(&Utc));
    }
    let secs = parse_duration_secs(text).ok_or_else(|| {
        ApiError::BadRequest(format!(
            "since must be an RFC 3339 time or a duration such as 15m, got {text:?}"
        ))
    })?;
    Ok(Utc::now() - chrono::Duration::seconds(secs))
}

/// `90s`, `10m`, `2h`, `1d`, or plain seconds.
pub fn parse_duration_secs(text: &str) -> Option<i64> {
    let text = text.trim();
    let (number, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len()),
    );
    let n: i64 = number.parse().ok()?;
    let factor = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return None,
    };
    (n > 0).then_some(n * factor)
}

async fn logs(
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

async fn stream(
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

/// Query of `/summary`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SummaryParams {
    /// Window such as `10m` (default 10m).
    pub window: Option<String>,
}

async fn summary(
    State(app): State<Arc<App>>,
    params: Result<Query<SummaryParams>, QueryRejection>,
) -> Result<Json<Summary>, ApiError> {
    let Query(params) = params.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let window = match params.window.as_deref() {
        Some(text) => parse_duration_secs(text).ok_or_else(|| {
            ApiError::BadRequest(format!(
                "window must be a duration such as 10m, got {text:?}"
            ))
        })?,
        None => 600,
    };
    let now = Utc::now().timestamp();
    if window <= MEMORY_WINDOW_SECS {
        return Ok(Json(app.counter.window(now, window)));
    }
    let rows = app
        .store
        .counts_since(now - window)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let mut summary = Summary {
        window_secs: window,
        totals: LEVELS.iter().map(|l| (l.as_str(), 0)).collect(),
        services: Default::default(),
    };
    for (service, level, lines) in rows {
        *summary.totals.entry(level.as_str()).or_default() += lines;
        let per_service = summary
            .services
            .entry(service)
            .or_insert_with(|| LEVELS.iter().map(|l| (l.as_str(), 0)).collect());
        *per_service.entry(level.as_str()).or_default() += lines;
    }
    Ok(Json(summary))
}

async fn livez(State(app): State<Arc<App>>) -> Json<serde_json::Value> {
    let sources = app
        .sources
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    Json(serde_json::json!({ "status": "ok", "sources": sources }))
}

async fn metrics(State(app): State<Arc<App>>) -> impl IntoResponse {
    let mut m = MetricsText::new();
    let totals = app.counter.totals();
    m.family(
        "log_watcher_lines_total",
        MetricKind::Counter,
        "Lines read, by service and level.",
    );
    for (service, counts, _) in &totals {
        for level in LEVELS {
            m.sample(
                "log_watcher_lines_total",
                &[("service", service), ("level", level.as_str())],
                counts[level as usize] as f64,
            );
        }
    }
    m.family(
        "log_watcher_bytes_total",
        MetricKind::Counter,
        "Bytes read, by service.",
    );
    for (service, _, bytes) in &totals {
        m.sample(
            "log_watcher_bytes_total",
            &[("service", service)],
            *bytes as f64,
        );
    }
    let sources = app
        .sources
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    m.family(
        "log_watcher_active_sources",
        MetricKind::Gauge,
        "Files open for reading.",
    )
    .sample(
        "log_watcher_active_sources",
        &[],
        sources.iter().filter(|s| s.open).count() as f64,
    );
    m.family(
        "log_watcher_source_errors",
        MetricKind::Gauge,
        "Sources whose last read failed.",
    )
    .sample(
        "log_watcher_source_errors",
        &[],
        sources.iter().filter(|s| s.error.is_some()).count() as f64,
    );
    // The Docker Engine API source: its connection (absent when not configured).
    if let Some(engine) = sources
        .iter()
        .find(|s| s.kind == crate::source::docker_api::KIND && s.container.is_none())
    {
        m.family(
            "log_watcher_docker_connected",
            MetricKind::Gauge,
            "Whether the Docker Engine API answers (1) or not (0).",
        )
        .sample(
            "log_watcher_docker_connected",
            &[],
            f64::from(u8::from(engine.connected == Some(true))),
        );
    }
    m.family(
        "log_watcher_read_lag_bytes",
        MetricKind::Gauge,
        "Bytes written to followed files and not read yet.",
    );
    // Files only: the API does not tell how far behind a container's log is.
    for source in sources
        .iter()
        .filter(|s| s.kind != crate::source::docker_api::KIND)
    {
        let path = source.path.to_string_lossy();
        m.sample(
            "log_watcher_read_lag_bytes",
            &[("service", &source.service), ("path", &path)],
            source.unread_bytes as f64,
        );
    }
    m.family(
        "log_watcher_events_total",
        MetricKind::Counter,
        "Events kept (lines that passed the filters).",
    )
    .sample(
        "log_watcher_events_total",
        &[],
        app.events_total.load(std::sync::atomic::Ordering::Relaxed) as f64,
    );
    let alerts = app
        .alerter
        .dispatcher()
        .map(|d| d.stats())
        .unwrap_or_default();
    alerts.write_metrics(&mut m, "log_watcher_alerts_total");
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], m.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_accept_units() {
        assert_eq!(parse_duration_secs("10m"), Some(600));
        assert_eq!(parse_duration_secs("90"), Some(90));
        assert_eq!(parse_duration_secs("2h"), Some(7200));
        assert_eq!(parse_duration_secs("0m"), None);
        assert_eq!(parse_duration_secs("ten"), None);
    }
}
