//! The Docker image as users run it: the Dockerfile builds it and the spec's Compose snippet
//! (the `log_watcher` entry of the root docker-compose.yml) starts it beside stand-ins for
//! the example stack's `api`, `web` and `db`, so its `depends_on` chain runs for real. Then:
//! the app containers' lines come out on log_watcher's stdout exactly in the spec's format,
//! named by their Compose service (read from `config.v2.json` through the snippet's bind
//! mount of `/var/lib/docker/containers`); `/logs` and `/summary` answer on the published
//! port; log_watcher never reads its own output back (no feedback loop); Docker reports it
//! healthy through `log_watcher selfcheck`; `docker stop` ends it with exit code 0 in time;
//! and the image holds nothing but its base, the binary and the config.
//!
//! No registry is reachable from the test machines, so the Dockerfile's two base images are
//! local stand-ins made with `docker import` (see [`StandInBases`]): the runtime base is
//! busybox plus the binary's shared libraries and no package manager, the builder base holds
//! the binary this test run compiled where `cargo build --release` would leave it. The app
//! stand-ins run the runtime base's busybox. The override file changes only what the test
//! must: those images and commands, the built image's tag, and (when 9200 is taken) the
//! host port; every other line of the Dockerfile, `.dockerignore` and the Compose entry,
//! its volumes and environment included, runs as written.

use std::collections::BTreeSet;
use std::fs;
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::Value;
use service_kit::test_util::docker::{
    busybox, docker, eventually, published_get, remove_run, require_compose, require_engine, run,
    take_image_test_turn, unique_run_id, StandInBases, RUN_LABEL,
};

const BINARY: &str = env!("CARGO_BIN_EXE_log_watcher");
const WORKSPACE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
/// `container_name` in the spec's snippet.
const CONTAINER: &str = "log_watcher";
/// The container port, and the host port of the root file's `"9200:9200"`.
const SNIPPET_PORT: u16 = 9200;
/// Compose projects of this test are named with this prefix and the run id.
const PROJECT_PREFIX: &str = "lwimagetest";
/// The line the `api` stand-in prints after its normal start-up lines (and once more later).
const API_ERROR: &str = "ERROR Database connection failed: timeout";
/// The line the `web` stand-in prints.
const WEB_WARNING: &str = "WARNING Deprecated API usage detected.";
/// The normal (info) lines the `api` stand-in prints before its error.
const API_INFO: [&str; 3] = [
    "INFO Started server process [1]",
    "INFO Waiting for application startup.",
    "INFO Application startup complete.",
];

