//! The binary as operators run it: the spec's config and env vars, one-line config errors
//! with exit code 2, and a clean exit on SIGTERM.

use std::process::{Command, Stdio};
use std::time::Duration;

use service_kit_testing::binary::{self, free_port, wait_until_answers, write_config};

const BINARY: &str = env!("CARGO_BIN_EXE_healthcheck_dashboard");

/// The spec's example config, exactly as written there.
const SPEC_CONFIG: &str = r#"[checks]
interval_secs = 10
endpoints = [
  { name = "web", url = "http://web:3000/", type = "http" },
  { name = "api", url = "http://api:8000/health", type = "http" },
  { name = "db",  url = "postgres://myuser:mypassword@db:5432/mydb", type = "postgres" }
]

[dashboard]
enabled = true
port = 9100

[alerts]
enabled = false
webhook = ""
"#;

fn check_config(text: &str) -> (i32, String, String) {
    let mut command = Command::new(BINARY);
    for var in [
        "HEALTHCHECK_CONFIG",
        "CONFIG_PATH",
        "DASHBOARD_PORT",
        "LOG_WATCHER_URL",
        "WEBHOOK_HANDLER_URL",
    ] {
        command.env_remove(var);
    }
    binary::check_config(command, text)
}

#[test]
fn the_spec_example_config_loads_unchanged() {
    let (code, stdout, stderr) = check_config(SPEC_CONFIG);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout.trim(), "config ok: 3 endpoint(s), port 9100");
}

#[test]
fn bad_config_stops_start_up_with_one_line_naming_the_endpoint_and_key() {
    let cases = [
        (
            r#"[checks]
endpoints = [ { name = "web", url = "http://web:3000/", tipe = "http" } ]"#,
            "checks.endpoints[0] (\"web\").tipe: unknown field `tipe`",
        ),
        (
            r#"[checks]
endpoints = [ { name = "ok", url = "http://ok/" }, { name = "api", url = "http//api:8000", type = "http" } ]"#,
            "checks.endpoints[1] (\"api\").url: not a valid URL",
        ),
        (
            r#"[checks]
endpoints = [ { name = "ftp", url = "ftp://files/", type = "ftp" } ]"#,
            "checks.endpoints[0] (\"ftp\").type: unknown check type \"ftp\"",
        ),
        (
            r#"[checks]
endpoints = [ { name = "db", url = "db:5432", type = "tcp", timeout_ms = "soon" } ]"#,
            "checks.endpoints[0] (\"db\").timeout_ms: invalid type",
        ),
        (
            r#"[dashboard]
port = 99999"#,
            "dashboard.port: invalid value",
        ),
        (
            r#"[alerts]
enabled = true
email = "not an address""#,
            "alerts.email:",
        ),
        (
            r#"[peers]
log_watcher = "log_watcher:9200""#,
            "peers.log_watcher: ",
        ),
        (
            r#"[peers]
webhook_handler = "ftp://webhook_handler/""#,
            "peers.webhook_handler: ftp://webhook_handler/ is not an http(s) URL",
        ),
    ];
    for (config, expected) in cases {
        binary::assert_config_rejected(config, check_config(config), expected);
    }
}

#[test]
fn a_peer_url_from_the_environment_is_checked_like_the_file() {
    let mut command = Command::new(BINARY);
    command
        .env_remove("HEALTHCHECK_CONFIG")
        .env_remove("CONFIG_PATH")
        .env("WEBHOOK_HANDLER_URL", "not a url");
    let result = binary::check_config(command, SPEC_CONFIG);
    binary::assert_config_rejected("WEBHOOK_HANDLER_URL", result, "peers.webhook_handler: ");

    let mut command = Command::new(BINARY);
    command
        .env_remove("HEALTHCHECK_CONFIG")
        .env_remove("CONFIG_PATH")
        .env("LOG_WATCHER_URL", "http://log_watcher:9200");
    let (code, _, stderr) = binary::check_config(command, SPEC_CONFIG);
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn spec_env_vars_are_honoured_and_sigterm_exits_cleanly() {
    let file = write_config(SPEC_CONFIG.replace("0.0.0.0", "127.0.0.1").as_str());
    let data = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = Command::new(BINARY)
        .env("HEALTHCHECK_CONFIG", file.path())
        .env("DASHBOARD_PORT", port.to_string())
        .env("DATA_DIR", data.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_until_answers(
        &format!("http://127.0.0.1:{port}/livez"),
        Duration::from_secs(10),
    );
    // The self-check subcommand used by the Docker HEALTHCHECK finds it through DASHBOARD_PORT.
    let selfcheck = Command::new(BINARY)
        .arg("selfcheck")
        .env("DASHBOARD_PORT", port.to_string())
        .status()
        .unwrap();
    assert!(selfcheck.success());

    assert_eq!(binary::terminate(&mut child).code(), Some(0));
    assert!(data.path().join("healthcheck.sqlite").exists());
}

#[test]
fn listen_flag_overrides_the_configured_port() {
    let file = write_config("[dashboard]\nport = 1\n");
    let data = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = Command::new(BINARY)
        .arg("--config")
        .arg(file.path())
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .arg("--data-dir")
        .arg(data.path())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_until_answers(
        &format!("http://127.0.0.1:{port}/health"),
        Duration::from_secs(10),
    );
    child.kill().unwrap();
    child.wait().unwrap();
}
