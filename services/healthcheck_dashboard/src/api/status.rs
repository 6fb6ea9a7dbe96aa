//! The status model shared by `/health`, `/api/status`, the event stream and the page:
//! one place decides what "healthy", "degraded" and "unhealthy" mean.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::Json;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use service_kit::http_error::ApiError;

use service_kit::peers::webhook_handler::Deploy;

use super::query::Params;
use super::App;
use crate::check::{Check, Sample, Status};
use crate::maintenance::WindowView;

/// The aggregate state of the stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Overall {
    /// Every service up.
    Healthy,
    /// Every service reachable, some slow or warning.
    Degraded,
    /// Some service failing, or not every service checked yet.
    Unhealthy,
}

impl Overall {
    /// The HTTP status `/health` answers with: 200 unless unhealthy.
    pub fn http_status(self) -> axum::http::StatusCode {
        match self {
            Overall::Unhealthy => axum::http::StatusCode::SERVICE_UNAVAILABLE,
            _ => axum::http::StatusCode::OK,
        }
    }
}

/// Everything known about one service, as the dashboard shows it.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceView {
    /// Name.
    pub name: String,
    /// Check type.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// What is probed (credentials masked).
    pub target: String,
    /// up / degraded / down / unknown.
    pub status: Status,
    /// Up or degraded.
    pub ok: bool,
    /// Last response time.
    pub response_time_ms: Option<u64>,
    /// Why it fails, when down.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// A short fact (HTTP status, command output, why degraded).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// When last checked.
    pub last_checked: Option<String>,
    /// When the status last changed.
    pub status_since: Option<String>,
    /// Failures in a row.
    pub consecutive_failures: u32,
    /// Failures in a row after which it is announced down.
    pub failure_threshold: u32,
    /// Whether a maintenance window covers it (its alerts are held back).
    pub maintenance: bool,
    /// Percentage of passing checks over the last 24 hours.
    pub uptime_24h: Option<f64>,
    /// The most recent error, kept after recovery.
    pub last_error: Option<LastError>,
    /// Recent response times, oldest first.
    pub history: Vec<Sample>,
    /// HTTP status code of the last answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
    /// Days until the TLS certificate expires.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cert_days_left: Option<i64>,
    /// Seconds between checks.
    pub interval_secs: u64,
    /// The Compose project it belongs to, when known (the dashboard groups by it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    /// Whether discovery made it from the project's containers (not in the config).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub discovered: bool,
}

/// An error and when it happened.
#[derive(Debug, Clone, Serialize)]
pub struct LastError {
    /// RFC 3339 time.
    pub at: String,
    /// The error text.
    pub message: String,
}

/// The whole status document behind `/api/status` and the event stream.
#[derive(Debug, Clone, Serialize)]
pub struct StatusView {
    /// Page title.
    pub title: String,
    /// When this was computed.
    pub timestamp: String,
    /// healthy / degraded / unhealthy.
    pub status: Overall,
    /// Whether every check has run at least once.
    pub ready: bool,
    /// The services, in config order.
    pub services: Vec<ServiceView>,
    /// The open maintenance windows, soonest end first.
    pub maintenance: Vec<WindowView>,
    /// Deploys known from webhook_handler (last 24 hours, oldest first), drawn as markers
    /// on the sparklines of the services they name (all when they name none).
    pub deploys: Vec<Deploy>,
}

/// RFC 3339 with seconds and `Z`, as in the spec's example.
pub fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Aggregates service statuses: any down or unknown is unhealthy, any degraded is degraded.
pub fn overall<'a>(statuses: impl IntoIterator<Item = &'a Status>, ready: bool) -> Overall {
    let mut result = if ready {
        Overall::Healthy
    } else {
        Overall::Unhealthy
    };
    for status in statuses {
        match status {
            Status::Down | Status::Unknown => return Overall::Unhealthy,
            Status::Degraded => result = Overall::Degraded,
            Status::Up => {}
        }
    }
    result
}

/// Builds the view of one service; `with_history` adds the response-time samples (the
/// dashboard wants them, `/health` does not, and skipping them keeps `/health` cheap).
pub fn service_view(check: &Check, now: DateTime<Utc>, with_history: bool) -> ServiceView {
    let info = &check.info;
    let state = check.lock();
    let last = state.last.as_ref();
    ServiceView {
        name: info.name.to_string(),
        kind: info.kind,
        target: info.target.clone(),
        status: state.status,
        ok: state.status.is_ok(),
        response_time_ms: last.map(|o| o.elapsed.as_millis() as u64),
        error: last.and_then(|o| o.error.clone()),
        detail: last.and_then(|o| o.detail.clone()),
        last_checked: state.last_checked.map(timestamp),
        status_since: state.status_since.map(timestamp),
        consecutive_failures: state.consecutive_failures,
        failure_threshold: info.failure_threshold,
        maintenance: state.maintenance,
        uptime_24h: state
            .uptime_percent(now)
            .map(|p| (p * 100.0).round() / 100.0),
        last_error: state.last_error.as_ref().map(|(at, message)| LastError {
            at: timestamp(*at),
            message: message.clone(),
        }),
        history: if with_history {
            state.recent.iter().copied().collect()
        } else {
            Vec::new()
        },
        http_status: last.and_then(|o| o.http_status),
        cert_days_left: last.and_then(|o| o.cert_days_left),
        interval_secs: check.schedule.interval.as_secs(),
        project: info.project.clone(),
        discovered: info.discovered,
    }
}

/// Builds the whole status document.
pub fn status_view(app: &App) -> StatusView {
    let now = Utc::now();
    let services: Vec<ServiceView> = app
        .state
        .checks()
        .iter()
        .map(|check| service_view(check, now, true))
        .collect();
    let ready = app.state.first_round_done();
    StatusView {
        title: app.dashboard.title.clone(),
        timestamp: timestamp(now),
        status: overall(services.iter().map(|s| &s.status), ready),
        ready,
        services,
        maintenance: app.maintenance.active(now),
        deploys: app.deploys.snapshot().deploys.clone(),
    }
}

/// `GET /api/status`.
pub async fn status_json(State(app): State<Arc<App>>) -> Json<StatusView> {
    Json(status_view(&app))
}

/// `GET /api/history/NAME?hours=24`: per-minute history from storage; `hours` from 1 to
/// 24 times the retention days (default 24).
pub async fn history_json(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Json<serde_json::Value>, ApiError> {
    let params = Params::parse(raw.as_deref(), &["hours"])?;
    if app.state.check_named(&name).is_none() {
        return Err(ApiError::NotFound(format!("no service named {name:?}")));
    }
    // Retention is bounded in the settings, so this product cannot overflow.
    let max_hours = app.retention_days.saturating_mul(24).max(1);
    let hours = params.number("hours", 1..=max_hours, 24.min(max_hours))?;
    let hours = u32::try_from(hours).unwrap_or(u32::MAX);
    let points = crate::history::minutes(&app.store, name.clone(), hours)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(Json(
        serde_json::json!({ "name": name, "hours": hours, "minutes": points }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_down_service_makes_the_stack_unhealthy() {
        assert_eq!(
            overall(&[Status::Up, Status::Down], true),
            Overall::Unhealthy
        );
        assert_eq!(
            overall(&[Status::Up, Status::Degraded], true),
            Overall::Degraded
        );
        assert_eq!(overall(&[Status::Up, Status::Up], true), Overall::Healthy);
        assert_eq!(
            overall(&[Status::Up, Status::Unknown], false),
            Overall::Unhealthy
        );
        assert_eq!(overall(&[], true), Overall::Healthy);
    }
}
