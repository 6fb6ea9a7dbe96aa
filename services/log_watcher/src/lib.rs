//! log_watcher: tails the logs of a Compose stack's containers and files, filters them by
//! level and regex, counts them, alerts, and serves recent events and summaries over HTTP.
//!
//! # Layout
//! Start-up: [`config`] (the file as written, and the env vars on top) → [`settings`]
//! (checked and built once: compiled regexes and globs, levels, filter, rules, sinks;
//! `[log_sources]` in [`settings::sources`]) → [`run`] (below: starts each step and serves).
//! Then a line's way, one module per step:
//!
//! 1. [`source`]: where lines come from.
//!    - [`source::files`]: the file source's reading loop (discovery, passes, batches) over
//!      `extra_files` and `docker_logs_dir`; in it [`patterns`](source::files::patterns)
//!      (paths and globs), [`follower`](source::files::follower) (one path across rotation
//!      and restarts), [`reader`](source::files::reader) (one open file, line by line),
//!      [`rotation`](source::files::rotation), [`fingerprint`](source::files::fingerprint),
//!      [`wake`](source::files::wake) (inotify).
//!    - [`source::docker_dir`]: containers found in Docker's data directory.
//!    - [`source::docker_api`]: containers followed through the Docker Engine API
//!      (selection, positions, reconnecting with backoff).
//! 2. [`decode`]: one source's lines to counted lines and events (Docker chunks merged,
//!    multiline events joined, what is held back from the checkpoint); [`decode::filter`]
//!    says which lines are events.
//! 3. [`parse`]: one line to time, [`Level`](parse::Level) and message
//!    ([`parse::level`]: level detection, by rule; [`parse::multiline`]: tracebacks and
//!    continuation lines; [`parse::docker`], [`parse::timestamp`], [`parse::line`](mod@parse::line)).
//! 4. [`batch`]: what a source hands on: events, line counts and [`checkpoint`]s, committed
//!    together.
//! 5. [`writer`]: commits each batch, then prints its events to stdout ([`event`] has the
//!    line), counts its lines and hands its events to [`alerting`] (rules, thresholds,
//!    cooldowns, digests, through the shared sinks).
//! 6. [`store`]: SQLite (events, per-minute counts, checkpoints), the in-memory
//!    [`ring`](store::ring) of recent events, the [`counter`](store::counter) of lines per
//!    second and minute, [`query`](store::query) (what `/logs` asks for), and the
//!    [`readers`](store::readers) that answer searches apart from the writer.
//! 7. [`http`]: the routes: [`logs`](http::logs), [`summary`](http::summary),
//!    [`series`](http::series), [`metrics`](http::metrics), [`deploys`](http::deploys),
//!    `/livez`, and the [`dashboard`](http::dashboard) page; durations in queries in
//!    [`http::duration`].
//!
//! Beside the way: every task runs under service_kit's [`Supervisor`] (a task that dies
//! makes `/livez` 503 and the process exit non-zero), [`housekeeping`] (the stdout summary
//! line, alert digests, pruning), [`status`] (what each source shows in `/livez` and
//! `/metrics`) and [`deploys`]
//! (webhook_handler's deploys, polled when `[peers] webhook_handler` is set, as markers on
//! the dashboard's chart).
//!
//! Dependencies point one way: a source drives its decoder, which uses the parser; the
//! writer drives the store and the alerter; the HTTP side reads the store, the counter,
//! the source list and the deploy markers. No module imports one that uses it: what two steps share ([`event`],
//! [`batch`], [`checkpoint`], [`status`], [`parse::Level`]) sits where both see it, and only
//! [`settings`] and [`run`] know every step.

pub mod alerting;
pub mod batch;
pub mod checkpoint;
pub mod config;
pub mod decode;
pub mod deploys;
pub mod event;
pub mod housekeeping;
pub mod http;
pub mod parse;
pub mod settings;
pub mod source;
pub mod status;
pub mod store;
pub mod writer;

