//! Shared plumbing for the Compose Sidecars services.
//!
//! Every service (healthcheck_dashboard, log_watcher, webhook_handler) is a library crate
//! that leans on this one for the parts that must behave the same everywhere: how
//! configuration is loaded and rejected, how the process logs, how HTTP is served and shut
//! down, how alerts reach people, and how state is kept in SQLite.
//!
//! # Layout
//! - [`config`]: one loading path for every service: file lookup, TOML with path-aware errors,
//!   env overrides, the conversion into runtime settings, the exit code for bad config.
//! - [`telemetry`]: `tracing` set-up, human format or `LOG_FORMAT=json`.
//! - [`serve`]: SIGINT/SIGTERM to a cancellation token, axum serving with graceful drain, and
//!   why a service's `run` failed.
//! - [`http_error`]: the `{"error": "..."}` JSON error type every handler returns.
//! - [`page`]: a server-rendered page's nonce, strict CSP, headers, head and inline script.
//! - [`html`]: escaping and the words the pages count and tell time with.
//! - [`metrics_text`]: Prometheus text exposition for `/metrics`.
//! - [`auth`]: optional bearer-token or basic-auth protection for routes.
//! - [`cli`]: the command line every service binary has (`--config`/`--listen`/`--data-dir`,
//!   `check-config`, `selfcheck`) and the skeleton of its `main`.
//! - [`peers`]: the other sidecars as clients: log_watcher's error lines, webhook_handler's
//!   deploys, healthcheck_dashboard's checks and maintenance windows (`[peers]`).
//! - [`secret`]: a secret value that never shows in `Debug`, logs or answers.
//! - [`redact`]: strips credentials from URLs before they reach JSON, pages or logs.
//! - [`storage`]: opening the embedded SQLite file the services keep their state in.
//! - [`backoff`]: exponential backoff with jitter for every retry loop.
//! - [`process`]: child processes in their own process group, killed as a whole.
//! - [`alert`]: webhook, Slack, Discord and SMTP email sinks with retry and cooldown.
//! - [`supervisor`]: the long-lived tasks under watch: the first to fail turns `/livez` 503
//!   and stops the service, to be restarted.
//!
//! Fixtures for integration tests live in their own crate, `service_kit_testing`.

pub mod alert;
pub mod auth;
pub mod backoff;
pub mod cli;
pub mod config;
pub mod html;
pub mod http_error;
pub mod metrics_text;
pub mod page;
pub mod peers;
pub mod process;
pub mod redact;
pub mod secret;
pub mod serve;
pub mod storage;
pub mod supervisor;
pub mod telemetry;
