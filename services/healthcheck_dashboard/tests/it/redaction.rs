//! Secrets configured on checks (a token in a URL's query, a bearer header, a command's
//! `--token=`, a DSN's password) are used by the checks and shown nowhere: not in `/health`,
//! `/api/*`, `/metrics`, the dashboard, the event stream, the alerts, nor the service's own
//! log lines. The binary runs as operators run it, its log captured.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use axum::extract::RawQuery;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use axum::Router;
use service_kit_testing::binary::{self, free_port, wait_until_answers, write_config};
use service_kit_testing::FakeReceiver;

use crate::support::closed_port;

const BINARY: &str = env!("CARGO_BIN_EXE_healthcheck_dashboard");
const SECRET: &str = "SEKRIT";

/// A target that answers `/health` 200 only to the right token and header (so a passing
/// check proves the real values were sent), and `/fail` 503.
async fn start_guarded_target() -> String {
    async fn health(RawQuery(query): RawQuery, headers: HeaderMap) -> StatusCode {
        let token_ok = query.is_some_and(|q| q.split('&').any(|p| p == "token=SEKRIT"));
        let header_ok = headers
            .get("authorization")
            .is_some_and(|v| v == "Bearer SEKRIT");
        if token_ok && header_ok {
            StatusCode::OK
        } else {
            StatusCode::UNAUTHORIZED
        }
    }
    let router = Router::new().route("/health", get(health)).route(
        "/fail",
        get(|| async { (StatusCode::SERVICE_UNAVAILABLE, "down") }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    base
}

#[tokio::test]
async fn configured_secrets_are_used_by_checks_and_shown_nowhere() {
    let target = start_guarded_target().await;
    let receiver = FakeReceiver::start().await;
    let db_port = closed_port();
    let config = format!(
        r#"
[checks]
interval_secs = 1
endpoints = [
  {{ name = "api", url = "{target}/health?token={SECRET}&x=1", headers = {{ Authorization = "Bearer {SECRET}" }} }},
  {{ name = "broken", url = "{target}/fail?token={SECRET}&x=1", headers = {{ Authorization = "Bearer {SECRET}" }}, failure_threshold = 1 }},
  {{ name = "job", type = "command", command = ["sh", "-c", "echo calling curl --token={SECRET} >&2; exit 1"], failure_threshold = 1 }},
  {{ name = "job-ok", type = "command", command = ["sh", "-c", "[ \"$1\" = --token={SECRET} ] && echo token accepted: $1", "sh", "--token={SECRET}"] }},
  {{ name = "db", url = "postgres://app:{SECRET}@127.0.0.1:{db_port}/app", type = "postgres", failure_threshold = 1 }},
]

[alerts]
enabled = true
webhook = "{hook}"
"#,
        hook = receiver.url(),
    );
    let file = write_config(&config);
    let data = tempfile::tempdir().unwrap();
    let log = data.path().join("stderr.log");
    let port = free_port();
    let mut child = Command::new(BINARY)
        .arg("--config")
        .arg(file.path())
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .arg("--data-dir")
        .arg(data.path().join("data"))
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    wait_until_answers(&format!("{base}/livez"), Duration::from_secs(10));
    let client = reqwest::Client::new();

    // The checks used the real values: the guarded target and the command accepted them.
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        let status: serde_json::Value = client
            .get(format!("{base}/api/status"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let of = |name: &str| {
            status["services"]
                .as_array()
                .unwrap()
                .iter()
                .find(|s| s["name"] == name)
                .map(|s| s["status"].as_str().unwrap_or("").to_string())
                .unwrap()
        };
        if ["api", "job-ok"].iter().all(|n| of(n) == "up")
            && ["broken", "job", "db"].iter().all(|n| of(n) == "down")
        {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "checks never settled: {status:#}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let job_ok = status["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "job-ok")
        .unwrap();
    assert_eq!(job_ok["detail"], "token accepted: --token=***");
    let alerts = receiver.wait_for(3, Duration::from_secs(15)).await;

    // Everything the service shows, every way it shows it.
    let mut shown = vec![("/api/status".to_string(), status.to_string())];
    for path in [
        "/health",
        "/health/api",
        "/health/broken",
        "/health/job",
        "/health/job-ok",
        "/health/db",
        "/api/history/api",
        "/api/history/db",
        "/api/maintenance",
        "/api/deploys",
        "/metrics",
        "/dashboard",
        "/badge/api.svg",
    ] {
        for accept in ["application/json", "application/health+json"] {
            let body = client
                .get(format!("{base}{path}"))
                .header("accept", accept)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            shown.push((format!("{path} ({accept})"), body));
        }
    }
    let mut events = client.get(format!("{base}/events")).send().await.unwrap();
    let first_event = tokio::time::timeout(Duration::from_secs(5), events.chunk())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    shown.push((
        "/events".to_string(),
        String::from_utf8_lossy(&first_event).into_owned(),
    ));
    drop(events);
    for alert in &alerts {
        shown.push((format!("alert {}", alert.path), alert.text()));
    }
    assert_eq!(binary::terminate(&mut child).code(), Some(0));
    shown.push((
        "the service's log".to_string(),
        std::fs::read_to_string(&log).unwrap(),
    ));

    for (place, text) in &shown {
        assert!(!text.contains(SECRET), "{SECRET} shows in {place}: {text}");
    }
    // What is shown still tells which check is which, with the secrets masked.
    let health = &shown
        .iter()
        .find(|(p, _)| p.starts_with("/api/status"))
        .unwrap()
        .1;
    assert!(health.contains("/health?token=***&x=1"), "{health}");
    assert!(health.contains("postgres://app:***@127.0.0.1"), "{health}");
    assert!(health.contains("curl --token=***"), "{health}");
    let alert_texts: String = alerts.iter().map(|a| a.text()).collect();
    for name in ["broken", "job", "db"] {
        assert!(
            alert_texts.contains(&format!("{name} is DOWN")),
            "{alert_texts}"
        );
    }
    assert!(
        alert_texts.contains("exit 1: calling curl --token=***"),
        "{alert_texts}"
    );
}
