//! Test support: the real service on port 0 (`spawn_app`), signed deliveries as each
//! provider sends them, and waiting for jobs to end.

use std::path::Path;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use service_kit_testing::RunningService;
use webhook_handler::settings::Settings;
pub use webhook_handler::verify::github_signature;

/// A running webhook_handler.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// A plain client.
    pub client: reqwest::Client,
    /// Bearer token sent with the `get_*` reads, when the config asks for credentials.
    pub read_token: Option<String>,
    service: RunningService,
}

/// Starts the service with `config_toml`, keeping its state in `data_dir`.
pub async fn spawn_app(config_toml: &str, data_dir: &Path) -> TestApp {
    let settings = Settings::from_toml(config_toml).expect("test config must be valid");
    let service =
        RunningService::start(webhook_handler::run, settings, data_dir.to_path_buf()).await;
    TestApp {
        base: service.base.clone(),
        client: reqwest::Client::new(),
        read_token: None,
        service,
    }
}

/// A GitHub push payload.
pub fn push_payload(repo: &str, branch: &str, commit: &str) -> Value {
    json!({
        "ref": format!("refs/heads/{branch}"),
        "before": "0000000000000000000000000000000000000000",
        "after": commit,
        "repository": { "full_name": repo, "name": repo.rsplit('/').next().unwrap_or(repo) },
        "pusher": { "name": "octocat", "email": "octocat@example.com" },
        "sender": { "login": "octocat" },
        "head_commit": { "id": commit, "message": "Deploy" }
    })
}

impl TestApp {
    /// POSTs `body` to `path` as GitHub would: signed with `secret`, event `event`,
    /// delivery id `delivery`.
    pub async fn send_github(
        &self,
        path: &str,
        secret: &str,
        event: &str,
        delivery: &str,
        body: &[u8],
    ) -> (StatusCode, Value) {
        let request = self
            .client
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .header("x-github-event", event)
            .header("x-github-delivery", delivery)
            .header("x-hub-signature-256", github_signature(secret, body))
            .body(body.to_vec());
        send(request).await
    }

    /// Sends `request` (built on [`Self::client`]) and reads the JSON answer.
    pub async fn send(&self, request: reqwest::RequestBuilder) -> (StatusCode, Value) {
        send(request).await
    }

    /// Sends the reads of this test with `token` from now on.
    pub fn with_read_token(mut self, token: &str) -> TestApp {
        self.read_token = Some(token.to_string());
        self
    }

    /// GET `path` as JSON.
    pub async fn get_json(&self, path: &str) -> (StatusCode, Value) {
        let (status, text) = self.get_text(path).await;
        let json = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{path} did not answer JSON ({e}): {text}"));
        (status, json)
    }

    /// GET `path` as text.
    pub async fn get_text(&self, path: &str) -> (StatusCode, String) {
        let mut request = self.service.request(path);
        if let Some(token) = &self.read_token {
            request = request.bearer_auth(token);
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        let status = response.status();
        (status, response.text().await.expect("a text body"))
    }

    /// Polls `/jobs/ID` until its state is final; returns the job.
    pub async fn wait_for_job_end(&self, id: i64, timeout: Duration) -> Value {
        self.wait_for_job(id, timeout, |job| {
            !matches!(job["state"].as_str(), Some("queued") | Some("running"))
        })
        .await
    }

    /// Polls `/jobs/ID` until `done` accepts it; returns the job.
    pub async fn wait_for_job(
        &self,
        id: i64,
        timeout: Duration,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let (status, job) = self.get_json(&format!("/jobs/{id}")).await;
            assert_eq!(status, StatusCode::OK, "{job}");
            if done(&job) {
                return job;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "job {id} not as expected within {timeout:?}: {job}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Stops the service and waits for it to finish.
    pub async fn stop(self) {
        self.service.stop().await;
    }
}

/// Sends `request` and reads the JSON answer (panics when it is not JSON).
pub async fn send(request: reqwest::RequestBuilder) -> (StatusCode, Value) {
    let response = request.send().await.expect("request sent");
    let status = response.status();
    let text = response.text().await.expect("a body");
    let json = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("answer is not JSON ({e}): {status} {text:?}"));
    (status, json)
}

/// Writes an executable script `name` into `dir` and returns its path as text.
pub fn script(dir: &Path, name: &str, body: &str) -> String {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("write script");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path.display().to_string()
}
