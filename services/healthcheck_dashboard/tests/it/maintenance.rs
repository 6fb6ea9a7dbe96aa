//! Maintenance windows: the API (open, list, close, every refusal, auth), what `/health/NAME`
//! says under one, and the alerts: a service going down inside a window pages nobody until
//! the window ends with it still down; a recovery inside the window sends nothing.

use std::sync::atomic::Ordering;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use service_kit_testing::FakeReceiver;

use crate::support::{spawn_app, start_target, TestApp};

const WAIT: Duration = Duration::from_secs(20);

/// Two HTTP checks on the target: `api` on the switch, `web` always up.
fn two_services(base: &str, extra: &str) -> String {
    format!(
        r#"
[checks]
interval_secs = 1
endpoints = [
  {{ name = "api", url = "{base}/switch", failure_threshold = 1, success_threshold = 1 }},
  {{ name = "web", url = "{base}/ok", failure_threshold = 4 }},
]
{extra}
"#
    )
}

/// The same with alerts going to `hook`.
fn alerting_to(base: &str, hook: &FakeReceiver) -> String {
    two_services(
        base,
        &format!("[alerts]\nenabled = true\nwebhook = \"{}\"\n", hook.url()),
    )
}

async fn open_window(app: &TestApp, services: &[&str], secs: u64, reason: &str) -> Value {
    let (code, window) = app
        .post_json(
            "/api/maintenance",
            &json!({ "services": services, "duration_secs": secs, "reason": reason }),
            None,
        )
        .await;
    assert_eq!(code, StatusCode::CREATED, "{window}");
    window
}

