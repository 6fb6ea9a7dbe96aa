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
pub mod readers;
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

use self::readers::Readers;
use self::ring::{RecentEvents, RING_MAX_BYTES};

pub use self::counter::{window_minutes, LineCounter, Summary, MEMORY_WINDOW_SECS, SECOND_SECS};
pub use self::query::LogQuery;
pub use self::readers::ReadError;

/// What `/logs` gets: events, and whether the byte bound left older matching ones out.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueryAnswer {
    /// The events, oldest first.
    pub events: Vec<LogEvent>,
    /// Whether older matching events were left out to stay within the query's bytes.
    pub truncated: bool,
}

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
    /// Connections and threads for reads (searches, counts), apart from the writer.
    readers: Readers,
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
        let readers = Readers::open(store.path())?;
        Ok(EventStore {
            store,
            readers,
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

    /// Events matching `query`, oldest first, the newest `query.limit` of them within
    /// `query.max_bytes` of message text. Answered from memory when the ring covers the
    /// request, else from SQLite; either way on a reader thread and connection, so that a
    /// search never holds the writer's connection or the ring's lock for long.
    pub async fn query(&self, query: LogQuery) -> Result<QueryAnswer, ReadError> {
        let (recent, complete) = {
            let ring = self.ring.lock().unwrap_or_else(|p| p.into_inner());
            let recent: Vec<Arc<LogEvent>> = ring.newest_first().cloned().collect();
            (recent, ring.is_complete())
        };
        self.readers
            .run(move |c| match from_ring(&recent, complete, &query) {
                Some(answer) => Ok(answer),
                None => query_database(c, &query),
            })
            .await
    }

    /// The counts of the window of `window_secs` ending at `now`, from the per-minute
    /// counts in SQLite, by the same rule as [`LineCounter::window`] (whole minutes, see
    /// [`counter`]): the answer for windows longer than memory keeps.
    pub async fn summary(&self, now: i64, window_secs: i64) -> Result<Summary, ReadError> {
        let (first, last) = window_minutes(now, window_secs);
        let rows = self
            .readers
            .run(move |c| minute_rows(c, first, last))
            .await?;
        Ok(Summary::from_counts(
            window_secs,
            rows.iter()
                .map(|(service, _, counts)| (service.as_str(), *counts)),
        ))
    }

    /// Loads the per-minute counts of the last [`MEMORY_WINDOW_SECS`] before `now` (and
    /// the minute after, should the clock have gone back) into `counter`: at start-up, so
    /// that windows answered from memory count what was read before the restart too.
    pub fn load_counter(&self, counter: &LineCounter, now: i64) -> Result<(), StorageError> {
        let (first, last) = window_minutes(now, MEMORY_WINDOW_SECS);
        let rows = self
            .store
            .run_blocking(|c| minute_rows(c, first - 1, last + 1))?;
        counter.load_minutes(rows);
        Ok(())
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
    ) -> Result<Vec<(i64, LevelCounts)>, ReadError> {
        self.readers
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

/// Per-minute counts per service of the minutes `first..=last`: `(service, minute, counts)`.
fn minute_rows(
    c: &rusqlite::Connection,
    first: i64,
    last: i64,
) -> rusqlite::Result<Vec<(String, i64, LevelCounts)>> {
    let mut statement = c.prepare_cached(
        "SELECT service, minute, level, lines FROM line_counts
         WHERE minute >= ?1 AND minute <= ?2 ORDER BY service, minute",
    )?;
    let rows = statement.query_map([first, last], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, i64>(2)?,
            r.get::<_, i64>(3)?,
        ))
    })?;
    let mut out: Vec<(String, i64, LevelCounts)> = Vec::new();
    for row in rows {
        let (service, minute, level, lines) = row?;
        let Some(slot) = usize::try_from(level).ok().filter(|l| *l < 6) else {
            continue;
        };
        let same = out
            .last()
            .is_some_and(|(s, m, _)| *m == minute && *s == service);
        if !same {
            out.push((service, minute, [0; 6]));
        }
        if let Some((_, _, counts)) = out.last_mut() {
            counts[slot] = counts[slot].saturating_add(lines.max(0) as u64);
        }
    }
    Ok(out)
}

/// The answer from the ring (newest first in `recent`), when it covers the request: it
/// holds every stored event, or enough matching ones, or every one since `query.since`.
fn from_ring(recent: &[Arc<LogEvent>], complete: bool, query: &LogQuery) -> Option<QueryAnswer> {
    let mut answer = QueryAnswer::default();
    let mut bytes = 0usize;
    for event in recent.iter().filter(|e| query.matches(e)) {
        if answer.events.len() == query.limit {
            break;
        }
        bytes = bytes.saturating_add(event.message.len());
        if bytes > query.max_bytes {
            answer.truncated = true;
            break;
        }
        answer.events.push((**event).clone());
    }
    let covered = complete
        || answer.truncated
        || answer.events.len() == query.limit
        || query
            .since
            .is_some_and(|since| recent.last().is_some_and(|oldest| oldest.timestamp < since));
    covered.then(|| {
        answer.events.reverse();
        answer
    })
}

