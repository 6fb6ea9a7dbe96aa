//! The binary as operators run it: the spec's config and env vars, one-line config errors
//! with exit code 2, and a clean exit on SIGTERM.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

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

fn write_config(text: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
    file.write_all(text.as_bytes()).unwrap();
    file
}

fn check_config(text: &str) -> (i32, String, String) {
    let file = write_config(text);
    let out = Command::new(BINARY)
        .args(["--config"])
        .arg(file.path())
        .arg("check-config")
        .env_remove("HEALTHCHECK_CONFIG")
        .env_remove("CONFIG_PATH")
        .env_remove("DASHBOARD_PORT")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
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
    ];
    for (config, expected) in cases {
        let (code, _, stderr) = check_config(config);
        assert_eq!(code, 2, "exit code for {config}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "one line for {config}: {stderr}");
        assert!(stderr.starts_with("invalid config "), "{stderr}");
        assert!(
            stderr.contains(expected),
            "expected {expected:?} in {stderr:?}"
        );
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_until_answers(url: &str, within: Duration) {
    let deadline = Instant::now() + within;
    while service_kit::cli::selfcheck(url, Duration::from_secs(1)).is_err() {
        assert!(
            Instant::now() < deadline,
            "{url} did not answer within {within:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
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

    let started = Instant::now();
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no exit within 10 s of SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(0));
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
