//! [`SmtpServer`]: a real SMTP server (aiosmtpd) for email tests, in plain, STARTTLS or
//! implicit-TLS mode.

use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::{free_port_blocking, require_component, POLL_INTERVAL};

/// The SMTP server script, shipped inside the crate so other crates' tests can use it.
const SMTP_SERVER_SCRIPT: &str = include_str!("../fixtures/smtp_server.py");

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
