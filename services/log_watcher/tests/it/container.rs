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
//! its volumes and environment included, runs as written. Building, starting, the health
//! and stop checks and the cleanup are those of every image test ([`ImageTestRun`]).

use std::collections::BTreeSet;
use std::fs;
use std::net::{Ipv4Addr, TcpListener};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;
use service_kit_testing::docker::{
    docker, eventually, published_get, run, ImageTestRun, ImageUnderTest, RUN_LABEL,
};

const WORKSPACE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
/// The service's image as the spec's snippet names it.
const IMAGE: ImageUnderTest = ImageUnderTest {
    workspace: WORKSPACE,
    binary: env!("CARGO_BIN_EXE_log_watcher"),
    service: CONTAINER,
    image: "log-watcher",
    short_name: "lw",
    project_prefix: "lwimagetest",
};
/// `container_name` in the spec's snippet.
const CONTAINER: &str = "log_watcher";
/// The container port, and the host port of the root file's `"9200:9200"`.
const SNIPPET_PORT: u16 = 9200;
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
    let Some(run) = ImageTestRun::prepare(IMAGE) else {
        return;
    };
    let stack = Stack::new(run, host_port());
    stack.run.import_base_images();
    let started = Utc::now();
    stack.run.build_and_start();

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
    let listed = stack.get_json("/api/sources");
    let sources = listed["sources"]
        .as_array()
        .expect("/api/sources lists the sources");
    assert!(
        sources
            .iter()
            .any(|s| s["kind"] == "docker_file" && s["service"] == "api"),
        "the api container's log is not followed: {listed}"
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
    stack.run.wait_until_healthy();

    // The snippet's settings reached the service: the config baked into the image, read
    // through CONFIG_PATH, is the repository's.
    assert_eq!(
        docker(&["exec", CONTAINER, "cat", "/app/config.toml"]),
        fs::read_to_string(Path::new(WORKSPACE).join("services/log_watcher/config.toml")).unwrap()
    );
    stack.assert_image_holds_only_the_binary_and_config();

    // `docker stop` sends SIGTERM and kills after 10 s: a clean, prompt exit shows as 0.
    stack.run.assert_stops_cleanly();
}

/// One run of the image under test ([`ImageTestRun`]) with the host port it publishes 9200
/// on. The runtime stand-in base (busybox) also runs the app stand-ins.
struct Stack {
    /// The run: names, stand-in bases, Compose project, cleanup.
    run: ImageTestRun,
    /// The host port published for 9200.
    port: u16,
}

impl Stack {
    fn new(run: ImageTestRun, port: u16) -> Self {
        let mut stack = Stack { run, port };
        stack.write_compose_files();
        stack
    }

    /// The override file, and when the host port differs from the snippet's, a copy of the
    /// root file with only that port changed: Compose 1.x merges `ports` lists, so an
    /// override cannot take `"9200:9200"` away.
    fn write_compose_files(&mut self) {
        let idle = "trap 'exit 0' TERM; sleep 86400 & wait";
        let api = format!(
            "trap 'exit 0' TERM; {} echo '{API_ERROR}'; sleep 86400 & wait",
            API_INFO.map(|line| format!("echo '{line}';")).join(" ")
        );
        let web = format!("trap 'exit 0' TERM; echo '{WEB_WARNING}'; sleep 86400 & wait");
        let stand_in = |name: &str, script: &str| {
            format!(
                "  {name}:\n    image: {}\n    command: [\"sh\", \"-c\", {}]\n",
                self.run.bases.runtime,
                serde_json::to_string(script).unwrap()
            )
        };
        let text = format!(
            "version: \"3.8\"\nservices:\n{}{}{}  log_watcher:\n    image: {}\n",
            stand_in("api", &api),
            stand_in("web", &web),
            stand_in("db", idle),
            self.run.tag
        );
        fs::write(self.run.override_file(), text).unwrap();
        if self.port != SNIPPET_PORT {
            let root = fs::read_to_string(&self.run.compose_file).unwrap();
            let mapping = format!("\"{SNIPPET_PORT}:{SNIPPET_PORT}\"");
            assert_eq!(root.matches(&mapping).count(), 1, "docker-compose.yml");
            let moved = root.replace(&mapping, &format!("\"{}:{SNIPPET_PORT}\"", self.port));
            let copy = self.run.dir.path().join("docker-compose.yml");
            fs::write(&copy, moved).unwrap();
            self.run.compose_file = copy;
        }
    }

    /// The api stand-in writes its error line again, on its own stdout, now.
    fn api_prints_error_again(&self) {
        let id = run(self.run.compose().args(["ps", "-q", "api"]));
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
            &self.run.tag,
        ]);
        for manager in ["apt-get", "apt ", "dpkg", "apk ", "yum", "dnf", "microdnf"] {
            assert!(
                !history.contains(manager),
                "a build step runs {manager}:\n{history}"
            );
        }
        let base = self.exported_paths(&self.run.bases.runtime);
        let built = self.exported_paths(&self.run.tag);
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
        let label = format!("{RUN_LABEL}={}", self.run.run_id);
        let id = docker(&["create", "--label", &label, image, "sh"]);
        let tarball = self.run.dir.path().join("export.tar");
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
