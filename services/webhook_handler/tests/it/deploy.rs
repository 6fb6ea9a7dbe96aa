//! Health-gated deploys on the real Docker engine, with the real healthcheck_dashboard and
//! log_watcher beside the webhook handler: a good version stays; a version that fails its
//! health check, and one that crashes at start, are rolled back by themselves to the image
//! id that ran before, health comes back green, and one notification names the failure and
//! carries the service's own error lines.
//!
//! The app is one Compose service, `api`, from images made here with no registry: busybox
//! (`service_kit_testing::docker::BusyboxImage`) committed three times with other commands,
//! as `good`, `bad` (serves no `/health` and logs an error) and `crash` (logs an error and
//! exits). The deploy's `update` points `current` at one of them with `docker tag`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use reqwest::StatusCode;
use service_kit_testing::docker::{
    docker, require_compose, take_image_test_turn, BusyboxImage, RUN_LABEL,
};
use service_kit_testing::{FakeReceiver, RunningService};

use crate::support::{push_payload, spawn_app, TestApp};

const SECRET: &str = "deploy-secret";

/// The app's versions: the command each runs.
const VERSIONS: [(&str, &str); 4] = [
    (
        "good",
        "mkdir -p /www && echo ok > /www/health && echo 'INFO api started' && exec httpd -f -p 8000 -h /www",
    ),
    (
        "v2",
        "mkdir -p /www && echo ok > /www/health && echo 'INFO api v2 started' && exec httpd -f -p 8000 -h /www",
    ),
    (
        "bad",
        "mkdir -p /www && echo 'ERROR database connection refused: db:5432' && exec httpd -f -p 8000 -h /www",
    ),
    (
        "crash",
        "echo 'ERROR fatal: missing DATABASE_URL' && exit 3",
    ),
];

/// Everything one test made on the engine, removed on drop.
struct Stack {
    /// The imported busybox; dropping it removes every image and container labelled with its
    /// run (the app's images and containers carry the label too).
    _image: BusyboxImage,
    dir: tempfile::TempDir,
    file: PathBuf,
    project: String,
    repository: String,
    port: u16,
    /// This test's turn on the engine (image tests read every container's logs), given up
    /// last, after the cleanup.
    _turn: std::fs::File,
}

impl Drop for Stack {
    fn drop(&mut self) {
        let _ = Command::new("docker-compose")
            .arg("-f")
            .arg(&self.file)
            .args(["-p", &self.project, "down", "--volumes", "--timeout", "1"])
            .output();
        for version in ["good", "v2", "bad", "crash", "current"] {
            let _ = Command::new("docker")
                .args(["rmi", "-f", &format!("{}:{version}", self.repository)])
                .output();
        }
    }
}

impl Stack {
    /// The images, the Compose file (api on a free host port) and `current` = good, up.
    fn start(name: &str) -> Option<Stack> {
        let image = BusyboxImage::import(name, "deploys run on the engine")?;
        let turn = take_image_test_turn();
        if !require_compose("deploys run through docker-compose on this machine") {
            return None;
        }
        let run = image.run_id().to_string();
        let repository = format!("sidecars-test/{name}-api-{}", run.replace('-', ""));
        for (version, command) in VERSIONS {
            let container = docker(&["create", &image.tag, "sh", "-c", "true"]);
            let container = container.trim();
            docker(&[
                "commit",
                "--change",
                &format!("CMD [\"sh\", \"-c\", {command:?}]"),
                "--change",
                &format!("LABEL {RUN_LABEL}={run}"),
                container,
                &format!("{repository}:{version}"),
            ]);
            docker(&["rm", container]);
        }
        docker(&[
            "tag",
            &format!("{repository}:good"),
            &format!("{repository}:current"),
        ]);
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let file = dir.path().join("docker-compose.yml");
        std::fs::write(
            &file,
            format!(
                "version: \"3.8\"\nservices:\n  api:\n    image: {repository}:current\n    ports:\n      - \"127.0.0.1:{port}:8000\"\n    labels:\n      {RUN_LABEL}: \"{run}\"\n"
            ),
        )
        .unwrap();
        let project = format!("whdeploy{}", run.replace('-', ""));
        let stack = Stack {
            _image: image,
            dir,
            file,
            project,
            repository,
            port,
            _turn: turn,
        };
        stack.compose(&["up", "-d"]);
        Some(stack)
    }