async fn metric(app: &TestApp, line_start: &str) -> f64 {
    let (_, text) = app.get("/metrics").await;
    text.lines()
        .find_map(|line| line.strip_prefix(line_start))
        .and_then(|rest| rest.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {line_start} in:\n{text}"))
}

#[tokio::test]
async fn windows_are_opened_listed_shown_in_health_and_closed() {
    let target = start_target().await;
    let app = spawn_app(&two_services(&target.base, "")).await;
    app.wait_for_status(WAIT, |s| s["ready"] == true).await;
    let (_, api) = app.get_json("/health/api").await;
    assert_eq!(api["failure_threshold"], 1);
    assert_eq!(api["maintenance"], false);
    let (_, health) = app.get_json("/health").await;
    assert_eq!(health["services"]["web"]["failure_threshold"], 4);
    assert_eq!(health["services"]["web"]["maintenance"], false);

    let before = chrono::Utc::now();
    let window = open_window(&app, &["api", "api"], 600, "deploy of job 7").await;
    let id = window["id"].as_str().expect("a string id").to_string();
    assert_eq!(window["services"], json!(["api"]), "listed once");
    assert_eq!(window["reason"], "deploy of job 7");
    let until = chrono::DateTime::parse_from_rfc3339(window["until"].as_str().unwrap()).unwrap();
    let left = (until.with_timezone(&chrono::Utc) - before).num_seconds();
    assert!((599..=601).contains(&left), "{window}");

    let (code, list) = app.get_json("/api/maintenance").await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(list, json!({ "windows": [window] }));
    let (_, api) = app.get_json("/health/api").await;
    assert_eq!(api["maintenance"], true);
    let (_, health) = app.get_json("/health").await;
    assert_eq!(health["services"]["api"]["maintenance"], true);
    assert_eq!(health["services"]["web"]["maintenance"], false);
    let (_, status) = app.get_json("/api/status").await;
    assert_eq!(status["maintenance"][0]["id"], id.as_str());

    // The server-rendered page wears the badge on the covered card only.
    let (_, html) = app.get("/dashboard").await;
    assert_eq!(html.matches(r#"<span class="maint""#).count(), 1, "{html}");
    assert!(html.contains(r#"title="maintenance window until "#));

    assert_eq!(
        app.delete(&format!("/api/maintenance/{id}"), None).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.delete(&format!("/api/maintenance/{id}"), None).await,
        StatusCode::NOT_FOUND
    );
    let (_, list) = app.get_json("/api/maintenance").await;
    assert_eq!(list, json!({ "windows": [] }));
    let (_, api) = app.get_json("/health/api").await;
    assert_eq!(api["maintenance"], false);
}

#[tokio::test]
async fn bad_windows_are_refused_with_the_reason() {
    let target = start_target().await;
    let app = spawn_app(&two_services(&target.base, "")).await;
    let window = |services: Value, secs: Value, reason: &str| json!({ "services": services, "duration_secs": secs, "reason": reason });
    let cases = [
        (
            window(json!(["api", "nope"]), json!(60), ""),
            "services: no check named \"nope\"",
        ),
        (
            window(json!([]), json!(60), ""),
            "services: name at least one check",
        ),
        (
            window(json!(["api"]), json!(0), ""),
            "duration_secs must be between 1 and 86400",
        ),
        (
            window(json!(["api"]), json!(86_401), ""),
            "duration_secs must be between 1 and 86400",
        ),
        (
            window(json!(["api"]), json!(60), &"x".repeat(201)),
            "reason must be at most 200 characters",
        ),
    ];
    for (body, error) in cases {
        let (code, answer) = app.post_json("/api/maintenance", &body, None).await;
        assert_eq!(code, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(answer["error"], error, "{body}");
    }
    for body in [
        json!({ "services": ["api"] }),
        json!({ "services": "api", "duration_secs": 60 }),
        json!({ "services": ["api"], "duration_secs": -1 }),
        json!({ "services": ["api"], "duration_secs": 60, "colour": "red" }),
    ] {
        let (code, answer) = app.post_json("/api/maintenance", &body, None).await;
        assert_eq!(code, StatusCode::BAD_REQUEST, "{body}");
        assert!(answer["error"].is_string(), "{answer}");
    }
    let not_json = reqwest::Client::new()
        .post(app.url("/api/maintenance"))
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status(), StatusCode::BAD_REQUEST);
    // Exactly 200 characters is fine.
    open_window(&app, &["api"], 86_400, &"é".repeat(200)).await;

    for _ in 1..100 {
        open_window(&app, &["web"], 60, "").await;
    }
    let (code, answer) = app
        .post_json(
            "/api/maintenance",
            &window(json!(["web"]), json!(60), ""),
            None,
        )
        .await;
    assert_eq!(code, StatusCode::CONFLICT, "{answer}");
    assert!(answer["error"].as_str().unwrap().contains("100"));
    assert_eq!(
        app.delete("/api/maintenance/nope", None).await,
        StatusCode::NOT_FOUND
    );
    let (_, list) = app.get_json("/api/maintenance").await;
    assert_eq!(list["windows"].as_array().unwrap().len(), 100);
    assert_eq!(
        metric(&app, "healthcheck_maintenance_windows ").await,
        100.0
    );
}

#[tokio::test]
async fn the_maintenance_api_is_protected_like_the_rest_of_the_api() {
    let target = start_target().await;
    let app = spawn_app(&two_services(
        &target.base,
        "[auth]\ntoken = \"let-me-in\"\n",
    ))
    .await;
    let body = json!({ "services": ["api"], "duration_secs": 60, "reason": "deploy" });
    let (code, _) = app.post_json("/api/maintenance", &body, None).await;
    assert_eq!(code, StatusCode::UNAUTHORIZED);
    let (code, _) = app
        .post_json("/api/maintenance", &body, Some("wrong"))
        .await;
    assert_eq!(code, StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.request("/api/maintenance")
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.request("/api/deploys").send().await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );

    let (code, window) = app
        .post_json("/api/maintenance", &body, Some("let-me-in"))
        .await;
    assert_eq!(code, StatusCode::CREATED);
    let path = format!("/api/maintenance/{}", window["id"].as_str().unwrap());
    assert_eq!(app.delete(&path, None).await, StatusCode::UNAUTHORIZED);
    let list = app
        .request("/api/maintenance")
        .bearer_auth("let-me-in")
        .send()
        .await
        .unwrap();
    assert_eq!(list.status(), StatusCode::OK);
    assert_eq!(
        app.delete(&path, Some("let-me-in")).await,
        StatusCode::NO_CONTENT
    );
}

#[tokio::test]
async fn going_down_inside_a_window_pages_only_when_it_ends_with_the_service_still_down() {
    let target = start_target().await;
    let hook = FakeReceiver::start().await;
    let app = spawn_app(&alerting_to(&target.base, &hook)).await;
    app.wait_for_service("api", WAIT, |s| s["status"] == "up")
        .await;

    let window = open_window(&app, &["api"], 6, "deploy").await;
    target.switch_status.store(503, Ordering::SeqCst);
    // The checks go on and show the truth.
    let api = app
        .wait_for_service("api", WAIT, |s| {
            s["status"] == "down" && s["consecutive_failures"].as_u64() >= Some(2)
        })
        .await;
    assert_eq!(api["maintenance"], true);
    let (code, health) = app.get_json("/health/api").await;
    assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        (health["status"].as_str(), health["maintenance"].as_bool()),
        (Some("down"), Some(true))
    );
    assert_eq!(hook.requests().len(), 0, "no alert inside the window");
    assert_eq!(
        metric(&app, "healthcheck_maintenance_suppressed_alerts_total ").await,
        1.0
    );

    // The window ends with the service still down: the down alert goes out now.
    let alerts = hook.wait_for(1, WAIT).await;
    let until = chrono::DateTime::parse_from_rfc3339(window["until"].as_str().unwrap()).unwrap();
    assert!(chrono::Utc::now() >= until, "not before the window's end");
    let payload = alerts[0].json.clone().unwrap();
    assert_eq!(payload["title"], "api is DOWN");
    assert!(payload["text"]
        .as_str()
        .unwrap()
        .contains("unexpected HTTP status 503"));
    let (_, health) = app.get_json("/health/api").await;
    assert_eq!(health["maintenance"], false);

    // It was announced, so its recovery is announced too.
    target.switch_status.store(200, Ordering::SeqCst);
    let both = hook.wait_for(2, WAIT).await;
    assert_eq!(both[1].json.as_ref().unwrap()["title"], "api recovered");
    assert_eq!(hook.requests().len(), 2);

    let (_, text) = app.get("/metrics").await;
    service_kit_testing::assert_promtool_accepts(&text);
}

#[tokio::test]
async fn closing_a_window_early_over_a_service_still_down_pages_at_once() {
    let target = start_target().await;
    let hook = FakeReceiver::start().await;
    let app = spawn_app(&alerting_to(&target.base, &hook)).await;
    app.wait_for_service("api", WAIT, |s| s["status"] == "up")
        .await;
    let window = open_window(&app, &["api", "web"], 3600, "deploy").await;
    target.switch_status.store(500, Ordering::SeqCst);
    app.wait_for_service("api", WAIT, |s| {
        s["consecutive_failures"].as_u64() >= Some(2)
    })
    .await;
    assert_eq!(hook.requests().len(), 0);
    let path = format!("/api/maintenance/{}", window["id"].as_str().unwrap());
    assert_eq!(app.delete(&path, None).await, StatusCode::NO_CONTENT);
    let alerts = hook.wait_for(1, Duration::from_secs(5)).await;
    assert_eq!(alerts[0].json.as_ref().unwrap()["title"], "api is DOWN");
    // Only the service that is down: web stayed up.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(hook.requests().len(), 1);
}

#[tokio::test]
async fn a_recovery_inside_the_window_sends_nothing() {
    let target = start_target().await;
    let hook = FakeReceiver::start().await;
    let app = spawn_app(&alerting_to(&target.base, &hook)).await;
    app.wait_for_service("api", WAIT, |s| s["status"] == "up")
        .await;
    let window = open_window(&app, &["api"], 3600, "deploy").await;
    target.switch_status.store(502, Ordering::SeqCst);
    app.wait_for_service("api", WAIT, |s| s["status"] == "down")
        .await;
    target.switch_status.store(200, Ordering::SeqCst);
    app.wait_for_service("api", WAIT, |s| s["status"] == "up")
        .await;
    let path = format!("/api/maintenance/{}", window["id"].as_str().unwrap());
    assert_eq!(app.delete(&path, None).await, StatusCode::NO_CONTENT);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(hook.requests().len(), 0, "{:?}", hook.requests());
    assert_eq!(
        metric(&app, "healthcheck_maintenance_suppressed_alerts_total ").await,
        1.0,
        "the down alert was held back; the recovery of an outage nobody heard of is no alert"
    );
}
