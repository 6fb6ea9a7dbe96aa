//! HTTP contract: `/livez` tells anyone only its status, `/api/sources` (behind auth) lists
//! the sources and their errors, `/metrics` counts and passes promtool, auth protects
//! everything but `/livez`, unknown routes are JSON 404s.

use crate::support::{append, files_config, spawn_app, temp_dir};

#[tokio::test]
async fn api_sources_lists_the_sources_and_unknown_routes_are_json_404() {
    let (_guard, dir) = temp_dir();
    let missing = dir.join("not-yet.log");
    let app = spawn_app(&files_config(&[&missing], ""), &dir.join("data")).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let (code, listed) = app.get_json("/api/sources").await;
    assert_eq!(code, reqwest::StatusCode::OK);
    assert_eq!(listed["sources"][0]["service"], "not-yet");
    assert_eq!(listed["sources"][0]["open"], false);
    let (code, body) = app.get_json("/nope").await;
    assert_eq!(code, reqwest::StatusCode::NOT_FOUND);
    assert!(body["error"].is_string());
}

#[tokio::test]
async fn metrics_count_lines_bytes_events_and_lag_and_pass_promtool() {
    let (_guard, dir) = temp_dir();
    let api = dir.join("api.log");
    let app = spawn_app(&files_config(&[&api], ""), &dir.join("data")).await;
    append(&api, "INFO one\nINFO two\nERROR three\nWARNING four\n");
    app.wait_for_events("", std::time::Duration::from_secs(10), |e| e.len() == 2)
        .await;
    // Source status is refreshed every second.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let text = loop {
        let (code, text) = app.get_text("/metrics").await;
        assert_eq!(code, reqwest::StatusCode::OK);
        if text.contains("log_watcher_active_sources 1\n") || std::time::Instant::now() > deadline {
            break text;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    for line in [
        "log_watcher_lines_total{service=\"api\",level=\"info\"} 2\n",
        "log_watcher_lines_total{service=\"api\",level=\"error\"} 1\n",
        "log_watcher_lines_total{service=\"api\",level=\"warning\"} 1\n",
        "log_watcher_bytes_total{service=\"api\"} 43\n",
        "log_watcher_events_total 2\n",
        "log_watcher_active_sources 1\n",
        "# TYPE log_watcher_read_lag_bytes gauge\n",
    ] {
        assert!(text.contains(line), "{line:?} missing from:\n{text}");
    }
    service_kit_testing::assert_promtool_accepts(&text);
}

#[tokio::test]
async fn a_token_protects_logs_summary_metrics_and_sources_but_not_livez() {
    let (_guard, dir) = temp_dir();
    let api = dir.join("api.log");
    let app = spawn_app(
        &files_config(&[&api], "[auth]\ntoken = \"s3cret\""),
        &dir.join("data"),
    )
    .await;
    for path in [
        "/logs",
        "/summary",
        "/metrics",
        "/logs/stream",
        "/api/sources",
    ] {
        let (code, _) = app.get_text(path).await;
        assert_eq!(code, reqwest::StatusCode::UNAUTHORIZED, "{path}");
    }
    let (code, _) = app.get_text("/livez").await;
    assert_eq!(code, reqwest::StatusCode::OK);
    for path in ["/logs", "/api/sources"] {
        let response = reqwest::Client::new()
            .get(format!("{}{path}", app.base))
            .bearer_auth("s3cret")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), reqwest::StatusCode::OK, "{path}");
    }
}

#[tokio::test]
async fn livez_tells_anyone_only_its_status_and_paths_and_errors_need_credentials() {
    let (_guard, dir) = temp_dir();
    // A directory where a file is expected: an error naming the path shows in the sources.
    let secret_path = dir.join("secret-service.log");
    std::fs::create_dir(&secret_path).unwrap();
    let app = spawn_app(
        &files_config(&[&secret_path], "[auth]\ntoken = \"s3cret\""),
        &dir.join("data"),
    )
    .await;
    let authorized = |path: &str| {
        reqwest::Client::new()
            .get(format!("{}{path}", app.base))
            .bearer_auth("s3cret")
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let listed: serde_json::Value = loop {
        let listed: serde_json::Value = authorized("/api/sources")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if listed["sources"][0]["error"].is_string() || std::time::Instant::now() > deadline {
            break listed;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert!(listed.to_string().contains("secret-service"), "{listed}");
    assert!(listed["sources"][0]["error"].is_string(), "{listed}");
    // Without credentials, and with them too: /livez is the status and nothing else.
    let (code, text) = app.get_text("/livez").await;
    assert_eq!(code, reqwest::StatusCode::OK);
    assert_eq!(text, r#"{"status":"ok"}"#);
    let with_token = authorized("/livez")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(with_token, r#"{"status":"ok"}"#);
}

#[tokio::test]
async fn an_unreadable_file_is_reported_and_the_others_keep_flowing() {
    let (_guard, dir) = temp_dir();
    let locked = dir.join("locked.log");
    let open = dir.join("open.log");
    append(&locked, "ERROR you cannot read me\n");
    // A directory where a file is expected: opening works, reading fails, for root too.
    std::fs::remove_file(&locked).unwrap();
    std::fs::create_dir(&locked).unwrap();
    let app = spawn_app(&files_config(&[&locked, &open], ""), &dir.join("data")).await;
    append(&open, "ERROR still flowing\n");
    let events = app
        .wait_for_events("", std::time::Duration::from_secs(10), |e| !e.is_empty())
        .await;
    assert_eq!(events[0]["service"], "open");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let (_, listed) = app.get_json("/api/sources").await;
        let sources = listed["sources"].as_array().unwrap();
        let locked = sources.iter().find(|s| s["service"] == "locked").unwrap();
        if locked["error"].is_string() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no error shown: {listed}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let (_, metrics) = app.get_text("/metrics").await;
    assert!(
        metrics.contains("log_watcher_source_errors 1\n"),
        "{metrics}"
    );
}
