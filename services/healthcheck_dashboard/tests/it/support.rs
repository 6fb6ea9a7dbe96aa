//! Test support: start the real service on port 0 and talk to it over HTTP; local targets
//! (HTTP, HTTPS with a fresh self-signed certificate, a switchable target) and a real
//! PostgreSQL server made for the test.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use healthcheck_dashboard::settings::Settings;
use serde_json::Value;
use service_kit_testing::RunningService;

/// A running healthcheck_dashboard.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    service: RunningService,
    _data: Option<tempfile::TempDir>,
}

/// Starts the service with `config_toml` and a fresh data directory.
pub async fn spawn_app(config_toml: &str) -> TestApp {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_path_buf();
    let mut app = spawn_app_in(config_toml, dir).await;
    app._data = Some(data);
    app
}

/// Starts the service with `config_toml` over an existing data directory.
pub async fn spawn_app_in(config_toml: &str, data_dir: PathBuf) -> TestApp {
    let settings = Settings::from_toml(config_toml).expect("test config must be valid");
    let service = RunningService::start(healthcheck_dashboard::run, settings, data_dir).await;
    TestApp {
        base: service.base.clone(),
        service,
        _data: None,
    }
}

impl TestApp {
    /// A GET request builder for `path` on the app, for tests that set headers or auth.
    pub fn request(&self, path: &str) -> reqwest::RequestBuilder {
        self.service.request(path)
    }

    /// The URL of `path` on the app.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// POSTs `body` as JSON to `path` (with `token` as bearer when given); status and the
    /// JSON answer.
    pub async fn post_json(
        &self,
        path: &str,
        body: &Value,
        token: Option<&str>,
    ) -> (StatusCode, Value) {
        let mut request = reqwest::Client::new().post(self.url(path)).json(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("POST sent");
        let status = response.status();
        let text = response.text().await.expect("a body");
        let json = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("POST {path} did not answer JSON ({e}): {text}"));
        (status, json)
    }

    /// DELETEs `path` (with `token` as bearer when given); the status.
    pub async fn delete(&self, path: &str, token: Option<&str>) -> StatusCode {
        let mut request = reqwest::Client::new().delete(self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.expect("DELETE sent").status()
    }

    /// GET `path`, returning status and body text.
    pub async fn get(&self, path: &str) -> (StatusCode, String) {
        self.service.get(path).await
    }

    /// GET `path` and parse the body as JSON.
    pub async fn get_json(&self, path: &str) -> (StatusCode, Value) {
        self.service.get_json(path).await
    }

    /// Polls `/api/status` until `done` accepts it; panics with the last document on timeout.
    pub async fn wait_for_status(&self, timeout: Duration, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let (_, status) = self.get_json("/api/status").await;
            if done(&status) {
                return status;
            }
            if tokio::time::Instant::now() > deadline {
                panic!("condition not met within {timeout:?}; last status: {status:#}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until service `name` has been checked at least `runs` times... approximately:
    /// until its status is not `unknown`, then returns its view.
    pub async fn wait_for_service(
        &self,
        name: &str,
        timeout: Duration,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        let status = self
            .wait_for_status(timeout, |s| service(s, name).is_some_and(&done))
            .await;
        service(&status, name).cloned().unwrap()
    }

    /// Stops the service and waits for it to finish (history flushed).
    pub async fn stop(self) {
        self.service.stop().await;
    }
}

/// The view of service `name` inside an `/api/status` document.
pub fn service<'a>(status: &'a Value, name: &str) -> Option<&'a Value> {
    status["services"]
        .as_array()?
        .iter()
        .find(|s| s["name"] == name)
}

/// A local HTTP target whose answer can be changed while the test runs.
#[derive(Clone)]
pub struct Target {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// HTTP status the `/switch` route answers with.
    pub switch_status: Arc<AtomicU16>,
    /// Requests seen on `/switch`.
    pub hits: Arc<AtomicU64>,
}

#[derive(Clone)]
struct TargetState {
    switch_status: Arc<AtomicU16>,
    hits: Arc<AtomicU64>,
}

fn target_router(state: TargetState) -> Router {
    Router::new()
        .route("/ok", get(|| async { "all good" }))
        .route(
            "/error",
            get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "boom") }),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(600)).await;
                "finally"
            }),
        )
        .route(
            "/hang",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                "never"
            }),
        )
        .route(
            "/json",
            get(|| async {
                axum::Json(
                    serde_json::json!({ "status": "ok", "checks": { "db": true }, "version": 3 }),
                )
            }),
        )
        .route(
            "/markup",
            get(|| async {
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "<script>alert('owned')</script><b>bold</b>",
                )
            }),
        )
        .route(
            "/switch",
            get(|State(state): State<TargetState>| async move {
                state.hits.fetch_add(1, Ordering::SeqCst);
                let code =
                    StatusCode::from_u16(state.switch_status.load(Ordering::SeqCst)).unwrap();
                (code, "switch")
            }),
        )
        .with_state(state)
}

