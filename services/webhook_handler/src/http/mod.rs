//! The HTTP routes. `router` is separate from serving so tests can drive it directly.
//!
//! | route | what | protected by |
//! |---|---|---|
//! | `POST /`, `POST /hooks/ID` | receive a delivery ([`receive`]) | its signature |
//! | `GET /livez` | process alive, and the Compose program found | never |
//! | `GET /jobs`, `GET /jobs/ID`, `GET /jobs/ID/log`, `GET /jobs/ID/stream` | jobs ([`jobs`]) | `[auth]`, else the local host only |
//! | `GET /hooks`, `GET /deliveries` | hooks and the newest deliveries ([`hooks`]) | `[auth]`, else the local host only |
//! | `GET /deploys` | the jobs that started lately, for the other sidecars' charts ([`deploys`]) | `[auth]`, else the local host only |
//! | `GET /metrics` | Prometheus text ([`metrics`]) | `[auth]`, else the local host only |
//! | `GET /dashboard`, `GET /` | the page ([`dashboard`]) | `[auth]`, else the local host only |
//! | `POST /hooks/ID/trigger`, `POST /jobs/ID/retry` | start a job by hand ([`admin`]) | the admin bearer token |

pub mod admin;
pub mod dashboard;
pub mod deploys;
pub mod hooks;
pub mod jobs;
pub mod metrics;
mod query;
pub mod receive;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::middleware::from_fn_with_state;
use axum::response::Redirect;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;

use crate::App;

/// Builds every route over the shared app state.
pub fn router(app: Arc<App>) -> Router {
    let mut private = Router::new()
        .route("/jobs", get(jobs::list))
        .route("/jobs/{id}", get(jobs::one))
        .route("/jobs/{id}/log", get(jobs::log))
        .route("/jobs/{id}/stream", get(jobs::stream))
        .route("/hooks", get(hooks::list))
        .route("/deliveries", get(hooks::deliveries))
        .route("/deploys", get(deploys::list))
        .route("/metrics", get(metrics::metrics));
    if app.settings.dashboard {
        private = private.route("/dashboard", get(dashboard::page));
    }
    let private = private.layer(from_fn_with_state(
        app.read_auth.clone(),
        service_kit::auth::require_auth_or_local,
    ));
    // `GET /` only points at the page (which has its own protection); `POST /` is the hook.
    let root = if app.settings.dashboard {
        get(|| async { Redirect::temporary("/dashboard") }).post(receive::receive_default)
    } else {
        post(receive::receive_default)
    };
    let receiving = Router::new()
        .route("/", root)
        .route("/hooks/{id}", post(receive::receive_hook))
        // The receiving routes enforce `max_body_bytes` themselves (413 with a reason).
        .layer(DefaultBodyLimit::disable());
    let admin = Router::new()
        .route("/hooks/{id}/trigger", post(admin::trigger))
        .route("/jobs/{id}/retry", post(admin::retry))
        .layer(DefaultBodyLimit::max(admin::MAX_TRIGGER_BODY + 1));
    let compose = app.compose.as_ref().map(|c| c.describe());
    Router::new()
        .route(
            "/livez",
            get(move || {
                let compose = compose.clone();
                async move { Json(json!({ "status": "ok", "compose": compose })) }
            }),
        )
        .merge(receiving)
        .merge(admin)
        .merge(private)
        .fallback(service_kit::http_error::not_found)
        .method_not_allowed_fallback(service_kit::http_error::method_not_allowed)
        .layer(axum::middleware::from_fn(
            service_kit::http_error::catch_panic,
        ))
        .with_state(app)
}
