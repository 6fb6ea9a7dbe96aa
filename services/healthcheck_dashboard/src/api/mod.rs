//! The HTTP routes over [`App`], the state every handler shares. `router` is separate from
//! serving so tests can drive it directly.
//!
//! | route | what | file | protected by `[auth]` |
//! |---|---|---|---|
//! | `GET /livez` | every long-lived task running (503 `{"status":"failed"}` once one died) | here | never |
//! | `GET /health`, `GET /health/NAME` | aggregate and per-service health (JSON or `application/health+json`) | `health.rs` | unless `public_health` |
//! | `GET /badge/NAME.svg` | status badge | `badge.rs` | unless `public_health` |
//! | `GET /metrics` | Prometheus text | `metrics.rs` | yes |
//! | `GET /api/status`, `GET /api/history/NAME` | dashboard data | `status.rs` | yes |
//! | `POST /api/maintenance`, `GET /api/maintenance`, `DELETE /api/maintenance/ID` | maintenance windows | `maintenance.rs` | yes |
//! | `GET /api/deploys` | deploys known from webhook_handler (markers) | `deploys.rs` | yes |
//! | `GET /events` | server-sent status updates | `events.rs` | yes |
//! | `GET /dashboard`, `GET /` | the status page (404 when disabled) | `dashboard.rs`, `dashboard/` | yes |
//!
//! `status.rs` also holds the status model all of them share: what "healthy", "degraded"
//! and "unhealthy" mean, and the view of one service.

mod badge;
mod dashboard;
mod deploys;
mod events;
mod health;
mod maintenance;
mod metrics;
pub mod query;
pub mod status;

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{delete, get};
use axum::{Json, Router};
use service_kit::auth::AuthConfig;
use service_kit::serve::StreamSlots;
use service_kit::storage::Store;

use crate::alerting::Alerter;
use crate::config::DashboardConfig;
use crate::deploys::DeployMarkers;
use crate::maintenance::Maintenance;
use crate::scheduler::SchedulerStats;
use crate::state::HealthState;
use service_kit::supervisor::Supervisor;

/// Everything the HTTP handlers need.
pub struct App {
    /// `[dashboard]`: title, whether the page is served, whether health routes are public.
    pub dashboard: DashboardConfig,
    /// Days of history kept, which bounds `/api/history` queries.
    pub retention_days: u64,
    /// The checks and their live state.
    pub state: Arc<HealthState>,
    /// The history database.
    pub store: Store,
    /// Scheduler counters.
    pub scheduler_stats: Arc<SchedulerStats>,
    /// Alert sender (for its counters).
    pub alerter: Arc<Alerter>,
    /// Route protection.
    pub auth: Arc<AuthConfig>,
    /// Maintenance windows.
    pub maintenance: Arc<Maintenance>,
    /// Deploys known from webhook_handler, for markers.
    pub deploys: Arc<DeployMarkers>,
    /// Slots of the live `/events` streams (`[dashboard] max_streams`).
    pub streams: StreamSlots,
    /// The long-lived tasks' supervisor: whether every one still runs (`/livez`).
    pub supervisor: Arc<Supervisor>,
}

/// `GET /livez`: `{"status": "ok"}`, or 503 `{"status": "failed"}` once a long-lived task
/// died ([`Supervisor`]). Nothing else: it is open to anyone, so it names no task,
/// path or error (those are in the service's log).
pub async fn livez(State(app): State<Arc<App>>) -> Response {
    if app.supervisor.is_alive() {
        Json(serde_json::json!({ "status": "ok" })).into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({ "status": "failed" })),
        )
            .into_response()
    }
}

/// Builds every route over the shared app state.
pub fn router(app: Arc<App>) -> Router {
    let auth = app.auth.clone();
    let health_routes = Router::new()
        .route("/health", get(health::aggregate))
        .route("/health/{name}", get(health::one))
        .route("/badge/{file}", get(badge::badge));
    let health_routes = if app.dashboard.public_health {
        health_routes
    } else {
        health_routes.layer(from_fn_with_state(
            auth.clone(),
            service_kit::auth::require_auth,
        ))
    };
    let mut private = Router::new()
        .route("/metrics", get(metrics::metrics))
        .route("/api/status", get(status::status_json))
        .route("/api/history/{name}", get(status::history_json))
        .route(
            "/api/maintenance",
            get(maintenance::list).post(maintenance::open),
        )
        .route("/api/maintenance/{id}", delete(maintenance::close))
        .route("/api/deploys", get(deploys::list))
        .route("/events", get(events::stream));
    if app.dashboard.enabled {
        private = private
            .route("/dashboard", get(dashboard::page))
            .route("/", get(|| async { Redirect::temporary("/dashboard") }));
    }
    let private = private.layer(from_fn_with_state(auth, service_kit::auth::require_auth));
    guarded(
        Router::new()
            .route("/livez", get(livez))
            .merge(health_routes)
            .merge(private),
    )
    .with_state(app)
}

/// What every route goes through: unknown paths are a 404 and wrong methods a 405, both with
/// the JSON error body, and a handler that panics is a 500 JSON error (logged once) rather
/// than a dropped connection. Separate from [`router`] so a test can put a panicking route
/// behind the very same layers.
pub fn guarded<S: Clone + Send + Sync + 'static>(routes: Router<S>) -> Router<S> {
    routes
        .fallback(service_kit::http_error::not_found)
        .method_not_allowed_fallback(service_kit::http_error::method_not_allowed)
        .layer(axum::middleware::from_fn(
            service_kit::http_error::catch_panic,
        ))
}
