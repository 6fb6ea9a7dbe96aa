//! What every service's image test (`tests/it/container.rs`) does around its own checks:
//! build the service's image from its Dockerfile and start it from the spec's Compose
//! snippet (the root `docker-compose.yml`) on the real engine, with no registry, then see
//! Docker report it healthy and `docker stop` end it cleanly ([`ImageTestRun`]). Also the
//! pieces it is made of, for tests that need them alone: the machine-wide turn
//! ([`take_image_test_turn`]), docker-compose ([`require_compose`]), the stand-in base
//! images ([`StandInBases`]), and plain HTTP to a published port ([`published_get`],
//! [`eventually`]).
//!
//! No registry is reachable from the test machines, so a Dockerfile's two base images are
//! local stand-ins made with `docker import` and passed through its `RUST_IMAGE` and
//! `RUNTIME_IMAGE` build arguments, as an air-gapped builder would (see [`StandInBases`]).

use std::fs;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::{
    busybox, busybox_rootfs, docker, import_image, remove_run, require_engine, run, unique_run_id,
};
use crate::require_component;

/// The lock file through which image tests take turns (see [`take_image_test_turn`]).
const IMAGE_TEST_LOCK: &str = "/tmp/sidecars-image-tests.lock";

/// Where the services' Dockerfiles run `cargo build --release` (their builder `WORKDIR`,
/// relative to `/`), so where the stand-in builder leaves the prebuilt binary.
const BUILDER_RELEASE_DIR: &str = "usr/src/sidecars/target/release";

/// How long Docker may take to report the container healthy: its `HEALTHCHECK` probes
/// first after a 10 s interval.
const HEALTHY_WITHIN_SECS: u64 = 40;

/// Lines of the container's log shown when a test fails.
const LOG_TAIL_ON_FAILURE: &str = "60";

/// A service's image under test, as the spec's Compose snippet names it.
#[derive(Debug, Clone, Copy)]
pub struct ImageUnderTest {
    /// The workspace root: the build context, where `docker-compose.yml` is and Compose runs.
    pub workspace: &'static str,
    /// The binary this test run compiled (`CARGO_BIN_EXE_...`), which the stand-in builder
    /// holds where `cargo build --release` would leave it.
    pub binary: &'static str,
    /// The snippet's Compose service, which is also its `container_name`; its Dockerfile is
    /// `services/{service}/Dockerfile`.
    pub service: &'static str,
    /// The snippet's `image:` (such as `log-watcher`); a run tags what it builds
    /// `sidecars-test/{image}:{run}` instead, so it never retags an image a developer built.
    pub image: &'static str,
    /// A short name for the stand-in base images' tags (see [`StandInBases::for_run`]).
    pub short_name: &'static str,
    /// This test's Compose projects are named with this prefix and the run id, so a leftover
    /// container of a killed run is known as this test's own.
    pub project_prefix: &'static str,
}

/// One run of a service's image test: its unique names, the stand-in base images and the
/// Compose project. Dropping it removes the containers, network, volumes and every image
/// the run made, also when an assertion failed (every image of a run, the stand-ins and all
/// that Docker builds on them, carries [`RUN_LABEL`](super::RUN_LABEL) with the run id as value), and only
/// then gives up the run's turn.
#[derive(Debug)]
pub struct ImageTestRun {
    /// What is under test.
    pub image: ImageUnderTest,
    /// Unique per run; part of every name below and the value of [`RUN_LABEL`](super::RUN_LABEL).
    pub run_id: String,
    /// The Compose project name (`-p`).
    pub project: String,
    /// The tag the built image gets instead of the snippet's `image:`; the test's Compose
    /// override file sets it.
    pub tag: String,
    /// The stand-ins for `RUST_IMAGE` and `RUNTIME_IMAGE`.
    pub bases: StandInBases,
    /// The Compose file the stack starts from: the root `docker-compose.yml` unless the test
    /// points it to a changed copy.
    pub compose_file: PathBuf,
    /// Root filesystems, tarballs and the Compose files of this run.
    pub dir: tempfile::TempDir,
    /// Debian's static busybox, the shell of the stand-in images.
    busybox: PathBuf,
    /// This run's turn (see [`take_image_test_turn`]), given up only after the cleanup in
    /// `drop`.
    _turn: fs::File,
}

impl ImageTestRun {
    /// Everything before a test's own set-up: the engine and docker-compose (else a loud
    /// skip, or a panic under `CI=true`), busybox, this run's turn on the machine, and no
    /// container in the way of the snippet's `container_name`. `None` after a loud skip.
    pub fn prepare(image: ImageUnderTest) -> Option<ImageTestRun> {
        let available = require_engine(&format!(
            "the image test builds services/{}/Dockerfile and runs it",
            image.service
        )) && require_compose(
            "the image test starts the spec's snippet from docker-compose.yml",
        );
        if !available {
            return None;
        }
        let busybox = busybox()?;
        let turn = take_image_test_turn();
        remove_leftover_container(&image);
        let run_id = unique_run_id();
        Some(ImageTestRun {
            project: format!("{}{}", image.project_prefix, run_id.replace('-', "x")),
            tag: format!("sidecars-test/{}:{run_id}", image.image),
            bases: StandInBases::for_run(image.short_name, &run_id),
            compose_file: Path::new(image.workspace).join("docker-compose.yml"),
            dir: tempfile::tempdir().expect("a temporary directory"),
            image,
            run_id,
            busybox,
            _turn: turn,
        })
    }

