//! Where log lines come from, the first step of their way: each source reads lines, hands
//! them to a [`Decoder`](crate::decode::Decoder) of its own, and sends what comes out as
//! [`Batch`](crate::batch::Batch)es (with the checkpoints they cover) to the writer, and its
//! state to the shared [`SourceList`](crate::status::SourceList).
//!
//! # Layout
//! - [`files`]: the file source: a reading loop on its own thread over `extra_files` (paths
//!   and globs) and the container logs under `docker_logs_dir`, each file followed across
//!   rotation, with checkpoints and inotify wake-ups.
//! - [`docker_dir`]: the containers found in Docker's data directory (json-file logs).
//! - [`docker_api`]: containers followed through the Docker Engine API, a tokio task.
//! - [`own_container`]: the container log_watcher runs in, which neither Docker source reads.

pub mod docker_api;
pub mod docker_dir;
pub mod files;
pub mod own_container;
