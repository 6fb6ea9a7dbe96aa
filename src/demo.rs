//! The demo: a tiny stand-in application stack (a healthy API, a slow web front end, a failing
//! worker, a TCP port, a command) and the sidecars watching it, all on 127.0.0.1, so a new user
//! sees every colour of the dashboard with one command.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use healthcheck_dashboard::config::Config as HealthConfig;
use tokio_util::sync::CancellationToken;

/// The stand-in application: `/health` answers at once, `/slow` after 400 ms, `/broken` 500.
fn demo_app() -> Router {
    Router::new()
        .route(
            "/health",
            get(|| async { Json(serde_json::json!({ "status": "ok" })) }),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(400)).await;
                "slow but fine"
            }),
        )
        .route(
            "/broken",
            get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "database is on fire") }),
        )
}

fn demo_health_config(app_port: u16, health_port: u16) -> String {
    format!(
        r#"
[checks]
interval_secs = 5
endpoints = [
  {{ name = "api", url = "http://127.0.0.1:{app_port}/health", type = "http", json = {{ status = "ok" }} }},
  {{ name = "web", url = "http://127.0.0.1:{app_port}/slow", type = "http", degraded_ms = 200 }},
  {{ name = "worker", url = "http://127.0.0.1:{app_port}/broken", type = "http" }},
  {{ name = "app-port", url = "tcp://127.0.0.1:{app_port}", type = "tcp" }},
  {{ name = "disk", type = "command", command = ["sh", "-c", "df -h . | tail -n 1"] }},
]

[dashboard]
enabled = true
host = "127.0.0.1"
port = {health_port}
title = "Compose Sidecars demo"
"#
    )
}

/// Starts the demo and waits for Ctrl-C.
pub async fn run(
    health_port: u16,
    data_dir: &Path,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let app_listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .context("cannot start the demo application")?;
    let app_port = app_listener.local_addr()?.port();
    let app_shutdown = shutdown.clone();
    let app = tokio::spawn(service_kit::serve::serve(
        app_listener,
        demo_app(),
        app_shutdown,
    ));

    let config = HealthConfig::from_toml(&demo_health_config(app_port, health_port))
        .context("the built-in demo config is invalid")?;
    let health_listener = service_kit::serve::bind(&format!("127.0.0.1:{health_port}"))
        .await
        .context("pick another port with --health-port")?;
    println!("Compose Sidecars demo is running (Ctrl-C to stop):");
    println!("  dashboard        http://127.0.0.1:{health_port}/dashboard");
    println!("  aggregate health http://127.0.0.1:{health_port}/health");
    println!("  metrics          http://127.0.0.1:{health_port}/metrics");
    println!("  demo application http://127.0.0.1:{app_port}/health");
    let health = healthcheck_dashboard::run(
        config,
        health_listener,
        data_dir.join("healthcheck"),
        shutdown.clone(),
    );
    let result = health.await;
    shutdown.cancel();
    let _ = app.await;
    result.context("healthcheck_dashboard failed")
}
