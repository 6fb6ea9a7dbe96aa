//! The HTTP routes. `router` is separate from serving so tests can drive it directly.
//!
//! | route | what | protected by `[auth]` |
//! |---|---|---|
//! | `GET /livez` | process alive | never |
//! | `GET /health`, `GET /health/NAME` | aggregate and per-service health (JSON or `application/health+json`) | unless `public_health` |
//! | `GET /badge/NAME.svg` | status badge | unless `public_health` |
//! | `GET /metrics` | Prometheus text | yes |
//! | `GET /api/status`, `GET /api/history/NAME` | dashboard data | yes |
//! | `GET /events` | server-sent status updates | yes |
//! | `GET /dashboard`, `GET /` | the status page (404 when disabled) | yes |

mod badge;
mod dashboard;
mod events;
mod health;
mod metrics;
pub mod status;

use std::sync::Arc;

use axum::middleware::from_fn_with_state;
use axum::response::Redirect;
use axum::routing::get;
use axum::{Json, Router};

use crate::App;

/// Builds every route over the shared app state.
pub fn router(app: Arc<App>) -> Router {
    let auth = app.auth.clone();
    let health_routes = Router::new()
        .route("/health", get(health::aggregate))
        .route("/health/{name}", get(health::one))
        .route("/badge/{file}", get(badge::badge));
    let health_routes = if app.config.dashboard.public_health {
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
        .route("/events", get(events::stream));
    if app.config.dashboard.enabled {
        private = private
            .route("/dashboard", get(dashboard::page))
            .route("/", get(|| async { Redirect::temporary("/dashboard") }));
    }
    let private = private.layer(from_fn_with_state(auth, service_kit::auth::require_auth));
    Router::new()
        .route(
            "/livez",
            get(|| async { Json(serde_json::json!({ "status": "ok" })) }),
        )
        .merge(health_routes)
        .merge(private)
        .fallback(service_kit::http_error::not_found)
        .with_state(app)
}
