//! The file source's reading loop: follows every file of `extra_files` and every container
//! log under `docker_logs_dir`, hands each line to the file's [`Decoder`] (time, level,
//! message, multiline joining, counting, the event filter), and sends one [`Batch`] per pass
//! to the writer, with the checkpoints of what it covers. It runs on its own thread because
//! file reads block; the bounded channel to the writer is the backpressure that keeps
//! memory flat when logs arrive faster than SQLite commits.
//!
//! # Layout
//! - [`patterns`]: `extra_files` paths and globs, expanded at every discovery.
//! - [`follower`]: one path followed across rotation, truncation and restarts.
//! - [`reader`]: one open file read line by line from an offset.
//! - [`rotation`]: the files rotation made from a path (renamed, or copied).
//! - [`fingerprint`]: a file's identity and the hash of its first bytes.
//! - [`wake`]: inotify wake-ups, so new lines are read at once.

pub mod fingerprint;
pub mod follower;
pub mod patterns;
pub mod reader;
pub mod rotation;
pub mod wake;

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::batch::{Batch, CountEntry};
use crate::checkpoint::{FileCheckpoint, FileId};
use crate::decode::{DecodeSettings, Decoded, Decoder, EventFilter, ParseHelper, ReadAt};
use crate::parse::DockerLine;
use crate::status::{SourceKind, SourceList, SourceStatus};

use self::follower::FileFollower;
use self::patterns::FilePattern;
use self::reader::{for_each_line, FilePos, LineSink, POLL_BUDGET};
use self::wake::Wakeup;
use super::docker_dir;

/// How often globs are expanded again to find new files, at most; as often while a watched
/// folder changes, or when inotify is unavailable.
const DISCOVERY_INTERVAL: Duration = Duration::from_secs(1);

/// How often globs are expanded again while inotify reports no change in any watched folder:
/// new files and folders there wake the loop, so this only catches what inotify cannot see
/// (a folder deeper than any watched one). Idle, this is most of what following costs.
const QUIET_DISCOVERY_INTERVAL: Duration = Duration::from_secs(5);

/// The kinds of entry this source publishes in the shared [`SourceList`].
const KINDS: [SourceKind; 2] = [SourceKind::File, SourceKind::DockerFile];

/// One followed file and how to read it.
#[derive(Debug)]
struct Source {
    /// The path, followed across rotation.
    follower: FileFollower,
    /// Its lines to counted lines and events.
    decoder: Decoder<FilePos>,
    /// Docker's json-file format rather than plain lines.
    docker_json: bool,
}

/// Hands what a follower reads to the source's decoder.
struct ToDecoder<'a> {
    /// The file's decoder.
    decoder: &'a mut Decoder<FilePos>,
    /// Docker's json-file format rather than plain lines.
    docker_json: bool,
    /// When this pass read.
    read: ReadAt,
    /// Parses long runs on a second thread.
    helper: &'a mut ParseHelper,
    /// What the pass has produced for this file.
    out: &'a mut Decoded,
}

impl LineSink for ToDecoder<'_> {
    fn line(&mut self, line: &[u8], truncated: bool, start: FilePos) {
        if self.docker_json && !truncated {
            if let Ok(docker) = DockerLine::parse(line) {
                self.decoder.docker_line(docker, start, self.read, self.out);
                return;
            }
        }
        // Plain text, or a foreign line in a Docker log folder: keep it as text.
        self.decoder
            .plain_line(line, truncated, start, self.read, self.out);
    }

    fn lines(&mut self, block: &[u8], max_line: usize, start: FilePos) {
        if self.docker_json {
            for_each_line(block, max_line, start, |line, truncated, at| {
                self.line(line, truncated, at)
            });
            return;
        }
        let at = |offset: usize| FilePos {
            file: start.file,
            offset: start.offset + offset as u64,
        };
        self.decoder
            .plain_block(block, max_line, at, self.read, self.helper, self.out);
    }

    fn file_done(&mut self, _file: FileId) {
        self.decoder.flush_all(self.out);
    }
}

