//! The crate against the real Docker Engine: a Compose-labelled project of busybox
//! containers that run, exit, get OOM-killed, killed, and go unhealthy, seen through
//! [`Engine::project_services`], the verdicts and the event watch.

use std::path::Path;
use std::time::Duration;

use chrono::Utc;
use compose_engine::events::watch;
use compose_engine::verdict::{judge, judge_replicas, RECENT_RESTART};
use compose_engine::{
    ContainerStatus, Engine, HealthState, LifecycleAction, LifecycleEvent, ProjectView, RunState,
    ViewError, WatchMessage, DEFAULT_SOCKET,
};
use service_kit_testing::docker::{docker, BusyboxImage, EXHAUST_MEMORY, SMALL_MEMORY};
use tokio::sync::mpsc::Receiver;
use tokio_util::sync::CancellationToken;

/// Waits (up to `within`) for an event of `service` that `wanted` accepts.
async fn next_event(
    messages: &mut Receiver<WatchMessage>,
    service: &str,
    within: Duration,
    wanted: impl Fn(&LifecycleAction) -> bool,
) -> LifecycleEvent {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let message = tokio::time::timeout_at(deadline, messages.recv())
            .await
            .unwrap_or_else(|_| panic!("no matching event of {service} within {within:?}"))
            .expect("the watch runs");
        if let WatchMessage::Event(event) = message {
            if event.service.as_deref() == Some(service) && wanted(&event.action) {
                return event;
            }
        }
    }
}

