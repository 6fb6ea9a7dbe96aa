//! Test support: start the real service on port 0 over a temporary log directory, write
//! lines, and query the API.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use log_watcher::settings::Settings;
use serde_json::Value;
use service_kit_testing::RunningService;

/// A running log_watcher.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    service: RunningService,
}

/// Starts the service with `config_toml` and `data_dir`.
pub async fn spawn_app(config_toml: &str, data_dir: &Path) -> TestApp {
    let settings = Settings::from_toml(config_toml).expect("test config must be valid");
    let service = RunningService::start(log_watcher::run, settings, data_dir.to_path_buf()).await;
    TestApp {
        base: service.base.clone(),
        service,
    }
}

/// A config reading `files` with a fast poll.
pub fn files_config(files: &[&Path], extra: &str) -> String {
    let list: Vec<String> = files
        .iter()
        .map(|f| format!("{:?}", f.display().to_string()))
        .collect();
    format!(
        "[log_sources]\nextra_files = [{}]\npoll_interval_ms = 20\n{extra}\n",
        list.join(", ")
    )
}

impl TestApp {
    /// GET `path` as JSON.
    pub async fn get_json(&self, path: &str) -> (reqwest::StatusCode, Value) {
        self.service.get_json(path).await
    }

    /// GET `path` as text.
    pub async fn get_text(&self, path: &str) -> (reqwest::StatusCode, String) {
        self.service.get(path).await
    }

    /// Polls `/logs?{query}` until `done` accepts the events; returns them.
    pub async fn wait_for_events(
        &self,
        query: &str,
        timeout: Duration,
        done: impl Fn(&[Value]) -> bool,
    ) -> Vec<Value> {
        let (events, accepted) = self.events_within(query, timeout, done).await;
        if !accepted {
            panic!(
                "events not as expected within {timeout:?}: {} events, last: {:?}",
                events.len(),
                events.last()
            );
        }
        events
    }

    /// Polls `/logs?{query}` until `done` accepts the events or `timeout` passes; returns
    /// the last events seen and whether `done` accepted them (the caller says what is
    /// wrong with them).
    pub async fn events_within(
        &self,
        query: &str,
        timeout: Duration,
        done: impl Fn(&[Value]) -> bool,
    ) -> (Vec<Value>, bool) {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let (_, body) = self.get_json(&format!("/logs?{query}")).await;
            let events = body["events"].as_array().cloned().unwrap_or_default();
            if done(&events) {
                return (events, true);
            }
            if tokio::time::Instant::now() > deadline {
                return (events, false);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops the service and waits for it.
    pub async fn stop(self) {
        self.service.stop().await;
    }
}

/// Appends `text` to `path` (creating it), as a logging application does.
pub fn append(path: &Path, text: &str) {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    file.write_all(text.as_bytes()).unwrap();
}

/// A fresh temporary directory.
pub fn temp_dir() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    (dir, path)
}
