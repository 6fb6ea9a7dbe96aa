//! Container logs from the real Docker Engine, through both Docker sources: json-file logs
//! read from Docker's data directory, and the Engine API over the unix socket. Containers
//! run a busybox stand-in image made with `docker import` (no registry involved).
//!
//! These tests need an engine: under `CI=true` they fail when it is missing, elsewhere they
//! skip with a loud message. Every container and image is labelled with the run's id and
//! removed when the test ends, also when it fails.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;
use service_kit_testing::docker::{
    docker, docker_root_dir, take_image_test_turn, BusyboxImage, RUN_LABEL,
};
use service_kit_testing::require_component;
use tokio::net::{UnixListener, UnixStream};
use tokio::task::JoinSet;

use crate::support::{append, spawn_app, temp_dir, TestApp};

/// The engine's socket on this machine.
const DOCKER_SOCKET: &str = "/var/run/docker.sock";
/// Length of the long line each container prints, in bytes.
const LONG_LINE: usize = 40_000;
const WAIT: Duration = Duration::from_secs(20);

/// Imports this run's busybox image, or says why the test cannot run.
/// The engine's turn (held until the test ends, so the image test, whose log_watcher reads
/// every container on the engine, never sees these containers) and a busybox image.
pub(crate) fn engine(test: &str) -> Option<(std::fs::File, BusyboxImage)> {
    let image = BusyboxImage::import(
        "log-watcher-test",
        &format!("{test} runs containers on the real Docker Engine"),
    )?;
    Some((take_image_test_turn(), image))
}

