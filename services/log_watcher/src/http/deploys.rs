//! `GET /api/deploys?service=`: webhook_handler's deploys of the last day as the last poll
//! left them ([`crate::deploys`]), oldest first, the chart's markers:
//! `{"deploys": [{"job", "hook", "state", "started_at", "finished_at", "services"}]}`, with
//! `"error"` saying why the last poll failed when it did. With `service`, only the deploys
//! naming it or naming no service. Empty without `[peers] webhook_handler`. Never waits for
//! the peer.

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use service_kit::http_error::ApiError;

use super::App;

/// Query of `/api/deploys`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct DeploysParams {
    /// Only the deploys naming this service (or none).
    pub service: Option<String>,
}

/// `GET /api/deploys`.
pub async fn deploys(
    State(app): State<Arc<App>>,
    params: Result<Query<DeploysParams>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(params) = params.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let service = params.service.as_deref().filter(|s| !s.is_empty());
    let shown = app.deploys.shown(service);
    let deploys: Vec<_> = shown.deploys.iter().map(|m| &m.deploy).collect();
    let mut answer = json!({ "deploys": deploys });
    if let Some(error) = shown.error {
        answer["error"] = Value::String(error);
    }
    Ok(Json(answer))
}
