//! A service started by an integration test the way it runs for real: its
//! `run(config, listener, data_dir, shutdown)` on a listener bound to `127.0.0.1:0`, with
//! plain HTTP requests to it. Each service's `tests/it/support.rs` `spawn_app` wraps one in
//! its typed test client, which adds what is particular to the service.

use std::future::Future;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use service_kit::serve::RunError;

/// How long [`RunningService::stop`] waits for the service to finish.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// A service running on `127.0.0.1:0` for one test; dropping it cancels its shutdown token.
#[derive(Debug)]
pub struct RunningService {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The HTTP client of [`request`](Self::request) and the `get`s.
    client: reqwest::Client,
    /// The token the service's tasks watch; cancelled by [`stop`](Self::stop) and on drop.
    shutdown: CancellationToken,
    /// The service's `run`, until [`stop`](Self::stop) waits for it.
    task: Option<JoinHandle<Result<(), RunError>>>,
}

impl RunningService {
    /// Binds `127.0.0.1:0` and spawns the service's `run(config, listener, data_dir,
    /// shutdown)`; the service answers at [`base`](Self::base) as soon as it serves.
    pub async fn start<C, Fut>(
        run: impl FnOnce(C, TcpListener, PathBuf, CancellationToken) -> Fut,
        config: C,
        data_dir: PathBuf,
    ) -> Self
    where
        Fut: Future<Output = Result<(), RunError>> + Send + 'static,
    {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .expect("bind 127.0.0.1:0");
        let base = format!("http://{}", listener.local_addr().expect("local address"));
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(run(config, listener, data_dir, shutdown.clone()));
        RunningService {
            base,
            client: reqwest::Client::new(),
            shutdown,
            task: Some(task),
        }
    }

    /// A GET request for `path` on the service, for tests that set headers or auth.
    pub fn request(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.get(format!("{}{path}", self.base))
    }

    /// GET `path`: the status and the body as text.
    pub async fn get(&self, path: &str) -> (reqwest::StatusCode, String) {
        let response = self
            .request(path)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        let status = response.status();
        (status, response.text().await.expect("a text body"))
    }

    /// GET `path`: the status and the body as JSON (panics when it is not JSON).
    pub async fn get_json(&self, path: &str) -> (reqwest::StatusCode, serde_json::Value) {
        let (status, body) = self.get(path).await;
        let json = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("{path} did not answer JSON ({e}): {body}"));
        (status, json)
    }

    /// Cancels the shutdown token and waits for the service to finish (its work drained and
    /// its state persisted); panics when that takes over 10 s or `run` failed.
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        if let Some(task) = self.task.take() {
            tokio::time::timeout(STOP_TIMEOUT, task)
                .await
                .expect("service stops within 10 s")
                .expect("the service's task does not panic")
                .expect("the service stops without an error");
        }
    }
}

impl Drop for RunningService {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}
