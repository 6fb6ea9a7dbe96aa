//! The Docker Engine API source: containers followed through the engine's unix socket
//! (bollard), as a tokio task beside the file reader, sending its [`Batch`]es to the same
//! writer.
//!
//! It connects, subscribes to container `start` and `destroy` events, lists the running
//! containers the [`Selector`] chooses, and follows each one's log with one request
//! ([`follower`]). A container that starts later is followed when its `start` event
//! arrives; a stopped one is let go when its log ends (the engine ends the answer when the
//! container dies), and forgotten when it is removed. When the connection fails (the
//! daemon restarts, the socket is missing) it says so once in the log, shows it in
//! `/livez` and `/metrics`, and tries again with exponential backoff (0.5 s doubling to
//! 30 s, [`Backoff`]); the other sources never wait for it.
//!
//! # Resuming
//! Each container's position is a [`ContainerCheckpoint`] (chosen by [`position`]) committed in
//! the same transaction as the lines it covers, so neither a restart of log_watcher nor a
//! reconnect loses or repeats a line. A container never seen before is read from its
//! start, as the file source reads a new file from its start. On connecting, running
//! containers are followed, and so are stopped ones that have a checkpoint (to read what
//! they wrote between the checkpoint and their end); stopped containers never seen before
//! are left alone, since they are most likely leftovers from long ago.
//!
//! # With `docker_logs_dir`
//! A container whose json-file log is visible under `docker_logs_dir` is read by the file
//! source (positional, and cheaper) and skipped here, so no line is read twice; this source
//! then adds the containers the file source cannot read (other log drivers, or a Docker data
//! directory that is not mounted).
//!
//! # Layout
//! - [`selector`]: which containers (project, `include`/`exclude` globs), their service
//!   names, our own container.
//! - [`position`]: `(since, skip)` positions that survive reordered timestamps.
//! - [`frame`]: one log frame: time, text, partial chunk; UTF-8 across chunks.
//! - [`follower`]: one container's follow request, decoding and batches.

pub mod follower;
pub mod frame;
pub mod lifecycle;
pub mod position;
pub mod selector;
mod session;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bollard::Docker;
use service_kit::backoff::Backoff;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

pub use follower::{FollowEnd, FollowOutcome, FollowRequest};
pub use lifecycle::{Lifecycle, LifecycleSettings};
pub use position::FramePos;
pub use selector::{ContainerChoice, ContainerInfo, Selector};

use crate::batch::Batch;
use crate::checkpoint::ContainerCheckpoint;
use crate::decode::{DecodeSettings, EventFilter};
use crate::status::{SourceKind, SourceList, SourceStatus};

/// The Docker socket used when neither `socket` nor `DOCKER_HOST` names one.
pub const DEFAULT_DOCKER_SOCKET: &str = "/var/run/docker.sock";

/// `[log_sources.docker_api]`, checked: the socket to connect to and which containers.
#[derive(Debug, Clone)]
pub struct DockerApiSettings {
    /// The engine's unix socket (resolved: `socket`, else `DOCKER_HOST`, else
    /// [`DEFAULT_DOCKER_SOCKET`]).
    pub socket: PathBuf,
    /// Which containers are followed.
    pub choice: ContainerChoice,
    /// Lifecycle events, unless `lifecycle = false`.
    pub lifecycle: Option<LifecycleSettings>,
}

/// First wait after a failed connection; it doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
/// Longest wait between two connection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// Seconds an API call may take to answer (streams: until their headers arrive).
const REQUEST_TIMEOUT_SECS: u64 = 30;
/// A connection that lasted this long starts the backoff over; one that broke sooner (an
/// engine that accepts and then fails) keeps it growing, so retries never spin.
const STABLE_CONNECTION: Duration = Duration::from_secs(10);

/// Everything the source needs, built by [`crate::run`].
pub struct DockerApiSource {
    /// The engine's socket.
    socket: PathBuf,
    /// Which containers.
    selector: Selector,
    /// Containers whose json-file log is here are left to the file source.
    docker_logs_dir: Option<PathBuf>,
    /// Where reading of each container seen stands.
    checkpoints: HashMap<String, ContainerCheckpoint>,
    /// Which lines are events.
    filter: EventFilter,
    /// Chunk merging and multiline joining.
    settings: DecodeSettings,
    /// The writer.
    batches: mpsc::Sender<Batch>,
    /// The list behind `/livez` and `/metrics`, shared with the file reader.
    sources: Arc<SourceList>,
    /// What this source shows there.
    status: Status,
    /// Lifecycle events (kept across reconnections, for restart loops).
    lifecycle: Option<Lifecycle>,
}

/// The connection and the containers, as `/livez` shows them.
#[derive(Debug, Default)]
struct Status {
    /// Whether the engine answers.
    connected: bool,
    /// Why it does not.
    error: Option<String>,
    /// Containers chosen, by id.
    containers: BTreeMap<String, ContainerStatus>,
}

/// One container in `/livez`.
#[derive(Debug)]
struct ContainerStatus {
    /// Its names.
    info: ContainerInfo,
    /// Whether a follow request is running.
    following: bool,
    /// The last failure of a follow request, cleared when one ends well.
    error: Option<String>,
}

