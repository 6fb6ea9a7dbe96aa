//! The loop the sidecars exist for, end to end on the real Docker engine, with the example
//! stack of `examples/compose` started by its own `up` script and the sidecars themselves
//! running as containers built from their Dockerfiles:
//!
//! 1. a signed push of a good version (v2) deploys it, it stays, and the deploy shows as a
//!    marker on healthcheck_dashboard and log_watcher;
//! 2. a version whose api fails its health check (v3) is rolled back by itself within the
//!    grace time: the image id that ran before runs again, health is green again, and one
//!    notification reaches a local receiver, naming the failed check and carrying the api's
//!    own error lines from log_watcher (healthcheck_dashboard's own alerts stay quiet during
//!    the deploy's maintenance window);
//! 3. a version whose api crashes at start (v4) is rolled back the same way;
//! 4. log_watcher restarted in the middle loses no line of the worker's.
//!
//! No registry is reachable: the Dockerfiles' bases are stand-ins (`service_kit_testing`),
//! the app is built on busybox, the webhook handler's base carries this machine's `docker`
//! and `docker-compose`. Every container, network, volume and image the test made is removed
//! at the end, also when it fails. The figures it measures are printed.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;
use service_kit_testing::docker::{
    add_docker_cli, busybox, busybox_rootfs, docker, import_image, remove_run, require_compose,
    take_image_test_turn, BusyboxImage, StandInBases,
};
use service_kit_testing::FakeReceiver;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The example stack of one run, with its own names, ports and tokens.
struct Stack {
    run: String,
    project: String,
    env_file: PathBuf,
    ports: Ports,
    tokens: Tokens,
    app_image: String,
    _dir: tempfile::TempDir,
}

#[derive(Clone, Copy)]
struct Ports {
    health: u16,
    logs: u16,
    hooks: u16,
    web: u16,
}

struct Tokens {
    secret: String,
    dashboard: String,
    logs: String,
    hooks: String,
}

impl Drop for Stack {
    fn drop(&mut self) {
        let _ = self.script("down", &["--images"]).output();
        remove_run(&self.run);
    }
}

impl Stack {
    /// One of `examples/compose`'s scripts, with this run's environment.
    fn script(&self, name: &str, args: &[&str]) -> Command {
        let mut command = Command::new(Path::new(ROOT).join("examples/compose").join(name));
        command.args(args).env("ENV_FILE", &self.env_file);
        command
    }

    fn get(&self, port: u16, path: &str, token: &str) -> (u16, Value) {
        let response = reqwest::blocking_get(port, path, token);
        let json = serde_json::from_str(&response.1).unwrap_or(Value::Null);
        (response.0, json)
    }

    fn push(&self, version: &str) -> i64 {
        let out = self.script("push", &[version]).output().unwrap();
        let answer = String::from_utf8_lossy(&out.stdout);
        let json: Value = serde_json::from_str(answer.trim())
            .unwrap_or_else(|e| panic!("push {version} answered {answer:?}: {e}"));
        assert_eq!(json["status"], "queued", "{json}");
        json["job_id"].as_i64().unwrap()
    }

    fn job(&self, id: i64) -> Value {
        self.get(self.ports.hooks, &format!("/jobs/{id}"), &self.tokens.hooks)
            .1
    }

