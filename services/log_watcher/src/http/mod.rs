//! The HTTP side: the routes of DESIGN.md over what the store, the line counter, the
//! alerter and the sources hold. Every handler reads; nothing here writes the store.
//!
//! | route | what | module | protected by `[auth]` |
//! |---|---|---|---|
//! | `GET /livez` | `{"status": "ok"}`, or 503 `{"status": "failed"}` once a task died | here | never |
//! | `GET /api/sources` | what every source follows: paths, containers, errors | here | yes |
//! | `GET /logs`, `GET /logs/stream` | events (`service`, `level`, `q`, `since`, `limit`), as JSON or live | [`logs`] | yes |
//! | `GET /summary?window=10m` | lines per level and service in the window | [`summary`] | yes |
//! | `GET /summary/series?window=1h&step=60&service=` | lines per level in equal buckets | [`series`] | yes |
//! | `GET /metrics` | Prometheus text | [`metrics`] | yes |
//! | `GET /api/deploys?service=` | webhook_handler's deploys, the chart's markers | [`deploys`] | yes |
//! | `GET /dashboard`, `GET /` | the HTML page (404 with `[api] dashboard = false`) | [`dashboard`] | yes |
//!
//! Query strings are read by [`query`] (a 400 naming the parameter for every bad value),
//! durations in them (`since=15m`, `window=10m`, `step=5m`) by [`duration`].
//!
//! `/livez` says nothing but the status, since it is open to anyone: file paths, container
//! names and error texts are in `/api/sources`, behind `[auth]` like the logs themselves.

pub mod dashboard;
pub mod deploys;
pub mod duration;
pub mod logs;
pub mod metrics;
pub mod query;
pub mod series;
pub mod summary;

use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::middleware::from_fn_with_state;
use axum::routing::get;
use axum::{Json, Router};
use service_kit::auth::AuthConfig;
use service_kit::serve::StreamSlots;

use crate::alerting::Alerter;
use crate::deploys::DeployMarkers;
use crate::status::SourceList;
use crate::store::{EventStore, LineCounter};
use service_kit::supervisor::Supervisor;

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
    /// Most bytes of one `/logs` answer (`[api] max_response_bytes`).
    pub max_response_bytes: usize,
    /// Slots of the live streams (`[api] max_streams`).
    pub streams: StreamSlots,
    /// The tasks' health, behind `/livez`.
    pub supervisor: Arc<Supervisor>,
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
        .route("/api/sources", get(sources))
        .merge(dashboard::routes(app.dashboard))
        .layer(from_fn_with_state(
            app.auth.clone(),
            service_kit::auth::require_auth,
        ));
    public(private).with_state(app)
}

/// `/livez` beside the `private` routes, and what every route shares: JSON 404 and 405
/// answers, and the last resort against a handler that panics (500 JSON, logged, the
/// service goes on).
fn public(private: Router<Arc<App>>) -> Router<Arc<App>> {
    Router::new()
        .route("/livez", get(livez))
        .merge(private)
        .fallback(service_kit::http_error::not_found)
        .method_not_allowed_fallback(service_kit::http_error::method_not_allowed)
        .layer(axum::middleware::from_fn(
            service_kit::http_error::catch_panic,
        ))
}

/// `GET /livez`: `{"status": "ok"}` while every task runs; 503 `{"status": "failed"}` once
/// one died (the process is then on its way out). Nothing else: anyone may ask.
async fn livez(State(app): State<Arc<App>>) -> (StatusCode, Json<serde_json::Value>) {
    match app.supervisor.failure() {
        None => (StatusCode::OK, Json(serde_json::json!({ "status": "ok" }))),
        Some(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({ "status": "failed" })),
        ),
    }
}

