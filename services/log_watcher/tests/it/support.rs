//! Test support: start the real service on port 0 over a temporary log directory, write
//! lines, and query the API.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use log_watcher::config::Config;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

/// A running log_watcher.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    client: reqwest::Client,
    shutdown: CancellationToken,
    task: Option<tokio::task::JoinHandle<Result<(), log_watcher::RunError>>>,
}

/// Starts the service with `config_toml` and `data_dir`.
pub async fn spawn_app(config_toml: &str, data_dir: &Path) -> TestApp {
    let config = Config::from_toml(config_toml).expect("test config must be valid");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(log_watcher::run(
        config,
        listener,
        data_dir.to_path_buf(),
        shutdown.clone(),
    ));
    TestApp {
        base,
        client: reqwest::Client::new(),
        shutdown,
        task: Some(task),
    }
}

/// A config reading `files` with a fast poll.
pub fn files_config(files: &[&Path], extra: &str) -> String {
    let list: Vec<String> = files.iter().map(|f| format!("{:?}", f.display().to_string())).collect();
    format!(
        "[log_sources]\nextra_files = [{}]\npoll_interval_ms = 20\n{extra}\n",
        list.join(", ")
    )
}

impl TestApp {
    /// GET `path` as JSON.
    pub async fn get_json(&self, path: &str) -> (reqwest::StatusCode, Value) {
        let response = self.client.get(format!("{}{path}", self.base)).send().await.unwrap();
        let status = response.status();
        let body = response.text().await.unwrap();
        let json = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}"));
        (status, json)
    }

    /// GET `path` as text.
    pub async fn get_text(&self, path: &str) -> (reqwest::StatusCode, String) {
        let response = self.client.get(format!("{}{path}", self.base)).send().await.unwrap();
        let status = response.status();
        (status, response.text().await.unwrap())
    }

    /// Polls `/logs?{query}` until `done` accepts the events; returns them.
    pub async fn wait_for_events(&self, query: &str, timeout: Duration, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let (_, body) = self.get_json(&format!("/logs?{query}")).await;
            let events = body["events"].as_array().cloned().unwrap_or_default();
            if done(&events) {
                return events;
            }
            if tokio::time::Instant::now() > deadline {
                panic!("events not as expected within {timeout:?}: {} events, last: {:?}", events.len(), events.last());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops the service and waits for it.
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        if let Some(task) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(10), task)
                .await
                .expect("stops within 10 s")
                .unwrap()
                .unwrap();
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Appends `text` to `path` (creating it), as a logging application does.
pub fn append(path: &Path, text: &str) {
    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(path).unwrap();
    file.write_all(text.as_bytes()).unwrap();
}

/// A fresh temporary directory.
pub fn temp_dir() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    (dir, path)
}
