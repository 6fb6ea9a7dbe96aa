//! Every check type against real targets: what counts as up, degraded and down, and the
//! error each failure reports.

use std::time::Duration;

use crate::support::{
    closed_port, silent_listener, spawn_app, start_https_target, start_target, PostgresServer,
    PG_PASSWORD,
};

const WAIT: Duration = Duration::from_secs(15);

fn checked(service: &serde_json::Value) -> bool {
    service["status"] != "unknown"
}

#[tokio::test]
async fn http_200_is_up_and_500_is_down_with_the_status_in_the_error() {
    let target = start_target().await;
    let app = spawn_app(&format!(
        r#"
[checks]
interval_secs = 1
endpoints = [
  {{ name = "ok", url = "{0}/ok", type = "http" }},
  {{ name = "error", url = "{0}/error", type = "http" }},
]
"#,
        target.base
    ))
    .await;
    let ok = app.wait_for_service("ok", WAIT, checked).await;
    assert_eq!(ok["status"], "up");
    assert_eq!(ok["http_status"], 200);
    let error = app.wait_for_service("error", WAIT, checked).await;
    assert_eq!(error["status"], "down");
    assert_eq!(
        error["error"],
        "unexpected HTTP status 500 (expected 200-399)"
    );
}

#[tokio::test]
async fn http_target_slower_than_the_timeout_is_down_without_delaying_other_checks() {
    let target = start_target().await;
    let app = spawn_app(&format!(
        r#"
[checks]
interval_secs = 1
endpoints = [
  {{ name = "hung", url = "{0}/hang", type = "http", timeout_ms = 2000 }},
  {{ name = "fast", url = "{0}/ok", type = "http" }},
]
"#,
        target.base
    ))
    .await;
    // The fast check keeps its 1 s rhythm while the hung one waits for its timeout.
    let started = std::time::Instant::now();
    app.wait_for_service("fast", WAIT, |s| {
        s["history"].as_array().is_some_and(|h| h.len() >= 3)
    })
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "fast check was delayed"
    );
    let hung = app.wait_for_service("hung", WAIT, checked).await;
    assert_eq!(hung["status"], "down");
    assert_eq!(hung["error"], "timed out after 2000 ms");
}

#[tokio::test]
async fn slow_response_is_degraded_and_body_and_json_expectations_are_checked() {
    let target = start_target().await;
    let app = spawn_app(&format!(
        r#"
[checks]
interval_secs = 1
endpoints = [
  {{ name = "slow", url = "{0}/slow", type = "http", degraded_ms = 100 }},
  {{ name = "body", url = "{0}/ok", type = "http", body_contains = "all good" }},
  {{ name = "body-missing", url = "{0}/ok", type = "http", body_contains = "nope" }},
  {{ name = "json", url = "{0}/json", type = "http", json = {{ status = "ok", "checks.db" = true, version = 3 }} }},
  {{ name = "json-wrong", url = "{0}/json", type = "http", json = {{ status = "down" }} }},
  {{ name = "teapot", url = "{0}/error", type = "http", expected_status = ["500-599"] }},
]
"#,
        target.base
    ))
    .await;
    let slow = app.wait_for_service("slow", WAIT, checked).await;
    assert_eq!(slow["status"], "degraded");
    assert!(
        slow["detail"].as_str().unwrap().starts_with("slow: "),
        "{slow}"
    );
    assert_eq!(slow["ok"], true);
    assert_eq!(
        app.wait_for_service("body", WAIT, checked).await["status"],
        "up"
    );
    let missing = app.wait_for_service("body-missing", WAIT, checked).await;
    assert_eq!(missing["error"], "response body does not contain \"nope\"");
    assert_eq!(
        app.wait_for_service("json", WAIT, checked).await["status"],
        "up"
    );
    let wrong = app.wait_for_service("json-wrong", WAIT, checked).await;
    assert_eq!(
        wrong["error"],
        "JSON field status is \"ok\", expected \"down\""
    );
    assert_eq!(
        app.wait_for_service("teapot", WAIT, checked).await["status"],
        "up"
    );
}

#[tokio::test]
async fn https_with_a_self_signed_certificate_is_down_unless_verification_is_off() {
    let base = start_https_target(10).await;
    let app = spawn_app(&format!(
        r#"
[checks]
interval_secs = 1
endpoints = [
  {{ name = "verified", url = "{base}/", type = "https" }},
  {{ name = "trusted", url = "{base}/", type = "https", tls_verify = false, cert_expiry_warn_days = 5 }},
  {{ name = "expiring", url = "{base}/", type = "https", tls_verify = false }},
]
"#
    ))
    .await;
    let verified = app.wait_for_service("verified", WAIT, checked).await;
    assert_eq!(verified["status"], "down");
    let error = verified["error"].as_str().unwrap();
    assert!(
        error.contains("certificate"),
        "error names the certificate: {error}"
    );
    let trusted = app.wait_for_service("trusted", WAIT, checked).await;
    assert_eq!(trusted["status"], "up", "{trusted}");
    let days = trusted["cert_days_left"].as_i64().unwrap();
    assert!((9..=10).contains(&days), "certificate days left: {days}");
    // Default warning window is 14 days: a certificate valid for 10 more days is a warning.
    let expiring = app.wait_for_service("expiring", WAIT, checked).await;
    assert_eq!(expiring["status"], "degraded");
    assert!(
        expiring["detail"].as_str().unwrap().contains("expires in"),
        "{expiring}"
    );
}

