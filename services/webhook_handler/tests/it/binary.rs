//! The binary as operators run it: the spec's config and env vars, the spec's stdout lines,
//! one-line config errors with exit code 2, a clean exit on SIGTERM, and a crash (SIGKILL)
//! in the middle of a job.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use service_kit_testing::binary::{self, free_port, wait_until_answers, write_config};

use crate::support::{github_signature, push_payload, script};

const BINARY: &str = env!("CARGO_BIN_EXE_webhook_handler");

/// The spec's example config, exactly as written there (and shipped in the image).
const SPEC_CONFIG: &str = include_str!("../../config.toml");

fn command() -> Command {
    let mut command = Command::new(BINARY);
    for var in [
        "CONFIG_PATH",
        "WEBHOOK_CONFIG",
        "WEBHOOK_PORT",
        "WEBHOOK_SECRET",
        "ACTION_SCRIPT",
        "WEBHOOK_ADMIN_TOKEN",
        "WEBHOOK_TOKEN",
        "ALERT_EMAIL",
        "ALERT_WEBHOOK",
        "DATA_DIR",
    ] {
        command.env_remove(var);
    }
    command
}

#[test]
fn the_specs_config_loads_unchanged_once_its_script_exists() {
    let dir = tempfile::tempdir().unwrap();
    let deploy = script(dir.path(), "deploy.sh", "true");
    let mut with_script = command();
    with_script.env("ACTION_SCRIPT", &deploy);
    let (code, stdout, stderr) = binary::check_config(with_script, SPEC_CONFIG);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout.trim(), "config ok: 1 hook(s), port 9000");
    // As written, without the mounted scripts folder, the missing script is named.
    binary::assert_config_rejected(
        SPEC_CONFIG,
        binary::check_config(command(), SPEC_CONFIG),
        "actions.push_event_script: /app/scripts/deploy.sh: No such file",
    );
}