use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::{FusedFuture, FutureExt};
use service_kit::serve::{ServeLimits, StreamSlots};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::alerting::Alerter;
use crate::batch::Batch;
use crate::deploys::DeployMarkers;
use crate::settings::{Settings, SourceSettings};
use crate::source::docker_api::DockerApiSource;
use crate::source::files::wake::Wakeup;
use crate::source::files::FileSource;
use crate::status::SourceList;
use crate::store::{EventStore, LineCounter};
use crate::writer::Writer;
use service_kit::supervisor::{injected_panic, Supervisor, FAILURE_GRACE};

pub use http::{router, App};

/// Why the service could not start or stopped with an error (shared by every service).
pub use service_kit::serve::RunError;

/// How long the tasks get after the server stopped to hand over and commit their last
/// batches. A database that refuses them (a full disk, a read-only file system, a lock held
/// by another process) must not keep the process from exiting within Docker's 10 s: past
/// this the writer is abandoned, and what it held stays uncommitted, with its checkpoints,
/// to be read again on the next start.
const STOP_BUDGET: Duration = Duration::from_secs(3);

/// The variable the fault tests name a task in, to have it panic as it starts (debug builds
/// only: [`injected_panic`]).
const INJECT_PANIC: &str = "LOG_WATCHER_INJECT_PANIC";

/// Runs the service until `shutdown`: reading, storing, printing, alerting, serving. Ends
/// with an error when a task failed (see [`Supervisor`]).
pub async fn run(
    settings: Settings,
    listener: TcpListener,
    data_dir: PathBuf,
    shutdown: CancellationToken,
) -> Result<(), RunError> {
    let Settings {
        sources: source_settings,
        filter,
        decode,
        alerts,
        api,
        summary_every_secs,
        storage,
        peers,
    } = settings;
    let store = Arc::new(EventStore::open(&data_dir, storage.ring_size)?);
    let alerter = Arc::new(Alerter::new(alerts));
    let counter = Arc::new(LineCounter::default());
    // The last hour of counts, so that `/summary` answers the same after a restart.
    store.load_counter(&counter, chrono::Utc::now().timestamp())?;
    let sources = Arc::new(SourceList::default());
    let events_total = Arc::new(AtomicU64::new(0));
    let file_checkpoints = store.checkpoints()?;
    let container_checkpoints = store.container_checkpoints()?;
    let supervisor = Supervisor::new(shutdown.clone(), FAILURE_GRACE);

    // A few batches in flight at most: the sources wait for the writer instead of buffering.
    let (batches, received) = mpsc::channel::<Batch>(4);
    let SourceSettings {
        files,
        docker_logs_dir,
        poll_interval,
        docker_api,
    } = source_settings;
    let docker_api = match docker_api {
        Some(docker_api) => {
            if docker_logs_dir.is_some() {
                tracing::info!(
                    "Both docker_logs_dir and docker_api are configured: containers whose json-file log is \
                     under docker_logs_dir are read from there, the others through the API."
                );
            }
            let source = DockerApiSource::new(
                docker_api,
                docker_logs_dir.clone(),
                container_checkpoints,
                filter.clone(),
                decode.clone(),
                batches.clone(),
                sources.clone(),
            );
            let shutdown = shutdown.clone();
            Some(supervisor.spawn("docker_api", async move {
                injected_panic(INJECT_PANIC, "docker_api");
                source.run(shutdown).await
            }))
        }
        None => None,
    };
    let file_source = FileSource::new(
        files,
        docker_logs_dir,
        file_checkpoints,
        filter,
        decode,
        poll_interval,
        Wakeup::start(shutdown.clone()),
    );
    let reader_thread = {
        let (sources, shutdown) = (sources.clone(), shutdown.clone());
        supervisor.spawn_thread("reader", "log-reader", move || {
            injected_panic(INJECT_PANIC, "reader");
            file_source.run(batches, sources, shutdown)
        })?
    };
    let writer = {
        let writer = Writer {
            store: store.clone(),
            counter: counter.clone(),
            alerter: alerter.clone(),
            events_total: events_total.clone(),
        };
        supervisor.spawn("writer", async move {
            injected_panic(INJECT_PANIC, "writer");
            writer.run(received).await
        })
    };
    let housekeeping = {
        let task = housekeeping::run(
            store.clone(),
            counter.clone(),
            alerter.clone(),
            summary_every_secs,
            storage.retention_days,
            shutdown.clone(),
        );
        supervisor.spawn("housekeeping", async move {
            injected_panic(INJECT_PANIC, "housekeeping");
            task.await
        })
    };
    // Only with the peer configured: no task, no polling, no markers without it.
    let deploys = Arc::new(DeployMarkers::default());
    let deploy_poller = peers.webhook_handler.map(|peer| {
        let task = deploys::poll(peer, deploys.clone(), shutdown.clone());
        supervisor.spawn("deploys", async move {
            injected_panic(INJECT_PANIC, "deploys");
            task.await
        })
    });

    let app = Arc::new(App {
        store,
        counter,
        alerter: alerter.clone(),
        auth: Arc::new(api.auth),
        sources,
        events_total,
        dashboard: api.dashboard,
        deploys,
        deploy_markers: deploy_poller.is_some(),
        max_response_bytes: api.max_response_bytes,
        streams: StreamSlots::new(api.max_streams),
        supervisor: supervisor.clone(),
    });
    tracing::info!(address = %listener.local_addr()?, "Log watcher listening.");
    service_kit::serve::warn_if_open(
        "log_watcher",
        listener.local_addr()?,
        app.auth.is_enabled(),
        "anyone who reaches this port reads every followed log line (set [auth] or LOG_WATCHER_TOKEN)",
    );
    let limits = ServeLimits {
        max_connections: api.max_connections,
        ..ServeLimits::default()
    };
    let served =
        service_kit::serve::serve_with(listener, router(app), shutdown.clone(), limits).await;
    shutdown.cancel();
    stop(reader_thread, docker_api, writer, housekeeping).await;
    if let Some(poller) = deploy_poller {
        let _ = poller.await;
    }
    if let Some(dispatcher) = alerter.dispatcher() {
        dispatcher.drain(Duration::from_secs(3)).await;
    }
    if let Some(failure) = supervisor.failure() {
        tracing::error!(%failure, "Log watcher stopped after a task failed.");
        return Err(RunError::Io(std::io::Error::other(format!(
            "{failure}; exiting so that the service is restarted"
        ))));
    }
    tracing::info!("Log watcher stopped.");
    served.map_err(RunError::from)
}

