//! HTTP contract: `/livez` lists sources, `/metrics` passes promtool, unknown routes are JSON 404s.

use crate::support::{files_config, spawn_app, temp_dir};

#[tokio::test]
async fn livez_lists_the_sources_and_unknown_routes_are_json_404() {
    let (_guard, dir) = temp_dir();
    let missing = dir.join("not-yet.log");
    let app = spawn_app(&files_config(&[&missing], ""), &dir.join("data")).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let (code, livez) = app.get_json("/livez").await;
    assert_eq!(code, reqwest::StatusCode::OK);
    assert_eq!(livez["sources"][0]["service"], "not-yet");
    assert_eq!(livez["sources"][0]["open"], false);
    let (code, body) = app.get_json("/nope").await;
    assert_eq!(code, reqwest::StatusCode::NOT_FOUND);
    assert!(body["error"].is_string());
}