/// Starts a local HTTP target with `/ok`, `/error` (500), `/slow` (600 ms), `/hang`, `/json`,
/// `/markup` (503 with HTML in the body) and `/switch` (status set by the test, 200 at first).
pub async fn start_target() -> Target {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let state = TargetState {
        switch_status: Arc::new(AtomicU16::new(200)),
        hits: Arc::new(AtomicU64::new(0)),
    };
    let target = Target {
        base,
        switch_status: state.switch_status.clone(),
        hits: state.hits.clone(),
    };
    let router = target_router(state);
    tokio::spawn(async move { axum::serve(listener, router).await });
    target
}

/// Starts an HTTPS target with a self-signed certificate for `localhost` that expires in
/// `valid_days`; returns its base URL `https://localhost:PORT`.
pub async fn start_https_target(valid_days: i64) -> String {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    params.not_before = time::OffsetDateTime::now_utc() - time::Duration::days(2);
    params.not_after = time::OffsetDateTime::now_utc() + time::Duration::days(valid_days);
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(stream).await else {
                    return;
                };
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let mut buffer = [0u8; 4096];
                let _ = tls.read(&mut buffer).await;
                let _ = tls
                    .write_all(
                        b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\nConnection: close\r\n\r\nsecure",
                    )
                    .await;
                let _ = tls.shutdown().await;
            });
        }
    });
    format!("https://localhost:{port}")
}

/// A TCP port with nothing listening on it.
pub fn closed_port() -> u16 {
    // Bound but never listening: connections are refused, and no other test (or process)
    // can be given the port meanwhile, as it could if the socket were closed.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let port = socket.local_addr().unwrap().port();
    std::mem::forget(socket);
    port
}

/// A TCP listener that accepts connections and never says anything (a hung server).
pub async fn silent_listener() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    address
}

/// A real PostgreSQL server in a temporary directory, with password authentication.
pub struct PostgresServer {
    dir: tempfile::TempDir,
    bin: PathBuf,
    /// Extra server options (TLS).
    options: String,
    /// Port on 127.0.0.1.
    pub port: u16,
}

/// A certificate authority and a server certificate it signed, as PEM.
pub struct TestCertificates {
    /// The authority's certificate (what `sslrootcert` trusts).
    pub ca_pem: String,
    /// The server's certificate.
    pub cert_pem: String,
    /// The server's private key.
    pub key_pem: String,
}

/// A fresh authority and a server certificate for `names` signed by it.
pub fn certificates_for(names: &[&str]) -> TestCertificates {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        // A name of its own, so that another authority's root is unknown, not a mismatch.
        .push(
            rcgen::DnType::CommonName,
            format!("healthcheck test CA {:x}", fastrand::u64(..)),
        );
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let params =
        rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
            .unwrap();
    let cert = params.signed_by(&key, &ca, &ca_key).unwrap();
    TestCertificates {
        ca_pem: ca.pem(),
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    }
}

