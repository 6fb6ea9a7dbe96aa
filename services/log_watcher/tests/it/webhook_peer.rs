//! The real webhook_handler as log_watcher's peer: started on port 0 with a few hooks, sent
//! signed GitHub pushes, waited on until its jobs end, so that its `GET /deploys` has
//! something for log_watcher's markers.

use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use service_kit_testing::RunningService;

/// The secret of every test hook.
pub const SECRET: &str = "It's a Secret to Everybody";

/// A running webhook_handler with its own temporary directory.
pub struct WebhookPeer {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    client: reqwest::Client,
    service: RunningService,
    /// Its config's files and its data; removed on drop.
    _dir: tempfile::TempDir,
}

/// `[[hooks]]` `id` running `/bin/true`: a deploy that names no service.
pub fn command_hook(id: &str) -> String {
    format!("[[hooks]]\nid = \"{id}\"\nsecret = \"{SECRET}\"\ncommand = [\"/bin/true\"]\n")
}

impl WebhookPeer {
    /// Starts webhook_handler with `hooks` (TOML; [`WebhookPeer::compose_file`] gives a
    /// Compose file for Compose hooks), without `[auth]`, so reads from 127.0.0.1 are open.
    pub async fn start(hooks: impl FnOnce(&Path) -> String) -> WebhookPeer {
        let dir = tempfile::tempdir().unwrap();
        let config = hooks(dir.path());
        let settings = webhook_handler::settings::Settings::from_toml(&config)
            .unwrap_or_else(|e| panic!("webhook_handler test config: {e}\n{config}"));
        let service =
            RunningService::start(webhook_handler::run, settings, dir.path().join("data")).await;
        WebhookPeer {
            base: service.base.clone(),
            client: reqwest::Client::new(),
            service,
            _dir: dir,
        }
    }

    /// A Compose file in `dir` that Compose refuses to read, so a Compose hook's job starts
    /// (and is a deploy naming its services) and fails at once without touching Docker.
    pub fn compose_file(dir: &Path) -> PathBuf {
        let path = dir.join("docker-compose.yml");
        std::fs::write(&path, "services: [not closed\n").unwrap();
        path
    }

    /// The `[peers]` section pointing log_watcher at this webhook_handler.
    pub fn peers_section(&self) -> String {
        format!("[peers]\nwebhook_handler = \"{}\"\n", self.base)
    }

    /// Sends a signed GitHub push of `main` to `POST /hooks/HOOK`; returns the queued job.
    pub async fn push(&self, hook: &str, delivery: &str) -> i64 {
        let body = serde_json::to_vec(&json!({
            "ref": "refs/heads/main",
            "before": "0000000000000000000000000000000000000000",
            "after": "abc123",
            "repository": { "full_name": "org/app", "name": "app" },
            "pusher": { "name": "octocat", "email": "octocat@example.com" },
            "sender": { "login": "octocat" },
            "head_commit": { "id": "abc123", "message": "Deploy" }
        }))
        .unwrap();
        let response = self
            .client
            .post(format!("{}/hooks/{hook}", self.base))
            .header("content-type", "application/json")
            .header("x-github-event", "push")
            .header("x-github-delivery", delivery)
            .header(
                "x-hub-signature-256",
                webhook_handler::verify::github_signature(SECRET, &body),
            )
            .body(body)
            .send()
            .await
            .unwrap();
        let status = response.status();
        let answer: Value = response.json().await.unwrap();
        assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
        answer["job_id"].as_i64().expect("a job id")
    }

    /// Waits until job `id` has ended; returns it as `/jobs/ID` shows it.
    pub async fn wait_for_end(&self, id: i64) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let (status, job) = self.service.get_json(&format!("/jobs/{id}")).await;
            assert_eq!(status, StatusCode::OK, "{job}");
            if !matches!(job["state"].as_str(), Some("queued" | "running")) {
                return job;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "job {id} did not end: {job}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Pushes to `hook` and waits for the job to end; returns its id.
    pub async fn deploy(&self, hook: &str, delivery: &str) -> i64 {
        let id = self.push(hook, delivery).await;
        self.wait_for_end(id).await;
        id
    }

    /// Stops it.
    pub async fn stop(self) {
        self.service.stop().await;
    }
}
