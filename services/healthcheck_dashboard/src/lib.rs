//! healthcheck_dashboard: probes every service of a Compose stack (HTTP, TCP, Postgres,
//! commands) and serves an aggregate `/health`, a live dashboard, metrics, badges and alerts.
//!
//! # Layout
//! In the order the data goes, from the config file to the HTTP answer; each module uses
//! only those above it (the scheduler, the loop that carries an outcome into state, history
//! and alerts, comes after them).
//! - [`config`]: the spec's `config.toml` as written (`[checks]`, `[dashboard]`, `[alerts]`,
//!   `[auth]`, `[storage]`, `[peers]`), its defaults and the env vars (`DASHBOARD_PORT`,
//!   `HEALTHCHECK_INTERVAL_SECS`, `ALERT_*`, `SMTP_*`, `DASHBOARD_TOKEN`, `LOG_WATCHER_URL`,
//!   `WEBHOOK_HANDLER_URL` and their tokens).
//! - [`check`]: one endpoint's [`check::Check`]: its info, [`check::Schedule`],
//!   [`check::Probe`] and live [`check::CheckState`].
//!   - `check/probe.rs`: building a probe from its endpoint entry, running it with its timeout.
//!   - `check/http.rs`, `tcp.rs`, `postgres.rs`, `command.rs`: what each check type does,
//!     what counts as up, degraded, down, and each error text; the shared HTTP clients.
//!   - `check/outcome.rs`: [`check::Outcome`] and [`check::Status`].
//!   - `check/state.rs`: last outcome, counters, uptime, latencies, the alerting
//!     hysteresis (down after N failures, recovered after M successes, reminders) and the
//!     gate that holds alerts back under a maintenance window.
//! - [`settings`]: the one conversion from config to runtime [`settings::Settings`]: every
//!   check, probe, alert sink and peer client built, every value checked, errors naming
//!   `checks.endpoints[1] ("api").url` or `peers.log_watcher`; `listen_address` and the
//!   `check-config` summary.
//! - [`state`]: all checks together: lookup by name, readiness (first round done), change
//!   notifications for the event stream.
//! - [`history`]: per-minute history and errors in SQLite, restored at start-up.
//! - [`alerting`]: transitions to alert messages through the shared sinks; down alerts carry
//!   the service's last error lines from log_watcher (`[peers] log_watcher`).
//! - [`maintenance`]: maintenance windows (in memory) that hold a service's alerts back, and
//!   the down alert sent when one ends over a service still down.
//! - [`deploys`]: deploys polled from webhook_handler (`[peers] webhook_handler`), for the
//!   markers on the dashboard's sparklines.
//! - [`discovery`]: with `[discovery] docker = true`, a check for every service of the
//!   Compose project (its `sidecars.health.*` labels, else its container), kept in step.
//! - [`scheduler`]: runs each check on its schedule with bounded concurrency, then records
//!   the outcome (state, history, status-change log line, alert or held-back alert).
//! - [`api`]: the HTTP routes (`/health` in the spec's and the IETF format, `/dashboard`,
//!   `/metrics`, badges, `/api/*` with `/api/maintenance` and `/api/deploys`, `/events`)
//!   over [`App`].
//! - [`run`] (here): wires it together and shuts down in order.

#![forbid(unsafe_code)]

