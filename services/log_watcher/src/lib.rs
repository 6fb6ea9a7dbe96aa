//! log_watcher: tails the logs of a Compose stack's containers and files, filters them by
//! level and regex, counts them, alerts, and serves recent events and summaries over HTTP.
//!
//! # Layout
//! - [`config`]: the spec's `config.toml`, env vars, validation.
//! - [`parse`]: turning raw lines into records: Docker json-file decoding, timestamps,
//!   level normalisation, multiline joining.
//! - [`source`]: following files by path across rotation, with checkpoints; containers
//!   through the Docker Engine API ([`source::docker_api`]), with checkpoints too.
//! - [`decode`]: one source's lines to counted lines and events (chunks merged, multiline
//!   events joined), remembering where unfinished ones start.
//! - [`pipeline`]: the reading loop over files: discovery, polling, batches with checkpoints.
//! - [`wake`]: inotify wake-ups, so new lines are read at once.
//! - [`filter`]: which records are events.
//! - [`store`]: events, counts and checkpoints committed together in SQLite.
//! - [`ring`]: the newest events in memory, bounded by count and bytes.
//! - [`summary`]: per-second line counts behind `/summary` and the stdout summary line.
//! - [`alerting`]: rules and thresholds over events, through the shared sinks.
//! - [`event`]: the event type and its stdout line.
//! - [`api`]: the HTTP routes.
//! - [`series`]: lines per level over time in equal buckets (`/summary/series`, the chart).
//! - [`dashboard`]: the HTML page `/dashboard`: live tail, filters, per-level chart.

pub mod alerting;
pub mod api;
pub mod config;
pub mod dashboard;
pub mod decode;
pub mod event;
pub mod filter;
pub mod parse;
pub mod pipeline;
pub mod ring;
pub mod series;
pub mod source;
pub mod store;
pub mod summary;
pub mod wake;

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use service_kit::auth::AuthConfig;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::alerting::Alerter;
use crate::config::Config;
use crate::filter::EventFilter;
use crate::pipeline::{FilePattern, SourceStatus};
use crate::store::{Batch, EventStore, Uncommitted};
use crate::summary::LineCounter;

pub use api::router;

/// Why the service could not start or stopped with an error (shared by every service).
pub use service_kit::serve::RunError;

/// Everything the HTTP handlers need.
pub struct App {
    /// The loaded configuration.
    pub config: Config,
    /// Events, counts, checkpoints.
    pub store: Arc<EventStore>,
    /// Lines read per service and level.
    pub counter: Arc<LineCounter>,
    /// Alert rules and sinks.
    pub alerter: Arc<Alerter>,
    /// Route protection.
    pub auth: Arc<AuthConfig>,
    /// What the reading loop follows.
    pub sources: Arc<Mutex<Vec<SourceStatus>>>,
    /// Events kept since start.
    pub events_total: Arc<AtomicU64>,
}

/// The file patterns the config names: `extra_files`, with `file_services` naming services.
pub fn file_patterns(config: &Config) -> Vec<FilePattern> {
    config
        .log_sources
        .extra_files
        .iter()
        .map(|pattern| FilePattern {
            pattern: PathBuf::from(pattern),
            service: config.log_sources.file_services.get(pattern).cloned(),
        })
        .collect()
}

/// Runs the service until `shutdown`: reading, storing, printing, alerting, serving.
pub async fn run(
    config: Config,
    listener: TcpListener,
    data_dir: PathBuf,
    shutdown: CancellationToken,
) -> Result<(), RunError> {
    let store = Arc::new(EventStore::open(&data_dir, config.storage.ring_size)?);
    let filter = EventFilter::new(&config.event_levels(), &config.event_regexes())
        .map_err(|e| service_kit::config::ConfigError::new("filters.regexes", e.to_string()))?;
    let sinks = config.sinks()?;
    let alerter =
        Arc::new(Alerter::new(&config.alerts, sinks).with_link(config.api.public_url.as_deref()));
    let counter = Arc::new(LineCounter::default());
    let sources = Arc::new(Mutex::new(Vec::new()));
    let events_total = Arc::new(AtomicU64::new(0));

    let reader = pipeline::Reader::new(
        file_patterns(&config),
        config.log_sources.docker_logs_dir.clone(),
        store.checkpoints()?,
        filter.clone(),
        config.decode_settings(),
        Duration::from_millis(config.log_sources.poll_interval_ms),
        wake::Wakeup::start(shutdown.clone()),
    );
    // A few batches in flight at most: the reader waits for the writer instead of buffering.
    let (batches, received) = mpsc::channel::<Batch>(4);
    let docker_api = start_docker_api(&config, &store, &filter, &batches, &sources, &shutdown)?;
    let reader_shutdown = shutdown.clone();
    let reader_sources = sources.clone();
    let reader_thread = std::thread::Builder::new()
        .name("log-reader".to_string())
        .spawn(move || reader.run(batches, reader_sources, reader_shutdown))?;
    let writer = tokio::spawn(write_batches(
        received,
        store.clone(),
        counter.clone(),
        alerter.clone(),
        events_total.clone(),
    ));
    let housekeeping = tokio::spawn(housekeeping(
        store.clone(),
        counter.clone(),
        alerter.clone(),
        config.summary.every_secs(),
        config.storage.retention_days,
        shutdown.clone(),
    ));

    let app = Arc::new(App {
        auth: Arc::new(config.auth.clone()),
        config,
        store,
        counter,
        alerter: alerter.clone(),
        sources,
        events_total,
    });
    tracing::info!(address = %listener.local_addr()?, "Log watcher listening.");
    let served = service_kit::serve::serve(listener, router(app), shutdown.clone()).await;
    shutdown.cancel();
    let _ = tokio::task::spawn_blocking(move || reader_thread.join()).await;
    if let Some(docker_api) = docker_api {
        // It sends its last batch (held lines let go) before it ends; the writer commits it.
        let _ = docker_api.await;
    }
    let _ = writer.await;
    let _ = housekeeping.await;
    if let Some(dispatcher) = alerter.dispatcher() {
        dispatcher.drain(Duration::from_secs(3)).await;
    }
    tracing::info!("Log watcher stopped.");
    served.map_err(RunError::from)
}

