//! healthcheck_dashboard: probes every service of a Compose stack (HTTP, TCP, Postgres,
//! commands) and serves an aggregate `/health`, a live dashboard, metrics, badges and alerts.
//!
//! # Layout
//! In the order the data goes, from the config file to the HTTP answer; each module uses
//! only those above it (the scheduler, the loop that carries an outcome into state, history
//! and alerts, comes after them).
//! - [`config`]: the spec's `config.toml` as written (`[checks]`, `[dashboard]`, `[alerts]`,
//!   `[auth]`, `[storage]`), its defaults and the env vars (`DASHBOARD_PORT`,
//!   `HEALTHCHECK_INTERVAL_SECS`, `ALERT_*`, `SMTP_*`, `DASHBOARD_TOKEN`).
//! - [`check`]: one endpoint's [`check::Check`]: its info, [`check::Schedule`],
//!   [`check::Probe`] and live [`check::CheckState`].
//!   - `check/probe.rs`: building a probe from its endpoint entry, running it with its timeout.
//!   - `check/http.rs`, `tcp.rs`, `postgres.rs`, `command.rs`: what each check type does,
//!     what counts as up, degraded, down, and each error text; the shared HTTP clients.
//!   - `check/outcome.rs`: [`check::Outcome`] and [`check::Status`].
//!   - `check/state.rs`: last outcome, counters, uptime, latencies, and the alerting
//!     hysteresis (down after N failures, recovered after M successes, reminders).
//! - [`settings`]: the one conversion from config to runtime [`settings::Settings`]: every
//!   check, probe and alert sink built, every value checked, errors naming
//!   `checks.endpoints[1] ("api").url`; `listen_address` and the `check-config` summary.
//! - [`state`]: all checks together: lookup by name, readiness (first round done), change
//!   notifications for the event stream.
//! - [`history`]: per-minute history and errors in SQLite, restored at start-up.
//! - [`alerting`]: transitions to alert messages through the shared sinks.
//! - [`scheduler`]: runs each check on its schedule with bounded concurrency, then records
//!   the outcome (state, history, status-change log line, alert).
//! - [`api`]: the HTTP routes (`/health` in the spec's and the IETF format, `/dashboard`,
//!   `/metrics`, badges, `/api/*`, `/events`) over [`App`].
//! - [`run`] (here): wires it together and shuts down in order.

pub mod alerting;
pub mod api;
pub mod check;
pub mod config;
pub mod history;
pub mod scheduler;
pub mod settings;
pub mod state;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use service_kit::storage::Store;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::alerting::Alerter;
use crate::check::HttpClients;
use crate::scheduler::{Scheduler, SchedulerStats};
use crate::settings::Settings;
use crate::state::HealthState;

pub use api::{router, App};

/// Why the service could not start or stopped with an error (shared by every service).
pub use service_kit::serve::RunError;

/// Runs the service on `listener` until `shutdown` is cancelled: checks, history, alerts and
/// HTTP. Returns after in-flight work has drained and history is flushed.
pub async fn run(
    settings: Settings,
    listener: TcpListener,
    data_dir: PathBuf,
    shutdown: CancellationToken,
) -> Result<(), RunError> {
    let Settings {
        checks,
        max_concurrent,
        dashboard,
        alerts,
        auth,
        retention_days,
    } = settings;
    let store = Store::open(&data_dir, history::DB_FILE, history::SCHEMA)?;
    let state = Arc::new(HealthState::new(checks));
    for (name, past) in history::load(&store, chrono::Utc::now())? {
        if let Some(check) = state.check_named(&name) {
            check
                .lock()
                .restore(past.hourly, past.recent, past.last_error);
        }
    }

    let local = listener.local_addr()?;
    let link = dashboard
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://localhost:{}/dashboard", local.port()));
    let alerter = Arc::new(Alerter::new(alerts, Some(link)));
    let retention = Duration::from_secs(retention_days.max(1) * 86_400);
    let (history_writer, writer_task) =
        history::spawn_writer(store.clone(), retention, shutdown.clone());
    let scheduler_stats = Arc::new(SchedulerStats::default());
    let scheduler = Scheduler {
        state: state.clone(),
        history: history_writer,
        alerter: alerter.clone(),
        permits: tokio::sync::Semaphore::new(max_concurrent),
        clients: HttpClients::new(),
        stats: scheduler_stats.clone(),
    };
    let tasks = scheduler.spawn(shutdown.clone());

    let app = Arc::new(App {
        dashboard,
        retention_days,
        state,
        store,
        scheduler_stats,
        alerter,
        auth: Arc::new(auth),
    });
    tracing::info!(
        address = %local,
        checks = app.state.checks().len(),
        dashboard = app.dashboard.enabled,
        "Healthcheck dashboard listening."
    );
    let served = service_kit::serve::serve(listener, router(app.clone()), shutdown.clone()).await;
    shutdown.cancel();
    tasks.join_all().await;
    if let Some(dispatcher) = app.alerter.dispatcher() {
        // An alert about the last transition should not be lost to the shutdown.
        dispatcher.drain(Duration::from_secs(3)).await;
    }
    let _ = writer_task.await;
    tracing::info!("Healthcheck dashboard stopped.");
    served.map_err(RunError::from)
}