    fn wait_job_end(&self, id: i64, within: Duration) -> Value {
        let deadline = Instant::now() + within;
        loop {
            let job = self.job(id);
            let state = job["state"].as_str().unwrap_or("");
            if !state.is_empty() && state != "queued" && state != "running" {
                return job;
            }
            assert!(Instant::now() < deadline, "job {id} did not end: {job:#}");
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    fn wait_all_up(&self, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let (_, health) = self.get(self.ports.health, "/health", "");
            let up = ["api", "web", "worker"]
                .iter()
                .all(|s| health["services"][s]["status"] == "up");
            if up {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the stack is not green: {health:#}"
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    fn container(&self, service: &str) -> String {
        format!("{}_{service}_1", self.project)
    }

    fn image_of(&self, service: &str) -> String {
        docker(&[
            "inspect",
            "--format",
            "{{.Image}}",
            &self.container(service),
        ])
        .trim()
        .to_string()
    }

    fn image_id(&self, version: &str) -> String {
        docker(&[
            "inspect",
            "--format",
            "{{.Id}}",
            &format!("{}:{version}", self.app_image),
        ])
        .trim()
        .to_string()
    }
}

/// A tiny blocking HTTP/1.1 client (these tests run outside a runtime).
mod reqwest {
    use std::io::{Read, Write};

    /// GETs `path` on 127.0.0.1:`port` with a bearer `token` (when not empty): (status, body).
    pub fn blocking_get(port: u16, path: &str, token: &str) -> (u16, String) {
        let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
            return (0, String::new());
        };
        let auth = if token.is_empty() {
            String::new()
        } else {
            format!("Authorization: Bearer {token}\r\n")
        };
        let _ = write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: localhost\r\n{auth}Connection: close\r\n\r\n"
        );
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer);
        let status = answer
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let body = answer
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default();
        (status, body)
    }
}

/// The debug binaries `cargo test --workspace` built beside this test.
fn service_binaries() -> Vec<PathBuf> {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(Path::parent).unwrap().to_path_buf();
    ["healthcheck_dashboard", "log_watcher", "webhook_handler"]
        .iter()
        .map(|name| {
            let path = dir.join(name);
            assert!(
                path.exists(),
                "{} is missing: build the workspace first (cargo build --workspace)",
                path.display()
            );
            path
        })
        .collect()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("0.0.0.0:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn random_token() -> String {
    format!("{:032x}", fastrand_u128())
}

fn fastrand_u128() -> u128 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    nanos ^ (u128::from(std::process::id()) << 64)
}

fn step_seconds(job: &Value, name: &str) -> Option<f64> {
    let step = job["steps"]
        .as_array()?
        .iter()
        .find(|s| s["name"] == name)?;
    let start = chrono::DateTime::parse_from_rfc3339(step["started_at"].as_str()?).ok()?;
    let end = chrono::DateTime::parse_from_rfc3339(step["finished_at"].as_str()?).ok()?;
    Some((end - start).num_milliseconds() as f64 / 1000.0)
}

#[test]
fn the_example_stack_deploys_good_versions_and_rolls_back_bad_ones_by_itself() {
    let Some(base) = BusyboxImage::import("e2e-app-base", "the example stack runs on the engine")
    else {
        return;
    };
    if !require_compose("the example stack is started with docker-compose") {
        return;
    }
    let Some(busybox) = busybox() else {
        return;
    };
    let _turn = take_image_test_turn();
    let run = base.run_id().to_string();
    let compact: String = run.chars().filter(char::is_ascii_alphanumeric).collect();
    let dir = tempfile::tempdir().unwrap();

    // The Dockerfiles' bases: one builder holding the three binaries, a runtime with their
    // libraries, and for the webhook handler that runtime plus docker and docker-compose.
    let binaries = service_binaries();
    let binaries: Vec<&Path> = binaries.iter().map(PathBuf::as_path).collect();
    let bases = StandInBases::for_run("e2e", &run);
    bases.import_all(dir.path(), &busybox, &binaries, &run);
    let hooks_runtime = format!("sidecars-test/e2e-hooks-runtime-base:{run}");
    let rootfs = dir.path().join("hooks-runtime");
    busybox_rootfs(&rootfs, &busybox, &binaries);
    add_docker_cli(&rootfs);
    import_image(&rootfs, &hooks_runtime, &run);

    let receiver_runtime = tokio::runtime::Runtime::new().unwrap();
    let receiver = receiver_runtime.block_on(FakeReceiver::start_for_containers());
    let ports = Ports {
        health: free_port(),
        logs: free_port(),
        hooks: free_port(),
        web: free_port(),
    };
    let tokens = Tokens {
        secret: random_token(),
        dashboard: random_token(),
        logs: random_token(),
        hooks: random_token(),
    };
    let project = format!("sidecarse2e{compact}");
    let app_image = format!("sidecars-test/e2e-app-{compact}");
    let env_file = dir.path().join("stack.env");
    std::fs::write(
        &env_file,
        format!(
            "COMPOSE_PROJECT_NAME={project}\nAPP_HOOK_SECRET={}\nDASHBOARD_TOKEN={}\n\
             LOG_WATCHER_TOKEN={}\nWEBHOOK_TOKEN={}\nAPP_IMAGE={app_image}\n\
             APP_BASE_IMAGE={}\nSIDECAR_IMAGE_PREFIX=sidecars-test/e2e-{compact}\n\
             RUST_IMAGE={}\nRUNTIME_IMAGE={}\nWEBHOOK_RUNTIME_IMAGE={hooks_runtime}\n\
             INSTALL_DOCKER_CLI=false\nHEALTH_PORT={}\nLOGS_PORT={}\nHOOKS_PORT={}\nWEB_PORT={}\n\
             ALERT_WEBHOOK=http://host.docker.internal:{}/hook\n",
            tokens.secret,
            tokens.dashboard,
            tokens.logs,
            tokens.hooks,
            base.tag,
            bases.builder,
            bases.runtime,
            ports.health,
            ports.logs,
            ports.hooks,
            ports.web,
            receiver.port(),
        ),
    )
    .unwrap();
    let stack = Stack {
        run,
        project,
        env_file,
        ports,
        tokens,
        app_image,
        _dir: dir,
    };

    // One command starts it all.
    let started = Instant::now();
    let up = stack.script("up", &[]).output().unwrap();
    assert!(
        up.status.success(),
        "up failed:\n{}\n{}",
        String::from_utf8_lossy(&up.stdout),
        String::from_utf8_lossy(&up.stderr)
    );
    stack.wait_all_up(Duration::from_secs(120));
    eprintln!("[e2e] stack up and green in {:?}", started.elapsed());

    // 1. A good version stays, and shows as a deploy marker.
    let pushed = Instant::now();
    let good = stack.push("v2");
    let job = stack.wait_job_end(good, Duration::from_secs(180));
    let good_took = pushed.elapsed();
    assert_eq!(job["state"], "succeeded", "{job:#}");
    assert_eq!(stack.image_of("api"), stack.image_id("v2"));
    eprintln!("[e2e] push -> succeeded in {good_took:?}: {}", timing(&job));
    for (port, token) in [
        (stack.ports.health, &stack.tokens.dashboard),
        (stack.ports.logs, &stack.tokens.logs),
    ] {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let (_, deploys) = stack.get(port, "/api/deploys", token);
            let listed = deploys["deploys"]
                .as_array()
                .is_some_and(|d| d.iter().any(|d| d["job"] == good));
            if listed {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "no marker for job {good} on port {port}: {deploys}"
            );
            std::thread::sleep(Duration::from_secs(1));
        }
    }

    // 2. A version failing its health check is rolled back by itself.
    let pushed = Instant::now();
    let bad = stack.push("v3");
    let job = stack.wait_job_end(bad, Duration::from_secs(240));
    let bad_took = pushed.elapsed();
    assert_eq!(job["state"], "rolled_back", "{job:#}");
    assert_eq!(
        stack.image_of("api"),
        stack.image_id("v2"),
        "the old image runs again"
    );
    stack.wait_all_up(Duration::from_secs(60));
    eprintln!(
        "[e2e] push -> rolled_back (health) in {bad_took:?}: {}",
        timing(&job)
    );
    receiver_runtime.block_on(receiver.wait_for(1, Duration::from_secs(30)));
    std::thread::sleep(Duration::from_secs(5));
    let notes: Vec<Value> = receiver
        .requests()
        .into_iter()
        .filter_map(|r| r.json)
        .collect();
    assert_eq!(
        notes.len(),
        1,
        "one notification, no page during the deploy: {notes:#?}"
    );
    let text = notes[0]["text"].as_str().unwrap_or("");
    assert!(text.contains("api"), "{text}");
    assert!(
        text.contains("database connection refused"),
        "the api's own error lines: {text}"
    );

    // 3. A version crashing at start is rolled back the same way.
    let pushed = Instant::now();
    let crash = stack.push("v4");
    let job = stack.wait_job_end(crash, Duration::from_secs(240));
    let crash_took = pushed.elapsed();
    assert_eq!(job["state"], "rolled_back", "{job:#}");
    assert_eq!(stack.image_of("api"), stack.image_id("v2"));
    stack.wait_all_up(Duration::from_secs(60));
    eprintln!(
        "[e2e] push -> rolled_back (crash) in {crash_took:?}: {}",
        timing(&job)
    );

    // 4. log_watcher restarts while the worker goes on writing: every slow-job warning of
    //    the worker's container is in log_watcher once, before, across and after the restart.
    let worker = docker(&[
        "inspect",
        "--format",
        "{{.Config.Hostname}}",
        &stack.container("worker"),
    ]);
    let worker = worker.trim().to_string();
    std::thread::sleep(Duration::from_secs(7));
    docker(&["restart", "--time", "5", &stack.container("log_watcher")]);
    std::thread::sleep(Duration::from_secs(10));
    let written: BTreeSet<u64> = docker(&["logs", &stack.container("worker")])
        .lines()
        .filter_map(|line| slow_job_number(line, &worker))
        .collect();
    let deadline = Instant::now() + Duration::from_secs(30);
    let (read, newest_written) = loop {
        let (_, events) = stack.get(
            stack.ports.logs,
            "/logs?service=worker&level=warning&since=1h&limit=10000",
            &stack.tokens.logs,
        );
        let read: Vec<u64> = events["events"]
            .as_array()
            .map(|events| {
                events
                    .iter()
                    .filter_map(|e| slow_job_number(e["message"].as_str().unwrap_or(""), &worker))
                    .collect()
            })
            .unwrap_or_default();
        let newest_written = *written.iter().max().expect("the worker wrote slow jobs");
        if read.contains(&newest_written) || Instant::now() > deadline {
            break (read, newest_written);
        }
        std::thread::sleep(Duration::from_secs(1));
    };
    let read_set: BTreeSet<u64> = read.iter().copied().collect();
    assert_eq!(
        read.len(),
        read_set.len(),
        "a line was read twice: {read:?}"
    );
    let missing: Vec<&u64> = written
        .iter()
        .filter(|n| **n <= newest_written && !read_set.contains(n))
        .collect();
    assert!(
        missing.is_empty(),
        "lines lost across the restart: {missing:?} (read {read:?})"
    );
    assert!(
        written.len() >= 5,
        "the worker wrote too little to tell: {written:?}"
    );
}

/// `job 12 was slow (1200 ms) on HOST` → 12, for the worker container `host` only.
fn slow_job_number(line: &str, host: &str) -> Option<u64> {
    if !line.trim_end().ends_with(&format!("on {host}")) {
        return None;
    }
    let rest = line.split("job ").nth(1)?;
    let (number, tail) = rest.split_once(' ')?;
    tail.starts_with("was slow")
        .then(|| number.parse().ok())
        .flatten()
}

/// How a deploy's time split between its steps.
fn timing(job: &Value) -> String {
    job["steps"]
        .as_array()
        .map(|steps| {
            steps
                .iter()
                .filter_map(|s| {
                    let name = s["name"].as_str()?;
                    step_seconds(job, name).map(|secs| format!("{name} {secs:.1}s"))
                })
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}
