//! Fixtures for integration tests of every service (feature `test-util`).
//!
//! - [`FakeReceiver`]: an HTTP server on `127.0.0.1:0` standing in for Slack, Discord or any
//!   webhook receiver; it records every request and answers with a programmed sequence.
//! - [`SmtpServer`]: a real SMTP server (Debian's `python3-aiosmtpd`) in plain, STARTTLS or
//!   implicit-TLS mode, optionally requiring AUTH, recording every message it accepts.
//! - [`require_component`]: the rule for tests that need something installed: skip loudly
//!   on a developer machine, fail under `CI=true`.
//! - [`free_port`]: a port nothing listens on right now.

use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use axum::Router;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

/// How often the `wait_for` helpers look again.
const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// Returns true when `available`. Otherwise, under `CI=true` (or `CI=1`) it panics with
/// "`<name>` is required under CI=true: `<why>`", because CI must not silently skip; on a
/// developer machine it prints a loud "SKIPPED: `<name>` missing: `<why>`" banner to stderr
/// and returns false, and the test returns early.
pub fn require_component(name: &str, available: bool, why: &str) -> bool {
    if available {
        return true;
    }
    let under_ci = std::env::var("CI")
        .map(|v| v.eq_ignore_ascii_case("true") || v == "1")
        .unwrap_or(false);
    if under_ci {
        panic!("{name} is required under CI=true: {why}");
    }
    let banner = "*".repeat(72);
    eprintln!("\n{banner}\nSKIPPED: {name} missing: {why}\n{banner}\n");
    false
}

/// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, then released).
pub async fn free_port() -> u16 {
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local address").port()
}

/// The blocking twin of [`free_port`], for set-up code outside a runtime.
fn free_port_blocking() -> u16 {
    let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local address").port()
}

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

    async fn spawn(responses: Vec<FakeResponse>, hang: bool) -> Self {
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .expect("FakeReceiver: bind 127.0.0.1:0");
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
        format!("http://{}", self.addr)
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
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

/// The SMTP server script, shipped inside the crate so other crates' tests can use it.
const SMTP_SERVER_SCRIPT: &str = include_str!("../tests/fixtures/smtp_server.py");

/// The Python that has `aiosmtpd` (Debian's package); `python3` on PATH may be another one.
const SYSTEM_PYTHON: &str = "/usr/bin/python3";

/// How an [`SmtpServer`] secures its connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpMode {
    /// Plain SMTP; AUTH (when required) works without TLS.
    Plain,
    /// `STARTTLS` offered and required before `MAIL FROM`; AUTH only after it.
    StartTls,
    /// Implicit TLS from the first byte.
    Tls,
}

/// One message an [`SmtpServer`] accepted.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct ReceivedMail {
    /// Envelope sender (`MAIL FROM`).
    pub from: String,
    /// Envelope recipients (`RCPT TO`).
    pub to: Vec<String>,
    /// The raw message: headers, blank line, body (CRLF line ends as sent).
    pub data: String,
}

impl ReceivedMail {
    /// The value of header `name` (case-insensitive), folded lines joined with a space.
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.data.split("\r\n\r\n").next().unwrap_or_default();
        let head = head.split("\n\n").next().unwrap_or_default();
        let mut found: Option<String> = None;
        let mut in_header = false;
        for line in head.lines() {
            if line.starts_with([' ', '\t']) {
                if in_header {
                    if let Some(value) = found.as_mut() {
                        value.push(' ');
                        value.push_str(line.trim());
                    }
                }
                continue;
            }
            if found.is_some() && in_header {
                break;
            }
            in_header = match line.split_once(':') {
                Some((n, v)) if n.trim().eq_ignore_ascii_case(name) => {
                    found = Some(v.trim().to_string());
                    true
                }
                _ => false,
            };
        }
        found
    }

    /// The body (everything after the first blank line), with `\n` line ends.
    pub fn body(&self) -> String {
        let normalised = self.data.replace("\r\n", "\n");
        normalised
            .split_once("\n\n")
            .map(|(_, body)| body.to_string())
            .unwrap_or_default()
    }
}

/// A real SMTP server (aiosmtpd) on 127.0.0.1, killed when dropped.
pub struct SmtpServer {
    /// The Python process.
    child: Child,
    /// Where it listens.
    port: u16,
    /// Temporary directory with the script, certificate and received messages.
    dir: PathBuf,
    /// The self-signed certificate (PEM) in the TLS modes.
    cert_pem: Option<String>,
}

