//! `GET /health` and `GET /health/NAME`: the spec's JSON, or the IETF health-check format
//! (`application/health+json`) when the client asks for it. 200 when healthy or degraded,
//! 503 when unhealthy or before every check has run once. Each service also says its
//! `failure_threshold` and whether a `maintenance` window covers it, which a deploy's health
//! gate reads ([`service_kit::peers::healthcheck::check`]).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::Utc;
use serde_json::{json, Map, Value};
use service_kit::http_error::ApiError;

use super::status::{overall, service_view, timestamp, Overall, ServiceView};
use super::App;
use crate::check::Status;

/// The media type of the IETF health-check response format.
pub const HEALTH_JSON: &str = "application/health+json";

fn wants_health_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains(HEALTH_JSON))
}

/// One service in the spec's format: `{"ok", "response_time_ms", "status", ...}`.
fn spec_entry(view: &ServiceView) -> Value {
    let mut entry = Map::new();
    entry.insert("ok".into(), json!(view.ok));
    entry.insert("response_time_ms".into(), json!(view.response_time_ms));
    entry.insert("status".into(), json!(view.status));
    if let Some(error) = &view.error {
        entry.insert("error".into(), json!(error));
    }
    if let Some(detail) = &view.detail {
        entry.insert("detail".into(), json!(detail));
    }
    entry.insert("last_checked".into(), json!(view.last_checked));
    entry.insert(
        "consecutive_failures".into(),
        json!(view.consecutive_failures),
    );
    entry.insert("failure_threshold".into(), json!(view.failure_threshold));
    entry.insert("maintenance".into(), json!(view.maintenance));
    Value::Object(entry)
}

fn ietf_status(status: Status) -> &'static str {
    match status {
        Status::Up => "pass",
        Status::Degraded => "warn",
        Status::Down | Status::Unknown => "fail",
    }
}

fn ietf_overall(overall: Overall) -> &'static str {
    match overall {
        Overall::Healthy => "pass",
        Overall::Degraded => "warn",
        Overall::Unhealthy => "fail",
    }
}

/// One service as an IETF `checks` entry.
fn ietf_check(view: &ServiceView) -> Value {
    let mut check = Map::new();
    check.insert("componentId".into(), json!(view.name));
    check.insert("componentType".into(), json!(view.kind));
    check.insert("observedValue".into(), json!(view.response_time_ms));
    check.insert("observedUnit".into(), json!("ms"));
    check.insert("status".into(), json!(ietf_status(view.status)));
    if let Some(time) = &view.last_checked {
        check.insert("time".into(), json!(time));
    }
    if let Some(output) = view.error.as_ref().or(view.detail.as_ref()) {
        check.insert("output".into(), json!(output));
    }
    Value::Object(check)
}

fn respond(status: Overall, body: Value, health_json: bool) -> Response {
    let mut response = (status.http_status(), Json(body)).into_response();
    if health_json {
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(HEALTH_JSON));
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `GET /health`.
pub async fn aggregate(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let now = Utc::now();
    let views: Vec<ServiceView> = app
        .state
        .checks()
        .iter()
        .map(|check| service_view(check, now, false))
        .collect();
    let status = overall(
        views.iter().map(|v| &v.status),
        app.state.first_round_done(),
    );
    if wants_health_json(&headers) {
        let checks: Map<String, Value> = views
            .iter()
            .map(|v| (format!("{}:responseTime", v.name), json!([ietf_check(v)])))
            .collect();
        let body = json!({
            "status": ietf_overall(status),
            "description": app.dashboard.title,
            "time": timestamp(now),
            "checks": checks,
        });
        return respond(status, body, true);
    }
    let services: Map<String, Value> = views
        .iter()
        .map(|v| (v.name.clone(), spec_entry(v)))
        .collect();
    let body = json!({
        "timestamp": timestamp(now),
        "status": status,
        "services": services,
    });
    respond(status, body, false)
}

/// `GET /health/NAME`.
pub async fn one(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let check = app
        .state
        .check_named(&name)
        .ok_or_else(|| ApiError::NotFound(format!("no service named {name:?}")))?;
    let now = Utc::now();
    let view = service_view(&check, now, false);
    let status = overall([&view.status], view.status != Status::Unknown);
    if wants_health_json(&headers) {
        let body = json!({
            "status": ietf_status(view.status),
            "time": timestamp(now),
            "checks": { format!("{}:responseTime", view.name): [ietf_check(&view)] },
        });
        return Ok(respond(status, body, true));
    }
    let mut body = spec_entry(&view);
    if let Value::Object(map) = &mut body {
        map.insert("name".into(), json!(view.name));
        map.insert("type".into(), json!(view.kind));
        map.insert("uptime_24h".into(), json!(view.uptime_24h));
        map.insert("timestamp".into(), json!(timestamp(now)));
    }
    Ok(respond(status, body, false))
}