/// Waits for every task after `shutdown`: the sources send their last batches (held lines
/// let go), then the writer commits them and ends with the channel. All within
/// [`STOP_BUDGET`]: a writer still failing to commit by then is abandoned (its batch stays
/// uncommitted, so its lines are read again on the next start), which lets a source blocked
/// on the full channel end too; so is housekeeping stuck in a prune.
async fn stop(
    reader_thread: std::thread::JoinHandle<()>,
    docker_api: Option<JoinHandle<()>>,
    writer: JoinHandle<()>,
    housekeeping: JoinHandle<()>,
) {
    let abandon = [writer.abort_handle(), housekeeping.abort_handle()];
    let sources = async {
        let _ = tokio::task::spawn_blocking(move || reader_thread.join()).await;
        if let Some(docker_api) = docker_api {
            let _ = docker_api.await;
        }
    };
    let mut sources = std::pin::pin!(sources.fuse());
    let everything = async {
        let _ = housekeeping.await;
        (&mut sources).await;
        let _ = writer.await;
    };
    if tokio::time::timeout(STOP_BUDGET, everything).await.is_err() {
        tracing::warn!(
            "The database did not take the last lines in time; they stay unread and are read again on the next start."
        );
        for task in abandon {
            task.abort();
        }
        // The sources' sends now fail, and they end (unless they had already).
        if !sources.is_terminated() {
            let _ = tokio::time::timeout(Duration::from_secs(2), sources).await;
        }
    }
}