/// How a connection ended.
enum SessionEnd {
    /// The service stops.
    Shutdown,
    /// The engine went away; the text says how.
    Lost(String),
}

impl DockerApiSource {
    /// The source `settings` describe, leaving the containers under `docker_logs_dir` to
    /// the file source, resuming from `saved`, decoding with `filter` and `decode`, sending
    /// batches to `batches` and publishing its status to `sources`.
    pub fn new(
        settings: DockerApiSettings,
        docker_logs_dir: Option<PathBuf>,
        saved: Vec<ContainerCheckpoint>,
        filter: EventFilter,
        decode: DecodeSettings,
        batches: mpsc::Sender<Batch>,
        sources: Arc<SourceList>,
    ) -> DockerApiSource {
        let own_id = super::own_container::own_container_id();
        DockerApiSource {
            socket: settings.socket,
            selector: Selector::new(settings.choice, own_id),
            docker_logs_dir,
            checkpoints: saved
                .into_iter()
                .map(|c| (c.container_id.clone(), c))
                .collect(),
            filter,
            settings: decode,
            lifecycle: settings
                .lifecycle
                .map(|lifecycle| Lifecycle::new(lifecycle, batches.clone())),
            batches,
            sources,
            status: Status::default(),
        }
    }

    /// Connects and follows until `shutdown`, reconnecting with backoff whenever the
    /// engine goes away. Before returning, every follow request lets go of what it holds
    /// and sends it.
    pub async fn run(mut self, shutdown: CancellationToken) {
        let mut backoff = Backoff::new(FIRST_BACKOFF, MAX_BACKOFF);
        let mut in_outage = false;
        self.publish();
        loop {
            let connected = tokio::select! {
                connected = self.connect() => connected,
                _ = shutdown.cancelled() => break,
            };
            let lost = match connected {
                Ok(docker) => {
                    if in_outage {
                        tracing::info!(socket = %self.socket.display(), "Docker Engine reachable again.");
                    } else {
                        tracing::info!(socket = %self.socket.display(), "Connected to the Docker Engine.");
                    }
                    in_outage = false;
                    self.status.connected = true;
                    self.status.error = None;
                    self.publish();
                    let connected_at = tokio::time::Instant::now();
                    let end = self.session(docker, &shutdown).await;
                    if connected_at.elapsed() >= STABLE_CONNECTION {
                        backoff.reset();
                    }
                    match end {
                        SessionEnd::Shutdown => break,
                        SessionEnd::Lost(err) => err,
                    }
                }
                Err(err) => err,
            };
            if shutdown.is_cancelled() {
                break;
            }
            if in_outage {
                tracing::debug!(socket = %self.socket.display(), error = %lost, "Docker Engine still unreachable.");
            } else {
                tracing::warn!(
                    socket = %self.socket.display(),
                    error = %lost,
                    "Docker Engine unreachable; retrying with backoff while the other sources go on."
                );
                in_outage = true;
            }
            self.status.connected = false;
            self.status.error = Some(lost);
            for container in self.status.containers.values_mut() {
                container.following = false;
            }
            self.publish();
            tokio::select! {
                _ = tokio::time::sleep(backoff.next_delay()) => {}
                _ = shutdown.cancelled() => break,
            }
        }
        self.status.connected = false;
        self.publish();
    }

    /// Opens the socket and agrees on an API version (which proves the engine answers).
    async fn connect(&self) -> Result<Docker, String> {
        let describe = |err: bollard::errors::Error| {
            let text = err.to_string();
            let path = self.socket.display().to_string();
            if text.contains(&path) {
                text
            } else {
                format!("{path}: {text}")
            }
        };
        let socket = self.socket.to_string_lossy();
        let docker =
            Docker::connect_with_unix(&socket, REQUEST_TIMEOUT_SECS, bollard::API_DEFAULT_VERSION)
                .map_err(describe)?;
        docker.negotiate_version().await.map_err(describe)
    }

    /// One connection: follows containers until the engine goes away or the service stops.
    async fn session(&mut self, docker: Docker, shutdown: &CancellationToken) -> SessionEnd {
        session::Session::new(self, docker, shutdown).run().await
    }

    /// Replaces this source's entries in the shared `/livez` list.
    fn publish(&self) {
        let mut entries = vec![SourceStatus {
            kind: SourceKind::DockerApi,
            path: self.socket.clone(),
            service: Arc::from(""),
            open: self.status.connected,
            unread_bytes: 0,
            error: self.status.error.clone(),
            container: None,
            connected: Some(self.status.connected),
        }];
        entries.extend(self.status.containers.values().map(|c| SourceStatus {
            kind: SourceKind::DockerApi,
            path: self.socket.clone(),
            service: Arc::from(c.info.service.as_str()),
            open: c.following && self.status.connected,
            unread_bytes: 0,
            error: c.error.clone(),
            container: Some(c.info.name.clone()),
            connected: Some(self.status.connected),
        }));
        self.sources.publish(&[SourceKind::DockerApi], entries);
    }
}