#[test]
fn the_image_built_from_the_dockerfile_runs_the_spec_compose_snippet_and_prints_the_apps_events_once(
) {
    if !docker_is_available() {
        return;
    }
    let Some(busybox) = busybox() else {
        return;
    };
    let turn = take_image_test_turn();
    refuse_if_name_is_taken();
    let stack = Stack::new(turn, host_port());
    stack.import_base_images(&busybox);
    let started = Utc::now();
    stack.build_and_start();

    // The stand-ins' lines, read from the json-file logs of the bind-mounted Docker folder,
    // named by their Compose service, printed in the spec's format.
    let stdout = eventually("log_watcher to print the api and web events", 60, || {
        let stdout = container_stdout();
        let events = event_lines(&stdout);
        let seen = |service: &str, level: &str, message: &str| {
            events
                .iter()
                .any(|e| e.service == service && e.level == level && e.message == message)
        };
        (seen("api", "ERROR", "Database connection failed: timeout")
            && seen("web", "WARNING", "Deprecated API usage detected."))
        .then_some(stdout)
    });
    for line in stdout.lines().filter(|l| l.starts_with('[')) {
        if line.contains("Database connection failed") || line.contains("Deprecated API usage") {
            assert_spec_line(line, started);
        }
    }
    assert_eq!(
        count_lines(&stdout, "api", "ERROR", API_ERROR),
        1,
        "{stdout}"
    );
    assert_eq!(
        count_lines(&stdout, "web", "WARNING", WEB_WARNING),
        1,
        "{stdout}"
    );

    // /logs over the published port: the same event, as JSON.
    let logs = stack.get_json("/logs?service=api");
    let api_errors: Vec<&Value> = logs["events"]
        .as_array()
        .expect("/logs has an events array")
        .iter()
        .filter(|e| e["message"] == "Database connection failed: timeout")
        .collect();
    assert_eq!(api_errors.len(), 1, "{logs}");
    assert_eq!(api_errors[0]["service"], "api", "{logs}");
    assert_eq!(api_errors[0]["level"], "error", "{logs}");
    let timestamp = api_errors[0]["timestamp"].as_str().unwrap_or_default();
    assert!(
        DateTime::parse_from_rfc3339(timestamp).is_ok(),
        "{timestamp:?} is not RFC 3339"
    );

    // A line written now is followed live, and printed once.
    stack.api_prints_error_again();
    eventually("the api's second error to be printed", 30, || {
        (count_lines(&container_stdout(), "api", "ERROR", API_ERROR) == 2).then_some(())
    });

    // No feedback loop: log_watcher's own container (whose stdout now holds event lines with
    // the very levels it filters on, and whose stderr holds the email alert's delivery
    // errors) is never followed, so with no new app lines nothing new is printed.
    let own_id = docker(&["inspect", "--format", "{{.Id}}", CONTAINER])
        .trim()
        .to_string();
    let livez = stack.get_json("/livez");
    let sources = livez["sources"]
        .as_array()
        .expect("/livez lists its sources");
    assert!(
        sources
            .iter()
            .any(|s| s["kind"] == "docker_file" && s["service"] == "api"),
        "the api container's log is not followed: {livez}"
    );
    let own_sources: Vec<&Value> = sources
        .iter()
        .filter(|s| s["path"].as_str().is_some_and(|p| p.contains(&own_id)))
        .collect();
    assert!(
        own_sources.is_empty(),
        "FEEDBACK LOOP: log_watcher follows its own container's log {own_sources:?} \
         (own id {own_id}; source::own_container did not recognise it)"
    );
    let before = event_lines(&container_stdout()).len();
    std::thread::sleep(Duration::from_secs(6));
    let stdout = container_stdout();
    let after = event_lines(&stdout);
    let own_events = stack.get_json("/logs?service=log_watcher");
    let own_printed: Vec<&EventLine> = after.iter().filter(|e| e.service == CONTAINER).collect();
    assert!(
        own_printed.is_empty() && own_events["events"].as_array().is_some_and(Vec::is_empty),
        "FEEDBACK LOOP: log_watcher reads its own output back as events \
         ({} printed, /logs: {own_events})",
        own_printed.len()
    );
    assert_eq!(
        count_lines(&stdout, "api", "ERROR", API_ERROR),
        2,
        "FEEDBACK LOOP or repeat: the api's two errors printed more than twice:\n{stdout}"
    );
    assert_eq!(
        count_lines(&stdout, "web", "WARNING", WEB_WARNING),
        1,
        "{stdout}"
    );
    if after.len() > before {
        // Only lines of other containers on this engine (other tests) may have come in.
        eprintln!(
            "note: {} event lines of other containers arrived during the quiet window",
            after.len() - before
        );
    }

    // /summary counts every line read in the window, by service and level; log_watcher's
    // own lines are not among them.
    let summary = stack.get_json("/summary?window=10m");
    assert_eq!(summary["window_secs"], 600, "{summary}");
    assert_eq!(summary["services"]["api"]["error"], 2, "{summary}");
    assert_eq!(
        summary["services"]["api"]["info"],
        API_INFO.len(),
        "{summary}"
    );
    assert_eq!(summary["services"]["web"]["warning"], 1, "{summary}");
    assert!(summary["totals"]["error"].as_u64() >= Some(2), "{summary}");
    assert!(
        summary["totals"]["warning"].as_u64() >= Some(1),
        "{summary}"
    );
    assert!(
        summary["services"].get(CONTAINER).is_none(),
        "FEEDBACK LOOP: /summary counts log_watcher's own lines: {summary}"
    );

    // The HEALTHCHECK runs `log_watcher selfcheck` inside the container: the first probe
    // comes after the 10 s interval.
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

    // The snippet's settings reached the service: the config baked into the image, read
    // through CONFIG_PATH, is the repository's.
    assert_eq!(
        docker(&["exec", CONTAINER, "cat", "/app/config.toml"]),
        fs::read_to_string(Path::new(WORKSPACE).join("services/log_watcher/config.toml")).unwrap()
    );
    stack.assert_image_holds_only_the_binary_and_config();

    // `docker stop` sends SIGTERM and kills after 10 s: a clean, prompt exit shows as 0.
    let stopping = Instant::now();
    docker(&["stop", CONTAINER]);
    let took = stopping.elapsed();
    assert!(took < Duration::from_secs(10), "docker stop took {took:?}");
    let exit_code = docker(&["inspect", "--format", "{{.State.ExitCode}}", CONTAINER]);
    assert_eq!(exit_code.trim(), "0", "exit code after SIGTERM");
}

