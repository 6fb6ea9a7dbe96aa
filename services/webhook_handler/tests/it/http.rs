//! The routes beside receiving: `/livez`, `/metrics` (promtool-clean), `/hooks` and
//! `/deliveries` (no secret ever), `/jobs` filters and their 4xx answers, the admin routes
//! (trigger and retry, with the admin token only), and `[auth]`. With an admin token and no
//! `[auth]`, reads take the admin token.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::support::{push_payload, script, spawn_app};

const SECRET: &str = "http-secret-value";
const ADMIN: &str = "admin-token-value";

fn config(dir: &std::path::Path, extra: &str) -> String {
    let ok = script(
        dir,
        "ok.sh",
        "echo \"ref=$WEBHOOK_REF commit=$WEBHOOK_COMMIT\"",
    );
    let fails = script(dir, "fails.sh", "exit 2");
    format!(
        "[server]\nadmin_token = \"{ADMIN}\"\n{extra}\n\
         [[hooks]]\nid = \"app\"\nsecret = \"{SECRET}\"\ncommand = [\"{ok}\", \"--fast\"]\n\
         branches = [\"main\"]\nnotify = \"https://hooks.slack.com/services/T000/B000/XXXXSECRET\"\n\
         [[hooks]]\nid = \"broken\"\nsecret = \"{SECRET}\"\ncommand = [\"{fails}\"]\n"
    )
}

#[tokio::test]
async fn metrics_count_deliveries_jobs_and_queues_and_promtool_accepts_them() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app(&config(dir.path(), ""), &dir.path().join("data"))
        .await
        .with_read_token(ADMIN);
    let payload = serde_json::to_vec(&push_payload("org/app", "main", "abc")).unwrap();
    let (_, answer) = app
        .send_github("/hooks/app", SECRET, "push", "m-1", &payload)
        .await;
    app.wait_for_job_end(answer["job_id"].as_i64().unwrap(), Duration::from_secs(10))
        .await;
    app.send_github("/hooks/app", "forged", "push", "m-2", &payload)
        .await;
    app.send(app.client.post(format!("{}/hooks/missing", app.base)))
        .await;
    let (status, text) = app.get_text("/metrics").await;
    assert_eq!(status, StatusCode::OK);
    for expected in [
        "webhook_deliveries_total{hook=\"app\",outcome=\"accepted\"} 1",
        "webhook_deliveries_total{hook=\"app\",outcome=\"rejected\"} 1",
        "webhook_unknown_hook_requests_total 1",
        "webhook_jobs_finished_total{hook=\"app\",state=\"succeeded\"} 1",
        "webhook_job_duration_seconds_count{hook=\"app\"} 1",
        "webhook_jobs_running{hook=\"app\"} 0",
        "webhook_jobs_waiting{hook=\"broken\"} 0",
        "webhook_notifications_total{outcome=\"sent\"}",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    service_kit_testing::assert_promtool_accepts(&text);
}

#[tokio::test]
async fn hooks_and_deliveries_never_show_a_secret() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app(&config(dir.path(), ""), &dir.path().join("data"))
        .await
        .with_read_token(ADMIN);
    let payload = serde_json::to_vec(&push_payload("org/app", "main", "abc")).unwrap();
    app.send_github("/hooks/app", SECRET, "push", "h-1", &payload)
        .await;
    let (status, hooks) = app.get_json("/hooks").await;
    assert_eq!(status, StatusCode::OK);
    let app_hook = &hooks["hooks"][0];
    assert_eq!(app_hook["id"], "app");
    assert_eq!(app_hook["path"], "/hooks/app");
    assert_eq!(app_hook["verify"], "github-hmac-sha256");
    assert_eq!(app_hook["filters"]["branches"], json!(["main"]));
    assert!(app_hook["action"]
        .as_str()
        .unwrap()
        .ends_with("ok.sh --fast"));
    assert_eq!(app_hook["last_delivery"]["outcome"], "accepted");
    let (_, deliveries) = app.get_json("/deliveries?limit=5").await;
    let everything = format!("{hooks}{deliveries}");
    for secret in [SECRET, ADMIN, "XXXXSECRET"] {
        assert!(
            !everything.contains(secret),
            "{secret} shown in {everything}"
        );
    }
}

#[tokio::test]
async fn job_routes_answer_bad_input_with_a_4xx_json_error() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app(&config(dir.path(), ""), &dir.path().join("data"))
        .await
        .with_read_token(ADMIN);
    for (path, status, words) in [
        ("/jobs?limit=0", StatusCode::BAD_REQUEST, "limit"),
        ("/jobs?limit=-1", StatusCode::BAD_REQUEST, "limit"),
        (
            "/jobs?limit=99999999999999999999",
            StatusCode::BAD_REQUEST,
            "limit",
        ),
        ("/jobs?state=done", StatusCode::BAD_REQUEST, "unknown state"),
        ("/jobs?hook=nope", StatusCode::NOT_FOUND, "no hook"),
        ("/jobs/abc", StatusCode::BAD_REQUEST, "job id"),
        ("/jobs/999", StatusCode::NOT_FOUND, "no job 999"),
        ("/jobs/999/log", StatusCode::NOT_FOUND, "no job 999"),
        ("/deliveries?hook=nope", StatusCode::NOT_FOUND, "no hook"),
        ("/nowhere", StatusCode::NOT_FOUND, "no such endpoint"),
    ] {
        let (got, body) = app.get_json(path).await;
        assert_eq!(got, status, "{path}: {body}");
        assert!(
            body["error"].as_str().unwrap().contains(words),
            "{path}: {body}"
        );
    }
    let (status, body) = app
        .send(app.client.delete(format!("{}/jobs", app.base)))
        .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(body["error"].is_string());
}

