//! `GET /api/deploys`: the deploys known from webhook_handler's last poll
//! ([`crate::deploys`]), as the dashboard draws them: `{"deploys": [...]}`, empty without
//! `[peers] webhook_handler`, with `"error"` when the last poll failed.

use std::sync::Arc;

use axum::extract::State;
use axum::Json;

use super::App;

/// `GET /api/deploys`.
pub async fn list(State(app): State<Arc<App>>) -> Json<serde_json::Value> {
    let snapshot = app.deploys.snapshot();
    Json(serde_json::to_value(&*snapshot).unwrap_or_default())
}
