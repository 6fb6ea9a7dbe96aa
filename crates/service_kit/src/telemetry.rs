//! Logging set-up for the services' own logs: human-readable by default, JSON with
//! `LOG_FORMAT=json`, level from `RUST_LOG` (default `info`).

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// Installs the global `tracing` subscriber. Safe to call more than once (later calls are
/// ignored), which keeps tests that start several services in one process simple.
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let json = std::env::var("LOG_FORMAT")
        .map(|v| v.eq_ignore_ascii_case("json"))
        .unwrap_or(false);
    // Colours only on a terminal: in `docker logs` and files escape codes are noise.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let _ = if json {
        builder.json().flatten_event(true).try_init()
    } else {
        builder.try_init()
    };
    // A panic is one line of the service's own log (JSON too), not Rust's stderr text; one
    // inside a request handler is logged by `catch_panic`, with its request, instead.
    std::panic::set_hook(Box::new(|info| {
        if crate::http_error::panicking_in_handler() {
            return;
        }
        let location = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        tracing::error!(
            location = %location,
            message = %crate::http_error::panic_message(info.payload()),
            "Panicked."
        );
    }));
}
