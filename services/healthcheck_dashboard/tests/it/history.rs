//! History survives a restart: uptime, the response-time history and the last error come
//! back from the SQLite file before the first new check has run.

use std::time::Duration;

use crate::support::{spawn_app_in, start_target};

#[tokio::test]
async fn uptime_history_and_last_error_survive_a_restart() {
    let target = start_target().await;
    let data = tempfile::tempdir().unwrap();
    let first = spawn_app_in(
        &format!(
            r#"
[checks]
interval_secs = 1
endpoints = [ {{ name = "api", url = "{0}/error" }}, {{ name = "web", url = "{0}/ok" }} ]
"#,
            target.base
        ),
        data.path().to_path_buf(),
    )
    .await;
    first
        .wait_for_service("api", Duration::from_secs(15), |s| {
            s["history"].as_array().is_some_and(|h| h.len() >= 2)
        })
        .await;
    first
        .wait_for_service("web", Duration::from_secs(15), |s| s["status"] == "up")
        .await;
    first.stop().await;

    // After the restart the checks hang, so anything shown comes from storage.
    let second = spawn_app_in(
        &format!(
            r#"
[checks]
interval_secs = 60
endpoints = [
  {{ name = "api", url = "{0}/hang", timeout_ms = 20000 }},
  {{ name = "web", url = "{0}/hang", timeout_ms = 20000 }},
]
"#,
            target.base
        ),
        data.path().to_path_buf(),
    )
    .await;
    let (_, status) = second.get_json("/api/status").await;
    let api = crate::support::service(&status, "api").unwrap();
    assert_eq!(api["status"], "unknown");
    assert_eq!(api["uptime_24h"], 0.0);
    assert_eq!(
        api["last_error"]["message"],
        "unexpected HTTP status 500 (expected 200-399)"
    );
    assert!(!api["history"].as_array().unwrap().is_empty());
    let web = crate::support::service(&status, "web").unwrap();
    assert_eq!(web["uptime_24h"], 100.0);
    assert!(web["last_error"].is_null());

    let (code, minutes) = second.get_json("/api/history/api?hours=1").await;
    assert_eq!(code, reqwest::StatusCode::OK);
    let minutes = minutes["minutes"].as_array().unwrap();
    let total: u64 = minutes.iter().map(|m| m["total"].as_u64().unwrap()).sum();
    let ok: u64 = minutes.iter().map(|m| m["ok"].as_u64().unwrap()).sum();
    assert!(total >= 2);
    assert_eq!(ok, 0);
}
