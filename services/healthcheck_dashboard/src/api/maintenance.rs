//! `/api/maintenance`: open (`POST`, 201), list (`GET`) and close (`DELETE /ID`, 204) the
//! maintenance windows of [`crate::maintenance`], as webhook_handler's deploys do through
//! [`service_kit::peers::healthcheck`]. Protected like the rest of `/api/*`.

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::Utc;
use serde_json::json;
use service_kit::http_error::ApiError;

use super::App;
use crate::maintenance::OpenRequest;

/// `POST /api/maintenance` with `{"services", "duration_secs", "reason"}`.
pub async fn open(
    State(app): State<Arc<App>>,
    body: Result<Json<OpenRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(request) = body.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let window = app.maintenance.open(request, Utc::now())?;
    Ok((StatusCode::CREATED, Json(window)).into_response())
}

/// `GET /api/maintenance`: `{"windows": [...]}`, the open ones, soonest end first.
pub async fn list(State(app): State<Arc<App>>) -> Json<serde_json::Value> {
    Json(json!({ "windows": app.maintenance.active(Utc::now()) }))
}

/// `DELETE /api/maintenance/ID`: 204, or 404 for an unknown (or already ended) window.
pub async fn close(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    if app.maintenance.close(&id) {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound(format!(
            "no open maintenance window {id:?}"
        )))
    }
}