/// Starts a detached container of `image` running `script` with `labels`; returns its id.
fn run_container(
    image: &BusyboxImage,
    name: &str,
    labels: &[(&str, &str)],
    script: &str,
) -> String {
    let mut args = vec![
        "run".to_string(),
        "--detach".to_string(),
        "--name".to_string(),
        name.to_string(),
    ];
    // Explicit, so the tests do not depend on the daemon's default driver.
    args.extend(["--log-driver".to_string(), "json-file".to_string()]);
    args.extend([
        "--label".to_string(),
        format!("{RUN_LABEL}={}", image.run_id()),
    ]);
    for (key, value) in labels {
        args.extend(["--label".to_string(), format!("{key}={value}")]);
    }
    args.extend([
        image.tag.clone(),
        "sh".to_string(),
        "-c".to_string(),
        script.to_string(),
    ]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    docker(&args).trim().to_string()
}

/// Shell that prints one line of exactly [`LONG_LINE`] bytes starting with `prefix` (plus
/// its newline), to stderr when `stderr`.
fn long_line_script(prefix: &str, fill: char, stderr: bool) -> String {
    let redirect = if stderr { " >&2" } else { "" };
    format!(
        "(printf '%s' '{prefix}'; head -c {} /dev/zero | tr '\\0' '{fill}'; echo){redirect}",
        LONG_LINE - prefix.len()
    )
}

/// A name Docker accepts that no other run uses.
fn unique_name(image: &BusyboxImage, what: &str) -> String {
    format!("lwtest-{what}-{}", image.run_id())
}

/// The events of this run (their message contains `run`), oldest first.
async fn run_events(app: &TestApp, run: &str) -> Vec<Value> {
    let (_, body) = app.get_json(&format!("/logs?q={run}&limit=10000")).await;
    body["events"].as_array().cloned().unwrap_or_default()
}

/// Polls the run's events until `done` accepts them.
async fn wait_for_run_events(
    app: &TestApp,
    run: &str,
    timeout: Duration,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let deadline = Instant::now() + timeout;
    loop {
        let events = run_events(app, run).await;
        if done(&events) {
            return events;
        }
        assert!(
            Instant::now() < deadline,
            "events not as expected within {timeout:?}: {} events, last: {:?}",
            events.len(),
            events.last().map(|e| e["message"]
                .as_str()
                .unwrap_or("")
                .chars()
                .take(120)
                .collect::<String>())
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Polls `/api/sources` until `done` accepts the sources.
pub(crate) async fn wait_for_sources(
    app: &TestApp,
    what: &str,
    timeout: Duration,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let deadline = Instant::now() + timeout;
    loop {
        let (_, livez) = app.get_json("/api/sources").await;
        let sources = livez["sources"].as_array().cloned().unwrap_or_default();
        if done(&sources) {
            return sources;
        }
        assert!(
            Instant::now() < deadline,
            "{what} within {timeout:?}; /api/sources: {sources:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn message(event: &Value) -> &str {
    event["message"].as_str().unwrap_or_default()
}

/// How often each number `n` of lines `"... {tag}{n}"` was seen.
fn numbered(events: &[Value], tag: &str) -> BTreeMap<u32, u32> {
    let mut seen = BTreeMap::new();
    for event in events {
        if let Some((_, number)) = message(event).rsplit_once(tag) {
            if let Ok(n) = number.parse::<u32>() {
                *seen.entry(n).or_default() += 1;
            }
        }
    }
    seen
}

/// Asserts that lines `1..=count` were each seen exactly once.
fn assert_each_once(seen: &BTreeMap<u32, u32>, count: u32) {
    let missing: Vec<u32> = (1..=count).filter(|n| !seen.contains_key(n)).collect();
    let repeated: Vec<(u32, u32)> = seen
        .iter()
        .filter(|(_, c)| **c > 1)
        .map(|(n, c)| (*n, *c))
        .collect();
    assert!(missing.is_empty(), "missing lines: {missing:?}");
    assert!(
        repeated.is_empty(),
        "repeated lines (number, times): {repeated:?}"
    );
    assert_eq!(seen.len() as u32, count, "unexpected numbers: {seen:?}");
}

/// The docker_api section of a config following `project` through `socket`.
fn api_config(socket: &Path, project: &str, extra: &str) -> String {
    format!(
        "[log_sources.docker_api]\nsocket = {:?}\nproject = {project:?}\n\n[filters]\nlevels = [\"info\", \"warning\", \"error\"]\n{extra}\n",
        socket.display().to_string()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_file_logs_are_named_by_compose_service_keep_long_lines_whole_and_docker_timestamps() {
    let Some((_turn, image)) = engine("the json-file test") else {
        return;
    };
    let run = image.run_id().to_string();
    let containers_dir = docker_root_dir().join("containers");
    if !require_component(
        "read access to Docker's containers directory",
        std::fs::read_dir(&containers_dir).is_ok(),
        "the json-file test reads the engine's json-file logs (run it as root or in the docker group with access)",
    ) {
        return;
    }
    let project = format!("lwfile{}", run.replace('-', ""));
    let labels = [
        ("com.docker.compose.service", "api"),
        ("com.docker.compose.project", project.as_str()),
    ];
    let early = run_container(
        &image,
        &unique_name(&image, "file-early"),
        &labels,
        &format!(
            "i=1; while [ $i -le 20 ]; do echo \"INFO {run} line $i\"; i=$((i+1)); done; \
             echo 'ERROR {run} database connection failed'; {}; {}; exec sleep 600",
            long_line_script(&format!("{run} out "), 'o', false),
            long_line_script(&format!("{run} err "), 'e', true),
        ),
    );
    let (_guard, dir) = temp_dir();
    let config = format!(
        "[log_sources]\ndocker_logs_dir = {:?}\npoll_interval_ms = 50\n[filters]\nlevels = [\"info\", \"warning\", \"error\"]\n",
        containers_dir.display().to_string()
    );
    let app = spawn_app(&config, &dir.join("data")).await;

    let events = wait_for_run_events(&app, &run, WAIT, |e| e.len() >= 23).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let events_now = run_events(&app, &run).await;
    assert_eq!(
        events_now.len(),
        23,
        "{:?}",
        events_now.iter().map(message).collect::<Vec<_>>()
    );
    assert!(
        events.iter().all(|e| e["service"] == "api"),
        "named after the Compose service label"
    );
    assert_each_once(&numbered(&events, "line "), 20);
    let long: Vec<&Value> = events.iter().filter(|e| message(e).len() > 1000).collect();
    assert_eq!(
        long.len(),
        2,
        "one long line on stdout, one on stderr, each one event"
    );
    for event in &long {
        assert_eq!(
            message(event).len(),
            LONG_LINE,
            "the 40 KB line arrives whole"
        );
    }
    assert!(long
        .iter()
        .any(|e| message(e).starts_with(&format!("{run} out "))));
    assert!(long
        .iter()
        .any(|e| message(e).starts_with(&format!("{run} err "))));

    // The time is Docker's, not the time the line was read.
    let error = events
        .iter()
        .find(|e| e["level"] == "error")
        .expect("the ERROR line is an event");
    assert_eq!(message(error), format!("{run} database connection failed"));
    let logged = docker(&["logs", "--timestamps", &early]);
    let docker_time = logged
        .lines()
        .find(|l| l.contains("ERROR"))
        .and_then(|l| l.split_once(' '))
        .map(|(time, _)| chrono::DateTime::parse_from_rfc3339(time).unwrap())
        .expect("docker logs shows the ERROR line");
    let expected = docker_time
        .with_timezone(&chrono::Utc)
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    assert_eq!(error["timestamp"], expected);

    // A container started later is picked up within 2 s.
    let late = run_container(
        &image,
        &unique_name(&image, "file-late"),
        &labels,
        &format!("echo 'WARNING {run} late container'; exec sleep 600"),
    );
    let started = Instant::now();
    wait_for_run_events(&app, &run, Duration::from_secs(10), |e| {
        e.iter().any(|e| message(e).contains("late container"))
    })
    .await;
    let took = started.elapsed();
    assert!(
        took <= Duration::from_secs(2),
        "the late container's line took {took:?}"
    );

    // A removed container is dropped from /api/sources.
    let listed = |sources: &[Value], id: &str| {
        sources
            .iter()
            .any(|s| s["path"].as_str().is_some_and(|p| p.contains(id)))
    };
    wait_for_sources(&app, "the early container listed", WAIT, |s| {
        listed(s, &early)
    })
    .await;
    docker(&["rm", "--force", &early]);
    wait_for_sources(&app, "the removed container dropped", WAIT, |s| {
        !listed(s, &early)
    })
    .await;
    wait_for_sources(&app, "the late container still listed", WAIT, |s| {
        listed(s, &late)
    })
    .await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_engine_api_source_reads_every_line_once_across_a_restart_and_follows_new_containers() {
    let Some((_turn, image)) = engine("the Docker API test") else {
        return;
    };
    let run = image.run_id().to_string();
    let project = format!("lwapi{}", run.replace('-', ""));
    let (_guard, dir) = temp_dir();
    let data = dir.join("data");
    let config = api_config(Path::new(DOCKER_SOCKET), &project, "");
    let first = spawn_app(&config, &data).await;
    wait_for_sources(&first, "the engine connected", WAIT, |s| {
        s.iter()
            .any(|s| s["kind"] == "docker_api" && s["connected"] == true)
    })
    .await;

    // Started after log_watcher: followed from its `start` event. 300 numbered lines in
    // bursts, with a 40 KB line on stderr half-way.
    let labels = [
        ("com.docker.compose.service", "worker"),
        ("com.docker.compose.project", project.as_str()),
    ];
    run_container(
        &image,
        &unique_name(&image, "api-worker"),
        &labels,
        &format!(
            "i=1; while [ $i -le 300 ]; do echo \"INFO {run} n=$i\"; \
             if [ $i -eq 150 ]; then {}; fi; \
             if [ $((i % 25)) -eq 0 ]; then sleep 0.25; fi; i=$((i+1)); done; exec sleep 600",
            long_line_script(&format!("WARNING {run} long "), 'w', true),
        ),
    );
    // A container of another project is not followed.
    run_container(
        &image,
        &unique_name(&image, "api-outsider"),
        &[("com.docker.compose.service", "worker")],
        &format!("echo 'ERROR {run} outsider'; exec sleep 600"),
    );
    // Stop in the middle of the output, and start again on the same data directory.
    wait_for_run_events(&first, &run, WAIT, |e| numbered(e, "n=").len() >= 60).await;
    first.stop().await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    let second = spawn_app(&config, &data).await;
    wait_for_run_events(&second, &run, WAIT, |e| {
        numbered(e, "n=").contains_key(&300)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let events = run_events(&second, &run).await;
    assert_each_once(&numbered(&events, "n="), 300);
    assert!(
        events.iter().all(|e| e["service"] == "worker"),
        "{events:?}"
    );
    assert!(
        !events.iter().any(|e| message(e).contains("outsider")),
        "another project's container was read"
    );
    let long: Vec<&Value> = events
        .iter()
        .filter(|e| message(e).contains("long "))
        .collect();
    assert_eq!(long.len(), 1, "the long line is one event");
    assert_eq!(long[0]["level"], "warning");
    assert_eq!(
        message(long[0]).len(),
        LONG_LINE - "WARNING ".len(),
        "the 40 KB line arrives whole"
    );

    // A new container is followed; when it is killed and started again, its first run's
    // lines are not read again.
    let late = run_container(
        &image,
        &unique_name(&image, "api-late"),
        &[
            ("com.docker.compose.service", "late"),
            ("com.docker.compose.project", project.as_str()),
        ],
        &format!("for i in 1 2 3; do echo \"ERROR {run} late-$i\"; done; exec sleep 600"),
    );
    // The container's own lines; the kill is an event of its own too (a container
    // lifecycle event, "container exited with code 137; its last 3 lines ..."), which
    // quotes them but is not one of them.
    let is_late = |e: &&Value| {
        e["service"] == "late" && !message(e).starts_with("container exited with code")
    };
    wait_for_run_events(&second, &run, WAIT, |e| {
        e.iter().filter(is_late).count() >= 3
    })
    .await;
    docker(&["kill", &late]);
    docker(&["start", &late]);
    wait_for_run_events(&second, &run, WAIT, |e| {
        e.iter().filter(is_late).count() >= 6
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let events = run_events(&second, &run).await;
    assert_eq!(
        events.iter().filter(is_late).count(),
        6,
        "two runs of three lines each"
    );
    let (_, livez) = second.get_json("/api/sources").await;
    let late_name = unique_name(&image, "api-late");
    assert!(
        livez["sources"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["container"] == late_name.as_str() && s["open"] == true),
        "{livez}"
    );
    let (_, metrics) = second.get_text("/metrics").await;
    assert!(
        metrics.contains("log_watcher_docker_connected 1"),
        "{metrics}"
    );
    second.stop().await;
}

#[tokio::test]
async fn a_missing_docker_socket_shows_in_the_sources_and_metrics_while_files_are_still_read() {
    let (_guard, dir) = temp_dir();
    let socket = dir.join("no-such-docker.sock");
    let log = dir.join("api.log");
    let config = format!(
        "[log_sources]\nextra_files = [{:?}]\npoll_interval_ms = 20\n{}",
        log.display().to_string(),
        api_config(&socket, "stack", "")
    );
    let app = spawn_app(&config, &dir.join("data")).await;
    append(&log, "ERROR the file source works\n");
    let events = app.wait_for_events("", WAIT, |e| !e.is_empty()).await;
    assert_eq!(events[0]["message"], "the file source works");
    let sources = wait_for_sources(&app, "the socket error", WAIT, |s| {
        s.iter()
            .any(|s| s["kind"] == "docker_api" && s["error"].is_string())
    })
    .await;
    let engine = sources.iter().find(|s| s["kind"] == "docker_api").unwrap();
    assert_eq!(engine["connected"], false);
    assert_eq!(engine["path"], socket.display().to_string());
    assert!(
        engine["error"]
            .as_str()
            .unwrap()
            .contains("no-such-docker.sock"),
        "{engine}"
    );
    wait_for_sources(&app, "the file open", WAIT, |s| {
        s.iter().any(|s| s["kind"] == "file" && s["open"] == true)
    })
    .await;
    let (code, metrics) = app.get_text("/metrics").await;
    assert_eq!(code, reqwest::StatusCode::OK);
    assert!(
        metrics.contains("log_watcher_docker_connected 0"),
        "{metrics}"
    );
    assert!(metrics.contains("log_watcher_source_errors 1"), "{metrics}");
    // Retried with backoff, and still serving.
    append(&log, "ERROR and keeps working\n");
    app.wait_for_events("", WAIT, |e| e.len() == 2).await;
    app.stop().await;
}

/// A unix socket in front of the engine's: stopping it looks, to log_watcher, like the
/// daemon going away (open connections are cut, new ones refused); starting it again like
/// the daemon coming back.
struct EngineProxy {
    /// The proxy's socket.
    path: PathBuf,
    /// Accepts and forwards; aborting it closes every forwarded connection.
    task: Option<tokio::task::JoinHandle<()>>,
}

impl EngineProxy {
    fn new(path: PathBuf) -> EngineProxy {
        EngineProxy { path, task: None }
    }

    fn start(&mut self) {
        let listener = UnixListener::bind(&self.path).unwrap();
        self.task = Some(tokio::spawn(async move {
            let mut connections = JoinSet::new();
            while let Ok((mut client, _)) = listener.accept().await {
                connections.spawn(async move {
                    if let Ok(mut engine) = UnixStream::connect(DOCKER_SOCKET).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut engine).await;
                    }
                });
            }
        }));
    }

    fn stop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

impl Drop for EngineProxy {
    fn drop(&mut self) {
        self.stop();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_engine_api_source_reconnects_after_the_daemon_goes_away_without_loss_or_repeats() {
    let Some((_turn, image)) = engine("the Docker API reconnect test") else {
        return;
    };
    let run = image.run_id().to_string();
    let project = format!("lwproxy{}", run.replace('-', ""));
    let (_guard, dir) = temp_dir();
    let mut proxy = EngineProxy::new(dir.join("engine.sock"));
    let app = spawn_app(&api_config(&proxy.path, &project, ""), &dir.join("data")).await;
    // The daemon is not there yet at start-up.
    wait_for_sources(&app, "the missing engine reported", WAIT, |s| {
        s.iter()
            .any(|s| s["kind"] == "docker_api" && s["error"].is_string())
    })
    .await;
    let labels = [
        ("com.docker.compose.service", "proxied"),
        ("com.docker.compose.project", project.as_str()),
    ];
    run_container(
        &image,
        &unique_name(&image, "proxied"),
        &labels,
        &format!(
            "i=1; while [ $i -le 200 ]; do echo \"INFO {run} n=$i\"; \
             if [ $((i % 10)) -eq 0 ]; then sleep 0.1; fi; i=$((i+1)); done; exec sleep 600"
        ),
    );
    proxy.start();
    wait_for_run_events(&app, &run, WAIT, |e| numbered(e, "n=").len() >= 40).await;
    // The daemon goes away in the middle of the output, and comes back.
    proxy.stop();
    wait_for_sources(&app, "the outage reported", WAIT, |s| {
        s.iter()
            .any(|s| s["kind"] == "docker_api" && s["connected"] == false)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    proxy.start();
    wait_for_run_events(&app, &run, Duration::from_secs(60), |e| {
        numbered(e, "n=").contains_key(&200)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let events = run_events(&app, &run).await;
    assert_each_once(&numbered(&events, "n="), 200);
    app.stop().await;
}
