//! What the sources show of themselves in `/livez`, `/metrics` and the dashboard: one
//! [`SourceStatus`] per followed file, container and Engine API connection, in a
//! [`SourceList`] that each source kind publishes to on its own and the HTTP side reads.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use serde::Serialize;

/// Which source an entry belongs to (its `kind` in `/livez`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// A plain file of `extra_files`.
    File,
    /// A container's json-file log under `docker_logs_dir`.
    DockerFile,
    /// The Docker Engine API: the connection, and each container followed through it.
    DockerApi,
}

/// What `/livez` and `/metrics` show of one followed path or container.
#[derive(Debug, Clone, Serialize)]
pub struct SourceStatus {
    /// `file`, `docker_file` or `docker_api`.
    pub kind: SourceKind,
    /// The followed path (`docker_api`: the engine's socket).
    pub path: PathBuf,
    /// The service its lines belong to (empty on the entry of the engine connection).
    pub service: Arc<str>,
    /// Whether a file is open at the path (`docker_api`: whether it is followed).
    pub open: bool,
    /// Bytes written to the file but not read yet.
    pub unread_bytes: u64,
    /// The last read error, cleared by the next successful read.
    pub error: Option<String>,
    /// `docker_api`: the container's name; absent on the entry of the engine connection.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    /// `docker_api`: whether the engine answers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connected: Option<bool>,
}

/// Every source's entries, shared by the sources (writers) and the HTTP side (readers).
#[derive(Debug, Default)]
pub struct SourceList {
    /// The entries, in the order they were published.
    entries: Mutex<Vec<SourceStatus>>,
}

impl SourceList {
    /// Replaces the entries of the given kinds, leaving the other sources' entries alone
    /// (the file reader and the Docker API source publish separately).
    pub fn publish(&self, kinds: &[SourceKind], entries: Vec<SourceStatus>) {
        let mut list = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        list.retain(|s| !kinds.contains(&s.kind));
        list.extend(entries);
    }

    /// A copy of every entry now.
    pub fn snapshot(&self) -> Vec<SourceStatus> {
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}
