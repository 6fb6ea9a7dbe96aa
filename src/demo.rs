//! The demo: a tiny stand-in application stack (a healthy API, a slow web front end, a failing
//! worker, a TCP port, a command) and the sidecars watching it, all on 127.0.0.1, so a new user
//! sees every colour of the dashboard with one command. The stand-in services write log files
//! as they serve (the health checks keep them busy), and the log watcher follows those files,
//! so the same failure shows red on one dashboard and as error events on the other. The
//! webhook handler runs a demo hook, and the demo prints a ready-to-paste `curl` that sends
//! it a signed push.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use tokio_util::sync::CancellationToken;

/// Where the stand-in services write their logs: `api.log`, `web.log`, `worker.log`.
#[derive(Clone)]
struct DemoLogs {
    dir: Arc<PathBuf>,
}

impl DemoLogs {
    /// Appends `text` (lines ending in newlines) to `service`.log, as a logging app would.
    fn write(&self, service: &str, text: &str) {
        let path = self.dir.join(format!("{service}.log"));
        let written = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut file| file.write_all(text.as_bytes()));
        if let Err(err) = written {
            tracing::warn!(path = %path.display(), %err, "Demo cannot write its log.");
        }
    }
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The stand-in application: `/health` answers at once, `/slow` after 400 ms, `/broken` 500;
/// each request is logged the way such services log (uvicorn, nginx-ish, a Python worker).
fn demo_app(logs: DemoLogs) -> Router {
    let api_logs = logs.clone();
    let web_logs = logs.clone();
    Router::new()
        .route(
            "/health",
            get(move || async move {
                api_logs.write(
                    "api",
                    "INFO:     127.0.0.1:5000 - \"GET /health HTTP/1.1\" 200 OK\n",
                );
                Json(serde_json::json!({ "status": "ok" }))
            }),
        )
        .route(
            "/slow",
            get(move || async move {
                tokio::time::sleep(Duration::from_millis(400)).await;
                web_logs.write(
                    "web",
                    &format!("{} WARNING slow render of / took 400 ms\n", now()),
                );
                "slow but fine"
            }),
        )
        .route(
            "/broken",
            get(move || async move {
                logs.write(
                    "worker",
                    &format!(
                        "{} ERROR Database connection failed: timeout\n\
                         Traceback (most recent call last):\n\
                         \x20 File \"worker.py\", line 42, in run\n\
                         \x20   conn = pool.get(timeout=5)\n\
                         TimeoutError: database is on fire\n",
                        now()
                    ),
                );
                (StatusCode::INTERNAL_SERVER_ERROR, "database is on fire")
            }),
        )
}

fn demo_logs_config(logs_dir: &Path, logs_port: u16) -> String {
    format!(
        r#"
[log_sources]
extra_files = [{pattern:?}]

[filters]
levels = ["error", "warning"]
regexes = ["panic", "unauthorized", "exception"]

[api]
host = "127.0.0.1"
port = {logs_port}

[summary]
interval_mins = 1
"#,
        pattern = logs_dir.join("*.log").display().to_string()
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

/// The secret of the demo hook (printed: it is a demo).
const DEMO_SECRET: &str = "demo-secret";

/// The push the printed `curl` sends.
const DEMO_PUSH: &str = r#"{"ref":"refs/heads/main","after":"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b","repository":{"full_name":"demo/app"},"pusher":{"name":"you"}}"#;

fn demo_hooks_config(hooks_port: u16) -> String {
    format!(
        r#"
[server]
host = "127.0.0.1"
port = {hooks_port}

[[hooks]]
id = "demo"
provider = "github"
secret = "{DEMO_SECRET}"
branches = ["main"]
# The payload facts arrive as environment variables, never as shell text.
command = ["sh", "-c", "echo \"Deploying $WEBHOOK_REPO at $WEBHOOK_COMMIT\"; sleep 1; echo Deployed."]
"#
    )
}

/// The `curl` command, one line, that sends the demo hook a signed push.
fn demo_curl(hooks_port: u16) -> String {
    format!(
        "curl -sS -X POST http://127.0.0.1:{hooks_port}/hooks/demo -H 'Content-Type: application/json' \
         -H 'X-GitHub-Event: push' -H 'X-Hub-Signature-256: {}' -d '{DEMO_PUSH}'",
        webhook_handler::verify::github_signature(DEMO_SECRET, DEMO_PUSH.as_bytes())
    )
}

/// The ports the demo serves on.
#[derive(Debug, Clone, Copy)]
pub struct Ports {
    /// The healthcheck dashboard.
    pub health: u16,
    /// The log watcher.
    pub logs: u16,
    /// The webhook handler.
    pub hooks: u16,
}

/// Starts the demo and waits for Ctrl-C.
pub async fn run(ports: Ports, data_dir: &Path, shutdown: CancellationToken) -> anyhow::Result<()> {
    let Ports {
        health: health_port,
        logs: logs_port,
        hooks: hooks_port,
    } = ports;
    let logs_dir = data_dir.join("app-logs");
    std::fs::create_dir_all(&logs_dir)
        .with_context(|| format!("cannot create {}", logs_dir.display()))?;
    let app_listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .context("cannot start the demo application")?;
    let app_port = app_listener.local_addr()?.port();
    let app_shutdown = shutdown.clone();
    let logs = DemoLogs {
        dir: Arc::new(logs_dir.clone()),
    };
    let app = tokio::spawn(service_kit::serve::serve(
        app_listener,
        demo_app(logs),
        app_shutdown,
    ));

    let health = healthcheck_dashboard::settings::Settings::from_toml(&demo_health_config(
        app_port,
        health_port,
    ))
    .context("the built-in demo config is invalid")?;
    let health_listener = service_kit::serve::bind(&format!("127.0.0.1:{health_port}"))
        .await
        .context("pick another port with --health-port")?;
    let logs = log_watcher::settings::Settings::from_toml(&demo_logs_config(&logs_dir, logs_port))
        .context("the built-in demo log config is invalid")?;
    let logs_listener = service_kit::serve::bind(&format!("127.0.0.1:{logs_port}"))
        .await
        .context("pick another port with --logs-port")?;
    let hooks = webhook_handler::settings::Settings::from_toml(&demo_hooks_config(hooks_port))
        .context("the built-in demo hook config is invalid")?;
    let hooks_listener = service_kit::serve::bind(&format!("127.0.0.1:{hooks_port}"))
        .await
        .context("pick another port with --hooks-port")?;
    println!("Compose Sidecars demo is running (Ctrl-C to stop):");
    println!("  dashboard        http://127.0.0.1:{health_port}/dashboard");
    println!("  aggregate health http://127.0.0.1:{health_port}/health");
    println!("  metrics          http://127.0.0.1:{health_port}/metrics");
    println!("  log events       http://127.0.0.1:{logs_port}/dashboard");
    println!("  log summary      http://127.0.0.1:{logs_port}/summary?window=10m");
    println!(
        "  demo application http://127.0.0.1:{app_port}/health (logs in {})",
        logs_dir.display()
    );
    println!("  webhook jobs     http://127.0.0.1:{hooks_port}/dashboard");
    println!("Send the demo hook a signed push:");
    println!("  {}", demo_curl(hooks_port));
    let services = crate::together::Services {
        health: Some((health, health_listener)),
        logs: Some((logs, logs_listener)),
        hooks: Some((hooks, hooks_listener)),
    };
    let result = crate::together::run_services(services, data_dir, shutdown.clone()).await;
    shutdown.cancel();
    let _ = app.await;
    result
}
