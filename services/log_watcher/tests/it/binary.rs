//! The binary as operators run it: the spec's config and env vars, the spec's stdout lines
//! (events, the summary, `Alert sent to:`), one-line config errors with exit code 2, and a
//! clean exit on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use service_kit_testing::binary::{self, free_port, wait_until_answers, write_config};
use service_kit_testing::{SmtpMode, SmtpServer};

use crate::support::{append, temp_dir};

const BINARY: &str = env!("CARGO_BIN_EXE_log_watcher");

/// The spec's example config, exactly as written there.
const SPEC_CONFIG: &str = r#"[log_sources]
docker_logs_dir = "/var/lib/docker/containers"
extra_files = ["/logs/web.log", "/logs/api.log"]

[filters]
levels = ["error", "warning"]
regexes = ["panic", "unauthorized", "exception"]

[alerts]
email = "your@email.com"
webhook = "https://discord.com/api/webhooks/..."
"#;

fn command() -> Command {
    let mut command = Command::new(BINARY);
    for var in [
        "CONFIG_PATH",
        "LOG_FILTER",
        "ALERT_EMAIL",
        "ALERT_WEBHOOK",
        "LOG_WATCHER_PORT",
        "DATA_DIR",
        "WEBHOOK_HANDLER_URL",
        "WEBHOOK_TOKEN",
    ] {
        command.env_remove(var);
    }
    command
}

fn check_config(text: &str) -> (i32, String, String) {
    binary::check_config(command(), text)
}

#[test]
fn the_spec_example_config_and_the_shipped_one_load_unchanged() {
    let (code, stdout, stderr) = check_config(SPEC_CONFIG);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.starts_with("config ok"), "{stdout}");
    let shipped =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config.toml")).unwrap();
    let (code, _, stderr) = check_config(&shipped);
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn bad_config_stops_start_up_with_one_line_naming_the_key() {
    let cases = [
        (
            "[log_sources]\nextra_file = [\"/logs/a.log\"]",
            "log_sources.extra_file: unknown field `extra_file`",
        ),
        (
            "[filters]\nlevels = [\"error\", \"loud\"]",
            "filters.levels[1]: unknown level \"loud\"",
        ),
        (
            "[filters]\nregexes = [\"ok\", \"(unclosed\"]",
            "filters.regexes[1]:",
        ),
        ("[api]\nport = 70000", "api.port: invalid value"),
        ("[alerts]\nemail = \"not an address\"", "alerts.email:"),
        ("[alerts]\nwebhook = \"ftp://nope\"", "alerts.webhook:"),
        (
            "[[alerts.rules]]\nname = \"x\"\nthreshold = 0",
            "alerts.rules[0] (\"x\").threshold: must be at least 1",
        ),
        (
            "[multiline]\nstart_pattern = \"[\"",
            "multiline.start_pattern:",
        ),
        (
            "[peers]\nwebhook_handler = \"webhook_handler:9000\"",
            "peers.webhook_handler:",
        ),
        (
            "[peers]\nwebhook_handler = \"ftp://webhook_handler\"",
            "peers.webhook_handler: ftp://webhook_handler/ is not an http(s) URL",
        ),
    ];
    for (config, expected) in cases {
        binary::assert_config_rejected(config, check_config(config), expected);
    }
}

#[test]
fn a_bad_webhook_handler_url_stops_start_up_whether_from_the_file_or_the_env() {
    let (_guard, dir) = temp_dir();
    let config = write_config("[peers]\nwebhook_handler = \"http://webhook_handler:9000\"\n");
    let out = command()
        .env("WEBHOOK_HANDLER_URL", "webhook_handler:9000")
        .env("DATA_DIR", dir.join("data"))
        .arg("--config")
        .arg(config.path())
        .arg("--listen")
        .arg(format!("127.0.0.1:{}", free_port()))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    binary::assert_config_rejected(
        "WEBHOOK_HANDLER_URL=webhook_handler:9000",
        (out.status.code().unwrap_or(-1), String::new(), stderr),
        "peers.webhook_handler: \"webhook_handler:9000\" is not a URL",
    );
}

/// Collects the child's stdout lines as they come.
fn stdout_lines(child: &mut Child) -> mpsc::Receiver<String> {
    let (sender, lines) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if sender.send(line).is_err() {
                return;
            }
        }
    });
    lines
}

fn wait_for_line(
    lines: &mpsc::Receiver<String>,
    seen: &mut Vec<String>,
    wanted: impl Fn(&str) -> bool,
) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(line) = seen.iter().find(|l| wanted(l)) {
            return line.clone();
        }
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) => seen.push(line),
            Err(_) => panic!("line not printed; stdout so far:\n{}", seen.join("\n")),
        }
    }
}

