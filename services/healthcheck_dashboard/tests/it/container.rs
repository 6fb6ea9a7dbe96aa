//! The Docker image as users run it: the Dockerfile builds it, the spec's Compose snippet
//! (the root docker-compose.yml) starts it, and the container runs as a non-root user, serves
//! `/health` and `/dashboard` on port 9100, reports itself healthy through the binary's own
//! `selfcheck`, and exits 0 promptly on `docker stop`.
//!
//! No registry is reachable from the test machines, so the Dockerfile's two base images are
//! local stand-ins made with `docker import` and passed through its `RUST_IMAGE` and
//! `RUNTIME_IMAGE` build arguments, as an air-gapped builder would:
//! - the runtime base is busybox (for the `RUN mkdir ... && chown ...` line and `docker exec`)
//!   plus exactly the shared libraries the binary links against, and nothing else, so the
//!   test also proves the image needs no packages;
//! - the builder base is the runtime base plus no-op `cargo` and `strip` and the binary this
//!   test run already compiled, at the path the real `cargo build --release` would leave it.
//!
//! Every other line of the Dockerfile, `.dockerignore` and the Compose file runs for real.

use std::fs;
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;
use service_kit::test_util::docker::{
    busybox, docker, eventually, published_get, remove_run, require_compose, require_engine, run,
    take_image_test_turn, unique_run_id, HttpResponse, StandInBases,
};

const BINARY: &str = env!("CARGO_BIN_EXE_healthcheck_dashboard");
const WORKSPACE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
/// `container_name` in the spec's snippet.
const CONTAINER: &str = "healthcheck_dashboard";
/// The host side of the snippet's `"9100:9100"`.
const PORT: u16 = 9100;
/// Compose projects of this test are named with this prefix and the run id.
const PROJECT_PREFIX: &str = "hcdimagetest";
/// The password in the DSN of the example config.toml baked into the image.
const DSN_PASSWORD: &str = "mypassword";

#[test]
fn the_image_built_from_the_dockerfile_runs_the_spec_compose_snippet_as_non_root_and_reports_healthy(
) {
    if !docker_is_available() {
        return;
    }
    let Some(busybox) = busybox() else {
        return;
    };
    let turn = take_image_test_turn();
    refuse_if_name_or_port_is_taken();
    let stack = Stack::new(turn);
    stack.import_base_images(&busybox);
    stack.build_and_start();

    // /health answers the spec's JSON. web, api and db do not exist here, so once the first
    // round has finished every check is down and the stack is unhealthy: 503.
    let (health, json) = eventually("/health to report the first round of checks", 30, || {
        let response = get("/health")?;
        let json: Value = serde_json::from_str(&response.body).ok()?;
        let checked = ["web", "api", "db"]
            .iter()
            .all(|name| json["services"][name]["last_checked"].is_string());
        checked.then_some((response, json))
    });
    assert_eq!(health.status, 503, "{}", health.body);
    assert!(
        health.content_type.starts_with("application/json"),
        "{}",
        health.content_type
    );
    assert_eq!(json["status"], "unhealthy", "{json}");
    assert!(json["timestamp"].is_string(), "{json}");
    for name in ["web", "api", "db"] {
        let service = &json["services"][name];
        assert_eq!(service["ok"], false, "{name}: {service}");
        assert!(service["response_time_ms"].is_u64(), "{name}: {service}");
        assert!(service["error"].is_string(), "{name}: {service}");
    }
    assert!(
        !health.body.contains(DSN_PASSWORD),
        "the DSN's password leaked into /health: {}",
        health.body
    );

    let dashboard = get("/dashboard").expect("GET /dashboard answers");
    assert_eq!(dashboard.status, 200, "{}", dashboard.body);
    assert!(
        dashboard.content_type.starts_with("text/html"),
        "{}",
        dashboard.content_type
    );
    assert!(
        !dashboard.body.contains(DSN_PASSWORD),
        "the DSN's password leaked into /dashboard"
    );

    // `USER 10001:10001`: the service runs as non-root.
    assert_eq!(docker(&["exec", CONTAINER, "id", "-u"]).trim(), "10001");
    assert_eq!(docker(&["exec", CONTAINER, "id", "-g"]).trim(), "10001");
    // `VOLUME /app/data`, made writable for that user: the health history lives there.
    let history = format!("/app/data/{}", healthcheck_dashboard::history::DB_FILE);
    assert_eq!(
        docker(&["exec", CONTAINER, "stat", "-c", "%u", &history]).trim(),
        "10001"
    );

    // The HEALTHCHECK runs `healthcheck_dashboard selfcheck` inside the container: the first
    // probe comes after the 10 s interval.
    eventually("Docker to report the container healthy", 40, || {
        let status = docker(&["inspect", "--format", "{{.State.Health.Status}}", CONTAINER]);
        match status.trim() {
            "healthy" => Some(()),
            "unhealthy" => panic!(
                "the HEALTHCHECK failed: {}",
                docker(&["inspect", "--format", "{{json .State.Health}}", CONTAINER])
            ),
            _ => None,
        }
    });

    // `docker stop` sends SIGTERM and kills after 10 s: a clean, prompt exit shows as 0.
    let stopping = Instant::now();
    docker(&["stop", CONTAINER]);
    let took = stopping.elapsed();
    assert!(took < Duration::from_secs(10), "docker stop took {took:?}");
    let exit_code = docker(&["inspect", "--format", "{{.State.ExitCode}}", CONTAINER]);
    assert_eq!(exit_code.trim(), "0", "exit code after SIGTERM");
}