/// User and password of the test server.
pub const PG_USER: &str = "app";
/// Password of [`PG_USER`].
pub const PG_PASSWORD: &str = "s3cret-pw";

fn postgres_bin_dir() -> Option<PathBuf> {
    let mut candidates: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|dirs| dirs.flatten().map(|d| d.path().join("bin")).collect())
        .unwrap_or_default();
    candidates.sort();
    candidates
        .into_iter()
        .rev()
        .find(|bin| bin.join("initdb").exists())
}

fn as_postgres_user(program: &std::path::Path) -> Command {
    // PostgreSQL refuses to run as root; tests usually do (CI containers).
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.starts_with(b"0"))
        .unwrap_or(false);
    if is_root {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

impl PostgresServer {
    /// Initialises and starts a server; `None` (after the loud skip or CI failure of
    /// `require_component`) when PostgreSQL is not installed.
    pub fn start() -> Option<PostgresServer> {
        PostgresServer::start_with(None)
    }

    /// Like [`start`](Self::start), with TLS on (`ssl = on`) using `certificates`, and every
    /// connection logged (its log says whether it used TLS).
    pub fn start_with_tls(certificates: &TestCertificates) -> Option<PostgresServer> {
        PostgresServer::start_with(Some(certificates))
    }

    fn start_with(tls: Option<&TestCertificates>) -> Option<PostgresServer> {
        let bin = postgres_bin_dir();
        if !service_kit_testing::require_component(
            "PostgreSQL server",
            bin.is_some(),
            "install Debian's postgresql package (scripts/test does)",
        ) {
            return None;
        }
        let bin = bin.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let _ = Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(dir.path())
            .status();
        let pwfile = dir.path().join("pw");
        std::fs::write(&pwfile, PG_PASSWORD).unwrap();
        let _ = Command::new("chown")
            .args(["postgres:postgres"])
            .arg(&pwfile)
            .status();
        let data = dir.path().join("data");
        let out = as_postgres_user(&bin.join("initdb"))
            .arg("-D")
            .arg(&data)
            .args([
                "-U",
                PG_USER,
                "--auth-host=scram-sha-256",
                "--auth-local=trust",
                "--no-sync",
            ])
            .arg(format!("--pwfile={}", pwfile.display()))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut options = String::new();
        if let Some(tls) = tls {
            let cert = dir.path().join("server.crt");
            let key = dir.path().join("server.key");
            std::fs::write(&cert, &tls.cert_pem).unwrap();
            std::fs::write(&key, &tls.key_pem).unwrap();
            // The server refuses a key others can read.
            std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o600))
                .unwrap();
            let _ = Command::new("chown")
                .args(["postgres:postgres"])
                .arg(&cert)
                .arg(&key)
                .status();
            options = format!(
                " -c ssl=on -c ssl_cert_file={} -c ssl_key_file={} -c log_connections=on",
                cert.display(),
                key.display()
            );
        }
        let server = PostgresServer {
            port: service_kit_testing::binary::free_port(),
            bin,
            dir,
            options,
        };
        server.start_again();
        Some(server)
    }

    /// Starts the (stopped) server.
    pub fn start_again(&self) {
        let data = self.dir.path().join("data");
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off{}",
            self.port,
            self.dir.path().display(),
            self.options
        );
        let out = as_postgres_user(&self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(&data)
            .args(["-o", &options, "-w", "-l"])
            .arg(self.dir.path().join("log"))
            .arg("start")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "pg_ctl start failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default()
        );
    }

    /// Stops the server (fast shutdown).
    pub fn stop(&self) {
        let _ = as_postgres_user(&self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .args(["-m", "fast", "-w", "stop"])
            .output();
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default()
    }

    /// A DSN for the `postgres` database with the given password.
    pub fn dsn(&self, password: &str) -> String {
        format!(
            "postgres://{PG_USER}:{password}@127.0.0.1:{}/postgres",
            self.port
        )
    }
}

impl Drop for PostgresServer {
    fn drop(&mut self) {
        self.stop();
    }
}