#[test]
fn bad_config_stops_start_up_with_one_line_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let ok = script(dir.path(), "ok.sh", "true");
    let not_executable = dir.path().join("plain.sh");
    std::fs::write(&not_executable, "true").unwrap();
    let hook = |rest: &str| format!("[[hooks]]\nid = \"app\"\n{rest}\n");
    let compose_file = dir.path().join("docker-compose.yml");
    std::fs::write(
        &compose_file,
        "services:\n  api:\n    image: a\n  web:\n    image: b\n",
    )
    .unwrap();
    let deploy = |rest: &str| {
        hook(&format!(
            "secret = \"s\"\n[hooks.deploy]\ncompose_file = \"{}\"\nhealth_url = \"http://127.0.0.1:9100\"\n{rest}",
            compose_file.display()
        ))
    };
    let cases = [
        (hook("secret = \"s\"\ncomand = [\"x\"]"), "hooks[0] (\"app\").comand: unknown field `comand`".to_string()),
        (hook("command = [\"/bin/true\"]"), "hooks[0] (\"app\").secret: is required".to_string()),
        (hook("secret = \"s\"\nbranches = [\"release/[x\"]"), "hooks[0] (\"app\").branches[0]:".to_string()),
        (hook("secret = \"s\"\nallowed_ips = [\"10.0.0.0/8\", \"10.0.0/99\"]"), "hooks[0] (\"app\").allowed_ips[1]:".to_string()),
        (hook("secret = \"s\"\nscript = \"/nonexistent/deploy.sh\""), "hooks[0] (\"app\").script: /nonexistent/deploy.sh: No such file".to_string()),
        (hook(&format!("secret = \"s\"\nscript = \"{}\"", not_executable.display())), "is not executable".to_string()),
        (hook("secret_file = \"/nonexistent/secret\""), "hooks[0] (\"app\").secret_file: cannot read /nonexistent/secret".to_string()),
        (hook("secret_env = \"SURELY_UNSET_HOOK_SECRET\""), "hooks[0] (\"app\").secret_env: the environment variable SURELY_UNSET_HOOK_SECRET is not set".to_string()),
        (hook("secret = \"s\"\nverify = \"none\""), "hooks[0] (\"app\").verify:".to_string()),
        (hook("provider = \"bitbucket\"\nsecret = \"s\""), "hooks[0] (\"app\").provider: unknown variant `bitbucket`".to_string()),
        (hook("provider = \"standard\"\nsecret = \"not base64!\""), "a Standard Webhooks secret is whsec_".to_string()),
        (hook(&format!("secret = \"s\"\ncommand = [\"{ok}\"]\nscript = \"{ok}\"")), "set only one of command, script, compose and deploy".to_string()),
        (hook("secret = \"s\"\ncompose = { file = \"/nonexistent/compose.yml\" }"), "hooks[0] (\"app\").compose.file:".to_string()),
        (hook("secret = \"s\"\nnotify = \"not a target\""), "hooks[0] (\"app\").notify[0]:".to_string()),
        (format!("{}{}", hook("secret = \"s\""), hook("secret = \"t\"")), "hooks[1] (\"app\").id: is used by another hook".to_string()),
        ("[actions]\npush_event_script = \"/bin/true\"".to_string(), "server.secret: is required".to_string()),
        ("[server]\nport = 70000".to_string(), "server.port: invalid value".to_string()),
        ("[server]\ntrusted_proxies = [\"nope\"]".to_string(), "server.trusted_proxies[0]:".to_string()),
        ("[alerts]\nreminder_mins = 5".to_string(), "alerts.reminder_mins:".to_string()),
        (deploy("services = [\"api\", \"wrker\"]"), "hooks[0] (\"app\").deploy.services[1]: ".to_string() + &format!("{} has no service \"wrker\" (it has: api, web)", compose_file.display())),
        (deploy("services = []"), "hooks[0] (\"app\").deploy.services: must name at least one service".to_string()),
        (
            hook("secret = \"s\"\n[hooks.deploy]\nhealth_url = \"http://127.0.0.1:9100\"\nservices = [\"api\"]"),
            "hooks[0] (\"app\").deploy.compose_file: is required, unless record, update and restore say how to deploy".to_string(),
        ),
        (
            hook("secret = \"s\"\n[hooks.deploy]\nhealth_url = \"http://127.0.0.1:9100\"\nservices = [\"api\"]\nrecord = [\"/bin/true\"]\nupdate = [\"/bin/true\"]"),
            "hooks[0] (\"app\").deploy.restore: is required with record".to_string(),
        ),
        (deploy("services = [\"api\"]\nrecord = [\"/bin/true\"]"), "hooks[0] (\"app\").deploy.record: is for deploys without compose_file".to_string()),
        (deploy("services = [\"api\"]\nupdate = \"rebuild\""), "hooks[0] (\"app\").deploy.update:".to_string()),
        (deploy("services = [\"api\"]\nmax_error_events = 0"), "hooks[0] (\"app\").deploy.max_error_events: needs logs_url".to_string()),
        (
            hook(&format!(
                "secret = \"s\"\n[hooks.deploy]\ncompose_file = \"{}\"\nhealth_url = \"nope\"\nservices = [\"api\"]",
                compose_file.display()
            )),
            "hooks[0] (\"app\").deploy.health_url: \"nope\" is not a URL".to_string(),
        ),
    ];
    for (config, expected) in cases {
        binary::assert_config_rejected(
            &config,
            binary::check_config(command(), &config),
            &expected,
        );
    }
}

/// Reads a child's stdout lines on a thread, so the test can wait for a line.
fn lines_of(child: &mut Child) -> mpsc::Receiver<String> {
    let stdout = child.stdout.take().expect("piped stdout");
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    receiver
}

/// Waits for a line containing `text`; returns every line read until then.
fn wait_for_line(lines: &mpsc::Receiver<String>, text: &str, within: Duration) -> Vec<String> {
    let deadline = Instant::now() + within;
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) => {
                let found = line.contains(text);
                seen.push(line);
                if found {
                    return seen;
                }
            }
            Err(_) => panic!("no line with {text:?} within {within:?}; saw {seen:#?}"),
        }
    }
}

