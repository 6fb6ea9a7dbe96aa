//! The demo: a tiny stand-in application stack (a healthy API, a slow web front end, a failing
//! worker, a TCP port, a command) and the sidecars watching it, all on 127.0.0.1, so a new user
//! sees every colour of the dashboard with one command. The stand-in services write log files
//! as they serve (the health checks keep them busy), and the log watcher follows those files,
//! so the same failure shows red on one dashboard and as error events on the other. The
//! webhook handler runs two demo hooks, and the demo prints ready-to-paste `curl`s that send
//! them signed pushes: `demo` runs a command; `app` deploys a version of the stand-in api,
//! verified by the healthcheck dashboard and rolled back by itself when it is broken, as a
//! Compose deploy would be, without Docker.

pub mod app;

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use tokio_util::sync::CancellationToken;

use app::{demo_app, DemoLogs};

fn demo_logs_config(logs_dir: &Path, logs_port: u16, hooks_port: u16) -> String {
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

[peers]
webhook_handler = "http://127.0.0.1:{hooks_port}"
"#,
        pattern = logs_dir.join("*.log").display().to_string()
    )
}

fn demo_health_config(app_port: u16, ports: Ports) -> String {
    let Ports {
        health: health_port,
        logs: logs_port,
        hooks: hooks_port,
    } = ports;
    format!(
        r#"
[checks]
interval_secs = 5
endpoints = [
  {{ name = "api", url = "http://127.0.0.1:{app_port}/health", type = "http", json = {{ status = "ok" }}, interval_secs = 1, failure_threshold = 2 }},
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

[peers]
log_watcher = "http://127.0.0.1:{logs_port}"
webhook_handler = "http://127.0.0.1:{hooks_port}"
"#
    )
}

/// The secret of the demo hook (printed: it is a demo).
const DEMO_SECRET: &str = "demo-secret";

/// The push the printed `curl` sends.
const DEMO_PUSH: &str = r#"{"ref":"refs/heads/main","after":"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b","repository":{"full_name":"demo/app"},"pusher":{"name":"you"}}"#;

fn demo_hooks_config(app_port: u16, ports: Ports) -> anyhow::Result<String> {
    let exe =
        std::env::current_exe().context("cannot find this program to run its demo-app commands")?;
    let exe = exe.display().to_string();
    Ok(format!(
        r#"
[server]
host = "127.0.0.1"
port = {hooks}

[[hooks]]
id = "demo"
provider = "github"
secret = "{DEMO_SECRET}"
branches = ["main"]
# The payload facts arrive as environment variables, never as shell text.
command = ["sh", "-c", "echo \"Deploying $WEBHOOK_REPO at $WEBHOOK_COMMIT\"; sleep 1; echo Deployed."]

# A push of a tag deploys that version of the stand-in api: recorded, switched, verified by
# the healthcheck dashboard, rolled back by itself when it is not healthy.
[[hooks]]
id = "app"
provider = "github"
secret = "{DEMO_SECRET}"

[hooks.deploy]
services = ["api"]
record = [{exe:?}, "demo-app", "version", "--port", "{app_port}"]
update = [{exe:?}, "demo-app", "switch", "--port", "{app_port}"]
restore = [{exe:?}, "demo-app", "switch", "--port", "{app_port}", "--previous"]
health_url = "http://127.0.0.1:{health}"
healthy_rounds = 2
grace_secs = 20
logs_url = "http://127.0.0.1:{logs}"
"#,
        hooks = ports.hooks,
        health = ports.health,
        logs = ports.logs,
    ))
}

/// A push of tag `version` to the demo's `app` hook.
fn version_push(version: &str) -> String {
    format!(
        r#"{{"ref":"refs/tags/{version}","after":"5d41402abc4b2a76b9719d911017c592ae1b6c04","repository":{{"full_name":"demo/app"}},"pusher":{{"name":"you"}}}}"#
    )
}

/// A one-line `curl` that sends `body` to hook `hook`, signed.
fn signed_curl(hooks_port: u16, hook: &str, body: &str) -> String {
    format!(
        "curl -sS -X POST http://127.0.0.1:{hooks_port}/hooks/{hook} -H 'Content-Type: application/json' \
         -H 'X-GitHub-Event: push' -H 'X-Hub-Signature-256: {}' -d '{body}'",
        webhook_handler::verify::github_signature(DEMO_SECRET, body.as_bytes())
    )
}

/// The ports the demo serves on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

    let health =
        healthcheck_dashboard::settings::Settings::from_toml(&demo_health_config(app_port, ports))
            .context("the built-in demo config is invalid")?;
    let health_listener = service_kit::serve::bind(&format!("127.0.0.1:{health_port}"))
        .await
        .context("pick another port with --health-port")?;
    let logs = log_watcher::settings::Settings::from_toml(&demo_logs_config(
        &logs_dir, logs_port, hooks_port,
    ))
    .context("the built-in demo log config is invalid")?;
    let logs_listener = service_kit::serve::bind(&format!("127.0.0.1:{logs_port}"))
        .await
        .context("pick another port with --logs-port")?;
    let hooks =
        webhook_handler::settings::Settings::from_toml(&demo_hooks_config(app_port, ports)?)
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
    println!("  {}", signed_curl(hooks_port, "demo", DEMO_PUSH));
    println!("Deploy a broken api (rolled back by itself, see both dashboards):");
    println!(
        "  {}",
        signed_curl(hooks_port, "app", &version_push("v2-broken"))
    );
    println!("Deploy a good one:");
    println!("  {}", signed_curl(hooks_port, "app", &version_push("v2")));
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