/// One run of the image under test: its unique names, the stand-in base images and the
/// Compose project. Dropping it removes the containers, network, volumes and every image the
/// run made, also when an assertion failed: every image of a run (the stand-ins and all that
/// Docker builds on them) carries the shared run label with the run id as value.
struct Stack {
    /// Unique per run; part of every name below and the value of the run label.
    run: String,
    /// The Compose project name (`-p`).
    project: String,
    /// The stand-ins for `RUST_IMAGE` and `RUNTIME_IMAGE`.
    bases: StandInBases,
    /// Root filesystems, tarballs and the Compose override file.
    dir: tempfile::TempDir,
    /// This run's turn (see [`take_image_test_turn`]), given up only after the cleanup in
    /// `drop`.
    _turn: fs::File,
}

impl Stack {
    fn new(turn: fs::File) -> Self {
        let run = unique_run_id();
        let stack = Stack {
            project: format!("{PROJECT_PREFIX}{}", run.replace('-', "x")),
            bases: StandInBases::for_run("hcd", &run),
            dir: tempfile::tempdir().unwrap(),
            run,
            _turn: turn,
        };
        // The only change to the spec's snippet: the built image gets this run's own tag
        // instead of `healthcheck-dashboard`, so the test never retags an image a developer
        // built and the cleanup removes exactly what this run built. (Compose 1.x merges
        // `ports` lists, so an override could not change the port mapping anyway.)
        fs::write(
            stack.override_file(),
            format!(
                "version: \"3.8\"\nservices:\n  healthcheck_dashboard:\n    image: sidecars-test/healthcheck-dashboard:{}\n",
                stack.run
            ),
        )
        .unwrap();
        stack
    }

    fn override_file(&self) -> PathBuf {
        self.dir.path().join("docker-compose.override.yml")
    }

    /// Makes both stand-in base images with `docker import`; no registry involved.
    fn import_base_images(&self, busybox: &Path) {
        self.bases
            .import(self.dir.path(), busybox, Path::new(BINARY), &self.run);
    }

    /// `docker-compose` on the repository's own docker-compose.yml, from the repository root.
    fn compose(&self) -> Command {
        let mut command = Command::new("docker-compose");
        command
            .current_dir(WORKSPACE)
            .arg("-f")
            .arg(Path::new(WORKSPACE).join("docker-compose.yml"))
            .arg("-f")
            .arg(self.override_file())
            .args(["-p", &self.project])
            .env("RUST_IMAGE", &self.bases.builder)
            .env("RUNTIME_IMAGE", &self.bases.runtime);
        command
    }

    fn build_and_start(&self) {
        let started = Instant::now();
        run(self
            .compose()
            .args(["up", "-d", "--build", "healthcheck_dashboard"]));
        eprintln!(
            "image built and container started in {:?}",
            started.elapsed()
        );
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        if std::thread::panicking() {
            if let Ok(logs) = Command::new("docker")
                .args(["logs", "--tail", "40", CONTAINER])
                .output()
            {
                eprintln!(
                    "--- docker logs {CONTAINER} ---\n{}{}",
                    String::from_utf8_lossy(&logs.stdout),
                    String::from_utf8_lossy(&logs.stderr)
                );
            }
        }
        let _ = self
            .compose()
            .args(["down", "--volumes", "--remove-orphans"])
            .output();
        remove_run(&self.run);
    }
}

fn docker_is_available() -> bool {
    require_engine("the image test builds services/healthcheck_dashboard/Dockerfile and runs it")
        && require_compose("the image test starts the spec's snippet from docker-compose.yml")
}

/// The snippet fixes the container name and the host port; say plainly what is in the way
/// instead of letting Compose fail half-way. Called during this run's turn, so a container of
/// this test's Compose projects can only be a leftover of a killed run: it is removed.
fn refuse_if_name_or_port_is_taken() {
    let existing = Command::new("docker")
        .args([
            "inspect",
            "--format",
            "{{index .Config.Labels \"com.docker.compose.project\"}}",
            CONTAINER,
        ])
        .output()
        .unwrap();
    if existing.status.success() {
        let project = String::from_utf8_lossy(&existing.stdout).trim().to_string();
        assert!(
            project.starts_with(PROJECT_PREFIX),
            "a container named {CONTAINER} already exists (Compose project {project:?}); \
             the spec's snippet needs that name: remove it (docker rm -f {CONTAINER})"
        );
        docker(&["rm", "--force", "--volumes", CONTAINER]);
    }
    if let Err(err) = TcpListener::bind((Ipv4Addr::UNSPECIFIED, PORT)) {
        panic!(
            "host port {PORT} is in use ({err}); the spec's snippet publishes \"{PORT}:{PORT}\", \
             so free the port to run this test"
        );
    }
}

/// `GET path` on the published port; None while nothing answers.
fn get(path: &str) -> Option<HttpResponse> {
    published_get(PORT, path)
}
