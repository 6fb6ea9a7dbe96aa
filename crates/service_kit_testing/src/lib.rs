//! Fixtures for integration tests of every service (a dev-dependency of every service).
//!
//! - [`RunningService`]: a service's real `run` on `127.0.0.1:0`, stopped in time or on drop.
//! - [`FakeReceiver`]: an HTTP server on `127.0.0.1:0` standing in for Slack, Discord or any
//!   webhook receiver; it records every request and answers with a programmed sequence.
//! - [`SmtpServer`]: a real SMTP server (Debian's `python3-aiosmtpd`) in plain, STARTTLS or
//!   implicit-TLS mode, optionally requiring AUTH, recording every message it accepts.
//! - [`require_component`]: the rule for tests that need something installed: skip loudly
//!   on a developer machine, fail under `CI=true`.
//! - [`free_port`]: a port nothing listens on right now.
//! - [`docker`]: the Docker Engine (required under `CI=true`), busybox stand-in images made
//!   with `docker import`, and removal of every container and image a run made.
//! - [`assert_promtool_accepts`]: `promtool check metrics` on a `/metrics` text.
//! - [`binary`]: a service binary as operators run it: config files, `check-config`,
//!   waiting for it to answer, SIGTERM.
//! - [`browser`]: a real headless Chromium driven over the DevTools protocol, for the
//!   dashboards.
//! - [`page`]: what every dashboard response must be: strict headers and CSP with the nonce
//!   on its inline style and script, nothing loaded from elsewhere, hostile text escaped.

use std::net::Ipv4Addr;
use std::time::Duration;

pub mod binary;
pub mod browser;
pub mod docker;
mod fake_receiver;
pub mod page;
mod promtool;
mod running_service;
mod smtp_server;

pub use fake_receiver::{FakeReceiver, FakeResponse, RecordedRequest};
pub use promtool::assert_promtool_accepts;
pub use running_service::RunningService;
pub use smtp_server::{ReceivedMail, SmtpMode, SmtpServer};

/// How often the `wait_for` helpers look again.
pub(crate) const POLL_INTERVAL: Duration = Duration::from_millis(20);

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
pub(crate) fn free_port_blocking() -> u16 {
    let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local address").port()
}
