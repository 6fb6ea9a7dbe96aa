//! The embedded SQLite file each service keeps its durable state in (health history, log
//! checkpoints, webhook jobs). One connection behind a mutex is the single writer; callers
//! run statements through [`Store::run`], which moves the blocking work off the async runtime.
//!
//! Keeping every SQL statement behind this seam is what lets a shared Postgres back the same
//! state later without touching the services' logic.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::Connection;

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The data directory or file could not be created or opened.
    #[error("cannot open {path}: {source}")]
    Open {
        /// The file that failed.
        path: PathBuf,
        /// Why.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Another process (a second copy of the service) holds the data directory.
    #[error("{path} is in use by another running instance (it holds {lock}); stop that one or give this one its own data directory")]
    Locked {
        /// The database file.
        path: PathBuf,
        /// The lock file the other instance holds.
        lock: PathBuf,
    },
    /// A statement failed.
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The blocking task running the statement panicked or was cancelled.
    #[error("storage task failed: {0}")]
    Task(String),
}

/// A handle to one SQLite database file; cheap to clone.
#[derive(Clone)]
pub struct Store {
    connection: Arc<Mutex<Connection>>,
    path: PathBuf,
    /// The open lock file: its exclusive `flock` lasts as long as any clone of the store
    /// (the kernel drops it when the process dies, so a crash never leaves it stale).
    _lock: Arc<std::fs::File>,
}

impl Store {
    /// Opens (creating if needed) `file_name` inside `data_dir`, in WAL mode, and runs
    /// `schema` (idempotent `CREATE TABLE IF NOT EXISTS ...` statements).
    ///
    /// Only one process may hold a database: a second instance pointed at the same data
    /// directory gets [`StorageError::Locked`] rather than two writers interleaving. A file
    /// that is not a readable database is moved aside (kept, with a warning) and a fresh one
    /// is started, so a damaged file never keeps the service down.
    pub fn open(data_dir: &Path, file_name: &str, schema: &str) -> Result<Store, StorageError> {
        std::fs::create_dir_all(data_dir).map_err(|e| StorageError::Open {
            path: data_dir.to_path_buf(),
            source: Box::new(e),
        })?;
        let path = data_dir.join(file_name);
        let lock = lock_exclusively(&path)?;
        let connection = match open_connection(&path, schema) {
            Err(error) if is_damaged(&error) => {
                let kept = move_aside(&path)?;
                tracing::warn!(
                    path = %path.display(),
                    kept = %kept.display(),
                    error = %error,
                    "database file is damaged; kept it aside and started a fresh one"
                );
                open_connection(&path, schema)?
            }
            other => other?,
        };
        Ok(Store {
            connection: Arc::new(Mutex::new(connection)),
            path,
            _lock: Arc::new(lock),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `work` with the connection on a blocking thread.
    pub async fn run<T, F>(&self, work: F) -> Result<T, StorageError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, rusqlite::Error> + Send + 'static,
    {
        let connection = self.connection.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = connection
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            work(&mut guard).map_err(StorageError::from)
        })
        .await
        .map_err(|e| StorageError::Task(e.to_string()))?
    }

    /// Runs `work` on the calling thread (start-up and shutdown paths, tests).
    pub fn run_blocking<T>(
        &self,
        work: impl FnOnce(&mut Connection) -> Result<T, rusqlite::Error>,
    ) -> Result<T, StorageError> {
        let mut guard = self
            .connection
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        work(&mut guard).map_err(StorageError::from)
    }
}

/// Opens the connection and applies the pragmas and the schema.
fn open_connection(path: &Path, schema: &str) -> Result<Connection, StorageError> {
    let connection = Connection::open(path).map_err(|e| StorageError::Open {
        path: path.to_path_buf(),
        source: Box::new(e),
    })?;
    // WAL lets readers (the dashboard) proceed while the writer commits; NORMAL sync is
    // durable across process crashes, which is what a sidecar needs.
    connection.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;",
    )?;
    connection.execute_batch(schema)?;
    Ok(connection)
}

