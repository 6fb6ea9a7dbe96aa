//! Durable state of the log watcher in one SQLite file: events, per-minute line counts and
//! file and container checkpoints, always committed together in one transaction. That is what makes
//! "every line exactly once" hold across a crash: a batch's lines are either stored with the
//! checkpoint that says they were read, or neither is, and they are read again.
//!
//! Recent events are also kept in a bounded in-memory ring for fast `/logs` answers and are
//! broadcast to live streams after they are committed.
//!
//! # Layout
//! - [`EventStore`] (here): the SQLite file, commits, queries, pruning.
//! - [`ring`]: the newest events in memory.
//! - [`query`]: which events a request asks for ([`LogQuery`]).
//! - [`counter`]: lines read per service, level and second, in memory ([`LineCounter`]).

pub mod counter;
pub mod query;
pub mod ring;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use chrono::{TimeZone, Utc};
use service_kit::storage::{StorageError, Store};
use tokio::sync::broadcast;

use crate::batch::Batch;
use crate::checkpoint::{ContainerCheckpoint, FileCheckpoint, FileId, Fingerprint};
use crate::event::LogEvent;
use crate::parse::{Level, LevelCounts};

use self::ring::{RecentEvents, RING_MAX_BYTES};

pub use self::counter::{LineCounter, Summary, MEMORY_WINDOW_SECS};
pub use self::query::LogQuery;

/// The SQLite file name inside the data directory.
pub const DB_FILE: &str = "log_watcher.sqlite";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    ts_ms INTEGER NOT NULL,
    service TEXT NOT NULL,
    level INTEGER NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_time ON events (ts_ms);
