//! Reads that must never hold up ingestion (`/logs` searches, the dashboard's tail, the
//! count queries of `/summary` and `/summary/series`) run here: on a few threads of their
//! own, each with its own read-only connection to the database (WAL lets them read while
//! the writer commits, without its lock), at a lower CPU priority than the threads that
//! read and store lines. Jobs wait in a bounded queue; when it is full, a request is turned
//! away at once ([`ReadError::Busy`], a 503) instead of piling up.
//!
//! The connections know `lw_contains(message, text)`, the same case-insensitive test as
//! [`LogQuery::matches`](super::LogQuery::matches), so a text search runs inside SQLite
//! under its `LIMIT`.

use std::path::Path;
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};

use rusqlite::functions::FunctionFlags;
use rusqlite::{Connection, OpenFlags};
use service_kit::storage::StorageError;
use tokio::sync::oneshot;

use super::query::TextMatcher;

/// Reader threads (and connections). Two: a search never waits for one slow search, and
/// at most two cores' worth of searching competes with ingestion.
pub const READERS: usize = 2;

/// Jobs that may wait for a reader; beyond, requests get 503.
pub const QUEUE: usize = 64;

/// Nice value of the reader threads: when ingestion wants the CPU, the scheduler gives
/// them a small fraction of it (weight 15 against 1024); when it does not, all of it.
const NICENESS: i32 = 19;

/// Why a read was not answered.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// Every reader is busy and the queue is full.
    #[error("too many searches at once; try again in a moment")]
    Busy,
    /// The database failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

type Job = Box<dyn FnOnce(&Connection) + Send>;

/// The reader threads, fed through one bounded queue; they end when this is dropped.
pub struct Readers {
    /// Where jobs wait.
    jobs: SyncSender<Job>,
}

impl Readers {
    /// Opens [`READERS`] read-only connections to the database at `path` (created by the
    /// writer already) and starts a thread for each.
    pub fn open(path: &Path) -> Result<Readers, StorageError> {
        let (jobs, queue) = mpsc::sync_channel::<Job>(QUEUE);
        let queue = Arc::new(Mutex::new(queue));
        for i in 0..READERS {
            let connection = open_reader(path)?;
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("log-search-{i}"))
                .spawn(move || serve(connection, queue))
                .map_err(|e| StorageError::Open {
                    path: path.to_path_buf(),
                    source: Box::new(e),
                })?;
        }
        Ok(Readers { jobs })
    }

    /// Runs `work` on a reader's connection and returns what it returns.
    pub async fn run<T, F>(&self, work: F) -> Result<T, ReadError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, rusqlite::Error> + Send + 'static,
    {
        let (answer, answered) = oneshot::channel();
        let job: Job = Box::new(move |connection| {
            let _ = answer.send(work(connection));
        });
        match self.jobs.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => return Err(ReadError::Busy),
            Err(TrySendError::Disconnected(_)) => {
                return Err(StorageError::Task("the reader threads are gone".to_string()).into())
            }
        }
        match answered.await {
            Ok(result) => result.map_err(|e| StorageError::from(e).into()),
            // The job panicked (and its thread with it).
            Err(_) => Err(StorageError::Task("a search failed".to_string()).into()),
        }
    }
}

/// One reader thread: jobs until the queue is dropped.
fn serve(connection: Connection, queue: Arc<Mutex<Receiver<Job>>>) {
    // Linux applies a PRIO_PROCESS priority of "this process" (0) to the calling thread only.
    if let Err(error) = rustix::process::setpriority_process(None, NICENESS) {
        tracing::debug!(%error, "Cannot lower the priority of a search thread.");
    }
    loop {
        let job = {
            let queue = queue.lock().unwrap_or_else(|p| p.into_inner());
            queue.recv()
        };
        match job {
            // A job that panics fails its request only, not the thread.
            Ok(job) => {
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(&connection)));
            }
            Err(_) => return,
        }
    }
}

/// A connection that only reads, with `lw_contains` defined.
fn open_reader(path: &Path) -> Result<Connection, StorageError> {
    let connection = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| StorageError::Open {
        path: path.to_path_buf(),
        source: Box::new(e),
    })?;
    // query_only: this connection can never write, whatever a bug would ask of it. A small
    // page cache each: searches scan, and the writer's cache is what keeps ingestion fast.
    connection.execute_batch(
        "PRAGMA query_only = 1; PRAGMA busy_timeout = 5000; PRAGMA cache_size = -1024;",
    )?;
    connection.create_scalar_function(
        "lw_contains",
        2,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |context| {
            // Compiled once per statement: SQLite keeps it as the argument's aux data.
            let matcher = context.get_or_create_aux(1, |text| {
                text.as_str()
                    .map(TextMatcher::new)
                    .map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>)
            })?;
            let message = context.get_raw(0).as_str().unwrap_or("");
            Ok(matcher.is_match(message))
        },
    )?;
    Ok(connection)
}