/// The reading loop over every file, and everything it needs.
pub struct FileSource {
    /// `extra_files`.
    patterns: Vec<FilePattern>,
    /// `docker_logs_dir`.
    docker_dir: Option<PathBuf>,
    /// Every file followed.
    sources: Vec<Source>,
    /// Checkpoints of paths not followed yet (since the start), by path.
    saved: HashMap<PathBuf, Vec<FileCheckpoint>>,
    /// Which lines are events, for each new decoder.
    filter: EventFilter,
    /// How lines become events, for each new decoder.
    settings: DecodeSettings,
    /// The longest wait between two passes.
    poll_interval: Duration,
    /// inotify, when available.
    wakeup: Option<Wakeup>,
    /// The second thread that parses long runs, for every file.
    parse_helper: ParseHelper,
    /// Folders already watched.
    watched_dirs: BTreeSet<PathBuf>,
    /// Whether the last discovery found a folder to watch missing (its creation, in a folder
    /// not watched, would go unnoticed until the next discovery).
    missing_folders: bool,
    /// The container this process runs in, whose log is never read.
    own_container: Option<String>,
}

impl FileSource {
    /// A source over `patterns` and the containers of `docker_dir`, resuming from `saved`
    /// checkpoints. `wakeup`, when given, tells it at once when a watched folder changes;
    /// it polls every `poll_interval` either way.
    pub fn new(
        patterns: Vec<FilePattern>,
        docker_dir: Option<PathBuf>,
        saved: Vec<FileCheckpoint>,
        filter: EventFilter,
        settings: DecodeSettings,
        poll_interval: Duration,
        wakeup: Option<Wakeup>,
    ) -> FileSource {
        let mut by_path: HashMap<PathBuf, Vec<FileCheckpoint>> = HashMap::new();
        for checkpoint in saved {
            by_path
                .entry(checkpoint.path.clone())
                .or_default()
                .push(checkpoint);
        }
        FileSource {
            patterns,
            docker_dir,
            sources: Vec::new(),
            saved: by_path,
            parse_helper: ParseHelper::new(filter.clone()),
            filter,
            settings,
            poll_interval,
            wakeup,
            watched_dirs: BTreeSet::new(),
            missing_folders: false,
            own_container: super::own_container::own_container_id(),
        }
    }

    /// Paths currently followed, for `/livez` and metrics.
    pub fn sources(&self) -> Vec<SourceStatus> {
        self.sources
            .iter()
            .map(|s| {
                let f = &s.follower;
                SourceStatus {
                    kind: if s.docker_json {
                        SourceKind::DockerFile
                    } else {
                        SourceKind::File
                    },
                    path: f.path().to_path_buf(),
                    service: s.decoder.service().clone(),
                    open: f.is_open(),
                    unread_bytes: f.unread_bytes(),
                    error: f.last_error.clone(),
                    container: None,
                    connected: None,
                }
            })
            .collect()
    }

    /// Finds files matching the patterns, and containers in the Docker directory, that are
    /// not followed yet; lets go of containers whose files are gone and fully read.
    fn discover(&mut self) {
        self.missing_folders = false;
        // Taken out for the loop (and put back), as following needs `self` mutably.
        let patterns = std::mem::take(&mut self.patterns);
        for pattern in &patterns {
            self.watch(pattern.folder());
            for path in pattern.files() {
                let service = pattern.service_of(&path);
                self.follow(path, service, false);
            }
        }
        self.patterns = patterns;
        if let Some(dir) = self.docker_dir.clone() {
            self.watch(Some(&dir));
            match docker_dir::discover(&dir) {
                Ok(containers) => {
                    for container in containers {
                        if self.own_container.as_deref() == Some(container.id.as_str()) {
                            continue; // our own output: reading it would echo every event forever
                        }
                        self.watch(container.log_path.parent());
                        self.follow(container.log_path, container.service, true);
                    }
                }
                Err(err) => {
                    tracing::warn!(dir = %dir.display(), %err, "Cannot list Docker containers.")
                }
            }
        }
        // Containers come and go; configured paths stay watched even while absent.
        self.sources.retain(|s| {
            let gone = s.docker_json && s.follower.is_finished();
            if gone {
                tracing::info!(path = %s.follower.path().display(), "Container log gone; no longer followed.");
            }
            !gone
        });
    }

    /// Asks to be woken when `dir` changes (once per folder).
    fn watch(&mut self, dir: Option<&Path>) {
        let (Some(wakeup), Some(dir)) = (&self.wakeup, dir) else {
            return;
        };
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        if !self.watched_dirs.contains(dir) {
            if wakeup.watch(dir) {
                self.watched_dirs.insert(dir.to_path_buf());
            } else {
                self.missing_folders = true;
            }
        }
    }