/// POSTs a signed GitHub push of `repo` to `path` on 127.0.0.1:`port` with plain HTTP/1.1
/// (these tests run outside a runtime); returns the whole answer.
fn post_push(port: u16, path: &str, secret: &str, delivery: &str, repo: &str) -> String {
    use std::io::{Read, Write};
    let body = serde_json::to_vec(&push_payload(repo, "main", "abc123")).unwrap();
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
         X-GitHub-Event: push\r\nX-GitHub-Delivery: {delivery}\r\nX-Hub-Signature-256: {}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        github_signature(secret, &body),
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(&body).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

/// GETs `path` from `address`:`port`; returns the whole answer.
fn get_from(address: std::net::IpAddr, port: u16, path: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect((address, port)).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

fn get(port: u16, path: &str) -> String {
    get_from(std::net::Ipv4Addr::LOCALHOST.into(), port, path)
}

#[test]
fn env_vars_alone_configure_the_single_hook_and_the_spec_lines_are_printed() {
    let dir = tempfile::tempdir().unwrap();
    let deploy = script(dir.path(), "deploy.sh", "echo deploying");
    let port = free_port();
    let mut child = command()
        .env("WEBHOOK_PORT", port.to_string())
        .env("WEBHOOK_SECRET", "env-secret")
        .env("ACTION_SCRIPT", &deploy)
        .env("DATA_DIR", dir.path().join("data"))
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lines = lines_of(&mut child);
    wait_until_answers(
        &format!("http://127.0.0.1:{port}/livez"),
        Duration::from_secs(10),
    );
    assert!(post_push(port, "/", "wrong", "e-0", "yourorg/yourrepo").starts_with("HTTP/1.1 401"));
    assert!(
        post_push(port, "/", "env-secret", "e-1", "yourorg/yourrepo").starts_with("HTTP/1.1 202")
    );
    let seen = wait_for_line(&lines, "Deployment completed.", Duration::from_secs(10));
    let messages: Vec<&str> = seen
        .iter()
        .filter_map(|line| line.split_once("] [").map(|(_, rest)| rest))
        .collect();
    assert!(
        messages[0].starts_with("WARN] Refused a delivery to hook default"),
        "{seen:#?}"
    );
    assert_eq!(
        messages[1..],
        [
            "INFO] Received push event for repo yourorg/yourrepo.",
            "INFO] Signature validated.",
            "INFO] Queued job 1 for hook default.",
            "INFO] Running deploy.sh...",
            "INFO] Deployment completed.",
        ]
    );
    for line in &seen {
        // `[2024-06-12T13:03:00Z] [INFO] ...`
        assert_eq!(&line[..1], "[");
        assert_eq!(&line[20..23], "Z] ", "{line}");
    }
    let status = binary::terminate(&mut child);
    assert_eq!(status.code(), Some(0));
}

#[test]
fn a_crash_in_the_middle_of_a_job_leaves_it_interrupted_and_the_delivery_remembered() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let slow = script(dir.path(), "slow.sh", "echo started; exec sleep 30");
    let config = write_config(&format!(
        "[[hooks]]\nid = \"app\"\nsecret = \"s\"\ncommand = [\"{slow}\"]\n"
    ));
    let start = |port: u16| {
        command()
            .arg("--config")
            .arg(config.path())
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--data-dir")
            .arg(&data)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let port = free_port();
    let mut child = start(port);
    let lines = lines_of(&mut child);
    wait_until_answers(
        &format!("http://127.0.0.1:{port}/livez"),
        Duration::from_secs(10),
    );
    let post = |port: u16, delivery: &str| post_push(port, "/hooks/app", "s", delivery, "org/app");
    assert!(post(port, "crash-1").starts_with("HTTP/1.1 202"));
    wait_for_line(&lines, "Running slow.sh...", Duration::from_secs(10));
    std::thread::sleep(Duration::from_millis(1500));
    child.kill().unwrap();
    child.wait().unwrap();

    let port = free_port();
    let mut child = start(port);
    wait_until_answers(
        &format!("http://127.0.0.1:{port}/livez"),
        Duration::from_secs(10),
    );
    let job = get(port, "/jobs/1");
    assert!(job.contains("\"state\":\"interrupted\""), "{job}");
    assert!(
        job.contains("started"),
        "output saved before the crash: {job}"
    );
    let again = post(port, "crash-1");
    assert!(again.starts_with("HTTP/1.1 200"), "{again}");
    assert!(again.contains("\"status\":\"duplicate\""), "{again}");
    assert_eq!(binary::terminate(&mut child).code(), Some(0));
}

/// This machine's first non-loopback IPv4 address (the route a packet out would take).
fn outside_address() -> Option<std::net::IpAddr> {
    let socket = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    socket.connect("192.0.2.1:9").ok()?;
    let ip = socket.local_addr().ok()?.ip();
    (!ip.is_loopback()).then_some(ip)
}

#[test]
fn without_credentials_jobs_are_shown_to_the_local_host_only() {
    let Some(outside) = outside_address() else {
        assert!(
            service_kit_testing::require_component(
                "a non-loopback address",
                false,
                "to reach the service as another host would"
            ),
            "unreachable"
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let config = write_config("[[hooks]]\nid = \"app\"\nsecret = \"s\"\n");
    let port = free_port();
    let mut child = command()
        .arg("--config")
        .arg(config.path())
        .arg("--listen")
        .arg(format!("0.0.0.0:{port}"))
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_until_answers(
        &format!("http://127.0.0.1:{port}/livez"),
        Duration::from_secs(10),
    );
    assert!(get(port, "/jobs").starts_with("HTTP/1.1 200"));
    let from_outside = |path: &str| get_from(outside, port, path);
    for path in ["/jobs", "/jobs/1/log", "/dashboard", "/metrics", "/hooks"] {
        let answer = from_outside(path);
        assert!(answer.starts_with("HTTP/1.1 403"), "{path}: {answer}");
        assert!(answer.contains("only served to the local host"), "{answer}");
    }
    assert!(from_outside("/livez").starts_with("HTTP/1.1 200"));
    assert_eq!(binary::terminate(&mut child).code(), Some(0));
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(stderr.contains("No [auth] credentials"), "{stderr}");
}

#[test]
fn an_unreachable_docker_engine_fails_a_deploy_with_that_reason_and_the_handler_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let compose_file = dir.path().join("docker-compose.yml");
    std::fs::write(
        &compose_file,
        "services:\n  api:\n    image: example/app:current\n",
    )
    .unwrap();
    let config = write_config(&format!(
        "[[hooks]]\nid = \"app\"\nsecret = \"s\"\n[hooks.deploy]\ncompose_file = \"{}\"\n\
         project = \"nowhere\"\nservices = [\"api\"]\nhealth_url = \"http://127.0.0.1:9\"\n",
        compose_file.display()
    ));
    let port = free_port();
    let mut child = command()
        .arg("--config")
        .arg(config.path())
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_until_answers(
        &format!("http://127.0.0.1:{port}/livez"),
        Duration::from_secs(10),
    );
    let answer = post_push(port, "/hooks/app", "s", "docker-1", "org/app");
    assert!(answer.starts_with("HTTP/1.1 202"), "{answer}");
    let deadline = Instant::now() + Duration::from_secs(60);
    let job = loop {
        let job = get(port, "/jobs/1");
        if job.contains("\"state\":\"failed\"") || Instant::now() > deadline {
            break job;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(job.contains("\"state\":\"failed\""), "{job}");
    let body: serde_json::Value =
        serde_json::from_str(job.split_once("\r\n\r\n").map_or("", |(_, b)| b)).unwrap();
    let reason = body["reason"].as_str().unwrap_or("");
    assert!(
        reason.starts_with("docker ps failed: Cannot connect to the Docker daemon"),
        "the reason names Docker: {reason}"
    );
    assert!(get(port, "/livez").starts_with("HTTP/1.1 200"));
    assert_eq!(binary::terminate(&mut child).code(), Some(0));
}
