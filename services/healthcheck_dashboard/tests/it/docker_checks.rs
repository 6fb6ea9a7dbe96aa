//! `docker` checks against the real engine: a Compose service's container is up while it
//! runs, degraded while its HEALTHCHECK starts, and down with the reason a person needs when
//! it exited (its exit code), was OOM-killed, went unhealthy or is missing.

use std::time::Duration;

use service_kit_testing::docker::{docker, BusyboxImage, EXHAUST_MEMORY, SMALL_MEMORY};

use service_kit_testing::browser::Browser;

use crate::support::spawn_app;

/// The dashboard's grid as a list: group headings by their text, cards by name, marked when
/// discovered.
const GROUP_SHAPE: &str = r#"(root) => [...root.querySelector('#services').children].map(n =>
  n.matches('h2.group') ? n.textContent
    : n.dataset.name + (n.querySelector('.card-head .found') ? ' (discovered)' : ''))"#;

const WAIT: Duration = Duration::from_secs(30);

#[tokio::test]
async fn a_compose_services_container_state_is_its_checks_status_with_the_reason() {
    let Some(image) = BusyboxImage::import("hc-docker", "docker checks of healthcheck_dashboard")
    else {
        return;
    };
    let project = format!("hd{}", image.run_id().replace(['-', '_'], ""));
    image.run_compose_service(&project, "api", &[], "sleep 3600");
    image.run_compose_service(&project, "worker", &[], "echo bye; exit 3");
    image.run_compose_service(&project, "hog", &SMALL_MEMORY, EXHAUST_MEMORY);
    image.run_compose_service(
        &project,
        "warming",
        &[
            "--health-cmd",
            "false",
            "--health-interval",
            "1h",
            "--health-start-period",
            "1h",
        ],
        "sleep 3600",
    );
    let app = spawn_app(&format!(
        r#"
[discovery]
project = "{project}"

[checks]
interval_secs = 1
endpoints = [
  {{ name = "api", type = "docker" }},
  {{ name = "jobs", type = "docker", service = "worker" }},
  {{ name = "hog", type = "docker" }},
  {{ name = "warming", type = "docker" }},
  {{ name = "ghost", type = "docker" }},
  {{ name = "elsewhere", type = "docker", service = "api", project = "no-such-project" }},
]
"#
    ))
    .await;

    let api = app
        .wait_for_service("api", WAIT, |s| s["status"] == "up")
        .await;
    assert_eq!(api["type"], "docker");
    assert_eq!(api["target"], format!("{project}/api"));
    assert!(
        api["detail"].as_str().unwrap().starts_with("running for "),
        "{api}"
    );
    let jobs = app
        .wait_for_service("jobs", WAIT, |s| s["status"] == "down")
        .await;
    assert_eq!(jobs["error"], "exited with code 3");
    // The engine may tell the OOM kill a moment after the death: the check follows.
    app.wait_for_service("hog", WAIT, |s| {
        s["status"] == "down" && s["error"] == "exited with code 137 (OOM-killed)"
    })
    .await;
    let warming = app
        .wait_for_service("warming", WAIT, |s| s["status"] != "unknown")
        .await;
    assert_eq!(warming["status"], "degraded", "{warming}");
    assert_eq!(warming["error"], "HEALTHCHECK starting");
    for missing in ["ghost", "elsewhere"] {
        let view = app
            .wait_for_service(missing, WAIT, |s| s["status"] == "down")
            .await;
        assert_eq!(view["error"], "container missing", "{view}");
    }

    // Killed while watched: down within a round or two, with the signal's exit code.
    docker(&["kill", &format!("{project}-api-1")]);
    let api = app
        .wait_for_service("api", Duration::from_secs(10), |s| s["status"] == "down")
        .await;
    assert_eq!(api["error"], "exited with code 137 (killed)");
    app.stop().await;
}

#[tokio::test]
async fn docker_checks_without_an_engine_are_down_saying_so_and_other_checks_go_on() {
    let socket = std::env::temp_dir().join(format!("no-engine-{}.sock", std::process::id()));
    let app = spawn_app(&format!(
        r#"
[discovery]
socket = "{}"

[checks]
interval_secs = 1
endpoints = [
  {{ name = "api", type = "docker" }},
  {{ name = "self", type = "command", command = "true" }},
]
"#,
        socket.display()
    ))
    .await;
    let api = app
        .wait_for_service("api", WAIT, |s| s["status"] == "down")
        .await;
    let error = api["error"].as_str().unwrap();
    assert!(
        error.starts_with("Docker Engine: cannot use the Docker socket"),
        "{error}"
    );
    app.wait_for_service("self", WAIT, |s| s["status"] == "up")
        .await;
    app.stop().await;
}

