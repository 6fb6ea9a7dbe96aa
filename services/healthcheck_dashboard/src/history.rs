//! Check history in the embedded SQLite file, so uptime, the response-time history and the
//! last error survive a restart.
//!
//! Results are folded into one row per check and minute (count, passes, latency sum and max):
//! a check every 10 s costs one row a minute instead of six, which keeps a week of history for
//! hundreds of checks small. Errors are stored when they start or change, not on every failure.
//! One writer task batches everything into a transaction per second.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use service_kit::storage::{StorageError, Store};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::check::{HourBucket, Sample, Status, RECENT_SAMPLES, UPTIME_HOURS};

/// The SQLite file name inside the data directory.
pub const DB_FILE: &str = "healthcheck.sqlite";

/// Tables and indexes; idempotent.
pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS check_minutes (
    check_name TEXT NOT NULL,
    minute INTEGER NOT NULL,
    total INTEGER NOT NULL,
    ok INTEGER NOT NULL,
    latency_sum_ms INTEGER NOT NULL,
    latency_max_ms INTEGER NOT NULL,
    PRIMARY KEY (check_name, minute)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS check_errors (
    check_name TEXT NOT NULL,
    at INTEGER NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS check_errors_by_check ON check_errors (check_name, at);
";

/// How many results may wait for the writer; past that, results are dropped from history
/// (never from the live state) and a warning is logged.
const QUEUE_CAPACITY: usize = 65_536;

/// One check result on its way to storage.
#[derive(Debug, Clone)]
pub struct HistoryRecord {
    /// Check name.
    pub name: Arc<str>,
    /// When it ran (unix seconds).
    pub at: i64,
    /// Up or degraded.
    pub ok: bool,
    /// Response time.
    pub latency_ms: u64,
    /// The error, when down.
    pub error: Option<String>,
}

/// History restored for one check at start-up.
#[derive(Debug, Default)]
pub struct RestoredHistory {
    /// Hourly pass/fail counts for the uptime window.
    pub hourly: Vec<HourBucket>,
    /// Per-minute averages for the sparkline, oldest first.
    pub recent: Vec<Sample>,
    /// The last stored error.
    pub last_error: Option<(DateTime<Utc>, String)>,
}

/// One minute of history, as the history API returns it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MinutePoint {
    /// Start of the minute, unix seconds.
    pub at: i64,
    /// Checks run.
    pub total: u32,
    /// Checks that passed.
    pub ok: u32,
    /// Mean response time.
    pub avg_ms: u64,
    /// Slowest response.
    pub max_ms: u64,
}

/// Sends results to the writer task; cheap to clone.
#[derive(Clone)]
pub struct HistoryWriter {
    sender: mpsc::Sender<HistoryRecord>,
    /// Results dropped because the queue was full (the database slow or failing); warned
    /// about at the first and every 10,000th, not each time.
    dropped: Arc<std::sync::atomic::AtomicU64>,
}

impl HistoryWriter {
    /// Queues a result without waiting.
    pub fn record(&self, record: HistoryRecord) {
        if let Err(mpsc::error::TrySendError::Full(_)) = self.sender.try_send(record) {
            let dropped = self
                .dropped
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if dropped.is_multiple_of(10_000) {
                tracing::warn!(
                    dropped = dropped + 1,
                    "History writer is behind; results are not stored."
                );
            }
        }
    }
}

/// The writer and its task, for the caller to spawn (under supervision). The task flushes
/// every second, prunes hourly, and flushes what is left when `shutdown` is cancelled.
pub fn writer(
    store: Store,
    retention: Duration,
    shutdown: CancellationToken,
) -> (
    HistoryWriter,
    impl std::future::Future<Output = ()> + Send + 'static,
) {
    let (sender, receiver) = mpsc::channel(QUEUE_CAPACITY);
    let task = writer_loop(store, retention, receiver, shutdown);
    let writer = HistoryWriter {
        sender,
        dropped: Arc::default(),
    };
    (writer, task)
}

async fn writer_loop(
    store: Store,
    retention: Duration,
    mut receiver: mpsc::Receiver<HistoryRecord>,
    shutdown: CancellationToken,
) {
    let mut last_errors: HashMap<Arc<str>, String> = HashMap::new();
    let mut failing = Failing::default();
    let mut flush_tick = tokio::time::interval(Duration::from_secs(1));
    let mut prune_tick = tokio::time::interval(Duration::from_secs(3600));
    let mut batch = Vec::new();
    loop {
        tokio::select! {
            received = receiver.recv() => match received {
                Some(record) => batch.push(record),
                None => break,
            },
            _ = flush_tick.tick() => {
                let result = flush(&store, std::mem::take(&mut batch), &mut last_errors, BUSY_WAIT).await;
                failing.report(result);
            }
            _ = prune_tick.tick() => prune(&store, retention).await,
            _ = shutdown.cancelled() => break,
        }
    }
    while let Ok(record) = receiver.try_recv() {
        batch.push(record);
    }
    // At shutdown a locked database gets a short wait only, so the process exits in time;
    // what cannot be stored then is lost from history (the live state never depended on it).
    let result = flush(&store, batch, &mut last_errors, SHUTDOWN_BUSY_WAIT).await;
    failing.report(result);
}

/// How long a flush waits for a database another process has locked.
const BUSY_WAIT: Duration = Duration::from_secs(5);
/// The same for the last flush, at shutdown.
const SHUTDOWN_BUSY_WAIT: Duration = Duration::from_millis(1000);

/// Whether storing history fails, so that a failing database (full disk, read-only mount,
/// a lock held elsewhere) is logged when it starts, changes and ends, not once a second.
#[derive(Default)]
struct Failing(Option<String>);

impl Failing {
    fn report(&mut self, result: Result<(), StorageError>) {
        match result {
            Ok(()) => {
                if self.0.take().is_some() {
                    tracing::info!("Check history can be stored again.");
                }
            }
            Err(err) => {
                let text = err.to_string();
                if self.0.as_deref() != Some(text.as_str()) {
                    tracing::error!(%err, "Could not store check history; results are kept in memory only.");
                    self.0 = Some(text);
                }
            }
        }
    }
}

/// Checks run, checks passed, latency sum and max (ms) of one check in one minute.
type MinuteTotals = (u32, u32, u64, u64);

async fn flush(
    store: &Store,
    batch: Vec<HistoryRecord>,
    last_errors: &mut HashMap<Arc<str>, String>,
    busy_wait: Duration,
) -> Result<(), StorageError> {
    if batch.is_empty() {
        return Ok(());
    }
    let mut minutes: HashMap<(Arc<str>, i64), MinuteTotals> = HashMap::new();
    let mut errors = Vec::new();
    for record in batch {
        let entry = minutes
            .entry((record.name.clone(), record.at.div_euclid(60)))
            .or_default();
        entry.0 += 1;
        entry.1 += u32::from(record.ok);
        entry.2 += record.latency_ms;
        entry.3 = entry.3.max(record.latency_ms);
        match record.error {
            Some(error) => {
                if last_errors.get(&record.name) != Some(&error) {
                    last_errors.insert(record.name.clone(), error.clone());
                    errors.push((record.name, record.at, error));
                }
            }
            None => {
                last_errors.remove(&record.name);
            }
        }
    }
    store
        .run(move |connection| {
            connection.busy_timeout(busy_wait)?;
            let tx = connection.transaction()?;
            {
                let mut upsert = tx.prepare_cached(
                    "INSERT INTO check_minutes (check_name, minute, total, ok, latency_sum_ms, latency_max_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                     ON CONFLICT (check_name, minute) DO UPDATE SET
                       total = total + excluded.total,
                       ok = ok + excluded.ok,
                       latency_sum_ms = latency_sum_ms + excluded.latency_sum_ms,
                       latency_max_ms = MAX(latency_max_ms, excluded.latency_max_ms)",
                )?;
                for ((name, minute), (total, ok, sum, max)) in &minutes {
                    upsert.execute(rusqlite::params![&**name, minute, total, ok, *sum as i64, *max as i64])?;
                }
                let mut insert_error = tx.prepare_cached(
                    "INSERT INTO check_errors (check_name, at, message) VALUES (?1, ?2, ?3)",
                )?;
                for (name, at, message) in &errors {
                    insert_error.execute(rusqlite::params![&**name, at, message])?;
                }
            }
            tx.commit()
        })
        .await
}

async fn prune(store: &Store, retention: Duration) {
    let cutoff = Utc::now().timestamp() - retention.as_secs() as i64;
    let result = store
        .run(move |c| {
            c.execute(
                "DELETE FROM check_minutes WHERE minute < ?1",
                [cutoff.div_euclid(60)],
            )?;
            c.execute("DELETE FROM check_errors WHERE at < ?1", [cutoff])
        })
        .await;
    if let Err(err) = result {
        tracing::error!(%err, "Could not prune old check history.");
    }
}

/// Loads what the dashboard needs for every check: the uptime window, the recent
/// per-minute latencies and the last error.
pub fn load(
    store: &Store,
    now: DateTime<Utc>,
) -> Result<HashMap<String, RestoredHistory>, StorageError> {
    let now_minute = now.timestamp().div_euclid(60);
    let uptime_from = (now.timestamp().div_euclid(3600) - UPTIME_HOURS + 1) * 60;
    let recent_from = now_minute - RECENT_SAMPLES as i64;
    store.run_blocking(|c| {
        let mut restored: HashMap<String, RestoredHistory> = HashMap::new();
        let mut hourly = c.prepare(
            "SELECT check_name, minute / 60 AS hour, SUM(total), SUM(ok) FROM check_minutes
             WHERE minute >= ?1 GROUP BY check_name, hour ORDER BY hour",
        )?;
        let rows = hourly.query_map([uptime_from], |r| {
            Ok((
                r.get::<_, String>(0)?,
                HourBucket {
                    hour: r.get(1)?,
                    total: r.get(2)?,
                    ok: r.get(3)?,
                },
            ))
        })?;
        for row in rows {
            let (name, bucket) = row?;
            restored.entry(name).or_default().hourly.push(bucket);
        }
        let mut recent = c.prepare(
            "SELECT check_name, minute, total, ok, latency_sum_ms FROM check_minutes
             WHERE minute >= ?1 ORDER BY minute",
        )?;
        let rows = recent.query_map([recent_from], |r| {
            let total: i64 = r.get(2)?;
            let ok: i64 = r.get(3)?;
            let sum: i64 = r.get(4)?;
            Ok((
                r.get::<_, String>(0)?,
                Sample {
                    at: u32::try_from(r.get::<_, i64>(1)? * 60).unwrap_or(0),
                    ms: u32::try_from(sum / total.max(1)).unwrap_or(u32::MAX),
                    status: if ok == total {
                        Status::Up
                    } else {
                        Status::Down
                    },
                },
            ))
        })?;
        for row in rows {
            let (name, sample) = row?;
            restored.entry(name).or_default().recent.push(sample);
        }
        let mut errors =
            c.prepare("SELECT check_name, MAX(at), message FROM check_errors GROUP BY check_name")?;
        let rows = errors.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
            ))
        })?;
        for row in rows {
            let (name, at, message) = row?;
            if let Some(at) = Utc.timestamp_opt(at, 0).single() {
                restored.entry(name).or_default().last_error = Some((at, message));
            }
        }
        Ok(restored)
    })
}

/// Per-minute history of one check over the last `hours`.
pub async fn minutes(
    store: &Store,
    name: String,
    hours: u32,
) -> Result<Vec<MinutePoint>, StorageError> {
    let from = Utc::now().timestamp().div_euclid(60) - i64::from(hours) * 60;
    store
        .run(move |c| {
            let mut statement = c.prepare_cached(
                "SELECT minute, total, ok, latency_sum_ms, latency_max_ms FROM check_minutes
                 WHERE check_name = ?1 AND minute >= ?2 ORDER BY minute",
            )?;
            let rows = statement.query_map(rusqlite::params![name, from], |r| {
                let total: u32 = r.get(1)?;
                let sum: i64 = r.get(3)?;
                Ok(MinutePoint {
                    at: r.get::<_, i64>(0)? * 60,
                    total,
                    ok: r.get(2)?,
                    avg_ms: (sum / i64::from(total.max(1))) as u64,
                    max_ms: r.get::<_, i64>(4)? as u64,
                })
            })?;
            rows.collect()
        })
        .await
}