/// `Summary (last 2 s): 1 error, 0 warnings.` -> (1, 0).
fn summary_counts(line: &str) -> (u64, u64) {
    let number_before = |word: &str| -> u64 {
        let at = line
            .find(word)
            .unwrap_or_else(|| panic!("{word} in {line}"));
        line[..at]
            .trim_end()
            .rsplit(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    (number_before(" error"), number_before(" warning"))
}

#[tokio::test]
async fn the_spec_env_vars_and_stdout_lines_work_and_sigterm_exits_cleanly() {
    let Some(smtp) = SmtpServer::start(SmtpMode::Plain, None).await else {
        return;
    };
    let (_guard, dir) = temp_dir();
    let api = dir.join("api.log");
    let web = dir.join("web.log");
    let config = write_config(&format!(
        "[log_sources]\nextra_files = [{:?}, {:?}]\n[summary]\ninterval_secs = 2\n",
        api.display().to_string(),
        web.display().to_string()
    ));
    let port = free_port();
    let mut child = command()
        .env("CONFIG_PATH", config.path())
        .env("LOG_FILTER", "error,warning")
        .env("ALERT_EMAIL", "alerts@example.com")
        .env("SMTP_HOST", "127.0.0.1")
        .env("SMTP_PORT", smtp.port().to_string())
        .env("LOG_WATCHER_PORT", port.to_string())
        .env("DATA_DIR", dir.join("data"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lines = stdout_lines(&mut child);
    let mut seen = Vec::new();
    wait_until_answers(
        &format!("http://127.0.0.1:{port}/livez"),
        Duration::from_secs(10),
    );
    append(
        &api,
        "2024-06-12T01:23:45Z ERROR Database connection failed: timeout\n",
    );
    append(
        &web,
        "2024-06-12T01:23:50Z WARNING Deprecated API usage detected.\n",
    );
    append(&web, "2024-06-12T01:23:51Z DEBUG not an event\n");

    wait_for_line(&lines, &mut seen, |l| {
        l == "[2024-06-12T01:23:45Z][api][ERROR] Database connection failed: timeout"
    });
    wait_for_line(&lines, &mut seen, |l| {
        l == "[2024-06-12T01:23:50Z][web][WARNING] Deprecated API usage detected."
    });
    wait_for_line(&lines, &mut seen, |l| {
        l == "Alert sent to: alerts@example.com"
    });
    // The two lines may fall in two summaries; together they count each once.
    let mut totals = (0, 0);
    let mut summaries = 0;
    while totals != (1, 1) {
        let line = wait_for_line(&lines, &mut seen, |l| l.starts_with("Summary (last 2 s): "));
        seen.retain(|l| *l != line);
        let counts = summary_counts(&line);
        totals = (totals.0 + counts.0, totals.1 + counts.1);
        summaries += 1;
        assert!(
            summaries < 6 && totals.0 <= 1 && totals.1 <= 1,
            "{line}: {totals:?}"
        );
    }
    assert!(!seen.iter().any(|l| l.contains("not an event")), "{seen:?}");
    let mail = smtp
        .wait_for_messages(1, Duration::from_secs(10))
        .await
        .remove(0);
    assert_eq!(mail.to, vec!["alerts@example.com".to_string()]);

    assert_eq!(binary::terminate(&mut child).code(), Some(0));
    assert!(dir.join("data").join("log_watcher.sqlite").exists());
}

/// Starts the binary on `config` and `data`, waits until it answers; returns it and its port.
fn start_binary(config: &std::path::Path, data: &std::path::Path) -> (Child, u16) {
    let port = free_port();
    let child = command()
        .arg("--config")
        .arg(config)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .arg("--data-dir")
        .arg(data)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_until_answers(
        &format!("http://127.0.0.1:{port}/livez"),
        Duration::from_secs(10),
    );
    (child, port)
}

/// Polls `/logs?limit=5000` of the binary on `port` until it holds at least `count` events
/// or `within` passed; returns them.
async fn wait_for_events(port: u16, count: usize, within: Duration) -> Vec<serde_json::Value> {
    let deadline = Instant::now() + within;
    loop {
        let body: serde_json::Value =
            reqwest::get(format!("http://127.0.0.1:{port}/logs?limit=5000"))
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
        let events = body["events"].as_array().unwrap().clone();
        if events.len() >= count || Instant::now() > deadline {
            return events;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_in_the_middle_of_writing_neither_loses_nor_repeats_a_line() {
    let (_guard, dir) = temp_dir();
    let log = dir.join("app.log");
    let data = dir.join("data");
    let config = write_config(&format!(
        "[log_sources]\nextra_files = [{:?}]\n[filters]\nlevels = [\"error\"]\n[storage]\nring_size = 5000\n",
        log.display().to_string()
    ));
    let (mut first, first_port) = start_binary(config.path(), &data);
    // A writer appends numbered errors, some followed by an indented detail line that joins
    // them, while the watcher is killed (SIGKILL: no clean shutdown) and started again.
    let writer_log = log.clone();
    let writer = std::thread::spawn(move || {
        for i in 0..3000u32 {
            let text = if i % 7 == 0 {
                format!("ERROR line {i:05}\n  detail of {i:05}\n")
            } else {
                format!("ERROR line {i:05}\n")
            };
            append(&writer_log, &text);
            if i % 20 == 0 {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    });
    // Kill it once it has stored some lines, while the writer is still writing.
    let stored = wait_for_events(first_port, 100, Duration::from_secs(10)).await;
    assert!(
        stored.len() >= 100,
        "the first run stored only {}",
        stored.len()
    );
    first.kill().unwrap();
    first.wait().unwrap();
    assert!(
        !writer.is_finished(),
        "the kill came after the writing; make the writer slower"
    );
    writer.join().unwrap();
    let (mut second, port) = start_binary(config.path(), &data);

    let events = wait_for_events(port, 3000, Duration::from_secs(20)).await;
    second.kill().unwrap();
    second.wait().unwrap();
    let mut seen = vec![0u32; 3000];
    for event in &events {
        let message = event["message"].as_str().unwrap();
        let number: usize = message[5..10].parse().unwrap();
        seen[number] += 1;
        if number.is_multiple_of(7) {
            assert_eq!(
                message,
                format!("line {number:05}\n  detail of {number:05}")
            );
        }
    }
    let missing: Vec<usize> = (0..3000).filter(|n| seen[*n] == 0).collect();
    let repeated: Vec<usize> = (0..3000).filter(|n| seen[*n] > 1).collect();
    assert!(missing.is_empty(), "missing: {missing:?}");
    assert!(repeated.is_empty(), "repeated: {repeated:?}");
}
