//! Compose actions on the real Docker engine: a hook whose action is `compose = {...}`
//! brings up its service through the machine's Compose program (`docker compose`, or
//! `docker-compose` where only that exists, as here), and a failing `pull` (no registry is
//! reachable) fails the job with Compose's own words in its output. Everything the test made
//! is removed, also when it fails.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use service_kit_testing::docker::{
    docker, require_compose, take_image_test_turn, BusyboxImage, RUN_LABEL,
};

use crate::support::{push_payload, spawn_app};

const SECRET: &str = "compose-secret";

/// `docker-compose down` of the test's project when dropped.
struct ComposeProject {
    file: PathBuf,
    name: String,
}

impl Drop for ComposeProject {
    fn drop(&mut self) {
        let _ = Command::new("docker-compose")
            .arg("-f")
            .arg(&self.file)
            .args([
                "-p",
                &self.name,
                "down",
                "--volumes",
                "--remove-orphans",
                "--timeout",
                "1",
            ])
            .output();
    }
}

fn write_compose_file(dir: &Path, image: &BusyboxImage) -> PathBuf {
    let file = dir.join("docker-compose.yml");
    std::fs::write(
        &file,
        format!(
            "version: \"3.8\"\nservices:\n  app:\n    image: {tag}\n    command: [\"sleep\", \"300\"]\n\
             \x20   labels:\n      {RUN_LABEL}: \"{run}\"\n\
             \x20 other:\n    image: {tag}\n    command: [\"sleep\", \"300\"]\n\
             \x20   labels:\n      {RUN_LABEL}: \"{run}\"\n",
            tag = image.tag,
            run = image.run_id()
        ),
    )
    .unwrap();
    file
}

#[tokio::test]
async fn a_compose_action_brings_up_only_its_services_and_a_failed_pull_fails_the_job() {
    let Some(image) = BusyboxImage::import("compose-app", "Compose actions run on the engine")
    else {
        return;
    };
    if !require_compose("Compose actions run through docker-compose on this machine") {
        return;
    }
    // Image tests read every container's logs: one test on the engine at a time.
    let _turn = take_image_test_turn();
    let dir = tempfile::tempdir().unwrap();
    let file = write_compose_file(dir.path(), &image);
    let project = ComposeProject {
        file: file.clone(),
        name: format!("whcompose{}", image.run_id().replace('-', "")),
    };
    let config = format!(
        "[[hooks]]\nid = \"up\"\nsecret = \"{SECRET}\"\n\
         compose = {{ file = \"{file}\", services = [\"app\"], project = \"{name}\", pull = false }}\n\
         [[hooks]]\nid = \"pull\"\nsecret = \"{SECRET}\"\n\
         compose = {{ file = \"{file}\", services = [\"app\"], project = \"{name}\" }}\n",
        file = file.display(),
        name = project.name
    );
    let app = spawn_app(&config, &dir.path().join("data")).await;
    let (_, livez) = app.get_json("/livez").await;
    assert!(
        livez["compose"].as_str().unwrap().starts_with("docker"),
        "{livez}"
    );

    let payload = serde_json::to_vec(&push_payload("org/app", "main", "abc")).unwrap();
    let (_, answer) = app
        .send_github("/hooks/up", SECRET, "push", "c-1", &payload)
        .await;
    let job = app
        .wait_for_job_end(answer["job_id"].as_i64().unwrap(), Duration::from_secs(60))
        .await;
    assert_eq!(job["state"], "succeeded", "{job}");
    let running = docker(&[
        "ps",
        "--filter",
        &format!("label=com.docker.compose.project={}", project.name),
        "--format",
        "{{.Label \"com.docker.compose.service\"}}",
    ]);
    assert_eq!(running.trim(), "app", "only the hook's service runs");

    let (_, answer) = app
        .send_github("/hooks/pull", SECRET, "push", "c-2", &payload)
        .await;
    let job = app
        .wait_for_job_end(answer["job_id"].as_i64().unwrap(), Duration::from_secs(120))
        .await;
    assert_eq!(job["state"], "failed", "{job}");
    let output = job["output"].as_str().unwrap();
    assert!(
        output.contains(" pull app"),
        "the command is shown: {output}"
    );
    assert!(
        job["reason"].as_str().unwrap().starts_with("exit code"),
        "{job}"
    );
    drop(project);
}