/// Spawns the Docker Engine API source when `[log_sources.docker_api]` enables it.
fn start_docker_api(
    config: &Config,
    store: &EventStore,
    filter: &EventFilter,
    batches: &mpsc::Sender<Batch>,
    sources: &Arc<Mutex<Vec<SourceStatus>>>,
    shutdown: &CancellationToken,
) -> Result<Option<tokio::task::JoinHandle<()>>, RunError> {
    let Some(docker_api) = config.log_sources.docker_api.as_ref().filter(|d| d.enabled) else {
        return Ok(None);
    };
    let socket = docker_api.socket_path()?;
    if config.log_sources.docker_logs_dir.is_some() {
        tracing::info!(
            "Both docker_logs_dir and docker_api are configured: containers whose json-file log is \
             under docker_logs_dir are read from there, the others through the API."
        );
    }
    let source = source::docker_api::DockerApiSource::new(
        config,
        socket,
        store.container_checkpoints()?,
        filter.clone(),
        batches.clone(),
        sources.clone(),
    );
    Ok(Some(tokio::spawn(source.run(shutdown.clone()))))
}

/// Commits batches; after each commit prints its events, counts its lines and alerts.
async fn write_batches(
    mut received: mpsc::Receiver<Batch>,
    store: Arc<EventStore>,
    counter: Arc<LineCounter>,
    alerter: Arc<Alerter>,
    events_total: Arc<AtomicU64>,
) {
    while let Some(mut batch) = received.recv().await {
        let counts = batch.counts.clone();
        let mut attempt = 0u32;
        let events = loop {
            match store.commit(batch).await {
                Ok(events) => break Some(events),
                Err(Uncommitted {
                    error,
                    batch: Some(back),
                }) => {
                    attempt += 1;
                    tracing::error!(%error, attempt, "Could not store a batch of log lines; retrying.");
                    tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt.min(25))))
                        .await;
                    batch = back;
                }
                Err(Uncommitted { error, batch: None }) => {
                    tracing::error!(%error, "Could not store a batch of log lines; they will be read again after a restart.");
                    break None;
                }
            }
        };
        let Some(events) = events else {
            continue;
        };
        for entry in &counts {
            counter.add(&entry.service, entry.second, &entry.counts, entry.bytes);
        }
        if !events.is_empty() {
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            for event in &events {
                let _ = writeln!(out, "{}", event.stdout_line());
            }
            let _ = out.flush();
            drop(out);
            events_total.fetch_add(events.len() as u64, Ordering::Relaxed);
            for event in &events {
                alerter.handle(event);
            }
        }
    }
}

/// Prints the periodic summary line, sends alert digests when cooldowns end, and prunes old
/// data.
async fn housekeeping(
    store: Arc<EventStore>,
    counter: Arc<LineCounter>,
    alerter: Arc<Alerter>,
    summary_secs: u64,
    retention_days: u64,
    shutdown: CancellationToken,
) {
    let summary_every = Duration::from_secs(summary_secs.max(1));
    let mut summary_tick =
        tokio::time::interval_at(tokio::time::Instant::now() + summary_every, summary_every);
    let mut prune_tick = tokio::time::interval(Duration::from_secs(3600));
    let mut digest_tick = tokio::time::interval(Duration::from_secs(1));
    // Each summary counts the whole seconds since the previous one, so consecutive lines
    // neither overlap nor leave gaps; the current second is still filling and waits.
    let mut summarised_until = chrono::Utc::now().timestamp() - 1;
    loop {
        tokio::select! {
            _ = digest_tick.tick() => alerter.send_digests(),
            _ = summary_tick.tick(), if summary_secs > 0 => {
                let until = chrono::Utc::now().timestamp() - 1;
                let window = counter.window(until, until - summarised_until);
                summarised_until = until;
                println!("{}", summary::summary_line(summary_secs, &window.totals));
            }
            _ = prune_tick.tick() => {
                if let Err(err) = store.prune(retention_days).await {
                    tracing::error!(%err, "Could not prune old events.");
                }
            }
            _ = shutdown.cancelled() => return,
        }
    }
}

/// The address to listen on: `--listen` if given, else `[api] host` and `port`.
pub fn listen_address(config: &Config, listen: Option<&str>) -> String {
    match listen {
        Some(listen) => listen.to_string(),
        None => format!("{}:{}", config.api.host, config.api.port),
    }
}
