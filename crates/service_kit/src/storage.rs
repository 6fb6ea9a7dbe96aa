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
}

impl Store {
    /// Opens (creating if needed) `file_name` inside `data_dir`, in WAL mode, and runs
    /// `schema` (idempotent `CREATE TABLE IF NOT EXISTS ...` statements).
    pub fn open(data_dir: &Path, file_name: &str, schema: &str) -> Result<Store, StorageError> {
        std::fs::create_dir_all(data_dir).map_err(|e| StorageError::Open {
            path: data_dir.to_path_buf(),
            source: Box::new(e),
        })?;
        let path = data_dir.join(file_name);
        let connection = Connection::open(&path).map_err(|e| StorageError::Open {
            path: path.clone(),
            source: Box::new(e),
        })?;
        // WAL lets readers (the dashboard) proceed while the writer commits; NORMAL sync is
        // durable across process crashes, which is what a sidecar needs.
        connection.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;",
        )?;
        connection.execute_batch(schema)?;
        Ok(Store {
            connection: Arc::new(Mutex::new(connection)),
            path,
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
}
