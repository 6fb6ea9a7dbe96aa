//! The HTTP contract: `/health` in the spec's and the IETF format, status codes, per-service
//! health, badges, metrics accepted by promtool, auth, and JSON errors.

use std::time::Duration;

use reqwest::StatusCode;

use crate::support::{spawn_app, start_target};

const WAIT: Duration = Duration::from_secs(15);

fn all_checked(status: &serde_json::Value) -> bool {
    status["ready"] == true
}

#[tokio::test]
async fn health_is_503_until_the_first_round_has_finished() {
    let target = start_target().await;
    let app = spawn_app(&format!(
        r#"
[checks]
endpoints = [ {{ name = "slow", url = "{}/hang", type = "http", timeout_ms = 2000 }} ]
"#,
        target.base
    ))
    .await;
    let (code, body) = app.get_json("/health").await;
    assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["status"], "unhealthy");
    assert_eq!(body["services"]["slow"]["status"], "unknown");
    assert_eq!(body["services"]["slow"]["ok"], false);
}

#[tokio::test]
async fn health_reports_the_spec_json_healthy_then_unhealthy() {
    let target = start_target().await;
    let app = spawn_app(&format!(
        r#"
[checks]
interval_secs = 1
endpoints = [
  {{ name = "web", url = "{0}/ok", type = "http" }},
  {{ name = "api", url = "{0}/switch", type = "http" }},
]
"#,
        target.base
    ))
    .await;
    app.wait_for_status(WAIT, all_checked).await;
    let (code, body) = app.get_json("/health").await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(body["status"], "healthy");
    let timestamp = body["timestamp"].as_str().unwrap();
    assert!(chrono::DateTime::parse_from_rfc3339(timestamp).is_ok() && timestamp.ends_with('Z'));
    for name in ["web", "api"] {
        let service = &body["services"][name];
        assert_eq!(service["ok"], true);
        assert!(service["response_time_ms"].is_u64());
        assert_eq!(service["status"], "up");
        assert_eq!(service["consecutive_failures"], 0);
        assert!(service["last_checked"].is_string());
    }

    target
        .switch_status
        .store(502, std::sync::atomic::Ordering::SeqCst);
    app.wait_for_service("api", WAIT, |s| s["status"] == "down")
        .await;
    let (code, body) = app.get_json("/health").await;
    assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["status"], "unhealthy");
    assert_eq!(body["services"]["api"]["ok"], false);
    assert_eq!(
        body["services"]["api"]["error"],
        "unexpected HTTP status 502 (expected 200-399)"
    );
    assert!(
        body["services"]["api"]["consecutive_failures"]
            .as_u64()
            .unwrap()
            >= 1
    );
}

#[tokio::test]
async fn a_degraded_service_makes_the_stack_degraded_but_still_200() {
    let target = start_target().await;
    let app = spawn_app(&format!(
        r#"
[checks]
interval_secs = 1
endpoints = [
  {{ name = "web", url = "{0}/slow", type = "http", degraded_ms = 50 }},
  {{ name = "api", url = "{0}/ok", type = "http" }},
]
"#,
        target.base
    ))
    .await;
    app.wait_for_status(WAIT, all_checked).await;
    let (code, body) = app.get_json("/health").await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(body["status"], "degraded");
}

#[tokio::test]
async fn health_json_variant_and_single_service_and_unknown_service() {
    let target = start_target().await;
    let app = spawn_app(&format!(
        r#"
[checks]
interval_secs = 1
endpoints = [ {{ name = "web", url = "{0}/ok", type = "http" }} ]
"#,
        target.base
    ))
    .await;
    app.wait_for_status(WAIT, all_checked).await;
    let response = app
        .request("/health")
        .header("Accept", "application/health+json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"],
        "application/health+json"
    );
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], "pass");
    let check = &body["checks"]["web:responseTime"][0];
    assert_eq!(check["componentId"], "web");
    assert_eq!(check["status"], "pass");
    assert_eq!(check["observedUnit"], "ms");

    let (code, one) = app.get_json("/health/web").await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(one["name"], "web");
    assert_eq!(one["ok"], true);
    let (code, missing) = app.get_json("/health/nope").await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    assert_eq!(missing["error"], "no service named \"nope\"");
    let (code, unknown_route) = app.get_json("/no/such/route").await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    assert!(unknown_route["error"].is_string());
    let (code, livez) = app.get_json("/livez").await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(livez["status"], "ok");
}