/// The answer from SQLite: the filters (text included, through `lw_contains`) and the
/// limit run in SQL, newest first; rows stop coming once their messages exceed the bytes.
fn query_database(c: &rusqlite::Connection, query: &LogQuery) -> rusqlite::Result<QueryAnswer> {
    let mut statement = c.prepare_cached(
        "SELECT id, ts_ms, service, level, message FROM events
         WHERE level >= ?1 AND ts_ms >= ?2 AND (?4 IS NULL OR service = ?4)
           AND (?5 IS NULL OR lw_contains(message, ?5))
         ORDER BY id DESC LIMIT ?3",
    )?;
    let since = query.since.map_or(i64::MIN, |s| s.timestamp_millis());
    let rows = statement.query_map(
        rusqlite::params![
            query.min_level.map_or(0, |l| l as i64),
            since,
            i64::try_from(query.limit).unwrap_or(i64::MAX),
            query.service,
            query.text,
        ],
        row_to_event,
    )?;
    let mut answer = QueryAnswer::default();
    let mut bytes = 0usize;
    for row in rows {
        let event = row?;
        bytes = bytes.saturating_add(event.message.len());
        if bytes > query.max_bytes {
            answer.truncated = true;
            break;
        }
        answer.events.push(event);
    }
    answer.events.reverse();
    Ok(answer)
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
        insert_events(&tx, &batch.events, &mut ids)?;
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

/// Events stored by one `INSERT` statement at most: one statement for many rows costs
/// SQLite about half as much per row as a statement per row.
const EVENTS_PER_INSERT: usize = 32;

/// Inserts `events` and pushes the id each got to `ids`, in order: [`EVENTS_PER_INSERT`] rows
/// per statement, the rest one by one.
fn insert_events(
    tx: &rusqlite::Transaction<'_>,
    events: &[LogEvent],
    ids: &mut Vec<i64>,
) -> rusqlite::Result<()> {
    let mut chunks = events.chunks_exact(EVENTS_PER_INSERT);
    if chunks.len() > 0 {
        let mut insert = tx.prepare_cached(&insert_events_sql(EVENTS_PER_INSERT))?;
        for chunk in &mut chunks {
            for (i, event) in chunk.iter().enumerate() {
                bind_event(&mut insert, i * 4, event)?;
            }
            insert.raw_execute()?;
            // Rows inserted by one statement, without a rowid of their own, get one more than
            // the table's largest rowid each, in order: the last one's id ends a run.
            let last = tx.last_insert_rowid();
            ids.extend(last + 1 - chunk.len() as i64..=last);
        }
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut insert = tx.prepare_cached(&insert_events_sql(1))?;
        for event in rest {
            bind_event(&mut insert, 0, event)?;
            insert.raw_execute()?;
            ids.push(tx.last_insert_rowid());
        }
    }
    Ok(())
}

/// `INSERT INTO events … VALUES (?, ?, ?, ?), …` for `rows` rows.
fn insert_events_sql(rows: usize) -> String {
    let mut sql = String::from("INSERT INTO events (ts_ms, service, level, message) VALUES ");
    for row in 0..rows {
        if row > 0 {
            sql.push_str(", ");
        }
        sql.push_str("(?, ?, ?, ?)");
    }
    sql
}

/// Binds `event` to the four parameters after the first `before`.
fn bind_event(
    insert: &mut rusqlite::CachedStatement<'_>,
    before: usize,
    event: &LogEvent,
) -> rusqlite::Result<()> {
    insert.raw_bind_parameter(before + 1, event.timestamp.timestamp_millis())?;
    insert.raw_bind_parameter(before + 2, &*event.service)?;
    insert.raw_bind_parameter(before + 3, event.level as i64)?;
    insert.raw_bind_parameter(before + 4, event.message.as_str())
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

#[cfg(test)]
mod tests {
    use super::*;

    fn events(from: usize, count: usize) -> Vec<LogEvent> {
        (from..from + count)
            .map(|i| LogEvent {
                id: 0,
                timestamp: Utc
                    .timestamp_millis_opt(1_718_000_000_000 + i as i64)
                    .unwrap(),
                service: Arc::from(["api", "web"][i % 2]),
                level: Level::ALL[i % 6],
                message: format!("event {i}"),
            })
            .collect()
    }

    #[tokio::test]
    async fn every_event_gets_the_id_of_its_stored_row_in_batches_of_any_size() {
        let dir = tempfile::tempdir().unwrap();
        // A ring smaller than what is stored: the query below is answered by SQLite.
        let store = EventStore::open(dir.path(), 5).unwrap();
        let mut handed_out = Vec::new();
        let mut next = 0;
        // Full multi-row statements, a remainder, a remainder alone, and both again.
        for size in [2 * EVENTS_PER_INSERT + 6, 3, EVENTS_PER_INSERT, 1, 45] {
            let batch = Batch {
                events: events(next, size),
                ..Batch::default()
            };
            next += size;
            handed_out.extend(store.commit(batch).await.unwrap());
        }
        let stored = store
            .query(LogQuery::new(None, None, None, None, 1000))
            .await
            .unwrap()
            .events;
        assert_eq!(stored.len(), next);
        for (given, row) in handed_out.iter().zip(&stored) {
            assert_eq!(**given, *row, "the event handed out is the row stored");
        }
    }
}