    fn follow(&mut self, path: PathBuf, service: String, docker_json: bool) {
        if self.sources.iter().any(|s| s.follower.path() == path) {
            return;
        }
        // A glob's files may sit in folders below the one its pattern names.
        self.watch(path.parent());
        let saved = self.saved.remove(&path).unwrap_or_default();
        tracing::info!(path = %path.display(), service = %service, "Following log file.");
        let decoder = Decoder::new(
            Arc::from(service.as_str()),
            self.filter.clone(),
            &self.settings,
        );
        self.sources.push(Source {
            follower: FileFollower::new(path, saved),
            decoder,
            docker_json,
        });
    }

    /// One pass over every file; returns the batch and whether any file had more to read.
    /// `finish` completes everything held (the service is stopping).
    pub fn pass(&mut self, buffer: &mut Vec<u8>, finish: bool) -> (Batch, bool) {
        let mut batch = Batch::default();
        let mut busy = false;
        let read = ReadAt::now();
        let second = read.wall.timestamp();
        for source in &mut self.sources {
            let mut out = Decoded::default();
            let mut sink = ToDecoder {
                decoder: &mut source.decoder,
                docker_json: source.docker_json,
                read,
                helper: &mut self.parse_helper,
                out: &mut out,
            };
            let bytes_read = source
                .follower
                .poll(buffer, self.settings.max_line_bytes, &mut sink);
            if finish {
                source.decoder.flush_all(&mut out);
            } else {
                source.decoder.flush_idle(&mut out);
            }
            if bytes_read == 0 && out.is_empty() {
                continue;
            }
            busy |= bytes_read >= POLL_BUDGET;
            batch.counts.push(CountEntry {
                service: source.decoder.service().clone(),
                second,
                counts: out.counts,
                bytes: bytes_read,
            });
            batch.events.append(&mut out.events);
            let mut checkpoints = source.follower.checkpoints();
            // Never past a line that was read but is still held (an unfinished event).
            for held in source.decoder.held_from() {
                for checkpoint in checkpoints.iter_mut().filter(|c| c.id == held.file) {
                    checkpoint.offset = checkpoint.offset.min(held.offset);
                }
            }
            batch.checkpoints.extend(checkpoints);
        }
        (batch, busy)
    }

    /// How long to wait before the next pass: the poll interval, or less when a held event
    /// is due to be let go sooner, or a discovery (`discovery_due`) is.
    fn idle_wait(&self, discovery_due: Option<Instant>) -> Duration {
        let now = Instant::now();
        self.sources
            .iter()
            .filter_map(|s| s.decoder.next_flush())
            .chain(discovery_due)
            .map(|due| due.saturating_duration_since(now))
            .fold(self.poll_interval, Duration::min)
    }

    /// When the next discovery is due: [`DISCOVERY_INTERVAL`] after the last one when a
    /// watched folder changed since (or nothing would tell of changes: no inotify, or a
    /// folder to watch does not exist yet), else [`QUIET_DISCOVERY_INTERVAL`] after it.
    fn discovery_due(&self, last: Instant, changed: bool) -> Instant {
        if changed || self.wakeup.is_none() || self.missing_folders {
            last + DISCOVERY_INTERVAL
        } else {
            last + QUIET_DISCOVERY_INTERVAL
        }
    }

    /// Runs until `shutdown`, sending batches to the writer and publishing source status to
    /// `status`. Blocking: run it on its own thread. Before returning it completes what is
    /// held and sends that too, so a clean stop loses and repeats nothing.
    pub fn run(
        mut self,
        batches: mpsc::Sender<Batch>,
        status: Arc<SourceList>,
        shutdown: CancellationToken,
    ) {
        let mut buffer = Vec::new();
        let mut last_discovery: Option<Instant> = None;
        // Whether a watched folder changed since the last discovery.
        let mut changed = false;
        loop {
            let stopping = shutdown.is_cancelled();
            let discovering =
                last_discovery.is_none_or(|t| Instant::now() >= self.discovery_due(t, changed));
            if discovering {
                self.discover();
                last_discovery = Some(Instant::now());
                changed = false;
            }
            let (batch, busy) = self.pass(&mut buffer, stopping);
            if discovering {
                // After the pass, so files found just now show as open.
                status.publish(&KINDS, self.sources());
            }
            if !batch.is_empty() && batches.blocking_send(batch).is_err() {
                return;
            }
            if stopping {
                return;
            }
            if !busy {
                let due = last_discovery.map(|t| self.discovery_due(t, changed));
                let wait = self.idle_wait(due);
                match &self.wakeup {
                    Some(wakeup) => changed |= wakeup.wait(wait),
                    None => std::thread::sleep(wait),
                }
            } else {
                // Files are being written: new ones may be too.
                changed = true;
            }
        }
    }
}