    fn compose(&self, args: &[&str]) {
        let out = Command::new("docker-compose")
            .arg("-f")
            .arg(&self.file)
            .args(["-p", &self.project])
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The image id of the api container (the newest, running or not).
    fn running_image(&self) -> String {
        let ids = docker(&[
            "ps",
            "-a",
            "--filter",
            &format!("label=com.docker.compose.project={}", self.project),
            "--format",
            "{{.ID}}",
        ]);
        let newest = ids.lines().next().expect("an api container");
        docker(&["inspect", "--format", "{{.Image}}", newest.trim()])
            .trim()
            .to_string()
    }

    fn image_id(&self, version: &str) -> String {
        docker(&[
            "inspect",
            "--format",
            "{{.Id}}",
            &format!("{}:{version}", self.repository),
        ])
        .trim()
        .to_string()
    }
}

/// The sidecars beside the stack: healthcheck_dashboard probing `api`, log_watcher reading
/// the project's containers, and the webhook handler with a deploy hook whose update points
/// `current` at the version the push's tag names.
struct Sidecars {
    health: RunningService,
    _logs: RunningService,
    hooks: TestApp,
    receiver: FakeReceiver,
}

async fn sidecars(stack: &Stack, rollback: bool) -> Sidecars {
    let data = stack.dir.path();
    let health_config = format!(
        "[checks]\ninterval_secs = 1\nendpoints = [ {{ name = \"api\", url = \"http://127.0.0.1:{}/health\", type = \"http\", timeout_ms = 800, failure_threshold = 2 }} ]\n",
        stack.port
    );
    let health = RunningService::start(
        healthcheck_dashboard::run,
        healthcheck_dashboard::settings::Settings::from_toml(&health_config).unwrap(),
        data.join("health"),
    )
    .await;
    let logs_config = format!(
        "[log_sources.docker_api]\nproject = \"{}\"\n[filters]\nlevels = [\"error\", \"warning\"]\n",
        stack.project
    );
    let logs = RunningService::start(
        log_watcher::run,
        log_watcher::settings::Settings::from_toml(&logs_config).unwrap(),
        data.join("logs"),
    )
    .await;
    let receiver = FakeReceiver::start().await;
    let update = Path::new(data).join("promote.sh");
    crate::support::script(
        data,
        "promote.sh",
        &format!(
            "docker tag \"{0}:$WEBHOOK_TAG\" \"{0}:current\"",
            stack.repository
        ),
    );
    let hooks_config = format!(
        r#"
[[hooks]]
id = "app"
secret = "{SECRET}"
notify = "{notify}"

[hooks.deploy]
compose_file = "{file}"
project = "{project}"
services = ["api"]
update = ["{update}"]
health_url = "{health}"
healthy_rounds = 2
grace_secs = 20
logs_url = "{logs}"
rollback = {rollback}
"#,
        notify = receiver.url(),
        file = stack.file.display(),
        project = stack.project,
        update = update.display(),
        health = health.base,
        logs = logs.base,
    );
    let hooks = spawn_app(&hooks_config, &data.join("hooks")).await;
    Sidecars {
        health,
        _logs: logs,
        hooks,
        receiver,
    }
}

/// Sends a signed push of tag `version`; returns the ended job.
async fn deploy(sidecars: &Sidecars, version: &str) -> serde_json::Value {
    let mut payload = push_payload("org/app", "main", "c0ffee");
    payload["ref"] = serde_json::json!(format!("refs/tags/{version}"));
    let body = serde_json::to_vec(&payload).unwrap();
    let (status, answer) = sidecars
        .hooks
        .send_github(
            "/hooks/app",
            SECRET,
            "push",
            &format!("push-{version}"),
            &body,
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    let id = answer["job_id"].as_i64().unwrap();
    sidecars
        .hooks
        .wait_for_job_end(id, Duration::from_secs(120))
        .await
}

async fn wait_green(sidecars: &Sidecars) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (_, api) = sidecars.health.get_json("/health/api").await;
        if api["status"] == "up" {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "api never green: {api}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn step_names(job: &serde_json::Value) -> Vec<String> {
    job["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            format!(
                "{}:{}",
                s["name"].as_str().unwrap(),
                s["outcome"].as_str().unwrap()
            )
        })
        .collect()
}

