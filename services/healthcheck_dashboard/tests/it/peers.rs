//! The other sidecars, real ones: a down alert carries the error lines a real log_watcher
//! read from the service's log file (and says so in one line when log_watcher is away);
//! deploys of a real webhook_handler come back from `/api/deploys` and are drawn as markers
//! on the dashboard's sparklines, by the server and by the page's script in Chromium.

use std::io::Write;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use service_kit_testing::browser::Browser;
use service_kit_testing::{FakeReceiver, RunningService};

use crate::support::{closed_port, spawn_app, spawn_app_in, start_target, TestApp};

const WAIT: Duration = Duration::from_secs(20);

/// A real log_watcher following the files `files`.
async fn start_log_watcher(files: &[&Path], data: &Path) -> RunningService {
    let list: Vec<String> = files
        .iter()
        .map(|f| format!("{:?}", f.display().to_string()))
        .collect();
    let config = format!(
        "[log_sources]\nextra_files = [{}]\npoll_interval_ms = 20\n",
        list.join(", ")
    );
    let settings = log_watcher::settings::Settings::from_toml(&config).expect("valid config");
    RunningService::start(log_watcher::run, settings, data.to_path_buf()).await
}

/// Appends `text` to `path`, as the service's logger does.
fn append(path: &Path, text: &str) {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    file.write_all(text.as_bytes()).unwrap();
}

/// A check `api` on the target's switch, down after two failures, alerting to `hook`, with
/// `[peers]` as given.
fn api_alerting(base: &str, hook: &FakeReceiver, peers: &str) -> String {
    format!(
        r#"
[checks]
interval_secs = 1
endpoints = [ {{ name = "api", url = "{base}/switch", failure_threshold = 2 }} ]

[alerts]
enabled = true
webhook = "{hook}"

[peers]
{peers}
"#,
        hook = hook.url()
    )
}

#[tokio::test]
async fn a_down_alert_carries_the_error_lines_log_watcher_read_from_the_service_s_log() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("api.log");
    append(&log, "INFO api started\n");
    let logs = start_log_watcher(&[&log], &dir.path().join("logs-data")).await;
    let target = start_target().await;
    let hook = FakeReceiver::start().await;
    let app = spawn_app(&api_alerting(
        &target.base,
        &hook,
        &format!("log_watcher = \"{}\"", logs.base),
    ))
    .await;
    app.wait_for_service("api", WAIT, |s| s["status"] == "up")
        .await;

    // The service breaks and says why in its own log.
    target.switch_status.store(503, Ordering::SeqCst);
    append(&log, "ERROR Database connection failed: timeout\n");
    append(&log, "WARNING retrying in 5 s\n");

    let payload = hook.wait_for(1, WAIT).await[0].json.clone().unwrap();
    assert_eq!(payload["title"], "api is DOWN");
    let text = payload["text"].as_str().unwrap();
    let (_, evidence) = text
        .split_once("\n\nLast errors from log_watcher:\n")
        .unwrap_or_else(|| panic!("no error lines in {text:?}"));
    let lines: Vec<&str> = evidence.lines().collect();
    assert_eq!(lines.len(), 1, "{text}");
    assert!(
        lines[0].ends_with("Z [error] Database connection failed: timeout"),
        "{text}"
    );
    assert!(!text.contains("api started") && !text.contains("retrying"));
    logs.stop().await;
}

#[tokio::test]
async fn with_log_watcher_unreachable_the_alert_still_arrives_and_says_so() {
    let target = start_target().await;
    target.switch_status.store(500, Ordering::SeqCst);
    let hook = FakeReceiver::start().await;
    let port = closed_port();
    let started = tokio::time::Instant::now();
    let _app = spawn_app(&api_alerting(
        &target.base,
        &hook,
        &format!("log_watcher = \"http://127.0.0.1:{port}\""),
    ))
    .await;
    let payload = hook.wait_for(1, WAIT).await[0].json.clone().unwrap();
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(payload["title"], "api is DOWN");
    let text = payload["text"].as_str().unwrap();
    let last = text.lines().last().unwrap();
    assert!(
        last.starts_with("No error lines: log_watcher could not be asked (")
            && last.contains(&format!("127.0.0.1:{port} unreachable")),
        "{text}"
    );
    assert!(!text.contains("Last errors from log_watcher:"), "{text}");
}

#[tokio::test]
async fn without_webhook_handler_there_are_no_deploys_and_an_unreachable_one_says_why() {
    let app = spawn_app("").await;
    let (code, deploys) = app.get_json("/api/deploys").await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(deploys, json!({ "deploys": [] }));

    let port = closed_port();
    let app = spawn_app(&format!(
        "[peers]\nwebhook_handler = \"http://127.0.0.1:{port}\"\n"
    ))
    .await;
    let deploys = wait_for_deploys(&app, |d| d["error"].is_string()).await;
    assert_eq!(deploys["deploys"], json!([]));
    assert!(
        deploys["error"]
            .as_str()
            .unwrap()
            .contains(&format!("127.0.0.1:{port} unreachable")),
        "{deploys}"
    );
}