/// One run of the image under test: its unique names, the stand-in images and the Compose
/// project. Dropping it removes the containers, network, volumes and every image the run
/// made, also when an assertion failed: every image of a run (the stand-ins and all that
/// Docker builds on them) carries the shared run label with the run id as value.
struct Stack {
    /// Unique per run; part of every name below and the value of the run label.
    run: String,
    /// The Compose project name (`-p`).
    project: String,
    /// The stand-ins for `RUST_IMAGE` and `RUNTIME_IMAGE`; the runtime one (busybox) also
    /// runs the app stand-ins.
    bases: StandInBases,
    /// The tag the built image gets instead of `log-watcher`.
    image: String,
    /// The host port published for 9200.
    port: u16,
    /// Root filesystems, tarballs, the Compose override file.
    dir: tempfile::TempDir,
    /// This run's turn (see [`take_image_test_turn`]), given up only after the cleanup in
    /// `drop`.
    _turn: fs::File,
}

impl Stack {
    fn new(turn: fs::File, port: u16) -> Self {
        let run = unique_run_id();
        let stack = Stack {
            project: format!("{PROJECT_PREFIX}{}", run.replace('-', "x")),
            bases: StandInBases::for_run("lw", &run),
            image: format!("sidecars-test/log-watcher:{run}"),
            port,
            dir: tempfile::tempdir().unwrap(),
            run,
            _turn: turn,
        };
        stack.write_compose_files();
        stack
    }

    /// The override file, and when the host port differs from the snippet's, a copy of the
    /// root file with only that port changed: Compose 1.x merges `ports` lists, so an
    /// override cannot take `"9200:9200"` away.
    fn write_compose_files(&self) {
        let idle = "trap 'exit 0' TERM; sleep 86400 & wait";
        let api = format!(
            "trap 'exit 0' TERM; {} echo '{API_ERROR}'; sleep 86400 & wait",
            API_INFO.map(|line| format!("echo '{line}';")).join(" ")
        );
        let web = format!("trap 'exit 0' TERM; echo '{WEB_WARNING}'; sleep 86400 & wait");
        let stand_in = |name: &str, script: &str| {
            format!(
                "  {name}:\n    image: {}\n    command: [\"sh\", \"-c\", {}]\n",
                self.bases.runtime,
                serde_json::to_string(script).unwrap()
            )
        };
        let text = format!(
            "version: \"3.8\"\nservices:\n{}{}{}  log_watcher:\n    image: {}\n",
            stand_in("api", &api),
            stand_in("web", &web),
            stand_in("db", idle),
            self.image
        );
        fs::write(self.override_file(), text).unwrap();
        if self.port != SNIPPET_PORT {
            let root = fs::read_to_string(root_compose_file()).unwrap();
            let mapping = format!("\"{SNIPPET_PORT}:{SNIPPET_PORT}\"");
            assert_eq!(root.matches(&mapping).count(), 1, "docker-compose.yml");
            let moved = root.replace(&mapping, &format!("\"{}:{SNIPPET_PORT}\"", self.port));
            fs::write(self.compose_file(), moved).unwrap();
        }
    }

    fn override_file(&self) -> PathBuf {
        self.dir.path().join("docker-compose.override.yml")
    }