#[tokio::test]
async fn trigger_and_retry_need_the_admin_token_and_run_the_hooks_action() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app(&config(dir.path(), ""), &dir.path().join("data"))
        .await
        .with_read_token(ADMIN);
    let trigger = format!("{}/hooks/app/trigger", app.base);
    let (status, _) = app.send(app.client.post(&trigger)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = app
        .send(app.client.post(&trigger).bearer_auth("wrong"))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) = app
        .send(app.client.post(&trigger).bearer_auth(ADMIN).body("[1, 2]"))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, answer) = app
        .send(
            app.client
                .post(&trigger)
                .bearer_auth(ADMIN)
                .json(&json!({"ref": "refs/heads/main", "commit": "feed"})),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    let id = answer["job_id"].as_i64().unwrap();
    let job = app.wait_for_job_end(id, Duration::from_secs(10)).await;
    assert_eq!(job["trigger"], "manual");
    assert_eq!(job["output"], "ref=refs/heads/main commit=feed\n");

    let (status, answer) = app
        .send(
            app.client
                .post(format!("{}/jobs/{id}/retry", app.base))
                .bearer_auth(ADMIN),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    let retry = app
        .wait_for_job_end(answer["job_id"].as_i64().unwrap(), Duration::from_secs(10))
        .await;
    assert_eq!(
        (retry["trigger"].as_str(), retry["retry_of"].as_i64()),
        (Some("retry"), Some(id))
    );
    assert_eq!(retry["output"], "ref=refs/heads/main commit=feed\n");

    let (status, _) = app
        .send(
            app.client
                .post(format!("{}/jobs/999/retry", app.base))
                .bearer_auth(ADMIN),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn without_an_admin_token_trigger_and_retry_are_disabled() {
    let dir = tempfile::tempdir().unwrap();
    let ok = script(dir.path(), "ok.sh", "true");
    let config = format!("[[hooks]]\nid = \"app\"\nsecret = \"{SECRET}\"\ncommand = [\"{ok}\"]\n");
    let app = spawn_app(&config, &dir.path().join("data")).await;
    let (status, body) = app
        .send(
            app.client
                .post(format!("{}/hooks/app/trigger", app.base))
                .bearer_auth("anything"),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(body["error"].as_str().unwrap().contains("admin_token"));
}

#[tokio::test]
async fn with_auth_configured_reads_need_credentials_but_receiving_and_livez_do_not() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app(
        &config(dir.path(), "[auth]\ntoken = \"reader-token\"\n"),
        &dir.path().join("data"),
    )
    .await;
    for path in ["/jobs", "/hooks", "/deliveries", "/metrics", "/dashboard"] {
        let response = app
            .client
            .get(format!("{}{path}", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{path}");
        let response = app
            .client
            .get(format!("{}{path}", app.base))
            .bearer_auth("reader-token")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
    }
    let (status, livez) = app.get_json("/livez").await;
    assert_eq!(
        (status, livez["status"].as_str()),
        (StatusCode::OK, Some("ok"))
    );
    let payload = serde_json::to_vec(&push_payload("org/app", "main", "abc")).unwrap();
    let (status, _) = app
        .send_github("/hooks/app", SECRET, "push", "a-1", &payload)
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
}

#[tokio::test]
async fn deploys_list_the_jobs_that_started_for_the_other_sidecars_markers() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app(&config(dir.path(), ""), &dir.path().join("data"))
        .await
        .with_read_token(ADMIN);
    let payload = serde_json::to_vec(&push_payload("org/app", "main", "abc")).unwrap();
    let (_, answer) = app
        .send_github("/hooks/app", SECRET, "push", "d-1", &payload)
        .await;
    let id = answer["job_id"].as_i64().unwrap();
    app.wait_for_job_end(id, Duration::from_secs(10)).await;
    let (status, deploys) = app.get_json("/deploys").await;
    assert_eq!(status, StatusCode::OK);
    let deploy = &deploys["deploys"][0];
    assert_eq!(deploy["job"], id);
    assert_eq!(deploy["hook"], "app");
    assert_eq!(deploy["state"], "succeeded");
    assert!(deploy["started_at"].is_string() && deploy["finished_at"].is_string());
    assert_eq!(deploy["services"], json!([]));
    let (_, later) = app.get_json("/deploys?since=2999-01-01T00:00:00Z").await;
    assert_eq!(later["deploys"], json!([]));
    let (status, bad) = app.get_json("/deploys?since=yesterday").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
}
