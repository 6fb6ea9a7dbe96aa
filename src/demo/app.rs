//! The demo's stand-in application: an api, a slow web page and a broken worker on one port,
//! logging as such services log. The api has a version, which the demo's deploy hook switches
//! (`/admin/version`, through `sidecars demo-app`): a version whose name ends in `broken`
//! answers `/health` with 503 and logs the database error that caused it, so a deploy of it
//! is rolled back by itself.

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};

/// Where the stand-in services write their logs: `api.log`, `web.log`, `worker.log`.
#[derive(Clone)]
pub struct DemoLogs {
    /// The folder of the log files.
    pub dir: Arc<PathBuf>,
}

impl DemoLogs {
    /// Appends `text` (lines ending in newlines) to `service`.log, as a logging app would.
    fn write(&self, service: &str, text: &str) {
        let path = self.dir.join(format!("{service}.log"));
        let written = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut file| file.write_all(text.as_bytes()));
        if let Err(err) = written {
            tracing::warn!(path = %path.display(), %err, "Demo cannot write its log.");
        }
    }
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The api's version as the demo starts.
pub const FIRST_VERSION: &str = "v1";

/// The stand-in application: `/health` answers at once (503 while the api runs a broken
/// version), `/slow` after 400 ms, `/broken` 500, `/admin/version` reads and sets the api's
/// version; each request is logged the way such services log (uvicorn, nginx-ish, a Python
/// worker).
pub fn demo_app(logs: DemoLogs) -> Router {
    let version = Arc::new(Mutex::new(FIRST_VERSION.to_string()));
    let api = Api {
        logs: logs.clone(),
        version,
    };
    let web_logs = logs.clone();
    Router::new()
        .route("/health", get(health).with_state(api.clone()))
        .route(
            "/admin/version",
            get(read_version).put(set_version).with_state(api),
        )
        .route(
            "/slow",
            get(move || async move {
                tokio::time::sleep(Duration::from_millis(400)).await;
                web_logs.write(
                    "web",
                    &format!("{} WARNING slow render of / took 400 ms\n", now()),
                );
                "slow but fine"
            }),
        )
        .route(
            "/broken",
            get(move || async move {
                logs.write(
                    "worker",
                    &format!(
                        "{} ERROR Database connection failed: timeout\n\
                         Traceback (most recent call last):\n\
                         \x20 File \"worker.py\", line 42, in run\n\
                         \x20   conn = pool.get(timeout=5)\n\
                         TimeoutError: database is on fire\n",
                        now()
                    ),
                );
                (StatusCode::INTERNAL_SERVER_ERROR, "database is on fire")
            }),
        )
}

/// The api: where it logs, and the version it runs.
#[derive(Clone)]
struct Api {
    logs: DemoLogs,
    version: Arc<Mutex<String>>,
}

impl Api {
    fn version(&self) -> String {
        self.version
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

async fn health(State(api): State<Api>) -> impl IntoResponse {
    let version = api.version();
    if version.ends_with("broken") {
        api.logs.write(
            "api",
            &format!(
                "{} ERROR Database migration 42 failed: column \"email\" does not exist (api {version})\n",
                now()
            ),
        );
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({ "status": "error", "version": version })),
        );
    }
    api.logs.write(
        "api",
        "INFO:     127.0.0.1:5000 - \"GET /health HTTP/1.1\" 200 OK\n",
    );
    (
        StatusCode::OK,
        Json(serde_json::json!({ "status": "ok", "version": version })),
    )
}

async fn read_version(State(api): State<Api>) -> String {
    api.version()
}

/// Sets the api's version: letters, digits, `.`, `-` and `_`, at most 64.
async fn set_version(State(api): State<Api>, body: String) -> Result<String, (StatusCode, String)> {
    let wanted = body.trim();
    let valid = !wanted.is_empty()
        && wanted.len() <= 64
        && wanted
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    if !valid {
        return Err((
            StatusCode::BAD_REQUEST,
            format!("{wanted:?} is not a version name"),
        ));
    }
    *api.version.lock().unwrap_or_else(|p| p.into_inner()) = wanted.to_string();
    api.logs.write(
        "api",
        &format!("{} INFO api restarted as version {wanted}\n", now()),
    );
    Ok(wanted.to_string())
}

/// `sidecars demo-app`: the demo deploy's commands, asking the running demo app on
/// 127.0.0.1:`port`. `version` prints the api's version; `switch` sets it to `to`.
pub fn control(port: u16, to: Option<&str>) -> anyhow::Result<String> {
    use std::io::Read;
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let request = match to {
        None => "GET /admin/version HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".to_string(),
        Some(version) => format!(
            "PUT /admin/version HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{version}",
            version.len()
        ),
    };
    stream.write_all(request.as_bytes())?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    if !head.starts_with("HTTP/1.1 200") {
        anyhow::bail!(
            "the demo app answered {}: {body}",
            head.lines().next().unwrap_or("")
        );
    }
    Ok(body.trim().to_string())
}