#[tokio::test]
async fn discovery_checks_every_service_of_the_project_and_follows_it_while_running() {
    let Some(image) = BusyboxImage::import("hc-discovery", "discovery of healthcheck_dashboard")
    else {
        return;
    };
    let project = format!("hx{}", image.run_id().replace(['-', '_'], ""));
    let port = service_kit_testing::binary::free_port();
    let publish = format!("127.0.0.1:{port}:8000");
    let url_label = format!("sidecars.health.url=http://127.0.0.1:{port}/health");
    let web = "mkdir -p /www && echo ok > /www/health && exec httpd -f -p 8000 -h /www";
    image.run_compose_service(
        &project,
        "api",
        &[
            "-p",
            &publish,
            "--label",
            &url_label,
            "--label",
            "sidecars.health.interval=1s",
            "--label",
            "sidecars.health.expected_status=200",
        ],
        web,
    );
    image.run_compose_service(&project, "worker", &[], "sleep 3600");
    image.run_compose_service(
        &project,
        "hidden",
        &["--label", "sidecars.health.enabled=false"],
        "sleep 3600",
    );
    image.run_compose_service(&project, "db", &[], "sleep 3600");
    let app = spawn_app(&format!(
        r#"
[discovery]
docker = true
project = "{project}"

[checks]
interval_secs = 1
endpoints = [
  {{ name = "db", type = "command", command = "true" }},
]
"#
    ))
    .await;

    let api = app
        .wait_for_service("api", WAIT, |s| s["status"] == "up")
        .await;
    assert_eq!(api["type"], "http", "{api}");
    assert_eq!(api["target"], format!("http://127.0.0.1:{port}/health"));
    assert_eq!(api["discovered"], true);
    assert_eq!(api["project"], project.as_str());
    assert_eq!(api["interval_secs"], 1);
    let worker = app
        .wait_for_service("worker", WAIT, |s| s["status"] == "up")
        .await;
    assert_eq!(worker["type"], "docker");
    let status = app.get_json("/api/status").await.1;
    let names: Vec<&str> = status["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert!(!names.contains(&"hidden"), "{names:?}");
    let db = crate::support::service(&status, "db").unwrap();
    assert_eq!(db["type"], "command", "the configured endpoint wins");
    assert!(db.get("discovered").is_none());
    // `/health` carries the discovered services like any other.
    let health = app.get_json("/health").await.1;
    assert_eq!(health["services"]["api"]["status"], "up", "{health}");

    // The dashboard groups the checks by project, discovered ones marked, the same whether
    // the server or the script draws it.
    if let Some(mut browser) = Browser::launch().await {
        browser
            .open(
                &format!("{}/dashboard", app.base),
                "document.body.dataset.source === 'sse'",
                WAIT,
            )
            .await;
        let shapes = browser
            .server_and_script_shapes("dashboard", GROUP_SHAPE, "() => true")
            .await;
        assert_eq!(shapes["script"], shapes["server"], "{shapes:#}");
        let script: Vec<&str> = shapes["script"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n.as_str().unwrap())
            .collect();
        assert_eq!(
            script,
            [
                "Other checks",
                "db",
                &format!("Compose project {project}"),
                "api (discovered)",
                "worker (discovered)",
            ]
        );
        browser
            .close_without_problems("no script errors, no CSP violations")
            .await;
    }

    // A stopped container is down with its exit reason, not a refused connection (a probe
    // that raced its death may say that for one round).
    docker(&["kill", &format!("{project}-api-1")]);
    app.wait_for_service("api", Duration::from_secs(10), |s| {
        s["status"] == "down" && s["error"] == "exited with code 137 (killed)"
    })
    .await;

    // A service added while running is picked up within seconds, and one removed goes.
    let added = std::time::Instant::now();
    image.run_compose_service(&project, "late", &[], "sleep 3600");
    app.wait_for_service("late", Duration::from_secs(10), |s| s["status"] == "up")
        .await;
    assert!(
        added.elapsed() < Duration::from_secs(5),
        "{:?}",
        added.elapsed()
    );
    docker(&["rm", "-f", &format!("{project}-worker-1")]);
    app.wait_for_status(Duration::from_secs(10), |s| {
        crate::support::service(s, "worker").is_none()
    })
    .await;
    app.stop().await;
}

#[tokio::test]
async fn discovery_without_a_project_stops_start_up_naming_the_key() {
    let err = healthcheck_dashboard::settings::Settings::from_toml("[discovery]\ndocker = true\n")
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid config: discovery.project: is required with docker = true (the Compose project whose services to check)"
    );
}