    /// The root docker-compose.yml, or its copy with the free host port.
    fn compose_file(&self) -> PathBuf {
        if self.port == SNIPPET_PORT {
            root_compose_file()
        } else {
            self.dir.path().join("docker-compose.yml")
        }
    }

    /// Makes both stand-in base images with `docker import`; no registry involved.
    fn import_base_images(&self, busybox: &Path) {
        self.bases
            .import(self.dir.path(), busybox, Path::new(BINARY), &self.run);
    }

    /// `docker-compose` on the repository's docker-compose.yml, from the repository root.
    fn compose(&self) -> Command {
        let mut command = Command::new("docker-compose");
        command
            .current_dir(WORKSPACE)
            .arg("--project-directory")
            .arg(WORKSPACE)
            .arg("-f")
            .arg(self.compose_file())
            .arg("-f")
            .arg(self.override_file())
            .args(["-p", &self.project])
            .env("RUST_IMAGE", &self.bases.builder)
            .env("RUNTIME_IMAGE", &self.bases.runtime);
        command
    }

    /// `docker-compose up -d --build log_watcher`: the spec's step 3, which starts `db`,
    /// `api` and `web` first through `depends_on`.
    fn build_and_start(&self) {
        let started = Instant::now();
        run(self.compose().args(["up", "-d", "--build", "log_watcher"]));
        eprintln!(
            "image built and stack started in {:?} (host port {})",
            started.elapsed(),
            self.port
        );
    }

    /// The api stand-in writes its error line again, on its own stdout, now.
    fn api_prints_error_again(&self) {
        let id = run(self.compose().args(["ps", "-q", "api"]));
        let script = format!("echo '{API_ERROR}' > /proc/1/fd/1");
        docker(&["exec", id.trim(), "sh", "-c", &script]);
    }

    /// `GET path` on the published port as JSON, once the service answers.
    fn get_json(&self, path: &str) -> Value {
        let response = eventually(&format!("GET {path} to answer"), 30, || {
            published_get(self.port, path)
        });
        assert_eq!(response.status, 200, "GET {path}: {}", response.body);
        serde_json::from_str(&response.body)
            .unwrap_or_else(|e| panic!("GET {path}: {e}: {}", response.body))
    }

    /// The built image adds to its runtime base exactly the binary and the config (and the
    /// folders they and the data volume live in), and no build step ran a package manager.
    fn assert_image_holds_only_the_binary_and_config(&self) {
        let history = docker(&[
            "history",
            "--no-trunc",
            "--format",
            "{{.CreatedBy}}",
            &self.image,
        ]);
        for manager in ["apt-get", "apt ", "dpkg", "apk ", "yum", "dnf", "microdnf"] {
            assert!(
                !history.contains(manager),
                "a build step runs {manager}:\n{history}"
            );
        }
        let base = self.exported_paths(&self.bases.runtime);
        let built = self.exported_paths(&self.image);
        let added: BTreeSet<&String> = built.difference(&base).collect();
        let files: Vec<&str> = added
            .iter()
            .filter(|p| !p.ends_with('/'))
            .map(|p| p.as_str())
            .collect();
        assert_eq!(
            files,
            ["app/config.toml", "usr/local/bin/log_watcher"],
            "the image adds files besides the binary and config: {added:?}"
        );
        let folders = [
            "app/",
            "app/data/",
            "logs/",
            "usr/",
            "usr/local/",
            "usr/local/bin/",
        ];
        for folder in added.iter().filter(|p| p.ends_with('/')) {
            assert!(
                folders.contains(&folder.as_str()),
                "unexpected folder {folder}"
            );
        }
    }