    /// The Compose override file of this run, which the test writes: at least the built
    /// image's [`tag`](Self::tag) for the snippet's service.
    pub fn override_file(&self) -> PathBuf {
        self.dir.path().join("docker-compose.override.yml")
    }

    /// Makes both stand-in base images with `docker import`; no registry involved.
    pub fn import_base_images(&self) {
        self.bases.import(
            self.dir.path(),
            &self.busybox,
            Path::new(self.image.binary),
            &self.run_id,
        );
    }

    /// `docker-compose` on [`compose_file`](Self::compose_file) and the override file, as
    /// project [`project`](Self::project), from the workspace root, with the stand-in bases
    /// as `RUST_IMAGE` and `RUNTIME_IMAGE`.
    pub fn compose(&self) -> Command {
        let mut command = Command::new("docker-compose");
        command
            .current_dir(self.image.workspace)
            .arg("--project-directory")
            .arg(self.image.workspace)
            .arg("-f")
            .arg(&self.compose_file)
            .arg("-f")
            .arg(self.override_file())
            .args(["-p", &self.project])
            .env("RUST_IMAGE", &self.bases.builder)
            .env("RUNTIME_IMAGE", &self.bases.runtime);
        command
    }

    /// `docker-compose up -d --build SERVICE`: builds the image from the Dockerfile and
    /// starts the snippet (and what it `depends_on`).
    pub fn build_and_start(&self) {
        let started = Instant::now();
        run(self
            .compose()
            .args(["up", "-d", "--build", self.image.service]));
        eprintln!("image built and stack started in {:?}", started.elapsed());
    }

    /// Waits for Docker to report the container healthy through the image's `HEALTHCHECK`;
    /// panics with Docker's health log when it reports it unhealthy.
    pub fn wait_until_healthy(&self) {
        let container = self.image.service;
        eventually(
            "Docker to report the container healthy",
            HEALTHY_WITHIN_SECS,
            || {
                let status =
                    docker(&["inspect", "--format", "{{.State.Health.Status}}", container]);
                match status.trim() {
                    "healthy" => Some(()),
                    "unhealthy" => panic!(
                        "the HEALTHCHECK failed: {}",
                        docker(&["inspect", "--format", "{{json .State.Health}}", container])
                    ),
                    _ => None,
                }
            },
        );
    }

    /// `docker stop`, which sends SIGTERM and kills after 10 s: asserts the container ended
    /// before that, with exit code 0.
    pub fn assert_stops_cleanly(&self) {
        let container = self.image.service;
        let stopping = Instant::now();
        docker(&["stop", container]);
        let took = stopping.elapsed();
        assert!(took < Duration::from_secs(10), "docker stop took {took:?}");
        let exit_code = docker(&["inspect", "--format", "{{.State.ExitCode}}", container]);
        assert_eq!(exit_code.trim(), "0", "exit code after SIGTERM");
    }
}

impl Drop for ImageTestRun {
    fn drop(&mut self) {
        let container = self.image.service;
        if std::thread::panicking() {
            if let Ok(logs) = Command::new("docker")
                .args(["logs", "--tail", LOG_TAIL_ON_FAILURE, container])
                .output()
            {
                eprintln!(
                    "--- docker logs {container} ---\n{}{}",
                    String::from_utf8_lossy(&logs.stdout),
                    String::from_utf8_lossy(&logs.stderr)
                );
            }
        }
        let _ = self
            .compose()
            .args(["down", "--volumes", "--remove-orphans", "--timeout", "5"])
            .output();
        remove_run(&self.run_id);
    }
}

/// The snippet fixes the container name; says plainly what is in the way instead of letting
/// Compose fail half-way. Called during the run's turn, so a container of this test's
/// Compose projects can only be a leftover of a killed run: it is removed.
fn remove_leftover_container(image: &ImageUnderTest) {
    let container = image.service;
    let existing = Command::new("docker")
        .args([
            "inspect",
            "--format",
            "{{index .Config.Labels \"com.docker.compose.project\"}}",
            container,
        ])
        .output()
        .expect("docker runs");
    if existing.status.success() {
        let project = String::from_utf8_lossy(&existing.stdout).trim().to_string();
        assert!(
            project.starts_with(image.project_prefix),
            "a container named {container} already exists (Compose project {project:?}); \
             the spec's snippet needs that name: remove it (docker rm -f {container})"
        );
        docker(&["rm", "--force", "--volumes", container]);
    }
}

