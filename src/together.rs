//! Running the services side by side in one process (`sidecars run`, `sidecars demo`): each
//! keeps its state in its own folder under the data directory, and whichever stops first
//! (Ctrl-C, or a failure) stops the others too.

use std::path::Path;

use anyhow::Context;
use healthcheck_dashboard::config::Config as HealthConfig;
use log_watcher::config::Config as LogsConfig;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Runs the healthcheck dashboard and, when given, the log watcher until `shutdown` or until
/// one of them stops.
pub async fn run_services(
    health: (HealthConfig, TcpListener),
    logs: Option<(LogsConfig, TcpListener)>,
    data_dir: &Path,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let (health, watched) = tokio::join!(
        async {
            let (config, listener) = health;
            let result = healthcheck_dashboard::run(
                config,
                listener,
                data_dir.join("healthcheck"),
                shutdown.clone(),
            )
            .await;
            shutdown.cancel();
            result
        },
        async {
            let Some((config, listener)) = logs else {
                return Ok(());
            };
            let result = log_watcher::run(
                config,
                listener,
                data_dir.join("log_watcher"),
                shutdown.clone(),
            )
            .await;
            shutdown.cancel();
            result
        },
    );
    health.context("healthcheck_dashboard failed")?;
    watched.context("log_watcher failed")
}