#[tokio::test]
async fn tcp_check_is_up_on_a_listening_port_and_down_on_a_closed_one() {
    let target = start_target().await;
    let open = target.base.trim_start_matches("http://").to_string();
    let closed = closed_port();
    let app = spawn_app(&format!(
        r#"
[checks]
interval_secs = 1
endpoints = [
  {{ name = "open", url = "{open}", type = "tcp" }},
  {{ name = "closed", url = "tcp://127.0.0.1:{closed}", type = "tcp" }},
]
"#
    ))
    .await;
    assert_eq!(
        app.wait_for_service("open", WAIT, checked).await["status"],
        "up"
    );
    let closed = app.wait_for_service("closed", WAIT, checked).await;
    assert_eq!(closed["status"], "down");
    assert!(
        closed["error"]
            .as_str()
            .unwrap()
            .starts_with("connection failed: Connection refused"),
        "{closed}"
    );
}

#[tokio::test]
async fn postgres_up_wrong_password_stopped_and_hung_are_distinct_errors() {
    let Some(server) = tokio::task::spawn_blocking(PostgresServer::start)
        .await
        .unwrap()
    else {
        return;
    };
    let hung = silent_listener().await;
    let app = spawn_app(&format!(
        r#"
[checks]
interval_secs = 1
endpoints = [
  {{ name = "db", url = "{good}", type = "postgres" }},
  {{ name = "db-wrong-password", url = "{bad}", type = "postgres" }},
  {{ name = "db-hung", url = "postgres://app:x@{hung}/postgres", type = "postgres", timeout_ms = 1500 }},
]
"#,
        good = server.dsn(PG_PASSWORD),
        bad = server.dsn("not-the-password"),
    ))
    .await;
    let db = app.wait_for_service("db", WAIT, checked).await;
    assert_eq!(db["status"], "up", "{db}");
    let wrong = app
        .wait_for_service("db-wrong-password", WAIT, checked)
        .await;
    assert_eq!(wrong["status"], "down");
    let error = wrong["error"].as_str().unwrap();
    assert!(
        error.starts_with("authentication failed for user \"app\""),
        "{error}"
    );
    let hung = app.wait_for_service("db-hung", WAIT, checked).await;
    assert_eq!(hung["error"], "timed out after 1500 ms");

    // The DSN's password never shows.
    let (_, status) = app.get("/api/status").await;
    assert!(!status.contains(PG_PASSWORD) && !status.contains("not-the-password"));
    assert!(status.contains("postgres://app:***@127.0.0.1"));

    tokio::task::spawn_blocking(move || server.stop())
        .await
        .unwrap();
    // A check racing the shutdown may see "shutting down" first; once stopped it is unreachable.
    let stopped = app
        .wait_for_service("db", WAIT, |s| {
            s["error"]
                .as_str()
                .is_some_and(|e| e.starts_with("server unreachable: "))
        })
        .await;
    assert_eq!(stopped["status"], "down");
}

#[tokio::test]
async fn command_exit_code_decides_and_first_output_line_is_the_detail() {
    let app = spawn_app(
        r#"
[checks]
interval_secs = 1
endpoints = [
  { name = "passes", type = "command", command = "echo 'all fine here'" },
  { name = "fails", type = "command", command = ["sh", "-c", "echo 'disk almost full' >&2; exit 1"] },
  { name = "missing", type = "command", command = "/no/such/program" },
]
"#,
    )
    .await;
    let passes = app.wait_for_service("passes", WAIT, checked).await;
    assert_eq!(passes["status"], "up");
    assert_eq!(passes["detail"], "all fine here");
    let fails = app.wait_for_service("fails", WAIT, checked).await;
    assert_eq!(fails["status"], "down");
    assert_eq!(fails["error"], "exit 1: disk almost full");
    let missing = app.wait_for_service("missing", WAIT, checked).await;
    assert!(missing["error"]
        .as_str()
        .unwrap()
        .starts_with("cannot run \"/no/such/program\""));
}

#[tokio::test]
async fn hanging_command_is_killed_at_its_timeout() {
    // A sleep length unique to this run identifies the child in `ps`; the shell stays around
    // (it has work after the sleep) so both the shell and its child must be killed.
    let seconds = 3000 + std::process::id() % 1000;
    let marker = format!("sleep {seconds}");
    let app = spawn_app(&format!(
        r#"
[checks]
interval_secs = 30
endpoints = [
  {{ name = "hangs", type = "command", timeout_ms = 1000, command = ["sh", "-c", "{marker}; echo done"] }},
]
"#
    ))
    .await;
    let hangs = app.wait_for_service("hangs", WAIT, checked).await;
    assert_eq!(hangs["status"], "down");
    assert_eq!(hangs["error"], "timed out after 1000 ms; killed");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let ps = std::process::Command::new("ps")
        .args(["-eo", "args"])
        .output()
        .unwrap();
    let still_running = String::from_utf8_lossy(&ps.stdout)
        .lines()
        .any(|line| line.contains(&marker));
    assert!(
        !still_running,
        "the hung command (and its children) must be killed"
    );
}
