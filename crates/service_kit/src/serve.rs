//! Serving HTTP with one shutdown story: SIGINT/SIGTERM cancel a token that every task of a
//! service watches; the HTTP server stops accepting, drains in-flight requests, and returns.
//! [`RunError`] is why a service's `run` could not start or stopped with an error.

use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Why a service could not start or stopped with an error: what every service's
/// `run(config, listener, data_dir, shutdown)` returns.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The configuration cannot be used (the binary exits with
    /// [`EXIT_CONFIG`](crate::config::EXIT_CONFIG)).
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// The service's database cannot be opened or read.
    #[error("storage: {0}")]
    Storage(#[from] crate::storage::StorageError),
    /// Serving failed.
    #[error("serving: {0}")]
    Io(#[from] std::io::Error),
}

/// How long in-flight requests (long-lived streams included) may take to finish after a
/// shutdown signal before they are cut off; keeps exit well inside Docker's 10 s grace period.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// Returns a token that is cancelled on the first SIGINT or SIGTERM.
pub fn shutdown_on_signals() -> CancellationToken {
    let token = CancellationToken::new();
    let trigger = token.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("Shutdown signal received; draining.");
        trigger.cancel();
    });
    token
}

#[cfg(unix)]
async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(term) => term,
        Err(err) => {
            tracing::warn!(%err, "Cannot listen for SIGTERM; only Ctrl-C will stop the service.");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

#[cfg(not(unix))]
async fn wait_for_signal() {
    let _ = tokio::signal::ctrl_c().await;
}

/// Binds `addr` (such as `0.0.0.0:9100`), naming the address in the error.
pub async fn bind(addr: &str) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| std::io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}")))
}

/// Serves `router` on `listener` until `shutdown` is cancelled, then drains for at most
/// [`DRAIN_TIMEOUT`].
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let drain_deadline = shutdown.clone();
    // Handlers that care who is asking (sender allow-lists, local-only routes) find the
    // peer address in the request's `ConnectInfo`.
    let service = router.into_make_service_with_connect_info::<std::net::SocketAddr>();
    let server = axum::serve(listener, service).with_graceful_shutdown(async move {
        shutdown.cancelled().await;
    });
    let server = std::pin::pin!(std::future::IntoFuture::into_future(server));
    tokio::select! {
        result = server => result,
        _ = async {
            drain_deadline.cancelled().await;
            tokio::time::sleep(DRAIN_TIMEOUT).await;
        } => {
            tracing::warn!("Requests still open after the drain timeout; closing them.");
            Ok(())
        }
    }
}
