//! Container lifecycle as events, from the real Docker Engine: a `die` with its exit code and
//! the container's last lines (also for a container that lives under 100 ms), an OOM kill,
//! a restart loop, a HEALTHCHECK going unhealthy; `sidecars.logs.enabled=false` leaving a
//! service out and `sidecars.logs.multiline_start` joining its events.

use std::time::Duration;

use serde_json::Value;
use service_kit_testing::docker::{docker, EXHAUST_MEMORY, SMALL_MEMORY};

use service_kit_testing::FakeReceiver;

use crate::docker::{engine, wait_for_sources};
use crate::support::{spawn_app, temp_dir, TestApp};

const WAIT: Duration = Duration::from_secs(30);

/// Waits for the events of `service` that `done` accepts.
async fn events_of(app: &TestApp, service: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    app.wait_for_events(&format!("service={service}&limit=1000"), WAIT, done)
        .await
}

fn message(event: &Value) -> &str {
    event["message"].as_str().unwrap_or("")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deaths_oom_kills_restart_loops_and_unhealthy_containers_are_events_with_their_reasons() {
    let Some((_turn, image)) = engine("the lifecycle test") else {
        return;
    };
    let run = image.run_id().replace('-', "");
    let project = format!("lwlife{run}");
    let (_dir, dir) = temp_dir();
    let hook = FakeReceiver::start().await;
    let app = spawn_app(
        &format!(
            "[log_sources.docker_api]\nsocket = \"/var/run/docker.sock\"\nproject = {project:?}\n\
             last_lines = 5\nrestart_loop_starts = 3\nrestart_loop_minutes = 5\n\n\
             [filters]\nlevels = [\"error\"]\n\n\
             [alerts]\nwebhook = \"{hook}\"\n\n\
             [[alerts.rules]]\nname = \"deaths\"\nregex = \"^container exited\"\nservices = [\"worker\"]\n",
            hook = hook.url(),
        ),
        &dir.join("data"),
    )
    .await;
    wait_for_sources(&app, "the engine connected", WAIT, |s| {
        s.iter()
            .any(|s| s["kind"] == "docker_api" && s["connected"] == true)
    })
    .await;

    // Lives well under 100 ms: its last lines still come with its death.
    image.run_compose_service(
        &project,
        "worker",
        &[],
        "i=1; while [ $i -le 7 ]; do echo \"step $i\"; i=$((i+1)); done; \
         echo 'ERROR giving up at step 8'; exit 3",
    );
    image.run_compose_service(
        &project,
        "hog",
        &SMALL_MEMORY,
        &format!("echo allocating; {EXHAUST_MEMORY}"),
    );
    image.run_compose_service(
        &project,
        "sick",
        &[
            "--health-cmd",
            "echo backend unreachable; false",
            "--health-interval",
            "1s",
            "--health-retries",
            "1",
        ],
        "exec sleep 600",
    );
    image.run_compose_service(
        &project,
        "looper",
        &["--restart", "always"],
        "echo boom; exit 1",
    );
    image.run_compose_service(
        &project,
        "quiet",
        &["--label", "sidecars.logs.enabled=false"],
        "echo 'ERROR not for log_watcher'; exit 2",
    );
    image.run_compose_service(&project,
        "java",
        &["--label", r"sidecars.logs.multiline_start=^\d{4}-\d\d-\d\d "],
        "echo '2024-06-12 10:00:00 ERROR request failed'; echo 'java.lang.IllegalStateException: boom'; \
         echo 'Caused by: disk full'; echo '2024-06-12 10:00:01 INFO next request'; exec sleep 600",
    );

    // Its own error line is read too, although it was gone before it could be followed.
    let worker = events_of(&app, "worker", |e| {
        e.iter().any(|e| message(e).starts_with("container exited"))
            && e.iter().any(|e| message(e) == "giving up at step 8")
    })
    .await;
    let died = worker
        .iter()
        .find(|e| message(e).starts_with("container exited"))
        .unwrap();
    assert_eq!(died["level"], "error");
    assert_eq!(
        message(died),
        "container exited with code 3; its last 5 lines before it died:\n    step 4\n    step 5\n    step 6\n    step 7\n    ERROR giving up at step 8"
    );

    // One alert says why it died.
    let alert = hook.wait_for(1, WAIT).await[0].json.clone().unwrap();
    let text = alert["text"].as_str().unwrap();
    assert!(
        text.contains(
            "[worker][ERROR] container exited with code 3; its last 5 lines before it died:"
        ) && text.ends_with("    ERROR giving up at step 8"),
        "{alert}"
    );

    let hog = events_of(&app, "hog", |e| e.len() >= 2).await;
    let texts: Vec<(&str, &str)> = hog
        .iter()
        .map(|e| (e["level"].as_str().unwrap(), message(e)))
        .collect();
    assert!(
        texts.contains(&("critical", "container ran out of memory (OOM killer)")),
        "{texts:?}"
    );
    assert!(
        texts.iter().any(|(level, text)| *level == "error"
            && *text == ("container exited with code 137 (OOM-killed); its last line before it died:\n    allocating")),
        "{texts:?}"
    );

    let sick = events_of(&app, "sick", |e| {
        e.iter()
            .any(|e| message(e).starts_with("HEALTHCHECK unhealthy"))
    })
    .await;
    let unhealthy = sick
        .iter()
        .find(|e| message(e).starts_with("HEALTHCHECK"))
        .unwrap();
    assert_eq!(unhealthy["level"], "error");
    assert_eq!(
        message(unhealthy),
        "HEALTHCHECK unhealthy: backend unreachable"
    );

    let looper = events_of(&app, "looper", |e| {
        e.iter().any(|e| e["level"] == "critical")
    })
    .await;
    let looping = looper.iter().find(|e| e["level"] == "critical").unwrap();
    assert_eq!(
        message(looping),
        "restart loop: the container started 3 times within 5m"
    );
    docker(&["update", "--restart", "no", &format!("{project}-looper-1")]);

    let java = events_of(&app, "java", |e| !e.is_empty()).await;
    assert_eq!(
        message(&java[0]),
        "request failed\njava.lang.IllegalStateException: boom\nCaused by: disk full",
        "{java:?}"
    );

    // Left out entirely: neither its lines nor its death.
    let (_, quiet) = app.get_json("/logs?service=quiet&limit=100").await;
    assert_eq!(quiet["events"], serde_json::json!([]), "{quiet}");
    app.stop().await;
}
