//! Running the services side by side in one process (`sidecars run`, `sidecars demo`): each
//! keeps its state in its own folder under the data directory, and whichever stops first
//! (Ctrl-C, or a failure) stops the others too.

use std::future::Future;
use std::path::Path;
use std::pin::Pin;

use anyhow::Context;
use service_kit::serve::RunError;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// One service's `run`, started.
type Running = Pin<Box<dyn Future<Output = Result<(), RunError>> + Send>>;

/// The services to run, each with its settings and bound listener; absent ones do not run.
#[derive(Default)]
pub struct Services {
    /// The healthcheck dashboard.
    pub health: Option<(healthcheck_dashboard::settings::Settings, TcpListener)>,
    /// The log watcher.
    pub logs: Option<(log_watcher::settings::Settings, TcpListener)>,
    /// The webhook handler.
    pub hooks: Option<(webhook_handler::settings::Settings, TcpListener)>,
}

/// Runs `services` until `shutdown` or until one of them stops.
pub async fn run_services(
    services: Services,
    data_dir: &Path,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let mut running: Vec<(&str, Running)> = Vec::new();
    if let Some((settings, listener)) = services.health {
        let run = healthcheck_dashboard::run(
            settings,
            listener,
            data_dir.join("healthcheck"),
            shutdown.clone(),
        );
        running.push(("healthcheck_dashboard", Box::pin(run)));
    }
    if let Some((settings, listener)) = services.logs {
        let run = log_watcher::run(
            settings,
            listener,
            data_dir.join("log_watcher"),
            shutdown.clone(),
        );
        running.push(("log_watcher", Box::pin(run)));
    }
    if let Some((settings, listener)) = services.hooks {
        let run = webhook_handler::run(
            settings,
            listener,
            data_dir.join("webhook_handler"),
            shutdown.clone(),
        );
        running.push(("webhook_handler", Box::pin(run)));
    }
    let results = futures_util::future::join_all(running.into_iter().map(|(name, run)| {
        let shutdown = shutdown.clone();
        async move {
            let result = run.await;
            shutdown.cancel();
            result.with_context(|| format!("{name} failed"))
        }
    }))
    .await;
    results.into_iter().collect()
}