pub mod alerting;
pub mod api;
pub mod check;
pub mod config;
pub mod deploys;
pub mod discovery;
pub mod history;
pub mod maintenance;
pub mod scheduler;
pub mod settings;
pub mod state;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use service_kit::serve::{ServeLimits, StreamSlots};
use service_kit::storage::Store;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::alerting::Alerter;
use crate::check::{ContainerViews, HttpClients};
use crate::deploys::DeployMarkers;
use crate::discovery::Discovery;
use crate::maintenance::Maintenance;
use crate::scheduler::{Scheduler, SchedulerStats};
use crate::settings::Settings;
use crate::state::HealthState;
use service_kit::supervisor::{Supervisor, FAILURE_GRACE};

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
        peers,
        docker_socket,
        discovery,
    } = settings;
    let store = Store::open(&data_dir, history::DB_FILE, history::SCHEMA)?;
    let state = Arc::new(HealthState::new(checks));
    let mut restored = history::load(&store, chrono::Utc::now())?;
    for check in state.checks().iter() {
        if let Some(past) = restored.remove(&*check.info.name) {
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
    let alerter = Arc::new(Alerter::new(alerts, Some(link), peers.log_watcher));
    let retention = Duration::from_secs(retention_days.max(1) * 86_400);
    // The long-lived tasks run under watch: the first to die turns `/livez` to 503 and
    // stops the service with an error, so that it is restarted.
    let supervisor = Supervisor::new(shutdown.clone(), FAILURE_GRACE);
    let (history_writer, writer_task) = history::writer(store.clone(), retention, shutdown.clone());
    supervisor.spawn("history writer", writer_task);
    let scheduler_stats = Arc::new(SchedulerStats::default());
    let scheduler = Arc::new(Scheduler {
        state: state.clone(),
        history: history_writer,
        alerter: alerter.clone(),
        permits: tokio::sync::Semaphore::new(max_concurrent),
        clients: HttpClients::new(),
        containers: ContainerViews::new(docker_socket, shutdown.clone()),
        stats: scheduler_stats.clone(),
    });
    scheduler.clone().spawn(&supervisor, shutdown.clone());
    if discovery.is_none() {
        // Nothing will ask for the history of checks not configured: let it go now.
        restored = std::collections::HashMap::new();
    }
    if let Some(settings) = discovery {
        let view = scheduler.containers.view(Some(&settings.project));
        let discovery = Discovery {
            settings,
            view,
            state: state.clone(),
            scheduler: scheduler.clone(),
            restored,
        };
        supervisor.spawn("discovery", discovery.run(shutdown.clone()));
    }
    let maintenance = Arc::new(Maintenance::new(state.clone(), alerter.clone()));
    supervisor.spawn(
        "maintenance expiry",
        maintenance.clone().run_expiry(shutdown.clone()),
    );
    let deploys = Arc::new(DeployMarkers::new(peers.webhook_handler));
    let touched = state.clone();
    let poller = deploys
        .clone()
        .poller(move || touched.touch(), shutdown.clone());
    let polls_deploys = poller.is_some();
    if let Some(poller) = poller {
        supervisor.spawn("deploy poller", poller);
    }
    inject_fault(&supervisor);

    let limits = ServeLimits {
        max_connections: dashboard.max_connections,
        header_read_timeout: Duration::from_secs(dashboard.header_timeout_secs),
    };
    let streams = StreamSlots::new(dashboard.max_streams);
    let app = Arc::new(App {
        dashboard,
        retention_days,
        state,
        store,
        scheduler_stats,
        alerter,
        auth: Arc::new(auth),
        maintenance,
        deploys,
        streams,
        supervisor: supervisor.clone(),
    });
    tracing::info!(
        address = %local,
        checks = app.state.checks().len(),
        dashboard = app.dashboard.enabled,
        log_watcher = app.alerter.has_log_watcher(),
        deploy_markers = polls_deploys,
        "Healthcheck dashboard listening."
    );
    service_kit::serve::warn_if_open(
        "healthcheck_dashboard",
        local,
        app.auth.is_enabled(),
        "anyone who reaches this port sees check targets and their errors and can open \
         maintenance windows (set [auth] or DASHBOARD_TOKEN)",
    );
    let served =
        service_kit::serve::serve_with(listener, router(app.clone()), shutdown.clone(), limits)
            .await;
    shutdown.cancel();
    supervisor.join_all().await;
    // An alert about the last transition should not be lost to the shutdown.
    app.alerter.drain(Duration::from_secs(3)).await;
    tracing::info!("Healthcheck dashboard stopped.");
    served?;
    match supervisor.failure() {
        Some(failure) => Err(RunError::Io(std::io::Error::other(failure.to_string()))),
        None => Ok(()),
    }
}

/// The fault tests inject to see supervision work (debug builds only): with
/// `HEALTHCHECK_INJECT_FAULT=scheduler` a scheduler task panics half a second after start.
#[cfg(debug_assertions)]
fn inject_fault(supervisor: &Arc<Supervisor>) {
    if std::env::var("HEALTHCHECK_INJECT_FAULT").as_deref() == Ok("scheduler") {
        supervisor.spawn("scheduler", async {
            tokio::time::sleep(Duration::from_millis(500)).await;
            panic!("injected fault (HEALTHCHECK_INJECT_FAULT=scheduler)");
        });
    }
}

/// Release builds take no injected faults.
#[cfg(not(debug_assertions))]
fn inject_fault(_supervisor: &Arc<Supervisor>) {}
