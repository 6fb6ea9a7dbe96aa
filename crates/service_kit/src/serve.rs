//! Serving HTTP with one shutdown story: SIGINT/SIGTERM cancel a token that every task of a
//! service watches; the server stops accepting, drains in-flight requests, and returns.
//! [`RunError`] is why a service's `run` could not start or stopped with an error.
//!
//! The serving loop is bounded whatever clients do ([`ServeLimits`]): a client that does not
//! send its request headers within the header-read timeout is cut off (slowloris), and beyond
//! the connection cap a new connection gets `503` with `Retry-After` and is closed at once.
//! Long-lived answers (server-sent events) take a [`StreamSlots`] permit, so their number is
//! bounded too. Every request carries the peer's address (`ConnectInfo`).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::http_error::ApiError;

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

/// What one server holds at most, whatever its clients do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServeLimits {
    /// Connections open at once; beyond, `503` and close.
    pub max_connections: usize,
    /// Time a client has to send a request's headers (at most 30 s).
    pub header_read_timeout: Duration,
}

impl Default for ServeLimits {
    fn default() -> Self {
        ServeLimits {
            max_connections: 1024,
            header_read_timeout: Duration::from_secs(10),
        }
    }
}

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

/// One warning line when a service listens beyond this machine with no credentials: it says
/// what anyone on the network can then read.
pub fn warn_if_open(service: &str, address: SocketAddr, auth_enabled: bool, exposes: &str) {
    if !address.ip().is_loopback() && !auth_enabled {
        tracing::warn!(
            %address,
            "{service} listens beyond this machine without [auth] credentials: {exposes}"
        );
    }
}

/// Serves `router` on `listener` with the default [`ServeLimits`] until `shutdown` is
/// cancelled, then drains for at most [`DRAIN_TIMEOUT`].
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    serve_with(listener, router, shutdown, ServeLimits::default()).await
}

/// [`serve`] with other limits.
pub async fn serve_with(
    listener: TcpListener,
    router: Router,
    shutdown: CancellationToken,
    limits: ServeLimits,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let header_timeout = limits.header_read_timeout.min(Duration::from_secs(30));
    let (closing, closed) = watch::channel(false);
    let connections = TaskTracker::new();
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors and the like: wait a moment, do not spin.
                    tracing::warn!(%err, "Cannot accept a connection.");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = shutdown.cancelled() => break,
        };
        let _ = stream.set_nodelay(true);
        match slots.clone().try_acquire_owned() {
            Ok(slot) => {
                let router = router.clone();
                let closed = closed.clone();
                connections.spawn(connection(
                    stream,
                    peer,
                    router,
                    slot,
                    header_timeout,
                    closed,
                ));
            }
            Err(_) => {
                connections.spawn(refuse(stream));
            }
        }
    }
    drop(listener);
    let _ = closing.send(true);
    connections.close();
    if tokio::time::timeout(DRAIN_TIMEOUT, connections.wait())
        .await
        .is_err()
    {
        tracing::warn!("Requests still open after the drain timeout; closing them.");
    }
    Ok(())
}

/// Serves one connection until it ends, or ends it gracefully once `closed` turns true.
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    _slot: OwnedSemaphorePermit,
    header_timeout: Duration,
    mut closed: watch::Receiver<bool>,
) {
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        let mut router = router.clone();
        async move {
            let response =
                tower_service::Service::call(&mut router, request.map(axum::body::Body::new)).await;
            Ok::<_, Infallible>(response.unwrap_or_else(|never| match never {}))
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    let conn = builder
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    let mut conn = std::pin::pin!(conn);
    loop {
        tokio::select! {
            _ = conn.as_mut() => return,
            changed = closed.changed() => {
                if changed.is_err() || *closed.borrow() {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.as_mut().await;
                    return;
                }
            }
        }
    }
}

/// Answers `503` with `Retry-After` to a connection over the cap, and closes it.
async fn refuse(mut stream: TcpStream) {
    const BODY: &str = r#"{"error":"too many connections; try again"}"#;
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{BODY}",
        crate::http_error::RETRY_AFTER_SECS,
        BODY.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        let _ = stream.write_all(answer.as_bytes()).await;
        let _ = stream.shutdown().await;
    })
    .await;
}

/// Slots for long-lived answers (server-sent event streams), so that their number stays
/// bounded: one more than allowed gets `503` with `Retry-After`.
#[derive(Debug, Clone)]
pub struct StreamSlots {
    slots: Arc<Semaphore>,
    max: usize,
}

impl StreamSlots {
    /// At most `max` streams at once.
    pub fn new(max: usize) -> StreamSlots {
        StreamSlots {
            slots: Arc::new(Semaphore::new(max.max(1))),
            max: max.max(1),
        }
    }

    /// A slot for one stream, held as long as the stream lives; `503` when all are taken.
    pub fn take(&self) -> Result<OwnedSemaphorePermit, ApiError> {
        self.slots.clone().try_acquire_owned().map_err(|_| {
            ApiError::Unavailable(format!("{} live streams are open already", self.max))
        })
    }

    /// Streams open now.
    pub fn in_use(&self) -> usize {
        self.max - self.slots.available_permits()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    async fn started(limits: ServeLimits) -> (SocketAddr, CancellationToken) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let shutdown = CancellationToken::new();
        let router = Router::new().route(
            "/who",
            axum::routing::get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move {
                peer.ip().to_string()
            }),
        );
        tokio::spawn(serve_with(listener, router, shutdown.clone(), limits));
        (address, shutdown)
    }

    async fn ask(address: SocketAddr, request: &[u8]) -> String {
        let mut stream = TcpStream::connect(address).await.unwrap();
        stream.write_all(request).await.unwrap();
        let mut answer = String::new();
        let _ =
            tokio::time::timeout(Duration::from_secs(5), stream.read_to_string(&mut answer)).await;
        answer
    }

    #[tokio::test]
    async fn requests_know_their_peer() {
        let (address, _shutdown) = started(ServeLimits::default()).await;
        let answer = ask(
            address,
            b"GET /who HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(answer.ends_with("127.0.0.1"), "{answer}");
    }

    #[tokio::test]
    async fn a_client_that_never_finishes_its_headers_is_cut_off() {
        let limits = ServeLimits {
            header_read_timeout: Duration::from_millis(300),
            ..ServeLimits::default()
        };
        let (address, _shutdown) = started(limits).await;
        let mut stream = TcpStream::connect(address).await.unwrap();
        stream
            .write_all(b"GET /who HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        let mut rest = Vec::new();
        let read =
            tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut rest)).await;
        assert!(read.is_ok(), "the connection stayed open");
    }

    #[tokio::test]
    async fn connections_over_the_cap_get_503_with_retry_after() {
        let limits = ServeLimits {
            max_connections: 1,
            ..ServeLimits::default()
        };
        let (address, _shutdown) = started(limits).await;
        let _held = TcpStream::connect(address).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        let answer = ask(address, b"GET /who HTTP/1.1\r\nHost: x\r\n\r\n").await;
        assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
        assert!(answer.contains("Retry-After: 5"), "{answer}");
        assert!(answer.contains("too many connections"), "{answer}");
    }

    #[test]
    fn stream_slots_run_out_and_come_back() {
        let slots = StreamSlots::new(1);
        let held = slots.take().unwrap();
        assert_eq!(slots.in_use(), 1);
        assert!(slots.take().is_err());
        drop(held);
        assert!(slots.take().is_ok());
    }
}