/// True when `docker-compose` (the Compose tool of the test machines) answers. Otherwise it
/// skips loudly, or panics under `CI=true`; `why` says what the test needs it for.
pub fn require_compose(why: &str) -> bool {
    let compose = Command::new("docker-compose")
        .arg("version")
        .output()
        .is_ok_and(|out| out.status.success());
    require_component("docker-compose", compose, why)
}

/// Waits for, and returns, this run's turn among the image tests of every service on this
/// machine: an exclusive lock on a well-known file, released when the file is dropped. The
/// services' Compose snippets fix container names and host ports, a log_watcher container
/// reads every container's log on the engine, and another engineer may be running the tests
/// on the same engine: one image test at a time keeps them all exact.
pub fn take_image_test_turn() -> fs::File {
    let path = Path::new(IMAGE_TEST_LOCK);
    let file = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .or_else(|_| fs::File::open(path))
        .unwrap_or_else(|e| panic!("cannot open {}: {e}", path.display()));
    if file.try_lock().is_err() {
        eprintln!(
            "another image test holds {}; waiting for its turn",
            path.display()
        );
        file.lock().unwrap();
    }
    file
}

/// The two stand-in base images of a service's Dockerfile, as tags.
#[derive(Debug, Clone)]
pub struct StandInBases {
    /// For `RUST_IMAGE`: the runtime base plus no-op `cargo` and `strip`, and the binary this
    /// test run already compiled where the real `cargo build --release` would leave it.
    pub builder: String,
    /// For `RUNTIME_IMAGE`: busybox (for `RUN` lines and `docker exec`) plus exactly the
    /// shared libraries `binary` links against, and nothing else, so that an image built on
    /// it proves it needs no packages.
    pub runtime: String,
}

impl StandInBases {
    /// The tags of run `run_id`'s stand-ins: `sidecars-test/{name}-builder-base:{run_id}`
    /// and `sidecars-test/{name}-runtime-base:{run_id}`.
    pub fn for_run(name: &str, run_id: &str) -> StandInBases {
        StandInBases {
            builder: format!("sidecars-test/{name}-builder-base:{run_id}"),
            runtime: format!("sidecars-test/{name}-runtime-base:{run_id}"),
        }
    }

    /// Imports both images with `docker import` (no registry), labelled with run `run_id`;
    /// their root filesystems are made under `dir`. `binary` keeps its file name in the
    /// builder's `target/release`.
    pub fn import(&self, dir: &Path, busybox: &Path, binary: &Path, run_id: &str) {
        self.import_all(dir, busybox, &[binary], run_id);
    }

    /// [`import`](Self::import) for several binaries built by one builder (a Compose file
    /// that builds several services from one workspace).
    pub fn import_all(&self, dir: &Path, busybox: &Path, binaries: &[&Path], run_id: &str) {
        let runtime = dir.join("runtime");
        busybox_rootfs(&runtime, busybox, binaries);
        import_image(&runtime, &self.runtime, run_id);

        let builder = dir.join("builder");
        busybox_rootfs(&builder, busybox, binaries);
        let tools = builder.join("usr/local/bin");
        fs::create_dir_all(&tools).unwrap();
        for tool in ["cargo", "strip"] {
            let path = tools.join(tool);
            fs::write(&path, "#!/bin/sh\nexit 0\n").unwrap();
            fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
        }
        // `COPY . .` leaves target/ alone (.dockerignore), so this is what the runtime stage
        // copies. Stripped here because the stand-in `strip` does nothing, which keeps the
        // image as small, and its layers as quick to write, as a real build's.
        let release = builder.join(BUILDER_RELEASE_DIR);
        fs::create_dir_all(&release).unwrap();
        for binary in binaries {
            let placed = release.join(binary.file_name().expect("the binary has a file name"));
            let stripped = Command::new("strip")
                .arg("-o")
                .arg(&placed)
                .arg(binary)
                .status()
                .is_ok_and(|status| status.success());
            if !stripped {
                fs::copy(binary, &placed).unwrap();
            }
        }
        import_image(&builder, &self.builder, run_id);
    }
}

/// An HTTP response, as far as the image tests' assertions need it.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// The Content-Type header, empty when absent.
    pub content_type: String,
    /// The body as text.
    pub body: String,
}

/// `GET path` on 127.0.0.1:`port` over a fresh HTTP/1.0 connection (so the body ends at
/// EOF); `None` while nothing answers: docker-proxy accepts and drops connections until the
/// service inside the container listens.
pub fn published_get(port: u16, path: &str) -> Option<HttpResponse> {
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(2)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n"
    )
    .ok()?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).ok()?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    let content_type = head
        .lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.eq_ignore_ascii_case("content-type"))
        .map(|(_, value)| value.trim().to_string())
        .unwrap_or_default();
    Some(HttpResponse {
        status,
        content_type,
        body: body.to_string(),
    })
}

/// Polls `probe` every 250 ms until it gives a value; panics naming `what` after `secs`.
pub fn eventually<T>(what: &str, secs: u64, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(value) = probe() {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {secs} s waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}