CREATE TABLE IF NOT EXISTS line_counts (
    minute INTEGER NOT NULL,
    service TEXT NOT NULL,
    level INTEGER NOT NULL,
    lines INTEGER NOT NULL,
    PRIMARY KEY (minute, service, level)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS file_checkpoints (
    dev INTEGER NOT NULL,
    ino INTEGER NOT NULL,
    path TEXT NOT NULL,
    fp_len INTEGER NOT NULL,
    fp_hash INTEGER NOT NULL,
    offset INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (dev, ino)
);
CREATE TABLE IF NOT EXISTS container_checkpoints (
    container_id TEXT PRIMARY KEY,
    since_secs INTEGER NOT NULL,
    skip INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
";

/// A batch that could not be committed.
#[derive(Debug)]
pub struct Uncommitted {
    /// Why.
    pub error: StorageError,
    /// The batch, to try again; `None` when the database task itself died (its lines were
    /// not checkpointed either, so they are read again after a restart).
    pub batch: Option<Batch>,
}

/// Events, counts and checkpoints.
pub struct EventStore {
    /// The SQLite file and its one writer.
    store: Store,
    /// The newest events.
    ring: Mutex<RecentEvents>,
    /// Committed events, to live streams.
    live: broadcast::Sender<Arc<LogEvent>>,
}

impl EventStore {
    /// Opens the database in `data_dir` and fills the ring with the newest events.
    pub fn open(data_dir: &Path, ring_size: usize) -> Result<EventStore, StorageError> {
        let store = Store::open(data_dir, DB_FILE, SCHEMA)?;
        let recent = store.run_blocking(|c| {
            let mut statement = c.prepare(
                "SELECT id, ts_ms, service, level, message FROM events ORDER BY id DESC LIMIT ?1",
            )?;
            let rows = statement.query_map([ring_size as i64], row_to_event)?;
            rows.collect::<Result<Vec<_>, _>>()
        })?;
        // Fewer rows than asked for: the database holds no more than these.
        let complete = recent.len() < ring_size;
        let ring = RecentEvents::new(
            ring_size,
            RING_MAX_BYTES,
            recent.into_iter().rev().collect(),
            complete,
        );
        Ok(EventStore {
            store,
            ring: Mutex::new(ring),
            live: broadcast::channel(1024).0,
        })
    }

    /// All saved file checkpoints, grouped by the path they were followed at.
    pub fn checkpoints(&self) -> Result<Vec<FileCheckpoint>, StorageError> {
        self.store.run_blocking(|c| {
            let mut statement =
                c.prepare("SELECT dev, ino, path, fp_len, fp_hash, offset FROM file_checkpoints")?;
            let rows = statement.query_map([], |r| {
                Ok(FileCheckpoint {
                    id: FileId {
                        dev: r.get::<_, i64>(0)? as u64,
                        ino: r.get::<_, i64>(1)? as u64,
                    },
                    path: PathBuf::from(r.get::<_, String>(2)?),
                    fingerprint: Fingerprint {
                        len: r.get::<_, i64>(3)? as u32,
                        hash: r.get::<_, i64>(4)? as u64,
                    },
                    offset: r.get::<_, i64>(5)? as u64,
                })
            })?;
            rows.collect()
        })
    }

    /// Saved positions of the containers read through the Docker Engine API.
    pub fn container_checkpoints(&self) -> Result<Vec<ContainerCheckpoint>, StorageError> {
        self.store.run_blocking(|c| {
            let mut statement =
                c.prepare("SELECT container_id, since_secs, skip FROM container_checkpoints")?;
            let rows = statement.query_map([], |r| {
                Ok(ContainerCheckpoint {
                    container_id: r.get(0)?,
                    since: r.get(1)?,
                    skip: r.get::<_, i64>(2)?.max(0) as u64,
                })
            })?;
            rows.collect()
        })
    }

    /// Commits a batch in one transaction, then publishes its events (with ids) to the ring
    /// and live subscribers, and returns them. A batch that could not be written comes back
    /// in the error, to be tried again: nothing is copied in case of failure.
    pub async fn commit(&self, batch: Batch) -> Result<Vec<Arc<LogEvent>>, Uncommitted> {
        let now = Utc::now().timestamp();
        let written = self
            .store
            .run(move |c| {
                Ok(match write_batch(c, &batch, now) {
                    Ok(ids) => Ok((batch, ids)),
                    Err(err) => Err((err, batch)),
                })
            })
            .await;
        let (batch, ids) = match written {
            Ok(Ok(written)) => written,
            Ok(Err((err, batch))) => {
                return Err(Uncommitted {
                    error: err.into(),
                    batch: Some(batch),
                })
            }
            Err(error) => return Err(Uncommitted { error, batch: None }),
        };
        let events: Vec<Arc<LogEvent>> = batch
            .events
            .into_iter()
            .zip(ids)
            .map(|(mut event, id)| {
                event.id = id;
                Arc::new(event)
            })
            .collect();
        {
            let mut ring = self.ring.lock().unwrap_or_else(|p| p.into_inner());
            for event in &events {
                ring.push(event.clone());
            }
        }
        for event in &events {
            let _ = self.live.send(event.clone());
        }
        Ok(events)
    }

    /// Subscribes to events as they are committed.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<LogEvent>> {
        self.live.subscribe()
    }

    /// Events matching `query`, oldest first, the newest `query.limit` of them. Answered from
    /// memory when the ring covers the request, else from SQLite.
    pub async fn query(&self, query: LogQuery) -> Result<Vec<LogEvent>, StorageError> {
        {
            let ring = self.ring.lock().unwrap_or_else(|p| p.into_inner());
            let mut matched: Vec<LogEvent> = ring
                .newest_first()
                .filter(|e| query.matches(e))
                .take(query.limit)
                .map(|e| (**e).clone())
                .collect();
            let ring_is_complete = ring.is_complete()
                || matched.len() == query.limit
                || query.since.is_some_and(|since| {
                    ring.oldest().is_some_and(|oldest| oldest.timestamp < since)
                });
            if ring_is_complete {
                matched.reverse();
                return Ok(matched);
            }
        }
        self.query_database(query).await
    }

    async fn query_database(&self, query: LogQuery) -> Result<Vec<LogEvent>, StorageError> {
        self.store
            .run(move |c| {
                let mut sql = String::from(
                    "SELECT id, ts_ms, service, level, message FROM events WHERE level >= ?1 AND ts_ms >= ?2",
                );
                if query.service.is_some() {
                    sql.push_str(" AND service = ?4");
                } else {
                    sql.push_str(" AND ?4 IS NULL");
                }
                sql.push_str(" ORDER BY id DESC LIMIT ?3");
                let mut statement = c.prepare(&sql)?;
                let since = query.since.map(|s| s.timestamp_millis()).unwrap_or(i64::MIN);
                let rows = statement.query_map(
                    rusqlite::params![
                        query.min_level.map(|l| l as i64).unwrap_or(0),
                        since,
                        // The text filter runs in Rust, so fetch more rows than the limit.
                        if query.text.is_some() { i64::MAX } else { query.limit as i64 },
                        query.service
                    ],
                    row_to_event,
                )?;
                let mut events = Vec::new();
                for row in rows {
                    let event = row?;
                    if query.matches(&event) {
                        events.push(event);
                        if events.len() == query.limit {
                            break;
                        }
                    }
                }
                events.reverse();
                Ok(events)
            })
            .await
    }

    /// Line counts per service and level since `from` (unix seconds), from SQLite.
    pub async fn counts_since(&self, from: i64) -> Result<Vec<(String, Level, u64)>, StorageError> {
        self.store
            .run(move |c| {
                let mut statement = c.prepare(
                    "SELECT service, level, SUM(lines) FROM line_counts WHERE minute >= ?1 GROUP BY service, level",
                )?;
                let rows = statement.query_map([from.div_euclid(60)], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
                })?;
                let mut out = Vec::new();
                for row in rows {
                    let (service, level, lines) = row?;
                    if let Some(level) = Level::ALL.get(level as usize) {
                        out.push((service, *level, lines as u64));
                    }
                }
                Ok(out)
            })
            .await
    }

    /// Line counts per minute from SQLite, summed over every service or only `service`:
    /// `(first second of the minute, counts)` for the minutes that saw lines in
    /// `from_minute..to_minute` (unix minutes), oldest first. Behind `/summary/series` for
    /// windows longer than the in-memory hour.
    pub async fn minute_counts(
        &self,
        from_minute: i64,
        to_minute: i64,
        service: Option<String>,
    ) -> Result<Vec<(i64, LevelCounts)>, StorageError> {
        self.store
            .run(move |c| {
                let mut statement = c.prepare(
                    "SELECT minute, level, SUM(lines) FROM line_counts
                     WHERE minute >= ?1 AND minute < ?2 AND (?3 IS NULL OR service = ?3)
                     GROUP BY minute, level ORDER BY minute",
                )?;
                let rows = statement.query_map(
                    rusqlite::params![from_minute, to_minute, service],
                    |r| {
                        Ok((
                            r.get::<_, i64>(0)?,
                            r.get::<_, i64>(1)?,
                            r.get::<_, i64>(2)?,
                        ))
                    },
                )?;
                let mut out: Vec<(i64, LevelCounts)> = Vec::new();
                for row in rows {
                    let (minute, level, lines) = row?;
                    let Some(slot) = usize::try_from(level).ok().filter(|l| *l < 6) else {
                        continue;
                    };
                    if out.last().is_none_or(|(second, _)| *second != minute * 60) {
                        out.push((minute * 60, [0; 6]));
                    }
                    if let Some((_, counts)) = out.last_mut() {
                        counts[slot] += lines.max(0) as u64;
                    }
                }
                Ok(out)
            })
            .await
    }

    /// Deletes events and counts older than `retention_days`.
    pub async fn prune(&self, retention_days: u64) -> Result<(), StorageError> {
        let cutoff = Utc::now().timestamp() - (retention_days as i64) * 86_400;
        self.store
            .run(move |c| {
                c.execute("DELETE FROM events WHERE ts_ms < ?1", [cutoff * 1000])?;
                c.execute(
                    "DELETE FROM line_counts WHERE minute < ?1",
                    [cutoff.div_euclid(60)],
                )?;
                c.execute(
                    "DELETE FROM file_checkpoints WHERE updated_at < ?1",
                    [cutoff],
                )?;
                c.execute(
                    "DELETE FROM container_checkpoints WHERE updated_at < ?1",
                    [cutoff],
                )?;
                Ok(())
            })
            .await
    }
}

