//! [`FakeReceiver`]: an HTTP server standing in for Slack, Discord or any webhook receiver.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use axum::Router;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::POLL_INTERVAL;

/// One request a [`FakeReceiver`] got.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    /// HTTP method, such as `POST`.
    pub method: String,
    /// Path and query, such as `/hook?x=1`.
    pub path: String,
    /// Every header, names in lower case, in arrival order.
    pub headers: Vec<(String, String)>,
    /// The raw body.
    pub body: Vec<u8>,
    /// The body parsed as JSON, when it is JSON.
    pub json: Option<Value>,
}

impl RecordedRequest {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text (lossy UTF-8).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One programmed answer of a [`FakeReceiver`].
#[derive(Debug, Clone)]
pub struct FakeResponse {
    /// HTTP status code.
    pub status: u16,
    /// Extra response headers.
    pub headers: Vec<(String, String)>,
    /// Response body.
    pub body: String,
}

impl FakeResponse {
    /// An answer with `status`, no extra headers and body `ok` for 2xx or `error` otherwise.
    pub fn status(status: u16) -> Self {
        let body = if (200..300).contains(&status) {
            "ok"
        } else {
            "error"
        };
        FakeResponse {
            status,
            headers: Vec::new(),
            body: body.to_string(),
        }
    }

    /// Adds a response header, such as `Retry-After: 1`.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Replaces the body.
    pub fn body(mut self, body: &str) -> Self {
        self.body = body.to_string();
        self
    }
}

/// What the receiver's handler shares with the test.
struct ReceiverState {
    /// Everything received so far, in arrival order.
    requests: Mutex<Vec<RecordedRequest>>,
    /// Answer `i` goes to request `i`; the last one repeats.
    responses: Vec<FakeResponse>,
    /// Record requests but never answer (until the receiver is dropped).
    hang: bool,
    /// Cancelled on drop: stops the server and releases hanging requests.
    shutdown: CancellationToken,
}

/// An HTTP server on `127.0.0.1:0` that records every request (any method, any path) and
/// answers with a programmed sequence of responses. Stops when dropped.
pub struct FakeReceiver {
    /// Where it listens.
    addr: SocketAddr,
    /// Shared with the handler.
    state: Arc<ReceiverState>,
}

impl FakeReceiver {
    /// A receiver answering every request with 200.
    pub async fn start() -> Self {
        Self::start_with_responses(vec![FakeResponse::status(200)]).await
    }

    /// A receiver answering request `i` with `statuses[i]`, the last status repeating:
    /// `vec![500, 500, 200]` fails twice, then accepts everything.
    pub async fn start_with_statuses(statuses: Vec<u16>) -> Self {
        Self::start_with_responses(statuses.into_iter().map(FakeResponse::status).collect()).await
    }

    /// A receiver answering request `i` with `responses[i]`, the last one repeating.
    ///
    /// # Panics
    /// When `responses` is empty.
    pub async fn start_with_responses(responses: Vec<FakeResponse>) -> Self {
        assert!(
            !responses.is_empty(),
            "FakeReceiver needs at least one response"
        );
        Self::spawn(responses, false).await
    }

    /// A receiver that records each request and then never answers: for timeout tests.
    pub async fn start_hanging() -> Self {
        Self::spawn(vec![FakeResponse::status(503)], true).await
    }

    /// A receiver answering 200, listening on every interface, so that containers reach it
    /// (at the Docker host's gateway address, `host.docker.internal` with `host-gateway`).
    /// [`url`](Self::url) still names 127.0.0.1; see [`port`](Self::port).
    pub async fn start_for_containers() -> Self {
        Self::spawn_on(
            Ipv4Addr::UNSPECIFIED,
            vec![FakeResponse::status(200)],
            false,
        )
        .await
    }

    async fn spawn(responses: Vec<FakeResponse>, hang: bool) -> Self {
        Self::spawn_on(Ipv4Addr::LOCALHOST, responses, hang).await
    }

    async fn spawn_on(ip: Ipv4Addr, responses: Vec<FakeResponse>, hang: bool) -> Self {
        let listener = tokio::net::TcpListener::bind((ip, 0))
            .await
            .expect("FakeReceiver: bind port 0");
        let addr = listener.local_addr().expect("FakeReceiver: local address");
        let state = Arc::new(ReceiverState {
            requests: Mutex::new(Vec::new()),
            responses,
            hang,
            shutdown: CancellationToken::new(),
        });
        let app = Router::new()
            .fallback(record_and_answer)
            .with_state(Arc::clone(&state));
        let stop = state.shutdown.clone();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(stop.cancelled_owned())
                .await;
        });
        FakeReceiver { addr, state }
    }

    /// The URL to configure as a webhook: `http://127.0.0.1:PORT/hook`.
    pub fn url(&self) -> String {
        format!("{}/hook", self.base_url())
    }

    /// `http://127.0.0.1:PORT`, for other paths.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.addr.port())
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.state.requests).clone()
    }

    /// Waits until at least `n` requests have arrived and returns all of them.
    ///
    /// # Panics
    /// When fewer than `n` arrive within `timeout`, saying how many did.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<RecordedRequest> {
        let deadline = Instant::now() + timeout;
        loop {
            let requests = self.requests();
            if requests.len() >= n {
                return requests;
            }
            if Instant::now() >= deadline {
                let seen: Vec<String> = requests
                    .iter()
                    .map(|r| format!("{} {} {}", r.method, r.path, r.text()))
                    .collect();
                panic!(
                    "FakeReceiver at {}: expected at least {n} request(s) within {timeout:?}, \
                     got {}: {seen:#?}",
                    self.url(),
                    requests.len()
                );
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }
}

impl Drop for FakeReceiver {
    fn drop(&mut self) {
        self.state.shutdown.cancel();
    }
}

/// The receiver's only handler: record, then answer (or hang).
async fn record_and_answer(State(state): State<Arc<ReceiverState>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = to_bytes(body, 16 * 1024 * 1024)
        .await
        .map(|b| b.to_vec())
        .unwrap_or_default();
    let recorded = RecordedRequest {
        method: parts.method.to_string(),
        path: parts
            .uri
            .path_and_query()
            .map_or_else(|| parts.uri.path().to_string(), ToString::to_string),
        headers: parts
            .headers
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        json: serde_json::from_slice(&body).ok(),
        body,
    };
    let index = {
        let mut requests = lock(&state.requests);
        requests.push(recorded);
        requests.len() - 1
    };
    if state.hang {
        state.shutdown.cancelled().await;
    }
    let answer = &state.responses[index.min(state.responses.len() - 1)];
    let mut response = Response::new(Body::from(answer.body.clone()));
    *response.status_mut() = StatusCode::from_u16(answer.status).expect("valid status code");
    for (name, value) in &answer.headers {
        response.headers_mut().append(
            HeaderName::try_from(name.as_str()).expect("valid header name"),
            HeaderValue::try_from(value.as_str()).expect("valid header value"),
        );
    }
    response
}

/// Locks, ignoring poisoning: a panicking test must not hide the data from the next one.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}
