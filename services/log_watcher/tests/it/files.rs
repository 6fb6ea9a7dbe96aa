//! Reading files: events filtered by level and regex, named by file stem, timestamps and
//! levels taken from the line, and nothing read twice across a restart.

use std::time::Duration;

use crate::support::{append, files_config, spawn_app, temp_dir};

const WAIT: Duration = Duration::from_secs(10);

#[tokio::test]
async fn error_and_warning_lines_and_regex_matches_become_events() {
    let (_guard, dir) = temp_dir();
    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let api = logs.join("api.log");
    let web = logs.join("web.log");
    let app = spawn_app(
        &files_config(
            &[&api, &web],
            "[filters]\nlevels = [\"error\", \"warning\"]\nregexes = [\"panic\", \"unauthorized\", \"exception\"]",
        ),
        &dir.join("data"),
    )
    .await;
    append(
        &api,
        "2024-06-12T01:23:45Z ERROR Database connection failed: timeout\n",
    );
    append(&api, "2024-06-12T01:23:46Z INFO GET /health 200\n");
    append(
        &web,
        "2024-06-12T01:23:50Z WARNING Deprecated API usage detected.\n",
    );
    append(
        &web,
        "2024-06-12T01:23:51Z INFO user unauthorized for /admin\n",
    );
    let events = app
        .wait_for_events("limit=10", WAIT, |e| e.len() >= 3)
        .await;
    assert_eq!(events.len(), 3, "{events:?}");
    let api_error = events.iter().find(|e| e["service"] == "api").unwrap();
    assert_eq!(api_error["timestamp"], "2024-06-12T01:23:45Z");
    assert_eq!(api_error["level"], "error");
    assert_eq!(api_error["message"], "Database connection failed: timeout");
    assert!(events
        .iter()
        .any(|e| e["service"] == "web" && e["level"] == "warning"));
    assert!(events
        .iter()
        .any(|e| e["message"] == "user unauthorized for /admin"));

    let (_, summary) = app.get_json("/summary?window=10m").await;
    assert_eq!(summary["window_secs"], 600);
    assert_eq!(summary["totals"]["error"], 1);
    assert_eq!(summary["totals"]["info"], 2);
    assert_eq!(summary["services"]["web"]["warning"], 1);
}

#[tokio::test]
async fn logs_filters_by_service_level_text_and_limit() {
    let (_guard, dir) = temp_dir();
    let api = dir.join("api.log");
    let app = spawn_app(
        &files_config(
            &[&api],
            "[filters]\nlevels = [\"info\", \"warning\", \"error\"]",
        ),
        &dir.join("data"),
    )
    .await;
    for i in 0..20 {
        append(&api, &format!("INFO request {i}\n"));
    }
    append(&api, "ERROR boom one\nWARNING slow disk\n");
    app.wait_for_events("limit=100", WAIT, |e| e.len() == 22)
        .await;
    let (_, body) = app.get_json("/logs?level=warning").await;
    let levels: Vec<&str> = body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["level"].as_str().unwrap())
        .collect();
    assert_eq!(levels, vec!["error", "warning"]);
    let (_, body) = app.get_json("/logs?q=BOOM").await;
    assert_eq!(body["events"].as_array().unwrap().len(), 1);
    let (_, body) = app.get_json("/logs?limit=3").await;
    let messages: Vec<&str> = body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["message"].as_str().unwrap())
        .collect();
    assert_eq!(messages, vec!["request 19", "boom one", "slow disk"]);
    let (_, body) = app.get_json("/logs?service=web").await;
    assert!(body["events"].as_array().unwrap().is_empty());
    let (code, body) = app.get_json("/logs?level=loud").await;
    assert_eq!(code, reqwest::StatusCode::BAD_REQUEST);
    assert!(body["error"].as_str().unwrap().contains("unknown level"));
    let (code, _) = app.get_json("/logs?limit=0").await;
    assert_eq!(code, reqwest::StatusCode::BAD_REQUEST);
    let (code, _) = app.get_json("/summary?window=soon").await;
    assert_eq!(code, reqwest::StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_restart_neither_repeats_nor_loses_lines() {
    let (_guard, dir) = temp_dir();
    let api = dir.join("api.log");
    let data = dir.join("data");
    let config = files_config(&[&api], "");
    let first = spawn_app(&config, &data).await;
    append(&api, "ERROR one\nERROR two\n");
    first.wait_for_events("", WAIT, |e| e.len() == 2).await;
    first.stop().await;
    append(&api, "ERROR three\nERROR fo");
    let second = spawn_app(&config, &data).await;
    let events = second.wait_for_events("", WAIT, |e| e.len() >= 3).await;
    append(&api, "ur\n");
    let events_after = second.wait_for_events("", WAIT, |e| e.len() >= 4).await;
    let messages: Vec<&str> = events_after
        .iter()
        .map(|e| e["message"].as_str().unwrap())
        .collect();
    assert_eq!(messages, vec!["one", "two", "three", "four"], "{events:?}");
}

#[tokio::test]
async fn a_glob_over_folders_follows_every_match_and_finds_folders_made_later() {
    let (_guard, dir) = temp_dir();
    let logs = dir.join("logs");
    std::fs::create_dir_all(logs.join("api")).unwrap();
    append(&logs.join("api/app.log"), "ERROR api down\n");
    append(&logs.join("api/other.log"), "ERROR not matched\n");
    let config = format!(
        "[log_sources]\nextra_files = [{:?}]\npoll_interval_ms = 20\n[log_sources.file_services]\n{:?} = \"stack\"\n",
        logs.join("*/app.log").display().to_string(),
        logs.join("*/app.log").display().to_string(),
    );
    let app = spawn_app(&config, &dir.join("data")).await;
    app.wait_for_events("limit=10", WAIT, |e| e.len() == 1)
        .await;
    // A folder and its log that appear while the service runs.
    std::fs::create_dir_all(logs.join("web")).unwrap();
    append(&logs.join("web/app.log"), "WARNING web slow\n");
    let events = app
        .wait_for_events("limit=10", WAIT, |e| e.len() >= 2)
        .await;
    let messages: Vec<&str> = events
        .iter()
        .map(|e| e["message"].as_str().unwrap())
        .collect();
    assert_eq!(messages, ["api down", "web slow"]);
    assert!(events.iter().all(|e| e["service"] == "stack"));
    app.stop().await;
}
