//! `GET /deploys?since=`: the jobs that started since then (default: the last 24 hours),
//! oldest first, as the other sidecars draw them as markers on their charts:
//! `{"deploys": [{"job", "hook", "state", "started_at", "finished_at", "services"}]}`.
//! Every job counts (the spec calls a script's run a deployment too); `services` names the
//! Compose services of Compose actions and deploys, and is empty for commands.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::Json;
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};
use service_kit::http_error::ApiError;
use service_kit::peers::webhook_handler::Deploy;

use crate::App;

/// Deploys one answer holds, at most (the newest of them).
pub const MAX_DEPLOYS: usize = 500;

/// `GET /deploys`.
pub async fn list(
    State(app): State<Arc<App>>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let since = match params.get("since") {
        None => Utc::now() - Duration::hours(24),
        Some(text) => DateTime::parse_from_rfc3339(text)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| {
                ApiError::BadRequest(format!("since must be an RFC 3339 time ({e}): {text:?}"))
            })?,
    };
    let jobs = app
        .jobs
        .store()
        .started_since(since.timestamp_millis(), MAX_DEPLOYS)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let deploys: Vec<Deploy> = jobs
        .into_iter()
        .filter_map(|job| {
            Some(Deploy {
                services: app
                    .settings
                    .hook(&job.hook)
                    .map(|hook| hook.action.services().to_vec())
                    .unwrap_or_default(),
                job: job.id,
                hook: job.hook,
                state: job.state.as_str().to_string(),
                started_at: job.started_at?,
                finished_at: job.finished_at,
            })
        })
        .collect();
    Ok(Json(json!({ "deploys": deploys })))
}