/// Takes the exclusive lock on `<database>.lock`, or says who holds it.
fn lock_exclusively(database: &Path) -> Result<std::fs::File, StorageError> {
    let mut name = database.as_os_str().to_owned();
    name.push(".lock");
    let lock_path = PathBuf::from(name);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| StorageError::Open {
            path: lock_path.clone(),
            source: Box::new(e),
        })?;
    match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(file),
        Err(rustix::io::Errno::WOULDBLOCK) => Err(StorageError::Locked {
            path: database.to_path_buf(),
            lock: lock_path,
        }),
        Err(e) => Err(StorageError::Open {
            path: lock_path,
            source: Box::new(std::io::Error::from(e)),
        }),
    }
}

/// Whether opening failed because the file's contents are not a sound database (as opposed
/// to a full disk or a read-only mount, which moving the file aside would not cure).
fn is_damaged(error: &StorageError) -> bool {
    matches!(
        error,
        StorageError::Sqlite(rusqlite::Error::SqliteFailure(code, _))
            if matches!(code.code, rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt)
    )
}

/// Renames a damaged database (and its WAL and shared-memory files) to
/// `<name>.damaged-<unix seconds>`; returns the new name of the database.
fn move_aside(path: &Path) -> Result<PathBuf, StorageError> {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let renamed = |suffix: &str| {
        let mut from = path.as_os_str().to_owned();
        from.push(suffix);
        let mut to = path.as_os_str().to_owned();
        to.push(format!(".damaged-{stamp}{suffix}"));
        (PathBuf::from(from), PathBuf::from(to))
    };
    for suffix in ["-wal", "-shm"] {
        let (from, to) = renamed(suffix);
        if from.exists() {
            std::fs::rename(&from, &to).map_err(|e| StorageError::Open {
                path: from,
                source: Box::new(e),
            })?;
        }
    }
    let (from, to) = renamed("");
    std::fs::rename(&from, &to).map_err(|e| StorageError::Open {
        path: from,
        source: Box::new(e),
    })?;
    Ok(to)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn data_survives_reopening_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let schema = "CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY, v TEXT);";
        let store = Store::open(dir.path(), "t.sqlite", schema).unwrap();
        store
            .run(|c| c.execute("INSERT INTO kv VALUES ('a', 'b')", []))
            .await
            .unwrap();
        drop(store);
        let store = Store::open(dir.path(), "t.sqlite", schema).unwrap();
        let v: String = store
            .run_blocking(|c| c.query_row("SELECT v FROM kv WHERE k = 'a'", [], |r| r.get(0)))
            .unwrap();
        assert_eq!(v, "b");
    }

    #[test]
    fn a_second_instance_on_the_same_data_directory_is_refused_until_the_first_is_gone() {
        let dir = tempfile::tempdir().unwrap();
        let schema = "CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY, v TEXT);";
        let first = Store::open(dir.path(), "t.sqlite", schema).unwrap();
        let clone = first.clone();
        let error = Store::open(dir.path(), "t.sqlite", schema)
            .err()
            .expect("the second open is refused");
        assert!(matches!(error, StorageError::Locked { .. }), "{error}");
        assert!(
            error.to_string().contains("another running instance"),
            "{error}"
        );
        drop(first);
        assert!(
            Store::open(dir.path(), "t.sqlite", schema).is_err(),
            "a clone still holds the lock"
        );
        drop(clone);
        Store::open(dir.path(), "t.sqlite", schema).expect("free once every handle is gone");
    }

    #[test]
    fn a_damaged_file_is_kept_aside_and_a_fresh_database_started() {
        let dir = tempfile::tempdir().unwrap();
        let schema = "CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY, v TEXT);";
        let garbage = vec![0x5a_u8; 8192];
        std::fs::write(dir.path().join("t.sqlite"), &garbage).unwrap();
        let store = Store::open(dir.path(), "t.sqlite", schema).unwrap();
        store
            .run_blocking(|c| c.execute("INSERT INTO kv VALUES ('a', 'b')", []))
            .unwrap();
        let kept: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|name| name.starts_with("t.sqlite.damaged-"))
            .collect();
        assert_eq!(kept.len(), 1, "{kept:?}");
        assert_eq!(std::fs::read(dir.path().join(&kept[0])).unwrap(), garbage);
    }
}
