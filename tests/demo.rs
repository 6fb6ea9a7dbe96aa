//! The README's first command: `sidecars demo` starts the demo stack, the healthcheck
//! dashboard and the log watcher on 127.0.0.1, prints the URLs, shows all three colours and
//! the failing worker's error (its traceback joined into one event), and stops cleanly on
//! SIGTERM; and its webhook handler runs the demo hook when the printed `curl` is pasted.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn demo_prints_its_urls_and_shows_up_degraded_and_down_services_and_their_logs() {
    let free_port = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    };
    let (port, logs_port, hooks_port) = (free_port(), free_port(), free_port());
    let data = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_sidecars"))
        .args(["demo", "--health-port", &port.to_string()])
        .args(["--logs-port", &logs_port.to_string()])
        .args(["--hooks-port", &hooks_port.to_string(), "--data-dir"])
        .arg(data.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let banner: Vec<String> = (0..14).map(|_| lines.next().unwrap().unwrap()).collect();
    assert!(
        banner[1].contains(&format!("http://127.0.0.1:{port}/dashboard")),
        "{banner:?}"
    );
    assert!(
        banner[4].contains(&format!("http://127.0.0.1:{logs_port}/dashboard")),
        "{banner:?}"
    );

    let deadline = Instant::now() + Duration::from_secs(20);
    let health = loop {
        let body = http_get(port, "/health");
        if body.contains("\"worker\"") && !body.contains("unknown") {
            break body;
        }
        assert!(
            Instant::now() < deadline,
            "demo did not finish its first round: {body}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let json: serde_json::Value = serde_json::from_str(&health).unwrap();
    assert_eq!(json["status"], "unhealthy");
    assert_eq!(json["services"]["api"]["status"], "up");
    assert_eq!(json["services"]["web"]["status"], "degraded");
    assert_eq!(json["services"]["worker"]["status"], "down");

    // The broken worker's log: one error event carrying its whole traceback.
    let deadline = Instant::now() + Duration::from_secs(20);
    let worker_events = loop {
        let body = http_get(logs_port, "/logs?service=worker");
        let json: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        if json["events"].as_array().is_some_and(|e| !e.is_empty()) {
            break json;
        }
        assert!(Instant::now() < deadline, "no worker events: {body}");
        std::thread::sleep(Duration::from_millis(200));
    };
    let event = &worker_events["events"][0];
    assert_eq!(event["level"], "error");
    let message = event["message"].as_str().unwrap();
    assert!(
        message.starts_with("Database connection failed: timeout\nTraceback"),
        "{message}"
    );
    assert!(
        message.ends_with("TimeoutError: database is on fire"),
        "{message}"
    );

    // The printed curl, pasted into a shell, sends the demo hook a signed push; its job runs.
    assert!(
        banner[7].contains(&format!("http://127.0.0.1:{hooks_port}/dashboard")),
        "{banner:?}"
    );
    let curl = banner[9].trim();
    assert!(curl.starts_with("curl "), "{banner:?}");
    let answer = Command::new("sh")
        .args(["-c", curl])
        .output()
        .expect("run the printed curl");
    let answer = String::from_utf8_lossy(&answer.stdout).into_owned();
    assert!(answer.contains("\"status\":\"queued\""), "{answer}");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let job = http_get(hooks_port, "/jobs/1");
        if job.contains("\"state\":\"succeeded\"") {
            assert!(job.contains("Deploying demo/app at 9f86d08"), "{job}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the demo hook's job did not succeed: {job}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    // The loop without Docker: a broken api version, deployed by the printed curl, is rolled
    // back by itself and the api is green again; the deploy shows on the health page.
    assert!(banner[10].starts_with("Deploy a broken api"), "{banner:?}");
    let curl = banner[11].trim();
    let answer = Command::new("sh").args(["-c", curl]).output().unwrap();
    let answer = String::from_utf8_lossy(&answer.stdout).into_owned();
    let job: serde_json::Value = serde_json::from_str(&answer).unwrap_or_default();
    let id = job["job_id"].as_i64().unwrap_or_else(|| panic!("{answer}"));
    let deadline = Instant::now() + Duration::from_secs(60);
    let ended = loop {
        let job: serde_json::Value =
            serde_json::from_str(&http_get(hooks_port, &format!("/jobs/{id}"))).unwrap_or_default();
        let state = job["state"].as_str().unwrap_or("").to_string();
        if !["", "queued", "running"].contains(&state.as_str()) {
            break job;
        }
        assert!(
            Instant::now() < deadline,
            "the broken deploy did not end: {job}"
        );
        std::thread::sleep(Duration::from_millis(250));
    };
    assert_eq!(ended["state"], "rolled_back", "{ended:#}");
    assert!(
        ended["output"]
            .as_str()
            .unwrap_or("")
            .contains("the demo api runs v1 now"),
        "{ended:#}"
    );
    let health: serde_json::Value =
        serde_json::from_str(&http_get(port, "/health/api")).unwrap_or_default();
    assert_eq!(health["status"], "up", "{health}");

    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "demo exit status {status}");
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10));
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A plain HTTP/1.1 GET returning the body (the demo answers small JSON documents).
fn http_get(port: u16, path: &str) -> String {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return String::new();
    };
    let _ = write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    );
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_string())
        .unwrap_or_default()
}
