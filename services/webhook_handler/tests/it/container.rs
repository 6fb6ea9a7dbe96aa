//! The Docker image as users run it: the Dockerfile builds it, the spec's Compose snippet
//! (the root docker-compose.yml, with `./scripts` mounted and `WEBHOOK_SECRET`,
//! `ACTION_SCRIPT`, `CONFIG_PATH` set) starts it, and the container runs as a non-root user,
//! accepts a push signed with the snippet's secret on port 9000, runs the mounted
//! `deploy.sh` with the push's facts, prints the spec's lines, keeps job output from the
//! network without credentials, reports itself healthy through the binary's own
//! `selfcheck`, and exits 0 promptly on `docker stop`.
//!
//! As in the other image tests, the Dockerfile's base images are local stand-ins (busybox
//! plus the binary's shared libraries; see `service_kit_testing::docker`).

use std::fs;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::time::Duration;

use service_kit_testing::docker::{
    docker, eventually, published_get, ImageTestRun, ImageUnderTest,
};

use crate::support::{github_signature, push_payload};

/// The service's image as the spec's snippet names it.
const IMAGE: ImageUnderTest = ImageUnderTest {
    workspace: concat!(env!("CARGO_MANIFEST_DIR"), "/../.."),
    binary: env!("CARGO_BIN_EXE_webhook_handler"),
    service: CONTAINER,
    image: "webhook-handler",
    short_name: "wh",
    project_prefix: "whimagetest",
};
/// `container_name` in the spec's snippet.
const CONTAINER: &str = "webhook_handler";
/// The host side of the snippet's `"9000:9000"`.
const PORT: u16 = 9000;
/// `WEBHOOK_SECRET` in the snippet.
const SNIPPET_SECRET: &str = "your_shared_secret";

#[test]
fn the_image_runs_the_spec_compose_snippet_and_deploys_a_signed_push_with_the_mounted_script() {
    let Some(stack) = ImageTestRun::prepare(IMAGE) else {
        return;
    };
    if let Err(err) = TcpListener::bind((Ipv4Addr::UNSPECIFIED, PORT)) {
        panic!(
            "host port {PORT} is in use ({err}); the spec's snippet publishes \"{PORT}:{PORT}\""
        );
    }
    fs::write(
        stack.override_file(),
        format!(
            "version: \"3.8\"\nservices:\n  webhook_handler:\n    image: {}\n",
            stack.tag
        ),
    )
    .unwrap();
    stack.import_base_images();
    stack.build_and_start();
    eventually("/livez to answer on the published port", 30, || {
        published_get(PORT, "/livez").filter(|r| r.status == 200)
    });

    // The baked-in config.toml's filters accept yourorg/yourrepo only.
    let body = serde_json::to_vec(&push_payload("yourorg/yourrepo", "main", "c0ffee1")).unwrap();
    let forged = post(&body, "not the secret", "img-0");
    assert!(forged.starts_with("HTTP/1.1 401"), "{forged}");
    let accepted = post(&body, SNIPPET_SECRET, "img-1");
    assert!(accepted.starts_with("HTTP/1.1 202"), "{accepted}");

    // The job ran the mounted scripts/deploy.sh inside the container, as the image's user.
    let job = eventually("the job to end", 30, || {
        let job = docker(&[
            "exec",
            CONTAINER,
            "wget",
            "-qO-",
            "http://127.0.0.1:9000/jobs/1",
        ]);
        (job.contains("\"state\":\"succeeded\"") || job.contains("\"state\":\"failed\""))
            .then_some(job)
    });
    assert!(job.contains("\"state\":\"succeeded\""), "{job}");
    assert!(
        job.contains("Deploying yourorg/yourrepo refs/heads/main at c0ffee1 (delivery img-1)"),
        "{job}"
    );
    let logs = docker(&["logs", CONTAINER]);
    for line in [
        "[INFO] Received push event for repo yourorg/yourrepo.",
        "[INFO] Signature validated.",
        "[INFO] Running deploy.sh...",
        "[INFO] Deployment completed.",
    ] {
        assert!(logs.contains(line), "missing {line:?} in:\n{logs}");
    }

    // Job output is not served to the network without credentials (the published port
    // reaches the container from the Docker bridge, not from its loopback).
    let jobs = published_get(PORT, "/jobs/1/log").expect("an answer");
    assert_eq!(jobs.status, 403, "{}", jobs.body);

    assert_eq!(docker(&["exec", CONTAINER, "id", "-u"]).trim(), "10001");
    stack.wait_until_healthy();
    stack.assert_stops_cleanly();
}

/// POSTs a signed GitHub push to `/` on the published port; returns the whole answer.
fn post(body: &[u8], secret: &str, delivery: &str) -> String {
    let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, PORT)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let head = format!(
        "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
         X-GitHub-Event: push\r\nX-GitHub-Delivery: {delivery}\r\nX-Hub-Signature-256: {}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        github_signature(secret, body),
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}