    /// The paths in the file system of a container created (not started) from `image`.
    fn exported_paths(&self, image: &str) -> BTreeSet<String> {
        let label = format!("{RUN_LABEL}={}", self.run);
        let id = docker(&["create", "--label", &label, image, "sh"]);
        let tarball = self.dir.path().join("export.tar");
        let tarball = tarball.to_str().unwrap();
        docker(&["export", "--output", tarball, id.trim()]);
        docker(&["rm", "--volumes", id.trim()]);
        let list = run(Command::new("tar").args(["-tf", tarball]));
        let _ = fs::remove_file(tarball);
        list.lines()
            .map(|p| p.trim_start_matches("./").to_string())
            .filter(|p| !p.is_empty())
            .collect()
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        if std::thread::panicking() {
            if let Ok(logs) = Command::new("docker")
                .args(["logs", "--tail", "60", CONTAINER])
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
            .args(["down", "--volumes", "--remove-orphans", "--timeout", "5"])
            .output();
        remove_run(&self.run);
    }
}

fn root_compose_file() -> PathBuf {
    Path::new(WORKSPACE).join("docker-compose.yml")
}

fn docker_is_available() -> bool {
    require_engine("the image test builds services/log_watcher/Dockerfile and runs it")
        && require_compose("the image test starts the spec's snippet from docker-compose.yml")
}

/// The snippet fixes the container name; say plainly what is in the way instead of letting
/// Compose fail half-way. Called during this run's turn, so a container of this test's
/// Compose projects can only be a leftover of a killed run: it is removed.
fn refuse_if_name_is_taken() {
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
}

/// The snippet's host port when it is free, else one that is.
fn host_port() -> u16 {
    if TcpListener::bind((Ipv4Addr::UNSPECIFIED, SNIPPET_PORT)).is_ok() {
        return SNIPPET_PORT;
    }
    let free = TcpListener::bind((Ipv4Addr::UNSPECIFIED, 0)).unwrap();
    let port = free.local_addr().unwrap().port();
    eprintln!("host port {SNIPPET_PORT} is in use; publishing 9200 on {port} instead");
    port
}

/// log_watcher's stdout so far (its stderr, the service's own tracing, left out).
fn container_stdout() -> String {
    let out = Command::new("docker")
        .args(["logs", CONTAINER])
        .output()
        .expect("docker logs runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// One event line of stdout: `[time][service][LEVEL] message`.
#[derive(Debug)]
struct EventLine {
    /// The time between the first brackets.
    time: String,
    /// The service between the second.
    service: String,
    /// The level between the third.
    level: String,
    /// The rest after one space.
    message: String,
}

fn event_lines(stdout: &str) -> Vec<EventLine> {
    stdout.lines().filter_map(parse_event_line).collect()
}

fn parse_event_line(line: &str) -> Option<EventLine> {
    let rest = line.strip_prefix('[')?;
    let (time, rest) = rest.split_once("][")?;
    let (service, rest) = rest.split_once("][")?;
    let (level, message) = rest.split_once("] ")?;
    Some(EventLine {
        time: time.to_string(),
        service: service.to_string(),
        level: level.to_string(),
        message: message.to_string(),
    })
}

/// How many stdout lines show the stand-in `line` (`LEVEL message`) as the spec prints it.
fn count_lines(stdout: &str, service: &str, level: &str, line: &str) -> usize {
    let message = line.strip_prefix(level).unwrap().trim_start();
    event_lines(stdout)
        .iter()
        .filter(|e| e.service == service && e.level == level && e.message == message)
        .count()
}

/// `line` is exactly `[2024-06-12T01:23:45Z][service][LEVEL] message`, its time in UTC to
/// the second and no earlier than the stack's start.
fn assert_spec_line(line: &str, started: DateTime<Utc>) {
    let event = parse_event_line(line).unwrap_or_else(|| panic!("not an event line: {line:?}"));
    let time = DateTime::parse_from_rfc3339(&event.time)
        .unwrap_or_else(|e| panic!("{:?} is not RFC 3339 ({e}): {line:?}", event.time));
    assert!(
        event.time.len() == "2024-06-12T01:23:45Z".len() && event.time.ends_with('Z'),
        "not the spec's time format: {line:?}"
    );
    let earliest = started - chrono::Duration::seconds(2);
    assert!(
        time >= earliest && time <= Utc::now(),
        "time {time} outside the run: {line:?}"
    );
    assert_eq!(
        format!(
            "[{}][{}][{}] {}",
            event.time, event.service, event.level, event.message
        ),
        line
    );
}
