//! The HTTP side: the routes of DESIGN.md over what the store, the line counter, the
//! alerter and the sources hold. Every handler reads; nothing here writes the store.
//!
//! | route | what | module | protected by `[auth]` |
//! |---|---|---|---|
//! | `GET /livez` | process alive, and the followed sources | here | never |
//! | `GET /logs`, `GET /logs/stream` | events (`service`, `level`, `q`, `since`, `limit`), as JSON or live | [`logs`] | yes |
//! | `GET /summary?window=10m` | lines per level and service in the window | [`summary`] | yes |
//! | `GET /summary/series?window=1h&step=60&service=` | lines per level in equal buckets | [`series`] | yes |
//! | `GET /metrics` | Prometheus text | [`metrics`] | yes |
//! | `GET /api/deploys?service=` | webhook_handler's deploys, the chart's markers | [`deploys`] | yes |
//! | `GET /dashboard`, `GET /` | the HTML page (404 with `[api] dashboard = false`) | [`dashboard`] | yes |
//!
//! Durations in queries (`since=15m`, `window=10m`, `step=5m`) are read by [`duration`].

pub mod dashboard;
pub mod deploys;
pub mod duration;
pub mod logs;
pub mod metrics;
pub mod series;
pub mod summary;

use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use axum::extract::State;
use axum::middleware::from_fn_with_state;
use axum::routing::get;
use axum::{Json, Router};
use service_kit::auth::AuthConfig;

use crate::alerting::Alerter;
use crate::deploys::DeployMarkers;
use crate::status::SourceList;
use crate::store::{EventStore, LineCounter};

/// Everything the HTTP handlers need.
pub struct App {
    /// Events, counts, checkpoints.
    pub store: Arc<EventStore>,
    /// Lines read per service and level.
    pub counter: Arc<LineCounter>,
    /// Alert rules and sinks (for the delivery counters of `/metrics`).
    pub alerter: Arc<Alerter>,
    /// Route protection.
    pub auth: Arc<AuthConfig>,
    /// What the sources follow.
    pub sources: Arc<SourceList>,
    /// Events kept since start.
    pub events_total: Arc<AtomicU64>,
    /// Whether `/dashboard` is served (`[api] dashboard`).
    pub dashboard: bool,
    /// webhook_handler's deploys as the last poll left them (empty without the peer).
    pub deploys: Arc<DeployMarkers>,
    /// Whether deploys are polled at all (`[peers] webhook_handler` set): the page then
    /// asks `/api/deploys` for them.
    pub deploy_markers: bool,
}

/// Builds every route.
pub fn router(app: Arc<App>) -> Router {
    let private = Router::new()
        .route("/logs", get(logs::logs))
        .route("/logs/stream", get(logs::stream))
        .route("/summary", get(summary::summary))
        .route("/metrics", get(metrics::metrics))
        .route("/summary/series", get(series::series_handler))
        .route("/api/deploys", get(deploys::deploys))
        .merge(dashboard::routes(app.dashboard))
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

/// `GET /livez`: the process runs; and what every source follows.
async fn livez(State(app): State<Arc<App>>) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok", "sources": app.sources.snapshot() }))
}