/// Writes a batch in one transaction; returns the ids its events got, in order.
fn write_batch(
    c: &mut rusqlite::Connection,
    batch: &Batch,
    now: i64,
) -> rusqlite::Result<Vec<i64>> {
    let tx = c.transaction()?;
    let mut ids = Vec::with_capacity(batch.events.len());
    {
        let mut insert = tx.prepare_cached(
            "INSERT INTO events (ts_ms, service, level, message) VALUES (?1, ?2, ?3, ?4)",
        )?;
        for event in &batch.events {
            insert.execute(rusqlite::params![
                event.timestamp.timestamp_millis(),
                &*event.service,
                event.level as i64,
                event.message,
            ])?;
            ids.push(tx.last_insert_rowid());
        }
        let mut count = tx.prepare_cached(
            "INSERT INTO line_counts (minute, service, level, lines) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (minute, service, level) DO UPDATE SET lines = lines + excluded.lines",
        )?;
        for entry in &batch.counts {
            for (level, lines) in entry.counts.iter().enumerate() {
                if *lines > 0 {
                    count.execute(rusqlite::params![
                        entry.second.div_euclid(60),
                        &*entry.service,
                        level as i64,
                        *lines as i64
                    ])?;
                }
            }
        }
        let mut checkpoint = tx.prepare_cached(
            "INSERT INTO file_checkpoints (dev, ino, path, fp_len, fp_hash, offset, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (dev, ino) DO UPDATE SET path = excluded.path,
               fp_len = excluded.fp_len, fp_hash = excluded.fp_hash,
               offset = excluded.offset, updated_at = excluded.updated_at",
        )?;
        for cp in &batch.checkpoints {
            checkpoint.execute(rusqlite::params![
                cp.id.dev as i64,
                cp.id.ino as i64,
                cp.path.to_string_lossy(),
                i64::from(cp.fingerprint.len),
                cp.fingerprint.hash as i64,
                cp.offset as i64,
                now
            ])?;
        }
        let mut container = tx.prepare_cached(
            "INSERT INTO container_checkpoints (container_id, since_secs, skip, updated_at)
             VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (container_id) DO UPDATE SET since_secs = excluded.since_secs,
               skip = excluded.skip, updated_at = excluded.updated_at",
        )?;
        for cp in &batch.container_checkpoints {
            container.execute(rusqlite::params![
                cp.container_id,
                cp.since,
                i64::try_from(cp.skip).unwrap_or(i64::MAX),
                now
            ])?;
        }
    }
    tx.commit()?;
    Ok(ids)
}

fn row_to_event(r: &rusqlite::Row<'_>) -> rusqlite::Result<LogEvent> {
    let ts_ms: i64 = r.get(1)?;
    let level: i64 = r.get(3)?;
    Ok(LogEvent {
        id: r.get(0)?,
        timestamp: Utc.timestamp_millis_opt(ts_ms).single().unwrap_or_default(),
        service: Arc::from(r.get::<_, String>(2)?.as_str()),
        level: Level::ALL
            .get(level as usize)
            .copied()
            .unwrap_or(Level::Info),
        message: r.get(4)?,
    })
}