/// Polls `/api/deploys` until `done` accepts it.
async fn wait_for_deploys(app: &TestApp, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (_, deploys) = app.get_json("/api/deploys").await;
        if done(&deploys) {
            return deploys;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "deploys not as expected: {deploys}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

const SECRET: &str = "deploy-hook-secret";

/// A real webhook_handler whose hook `app` runs a script, and a signed push to it; returns
/// the service and the job's id once the job has ended.
async fn webhook_handler_with_a_finished_job(dir: &Path) -> (RunningService, i64) {
    use std::os::unix::fs::PermissionsExt;
    let script = dir.join("deploy.sh");
    std::fs::write(&script, "#!/bin/sh\necho deployed\n").unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let config = format!(
        "[[hooks]]\nid = \"app\"\nsecret = \"{SECRET}\"\ncommand = [{:?}]\n",
        script.display().to_string()
    );
    let settings = webhook_handler::settings::Settings::from_toml(&config).expect("valid config");
    let handler =
        RunningService::start(webhook_handler::run, settings, dir.join("webhook-data")).await;

    let body = serde_json::to_vec(&json!({
        "ref": "refs/heads/main",
        "after": "0123456789abcdef0123456789abcdef01234567",
        "repository": { "full_name": "org/app", "name": "app" },
        "head_commit": { "id": "0123456789abcdef0123456789abcdef01234567", "message": "Deploy" }
    }))
    .unwrap();
    let response = reqwest::Client::new()
        .post(format!("{}/hooks/app", handler.base))
        .header("content-type", "application/json")
        .header("x-github-event", "push")
        .header("x-github-delivery", "delivery-1")
        .header(
            "x-hub-signature-256",
            webhook_handler::verify::github_signature(SECRET, &body),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let job = response.json::<Value>().await.unwrap()["job_id"]
        .as_i64()
        .unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (_, answer) = handler.get_json(&format!("/jobs/{job}")).await;
        if answer["state"] == "succeeded" {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "job not done: {answer}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    (handler, job)
}

/// Per card of the live page: its name, whether it wears the maintenance badge, and the
/// deploy markers on its sparkline (class and tooltip).
const READ_MARKERS: &str = r#"[...document.querySelectorAll('article.card')].map(card => ({
  name: card.dataset.name,
  maintenance: card.querySelector('.card-head .maint') ? card.querySelector('.card-head .maint').textContent : null,
  markers: [...card.querySelectorAll('svg line.deploy')].map(l => ({
    class: l.getAttribute('class'),
    title: l.querySelector('title').textContent,
    x: Number(l.getAttribute('x1')),
  })),
}))"#;

#[tokio::test]
async fn deploys_of_a_real_webhook_handler_are_served_and_marked_on_the_sparklines() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("health-data");
    let target = start_target().await;

    // The dashboard has been watching for a while before the deploy: some history...
    let config = |peers: &str| {
        format!(
            r#"
[checks]
interval_secs = 1
endpoints = [ {{ name = "api", url = "{0}/ok" }}, {{ name = "web", url = "{0}/ok" }} ]

[peers]
{peers}
"#,
            target.base
        )
    };
    let before = spawn_app_in(&config(""), data.clone()).await;
    before
        .wait_for_service("api", WAIT, |s| {
            s["history"].as_array().is_some_and(|h| h.len() >= 2)
        })
        .await;
    before.stop().await;

    // ...then a push deploys, and the dashboard (restarted, as a new config would) reads it.
    let (handler, job) = webhook_handler_with_a_finished_job(dir.path()).await;
    let app = spawn_app_in(
        &config(&format!("webhook_handler = \"{}\"", handler.base)),
        data,
    )
    .await;
    let deploys = wait_for_deploys(&app, |d| {
        d["deploys"].as_array().is_some_and(|a| !a.is_empty())
    })
    .await;
    assert!(deploys.get("error").is_none(), "{deploys}");
    let deploy = &deploys["deploys"][0];
    assert_eq!(deploy["job"], job);
    assert_eq!(deploy["hook"], "app");
    assert_eq!(deploy["state"], "succeeded");
    assert_eq!(deploy["services"], json!([]));
    let (_, status) = app.get_json("/api/status").await;
    assert_eq!(status["deploys"][0]["job"], job);
    app.wait_for_service("web", WAIT, |s| s["status"] == "up")
        .await;

    // A deploy naming no service touched them all: a marker on every card, from the server.
    let tooltip = format!("<title>deploy: job {job} (succeeded)</title>");
    let (_, html) = app.get("/dashboard").await;
    assert_eq!(html.matches(&tooltip).count(), 2, "{html}");
    assert!(html.contains(r#"<line class="deploy deploy-succeeded""#));

    // A window over one service, so the page shows the badge too.
    let (code, _) = app
        .post_json(
            "/api/maintenance",
            &json!({ "services": ["web"], "duration_secs": 600, "reason": "deploy" }),
            None,
        )
        .await;
    assert_eq!(code, StatusCode::CREATED);

    let Some(mut browser) = Browser::launch().await else {
        return;
    };
    browser
        .open(
            &format!("{}/dashboard", app.base),
            "document.body.dataset.source === 'sse' && document.querySelector('.card-head .maint') !== null",
            WAIT,
        )
        .await;
    let cards = browser.eval(READ_MARKERS).await;
    let cards = cards.as_array().unwrap();
    assert_eq!(cards.len(), 2, "{cards:?}");
    for card in cards {
        let markers = card["markers"].as_array().unwrap();
        assert_eq!(markers.len(), 1, "{card}");
        assert_eq!(markers[0]["class"], "deploy deploy-succeeded");
        assert_eq!(
            markers[0]["title"],
            format!("deploy: job {job} (succeeded)")
        );
        let x = markers[0]["x"].as_f64().unwrap();
        assert!(x > 0.0 && x < 300.0, "{card}");
    }
    assert_eq!(cards[0]["maintenance"], Value::Null);
    assert_eq!(cards[1]["maintenance"], "maintenance");
    let stroke = browser
        .eval("getComputedStyle(document.querySelector('line.deploy')).stroke")
        .await;
    assert_eq!(stroke, "rgb(46, 158, 68)", "succeeded is drawn green");
    browser
        .close_without_problems("no script errors, no CSP violations")
        .await;
    handler.stop().await;
}
