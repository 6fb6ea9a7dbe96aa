//! `GET /summary?window=10m`: lines read per level, in total and per service, in the window
//! (by the time they were read). Windows up to the hour kept in memory come from the
//! per-second counts; longer ones from the per-minute counts in SQLite.

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::Json;
use chrono::Utc;
use serde::Deserialize;
use service_kit::http_error::ApiError;

use crate::parse::Level;
use crate::store::{Summary, MEMORY_WINDOW_SECS};

use super::{duration, App};

/// Query of `/summary`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SummaryParams {
    /// Window such as `10m` (default 10m).
    pub window: Option<String>,
}

/// `GET /summary`.
pub(super) async fn summary(
    State(app): State<Arc<App>>,
    params: Result<Query<SummaryParams>, QueryRejection>,
) -> Result<Json<Summary>, ApiError> {
    let Query(params) = params.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let window = match params.window.as_deref() {
        Some(text) => duration::parse_secs(text).ok_or_else(|| {
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
        totals: Level::ALL.iter().map(|l| (l.as_str(), 0)).collect(),
        services: Default::default(),
    };
    for (service, level, lines) in rows {
        *summary.totals.entry(level.as_str()).or_default() += lines;
        let per_service = summary
            .services
            .entry(service)
            .or_insert_with(|| Level::ALL.iter().map(|l| (l.as_str(), 0)).collect());
        *per_service.entry(level.as_str()).or_default() += lines;
    }
    Ok(Json(summary))
}