/// `GET /api/sources`: what every source follows (paths, containers, errors), and which
/// task failed if one did.
async fn sources(State(app): State<Arc<App>>) -> Json<serde_json::Value> {
    let mut answer = serde_json::json!({ "sources": app.sources.snapshot() });
    if let Some(failure) = app.supervisor.failure() {
        answer["failed"] = serde_json::Value::String(failure.to_string());
    }
    Json(answer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerting::AlertSettings;

    /// The router over an empty store, with `supervisor`; served on 127.0.0.1:0.
    async fn serve_app(dir: &std::path::Path, supervisor: Arc<Supervisor>) -> String {
        serve_router(dir, supervisor, router).await
    }

    /// The router `build` makes over an empty store, with `supervisor`; served on
    /// 127.0.0.1:0.
    async fn serve_router(
        dir: &std::path::Path,
        supervisor: Arc<Supervisor>,
        build: impl FnOnce(Arc<App>) -> Router,
    ) -> String {
        let app = Arc::new(App {
            store: Arc::new(EventStore::open(dir, 10).unwrap()),
            counter: Arc::new(LineCounter::default()),
            alerter: Arc::new(Alerter::new(AlertSettings {
                rules: Vec::new(),
                sinks: Vec::new(),
                cooldown: std::time::Duration::from_secs(60),
                link: None,
            })),
            auth: Arc::new(AuthConfig::default()),
            sources: Arc::new(SourceList::default()),
            events_total: Arc::new(AtomicU64::new(0)),
            dashboard: true,
            deploys: Arc::new(DeployMarkers::default()),
            deploy_markers: false,
            max_response_bytes: 1 << 20,
            streams: StreamSlots::new(4),
            supervisor,
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(service_kit::serve::serve(
            listener,
            build(app),
            tokio_util::sync::CancellationToken::new(),
        ));
        base
    }

    #[tokio::test]
    async fn livez_turns_503_once_a_task_died_and_the_sources_say_which() {
        let dir = tempfile::tempdir().unwrap();
        let shutdown = tokio_util::sync::CancellationToken::new();
        let supervisor = Supervisor::new(shutdown.clone(), std::time::Duration::ZERO);
        let base = serve_app(dir.path(), supervisor.clone()).await;
        let livez = reqwest::get(format!("{base}/livez")).await.unwrap();
        assert_eq!(livez.status(), reqwest::StatusCode::OK);
        assert_eq!(livez.text().await.unwrap(), r#"{"status":"ok"}"#);

        supervisor
            .spawn("writer", async { panic!("injected failure") })
            .await
            .unwrap();
        assert!(shutdown.is_cancelled(), "the service is told to stop");
        let livez = reqwest::get(format!("{base}/livez")).await.unwrap();
        assert_eq!(livez.status(), reqwest::StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(livez.text().await.unwrap(), r#"{"status":"failed"}"#);
        let sources: serde_json::Value = reqwest::get(format!("{base}/api/sources"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            sources["failed"],
            "the writer task panicked: injected failure"
        );
    }

    #[tokio::test]
    async fn a_handler_that_panics_answers_500_json_and_the_service_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let shutdown = tokio_util::sync::CancellationToken::new();
        let supervisor = Supervisor::new(shutdown.clone(), std::time::Duration::ZERO);
        // The same outer layers as the real router, around a route that panics.
        let base = serve_router(dir.path(), supervisor.clone(), |app| {
            let boom: Router<Arc<App>> = Router::new().route(
                "/boom",
                get(|| async {
                    if std::hint::black_box(true) {
                        panic!("a bug in a handler");
                    }
                    "never"
                }),
            );
            public(boom).with_state(app)
        })
        .await;
        for _ in 0..3 {
            let response = reqwest::get(format!("{base}/boom")).await.unwrap();
            assert_eq!(
                response.status(),
                reqwest::StatusCode::INTERNAL_SERVER_ERROR
            );
            assert_eq!(
                response.text().await.unwrap(),
                r#"{"error":"internal error"}"#,
                "the panic's text stays in the log"
            );
        }
        let livez = reqwest::get(format!("{base}/livez")).await.unwrap();
        assert_eq!(
            livez.status(),
            reqwest::StatusCode::OK,
            "the service goes on"
        );
        assert!(!shutdown.is_cancelled());
        assert_eq!(supervisor.failure(), None, "a request is not a task");
    }

    #[tokio::test]
    async fn a_known_route_asked_with_another_method_is_a_405_with_a_json_error() {
        let dir = tempfile::tempdir().unwrap();
        let supervisor = Supervisor::new(
            tokio_util::sync::CancellationToken::new(),
            std::time::Duration::ZERO,
        );
        let base = serve_app(dir.path(), supervisor).await;
        let client = reqwest::Client::new();
        for (method, path) in [
            (reqwest::Method::POST, "/logs"),
            (reqwest::Method::DELETE, "/summary"),
            (reqwest::Method::PUT, "/livez"),
            (reqwest::Method::POST, "/api/sources"),
            (reqwest::Method::PATCH, "/dashboard"),
        ] {
            let response = client
                .request(method.clone(), format!("{base}{path}"))
                .send()
                .await
                .unwrap();
            assert_eq!(
                response.status(),
                reqwest::StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path}"
            );
            assert!(response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/json"));
            let body: serde_json::Value = response.json().await.unwrap();
            assert!(body["error"].is_string(), "{method} {path}: {body}");
        }
        let missing = reqwest::get(format!("{base}/nothing-here")).await.unwrap();
        assert_eq!(missing.status(), reqwest::StatusCode::NOT_FOUND);
        let body: serde_json::Value = missing.json().await.unwrap();
        assert!(body["error"].is_string(), "{body}");
    }
}