#[tokio::test]
async fn a_good_version_stays_and_a_failing_one_is_rolled_back_with_its_error_lines() {
    let Some(stack) = Stack::start("deploy") else {
        return;
    };
    let sidecars = sidecars(&stack, true).await;
    wait_green(&sidecars).await;

    // A good new version: deployed, verified, kept.
    assert_eq!(stack.running_image(), stack.image_id("good"));
    let job = deploy(&sidecars, "v2").await;
    assert_eq!(job["state"], "succeeded", "{job:#}");
    let names = step_names(&job);
    assert!(names.starts_with(&["recorded:ok".to_string()]), "{names:?}");
    assert!(names.contains(&"updated:ok".to_string()), "{names:?}");
    assert!(names.contains(&"started:ok".to_string()), "{names:?}");
    assert!(names.contains(&"health:ok".to_string()), "{names:?}");
    assert_eq!(stack.running_image(), stack.image_id("v2"));

    // A version that fails its health check: rolled back within the grace time.
    let started = std::time::Instant::now();
    let job = deploy(&sidecars, "bad").await;
    let took = started.elapsed();
    assert_eq!(job["state"], "rolled_back", "{job:#}");
    assert!(took < Duration::from_secs(60), "took {took:?}");
    let reason = job["reason"].as_str().unwrap();
    assert!(reason.contains("api"), "{reason}");
    let names = step_names(&job);
    assert!(names.contains(&"health:failed".to_string()), "{names:?}");
    assert!(names.contains(&"rolled back:ok".to_string()), "{names:?}");
    assert!(
        names.contains(&"health after rollback:ok".to_string()),
        "{names:?}"
    );
    assert_eq!(
        stack.running_image(),
        stack.image_id("v2"),
        "the old image runs again"
    );
    wait_green(&sidecars).await;
    let notes = sidecars.receiver.wait_for(2, Duration::from_secs(20)).await;
    let failure = notes
        .iter()
        .filter_map(|n| n.json.clone())
        .find(|n| n["title"].as_str().unwrap_or("").contains("rolled back"))
        .expect("a notification of the rollback");
    let text = failure["text"].as_str().unwrap();
    assert!(text.contains("health check api"), "{text}");
    assert!(
        text.contains("database connection refused"),
        "the service's own error line: {text}"
    );
    assert_steps_timeline(&sidecars.hooks, job["id"].as_i64().unwrap()).await;

    // A version that crashes at start: the same rollback, at once.
    let job = deploy(&sidecars, "crash").await;
    assert_eq!(job["state"], "rolled_back", "{job:#}");
    assert!(
        job["reason"]
            .as_str()
            .unwrap()
            .contains("api exited with code 3"),
        "{job:#}"
    );
    assert_eq!(stack.running_image(), stack.image_id("v2"));
    wait_green(&sidecars).await;
}

/// The dashboard shows the deploy's steps as a timeline, the script drawing what the server
/// drew (in Chromium).
async fn assert_steps_timeline(hooks: &TestApp, id: i64) {
    let Some(mut browser) = service_kit_testing::browser::Browser::launch().await else {
        return;
    };
    browser
        .open(
            &format!("{}/dashboard?job={id}", hooks.base),
            "document.querySelectorAll('#steps li').length > 5 && document.body.dataset.updates !== '0'",
            Duration::from_secs(15),
        )
        .await;
    let shape =
        "root => [...root.querySelectorAll('#steps li')].map(li => [li.className, li.textContent])";
    let shapes = browser
        .server_and_script_shapes(&format!("dashboard?job={id}"), shape, "() => true")
        .await;
    assert_eq!(shapes["server"], shapes["script"], "{shapes:#}");
    let steps = shapes["script"].to_string();
    for expected in ["step step-failed", "health", "rolled back", "step step-ok"] {
        assert!(steps.contains(expected), "{expected} not in {steps}");
    }
    browser
        .close_without_problems("the deploy's timeline")
        .await;
}

#[tokio::test]
async fn without_rollback_a_failed_deploy_stays_failed() {
    let Some(stack) = Stack::start("norollback") else {
        return;
    };
    let sidecars = sidecars(&stack, false).await;
    wait_green(&sidecars).await;
    let job = deploy(&sidecars, "crash").await;
    assert_eq!(job["state"], "failed", "{job:#}");
    assert_eq!(
        stack.running_image(),
        stack.image_id("crash"),
        "left as it is"
    );
}

#[tokio::test]
async fn an_unreachable_healthcheck_dashboard_fails_the_deploy_with_that_reason_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = FakeReceiver::start().await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let health = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let config = format!(
        r#"
[[hooks]]
id = "app"
secret = "{SECRET}"
notify = "{notify}"

[hooks.deploy]
services = ["api"]
record = ["/bin/echo", "v1"]
update = ["/bin/true"]
restore = ["/bin/true"]
health_url = "{health}"
grace_secs = 30
rollback = false
"#,
        notify = receiver.url()
    );
    let hooks = spawn_app(&config, &dir.path().join("data")).await;
    let body = serde_json::to_vec(&push_payload("org/app", "main", "abc")).unwrap();
    let started = std::time::Instant::now();
    let (_, answer) = hooks
        .send_github("/hooks/app", SECRET, "push", "u-1", &body)
        .await;
    let job = hooks
        .wait_for_job_end(answer["job_id"].as_i64().unwrap(), Duration::from_secs(30))
        .await;
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "no hang: {:?}",
        started.elapsed()
    );
    assert_eq!(job["state"], "failed", "{job:#}");
    let reason = job["reason"].as_str().unwrap();
    assert!(reason.contains("unreachable"), "{reason}");
    let names = step_names(&job);
    assert!(
        names.contains(&"maintenance:skipped".to_string()),
        "{names:?}"
    );
    assert!(names.contains(&"health:failed".to_string()), "{names:?}");
    let sent = receiver.wait_for(1, Duration::from_secs(10)).await;
    let text = sent[0].json.as_ref().unwrap()["text"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        text.contains("unreachable"),
        "the notification says why: {text}"
    );
    // The handler goes on serving.
    let (status, _) = hooks.get_json("/livez").await;
    assert_eq!(status, StatusCode::OK);
}