impl SmtpServer {
    /// Starts a server in `mode`, requiring AUTH with `auth = Some((user, password))`.
    /// The TLS modes use a fresh self-signed certificate for `localhost` and `127.0.0.1`.
    ///
    /// Returns `None` (after [`require_component`]'s banner; a panic under `CI=true`) when
    /// `/usr/bin/python3` with `aiosmtpd` is not installed.
    ///
    /// # Panics
    /// When the server does not accept connections within 20 s or exits early; the
    /// message includes its stderr.
    pub async fn start(mode: SmtpMode, auth: Option<(&str, &str)>) -> Option<SmtpServer> {
        let available = Command::new(SYSTEM_PYTHON)
            .args(["-c", "import aiosmtpd"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !require_component(
            "aiosmtpd",
            available,
            "SMTP tests need /usr/bin/python3 with aiosmtpd (apt-get install python3-aiosmtpd)",
        ) {
            return None;
        }
        let auth = auth.map(|(u, p)| (u.to_string(), p.to_string()));
        let started = tokio::task::spawn_blocking(move || Self::start_blocking(mode, auth))
            .await
            .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
        Some(started)
    }

    fn start_blocking(mode: SmtpMode, auth: Option<(String, String)>) -> SmtpServer {
        let dir = unique_temp_dir("service_kit-smtp");
        let maildir = dir.join("mail");
        std::fs::create_dir_all(&maildir).expect("create maildir");
        let script = dir.join("smtp_server.py");
        std::fs::write(&script, SMTP_SERVER_SCRIPT).expect("write smtp_server.py");

        let cert_pem = match mode {
            SmtpMode::Plain => None,
            SmtpMode::StartTls | SmtpMode::Tls => {
                let certified = rcgen::generate_simple_self_signed(vec![
                    "localhost".to_string(),
                    "127.0.0.1".to_string(),
                ])
                .expect("generate self-signed certificate");
                let cert = certified.cert.pem();
                std::fs::write(dir.join("cert.pem"), &cert).expect("write cert.pem");
                std::fs::write(dir.join("key.pem"), certified.key_pair.serialize_pem())
                    .expect("write key.pem");
                Some(cert)
            }
        };

        // A port picked here could be taken before Python binds it; try a few.
        let mut last_error = String::new();
        for _ in 0..5 {
            let port = free_port_blocking();
            let stderr_path = dir.join(format!("stderr-{port}.log"));
            let mut command = Command::new(SYSTEM_PYTHON);
            command
                .arg(&script)
                .args(["--port", &port.to_string()])
                .args(["--mode", mode_arg(mode)])
                .arg("--maildir")
                .arg(&maildir);
            if cert_pem.is_some() {
                command
                    .arg("--cert")
                    .arg(dir.join("cert.pem"))
                    .arg("--key")
                    .arg(dir.join("key.pem"));
            }
            if let Some((user, password)) = &auth {
                command.args(["--user", user, "--password", password]);
            }
            let stderr = std::fs::File::create(&stderr_path).expect("create stderr log");
            // stdin stays open as a pipe: when this process dies, the server sees EOF and exits.
            let mut child = command
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(stderr)
                .spawn()
                .expect("spawn /usr/bin/python3 smtp_server.py");
            match wait_until_listening(&mut child, port, Duration::from_secs(20)) {
                Ok(()) => {
                    return SmtpServer {
                        child,
                        port,
                        dir,
                        cert_pem,
                    }
                }
                Err(reason) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
                    last_error = format!("{reason}; stderr:\n{stderr}");
                    if !stderr.contains("Address already in use") {
                        break;
                    }
                }
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
        panic!("SMTP test server ({mode:?}) did not start: {last_error}");
    }

    /// The port it listens on (host 127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The self-signed certificate (PEM) in the TLS modes, to trust it explicitly.
    pub fn cert_pem(&self) -> Option<&str> {
        self.cert_pem.as_deref()
    }

    /// Every message accepted so far, in arrival order.
    pub fn messages(&self) -> Vec<ReceivedMail> {
        read_messages(&self.dir.join("mail"))
    }

    /// Waits until at least `n` messages have been accepted and returns all of them.
    ///
    /// # Panics
    /// When fewer than `n` arrive within `timeout`; the message includes the server's stderr.
    pub async fn wait_for_messages(&self, n: usize, timeout: Duration) -> Vec<ReceivedMail> {
        let deadline = Instant::now() + timeout;
        loop {
            let messages = self.messages();
            if messages.len() >= n {
                return messages;
            }
            if Instant::now() >= deadline {
                panic!(
                    "SMTP test server on port {}: expected at least {n} message(s) within \
                     {timeout:?}, got {}; server stderr:\n{}",
                    self.port,
                    messages.len(),
                    self.stderr()
                );
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// What the server wrote to stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.join(format!("stderr-{}.log", self.port)))
            .unwrap_or_default()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The script's `--mode` value.
fn mode_arg(mode: SmtpMode) -> &'static str {
    match mode {
        SmtpMode::Plain => "plain",
        SmtpMode::StartTls => "starttls",
        SmtpMode::Tls => "tls",
    }
}

/// Polls until `port` accepts connections, failing early if `child` exits.
fn wait_until_listening(child: &mut Child, port: u16, timeout: Duration) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("server exited with {status}"));
        }
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "port {port} not accepting connections after {timeout:?}"
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Reads `NNNNNN.json` files in name order.
fn read_messages(maildir: &Path) -> Vec<ReceivedMail> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(maildir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "json"))
                .collect()
        })
        .unwrap_or_default();
    paths.sort();
    paths
        .iter()
        .map(|path| {
            let text = std::fs::read_to_string(path).expect("read received message");
            serde_json::from_str(&text).expect("parse received message")
        })
        .collect()
}

/// A fresh directory under the system temp dir, unique per process and call.
fn unique_temp_dir(prefix: &str) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "{prefix}-{}-{}-{:08x}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        fastrand::u32(..)
    ));
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}