async fn eventually_status(
    engine: &Engine,
    project: &str,
    service: &str,
    status: ContainerStatus,
) -> compose_engine::Verdict {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let services = engine.project_services(Some(project)).await.unwrap();
        let verdict = judge_replicas(
            services.get(service).map_or(&[][..], Vec::as_slice),
            Utc::now(),
            RECENT_RESTART,
        );
        if verdict.status == status || std::time::Instant::now() > deadline {
            assert_eq!(verdict.status, status, "{service}: {verdict:?}");
            return verdict;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn a_projects_containers_their_endings_and_health_are_seen_with_their_events() {
    let Some(image) = BusyboxImage::import("engine", "compose_engine's real-engine test") else {
        return;
    };
    let project = format!("ce{}", image.run_id().replace(['-', '_'], ""));
    let engine = Engine::new(Path::new(DEFAULT_SOCKET));
    let shutdown = CancellationToken::new();
    let mut messages = watch(engine.clone(), Some(project.clone()), shutdown.clone());
    assert_eq!(messages.recv().await, Some(WatchMessage::Connected));

    image.run_compose_service(
        &project,
        "api",
        &["--label", "sidecars.health.url=http://api:8000/health"],
        "sleep 3600",
    );
    image.run_compose_service(&project, "worker", &[], "echo working; exit 3");
    image.run_compose_service(&project, "hog", &SMALL_MEMORY, EXHAUST_MEMORY);
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
        "sleep 3600",
    );
    // Not a service: a one-off container of the same project.
    docker(&[
        "run",
        "-d",
        "--label",
        &format!("com.docker.compose.project={project}"),
        "--label",
        "com.docker.compose.service=api",
        "--label",
        "com.docker.compose.oneoff=True",
        &image.tag,
        "sleep",
        "3600",
    ]);

    let worker_died = next_event(&mut messages, "worker", Duration::from_secs(20), |a| {
        matches!(a, LifecycleAction::Die { .. })
    })
    .await;
    assert_eq!(
        worker_died.action,
        LifecycleAction::Die { exit_code: Some(3) }
    );
    assert_eq!(worker_died.project.as_deref(), Some(project.as_str()));
    next_event(&mut messages, "sick", Duration::from_secs(20), |a| {
        *a == LifecycleAction::Health(HealthState::Unhealthy)
    })
    .await;

    let services = engine.project_services(Some(&project)).await.unwrap();
    assert_eq!(
        services.keys().map(String::as_str).collect::<Vec<_>>(),
        ["api", "hog", "sick", "worker"]
    );
    assert_eq!(
        services["api"].len(),
        1,
        "the one-off container is no replica"
    );
    assert_eq!(
        services["api"][0].labels["sidecars.health.url"],
        "http://api:8000/health"
    );

    let api = eventually_status(&engine, &project, "api", ContainerStatus::Up).await;
    assert!(api.detail.starts_with("running for "), "{api:?}");
    let worker = eventually_status(&engine, &project, "worker", ContainerStatus::Down).await;
    assert_eq!(worker.reason.as_deref(), Some("exited with code 3"));
    // The engine may set OOMKilled a moment after the exit code: asked until it says so.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let hog = eventually_status(&engine, &project, "hog", ContainerStatus::Down).await;
        if hog.reason.as_deref() == Some("exited with code 137 (OOM-killed)") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{hog:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let sick = eventually_status(&engine, &project, "sick", ContainerStatus::Down).await;
    assert_eq!(
        sick.reason.as_deref(),
        Some("HEALTHCHECK unhealthy: backend unreachable")
    );

    // Killed by a person, not by the OOM killer.
    docker(&["kill", &format!("{project}-api-1")]);
    let api_died = next_event(&mut messages, "api", Duration::from_secs(20), |a| {
        matches!(a, LifecycleAction::Die { .. })
    })
    .await;
    assert_eq!(
        api_died.action,
        LifecycleAction::Die {
            exit_code: Some(137)
        }
    );
    let api = eventually_status(&engine, &project, "api", ContainerStatus::Down).await;
    assert_eq!(api.reason.as_deref(), Some("exited with code 137 (killed)"));

    // Removed: missing.
    docker(&["rm", "-f", &format!("{project}-worker-1")]);
    next_event(&mut messages, "worker", Duration::from_secs(20), |a| {
        *a == LifecycleAction::Destroy
    })
    .await;
    let worker = eventually_status(&engine, &project, "worker", ContainerStatus::Down).await;
    assert_eq!(worker.reason.as_deref(), Some("container missing"));
    assert!(engine
        .container("no-such-container")
        .await
        .unwrap()
        .is_none());
    let missing = judge(None, Utc::now(), RECENT_RESTART);
    assert_eq!(missing.status, ContainerStatus::Down);
    shutdown.cancel();
}

#[tokio::test]
async fn an_engine_that_is_not_there_is_an_error_and_the_watch_keeps_trying() {
    let dir = tempfile_dir();
    let socket = dir.join("no-engine.sock");
    let engine = Engine::new(&socket);
    let err = engine.project_services(Some("shop")).await.unwrap_err();
    assert!(
        err.to_string().starts_with("cannot use the Docker socket"),
        "{err}"
    );
    // A socket file with no engine behind it (a stopped daemon leaves one).
    let _stale = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    drop(_stale);
    let err = Engine::new(&socket)
        .project_services(Some("shop"))
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("the Docker Engine did not answer"),
        "{err}"
    );
    let shutdown = CancellationToken::new();
    let mut messages = watch(engine, None, shutdown.clone());
    for _ in 0..2 {
        let message = tokio::time::timeout(Duration::from_secs(5), messages.recv())
            .await
            .expect("the watch says it lost the engine, then tries again")
            .unwrap();
        assert!(matches!(message, WatchMessage::Lost(_)), "{message:?}");
    }
    shutdown.cancel();
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("compose-engine-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test]
async fn the_view_follows_services_that_appear_change_and_disappear_without_polling() {
    let Some(image) = BusyboxImage::import("view", "compose_engine's project view test") else {
        return;
    };
    let project = format!("cv{}", image.run_id().replace(['-', '_'], ""));
    let shutdown = CancellationToken::new();
    let view = ProjectView::follow(
        Engine::new(Path::new(DEFAULT_SOCKET)),
        Some(project.clone()),
        shutdown.clone(),
    );
    assert!(view
        .replicas("api", Duration::from_secs(10))
        .await
        .unwrap()
        .is_empty());
    let mut lifecycle = view.events();

    image.run_compose_service(&project, "api", &[], "sleep 3600");
    let appeared = wait_for_view(&view, |services| {
        services
            .get("api")
            .is_some_and(|r| r[0].state == RunState::Running)
    })
    .await;
    assert!(appeared < Duration::from_secs(3), "{appeared:?}");

    docker(&["stop", "-t", "0", &format!("{project}-api-1")]);
    wait_for_view(&view, |services| {
        services
            .get("api")
            .is_some_and(|r| r[0].state == RunState::Exited)
    })
    .await;
    let event = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            let event = lifecycle.recv().await.unwrap();
            if matches!(event.action, LifecycleAction::Die { .. }) {
                return event;
            }
        }
    })
    .await
    .expect("the die event reaches the view's subscribers");
    assert_eq!(event.display_name(), "api");

    docker(&["rm", "-f", &format!("{project}-api-1")]);
    let gone = wait_for_view(&view, |services| !services.contains_key("api")).await;
    assert!(gone < Duration::from_secs(3), "{gone:?}");
    shutdown.cancel();
}

#[tokio::test]
async fn the_view_says_why_it_cannot_see_when_there_is_no_engine() {
    let socket = tempfile_dir().join("absent.sock");
    let shutdown = CancellationToken::new();
    let view = ProjectView::follow(Engine::new(&socket), None, shutdown.clone());
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let err = loop {
        match view.replicas("api", Duration::from_secs(1)).await {
            Err(ViewError::Unreachable(reason)) => break reason,
            other if std::time::Instant::now() > deadline => panic!("{other:?}"),
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    };
    assert!(err.starts_with("cannot use the Docker socket"), "{err}");
    shutdown.cancel();
}

/// Waits until the view's services satisfy `ready`; how long that took.
async fn wait_for_view(
    view: &ProjectView,
    ready: impl Fn(&std::collections::BTreeMap<String, Vec<compose_engine::ContainerFacts>>) -> bool,
) -> Duration {
    let started = std::time::Instant::now();
    let mut changes = view.changes();
    loop {
        if view.services().is_ok_and(|services| ready(&services)) {
            return started.elapsed();
        }
        tokio::time::timeout(Duration::from_secs(10), changes.changed())
            .await
            .expect("the view changes within 10 s")
            .unwrap();
    }
}
