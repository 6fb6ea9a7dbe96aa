//! healthcheck_dashboard: probes every service of a Compose stack (HTTP, TCP, Postgres,
//! commands) and serves an aggregate `/health`, a live dashboard, metrics, badges and alerts.
//!
//! # Layout
//! - [`config`]: the spec's `config.toml`, env vars, validation.
//! - [`check`]: the probes (one file per check type) and their [`check::Outcome`].
//! - [`scheduler`]: runs each check on its interval with bounded concurrency.
//! - [`state`]: live per-check state, uptime, hysteresis transitions.
//! - [`history`]: per-minute history in SQLite, restored at start-up.
//! - [`alerting`]: transitions to alerts through the shared sinks.
//! - [`api`]: the HTTP routes (`/health`, `/dashboard`, `/metrics`, badges, events).

pub mod alerting;
pub mod api;
pub mod check;
pub mod config;
pub mod history;
pub mod scheduler;
pub mod state;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use service_kit::auth::AuthConfig;
use service_kit::storage::Store;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::alerting::Alerter;
use crate::check::Probe;
use crate::config::Config;
use crate::scheduler::{Scheduler, SchedulerStats};
use crate::state::{CheckInfo, HealthState};

pub use api::router;

/// Why the service could not start or stopped with an error (shared by every service).
pub use service_kit::serve::RunError;

/// Everything the HTTP handlers need.
pub struct App {
    /// The loaded configuration.
    pub config: Config,
    /// Live check state.
    pub state: Arc<HealthState>,
    /// The history database.
    pub store: Store,
    /// Scheduler counters.
    pub scheduler_stats: Arc<SchedulerStats>,
    /// Alert sender (for its counters).
    pub alerter: Arc<Alerter>,
    /// Route protection.
    pub auth: Arc<AuthConfig>,
}

/// Runs the service on `listener` until `shutdown` is cancelled: checks, history, alerts and
/// HTTP. Returns after in-flight work has drained and history is flushed.
pub async fn run(
    config: Config,
    listener: TcpListener,
    data_dir: PathBuf,
    shutdown: CancellationToken,
) -> Result<(), RunError> {
    let store = Store::open(&data_dir, history::DB_FILE, history::SCHEMA)?;
    let mut probes = Vec::new();
    let mut infos = Vec::new();
    let mut intervals = Vec::new();
    for endpoint in &config.checks.endpoints {
        let probe = Probe::from_config(endpoint, &config.checks).map_err(|(field, problem)| {
            service_kit::config::ConfigError::new(
                format!("checks.endpoints ({:?}).{field}", endpoint.name),
                problem,
            )
        })?;
        let interval = config.interval_of(endpoint);
        infos.push(CheckInfo {
            name: endpoint.name.clone(),
            kind: probe.kind(),
            target: probe.target(),
            interval,
            failure_threshold: endpoint.failure_threshold.unwrap_or(3),
            success_threshold: endpoint.success_threshold.unwrap_or(2),
        });
        intervals.push(interval);
        probes.push(probe);
    }
    let state = Arc::new(HealthState::new(infos));
    let restored = history::load(&store, chrono::Utc::now())?;
    for (name, past) in restored {
        if let Some(index) = state.index_of(&name) {
            state.restore(index, past.hourly, past.recent, past.last_error);
        }
    }

    let local = listener.local_addr()?;
    let link = config
        .dashboard
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://localhost:{}/dashboard", local.port()));
    let alerter = Arc::new(Alerter::from_config(&config.alerts, Some(link))?);
    let retention = Duration::from_secs(config.storage.retention_days.max(1) * 86_400);
    let (history_writer, writer_task) =
        history::spawn_writer(store.clone(), retention, shutdown.clone());
    let scheduler_stats = Arc::new(SchedulerStats::default());
    let scheduler = Scheduler {
        probes,
        intervals,
        state: state.clone(),
        history: history_writer,
        alerter: alerter.clone(),
        permits: Arc::new(tokio::sync::Semaphore::new(config.checks.max_concurrent)),
        http: scheduler::http_client(true),
        insecure_http: scheduler::http_client(false),
        stats: scheduler_stats.clone(),
    };
    let checks = scheduler.spawn(shutdown.clone());

    let app = Arc::new(App {
        auth: Arc::new(config.auth.clone()),
        config,
        state,
        store,
        scheduler_stats,
        alerter,
    });
    tracing::info!(
        address = %local,
        checks = app.state.infos().len(),
        dashboard = app.config.dashboard.enabled,
        "Healthcheck dashboard listening."
    );
    let served = service_kit::serve::serve(listener, router(app.clone()), shutdown.clone()).await;
    shutdown.cancel();
    checks.join_all().await;
    if let Some(dispatcher) = app.alerter.dispatcher() {
        // An alert about the last transition should not be lost to the shutdown.
        dispatcher.drain(Duration::from_secs(3)).await;
    }
    let _ = writer_task.await;
    tracing::info!("Healthcheck dashboard stopped.");
    served.map_err(RunError::from)
}

/// The address to listen on: `--listen` if given, else `[dashboard] host` and `port`.
pub fn listen_address(config: &Config, listen: Option<&str>) -> String {
    match listen {
        Some(listen) => listen.to_string(),
        None => format!("{}:{}", config.dashboard.host, config.dashboard.port),
    }
}