#[tokio::test]
async fn badges_are_svg_coloured_by_status() {
    let target = start_target().await;
    let app = spawn_app(&format!(
        r#"
[checks]
interval_secs = 1
endpoints = [ {{ name = "web", url = "{0}/ok" }}, {{ name = "api", url = "{0}/error" }} ]
"#,
        target.base
    ))
    .await;
    app.wait_for_status(WAIT, all_checked).await;
    let response = app.request("/badge/web.svg").send().await.unwrap();
    assert_eq!(response.headers()["content-type"], "image/svg+xml");
    let svg = response.text().await.unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("web: up") && svg.contains("#2e9e44"));
    let (_, svg) = app.get("/badge/api.svg").await;
    assert!(svg.contains("api: down") && svg.contains("#d0312d"));
    let (code, _) = app.get("/badge/nope.svg").await;
    assert_eq!(code, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn metrics_use_blackbox_names_and_pass_promtool() {
    let target = start_target().await;
    let app = spawn_app(&format!(
        r#"
[checks]
interval_secs = 1
endpoints = [ {{ name = "web", url = "{0}/ok" }}, {{ name = "api", url = "{0}/error" }} ]
"#,
        target.base
    ))
    .await;
    app.wait_for_status(WAIT, all_checked).await;
    let response = app.request("/metrics").send().await.unwrap();
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    let text = response.text().await.unwrap();
    assert!(
        text.contains("probe_success{check=\"web\",type=\"http\"} 1\n"),
        "{text}"
    );
    assert!(text.contains("probe_success{check=\"api\",type=\"http\"} 0\n"));
    assert!(text.contains("probe_http_status_code{check=\"api\"} 500\n"));
    assert!(text.contains("# TYPE healthcheck_checks_total counter"));
    assert!(text.contains("probe_duration_seconds{check=\"web\",type=\"http\"} "));

    service_kit_testing::assert_promtool_accepts(&text);
}

#[tokio::test]
async fn auth_protects_dashboard_api_and_metrics_but_not_health() {
    let target = start_target().await;
    let app = spawn_app(&format!(
        r#"
[checks]
interval_secs = 1
endpoints = [ {{ name = "web", url = "{0}/ok" }} ]

[auth]
token = "let-me-in"
"#,
        target.base
    ))
    .await;
    for path in ["/dashboard", "/api/status", "/metrics", "/events"] {
        let response = app.request(path).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{path}");
        assert!(response.headers().contains_key("www-authenticate"));
        let wrong = app.request(path).bearer_auth("wrong").send().await.unwrap();
        assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED, "{path}");
    }
    for path in ["/dashboard", "/api/status", "/metrics"] {
        let ok = app
            .request(path)
            .bearer_auth("let-me-in")
            .send()
            .await
            .unwrap();
        assert_eq!(ok.status(), StatusCode::OK, "{path}");
    }
    let browser = app
        .request("/dashboard")
        .basic_auth("anyone", Some("let-me-in"))
        .send()
        .await
        .unwrap();
    assert_eq!(browser.status(), StatusCode::OK);
    assert_ne!(app.get("/health").await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(app.get("/livez").await.0, StatusCode::OK);
}

#[tokio::test]
async fn health_can_be_made_private_too() {
    let app = spawn_app(
        r#"
[dashboard]
public_health = false
[auth]
username = "ops"
password = "pw"
"#,
    )
    .await;
    assert_eq!(app.get("/health").await.0, StatusCode::UNAUTHORIZED);
    let ok = app
        .request("/health")
        .basic_auth("ops", Some("pw"))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
}

#[tokio::test]
async fn history_api_validates_its_query() {
    let app = spawn_app(
        r#"
[checks]
endpoints = [ { name = "web", url = "http://127.0.0.1:9/", type = "http" } ]
"#,
    )
    .await;
    let (code, body) = app.get_json("/api/history/web?hours=0").await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["error"],
        "hours: must be a whole number from 1 to 168, got \"0\""
    );
    let (code, _) = app.get_json("/api/history/web?hours=abc").await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    let (code, _) = app.get_json("/api/history/nope").await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    let (code, body) = app.get_json("/api/history/web?hours=2").await;
    assert_eq!(code, StatusCode::OK);
    assert!(body["minutes"].is_array());
}
