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
//! Building, starting, the health and stop checks and the cleanup are those of every image
//! test ([`ImageTestRun`]).

use std::fs;
use std::net::{Ipv4Addr, TcpListener};

use serde_json::Value;
use service_kit_testing::docker::{
    docker, eventually, published_get, HttpResponse, ImageTestRun, ImageUnderTest,
};

/// The service's image as the spec's snippet names it.
const IMAGE: ImageUnderTest = ImageUnderTest {
    workspace: concat!(env!("CARGO_MANIFEST_DIR"), "/../.."),
    binary: env!("CARGO_BIN_EXE_healthcheck_dashboard"),
    service: CONTAINER,
    image: "healthcheck-dashboard",
    short_name: "hcd",
    project_prefix: "hcdimagetest",
};
/// `container_name` in the spec's snippet.
const CONTAINER: &str = "healthcheck_dashboard";
/// The host side of the snippet's `"9100:9100"`.
const PORT: u16 = 9100;
/// The password in the DSN of the example config.toml baked into the image.
const DSN_PASSWORD: &str = "mypassword";

#[test]
fn the_image_built_from_the_dockerfile_runs_the_spec_compose_snippet_as_non_root_and_reports_healthy(
) {
    let Some(stack) = ImageTestRun::prepare(IMAGE) else {
        return;
    };
    refuse_if_port_is_taken();
    write_override_file(&stack);
    stack.import_base_images();
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
    stack.wait_until_healthy();

    // `docker stop` sends SIGTERM and kills after 10 s: a clean, prompt exit shows as 0.
    stack.assert_stops_cleanly();
}

/// The only change to the spec's snippet: the built image gets this run's own tag instead of
/// `healthcheck-dashboard`, so the test never retags an image a developer built and the
/// cleanup removes exactly what this run built. (Compose 1.x merges `ports` lists, so an
/// override could not change the port mapping anyway.)
fn write_override_file(stack: &ImageTestRun) {
    fs::write(
        stack.override_file(),
        format!(
            "version: \"3.8\"\nservices:\n  healthcheck_dashboard:\n    image: {}\n",
            stack.tag
        ),
    )
    .unwrap();
}

/// The snippet fixes the host port; say plainly what is in the way instead of letting
/// Compose fail half-way.
fn refuse_if_port_is_taken() {
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
