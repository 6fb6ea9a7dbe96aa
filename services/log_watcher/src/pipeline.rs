//! The reading loop: follows every configured file, turns each line into a record (time,
//! level, message), counts it, keeps the events, and hands one [`Batch`] per pass to the
//! writer. It runs on its own thread because file reads block; the bounded channel to the
//! writer is the backpressure that keeps memory flat when logs arrive faster than SQLite
//! commits.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::decode::{DecodeSettings, Decoded, Decoder, ReadAt};
use crate::filter::EventFilter;
use crate::parse::DockerLine;
use crate::source::docker_dir;
use crate::source::file::{Checkpoint, FileFollower, FilePos, LineSink};
use crate::source::fingerprint::FileId;
use crate::store::{Batch, CountEntry};
use crate::wake::Wakeup;

/// How often globs are expanded again to find new files.
const DISCOVERY_INTERVAL: Duration = Duration::from_secs(1);

/// One configured file pattern and the service its files belong to.
#[derive(Debug, Clone)]
pub struct FilePattern {
    /// A path, or a path whose last component has `*`/`?` wildcards.
    pub pattern: PathBuf,
    /// Service name; `None` means the file stem.
    pub service: Option<String>,
}

/// What `/livez` and `/metrics` show of one followed path or container.
#[derive(Debug, Clone, Serialize)]
pub struct SourceStatus {
    /// `file`, `docker_file` or `docker_api`.
    pub kind: &'static str,
    /// The followed path (`docker_api`: the engine's socket).
    pub path: PathBuf,
    /// The service its lines belong to.
    pub service: Arc<str>,
    /// Whether a file is open at the path.
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

/// Replaces the entries of the given kinds in the shared list, leaving the other sources'
/// entries alone (the file reader and the Docker API source publish separately).
pub fn publish_sources(
    list: &std::sync::Mutex<Vec<SourceStatus>>,
    kinds: &[&str],
    entries: Vec<SourceStatus>,
) {
    let mut list = list.lock().unwrap_or_else(|p| p.into_inner());
    list.retain(|s| !kinds.contains(&s.kind));
    list.extend(entries);
}

/// One followed file and how to read it.
#[derive(Debug)]
struct Source {
    follower: FileFollower,
    decoder: Decoder<FilePos>,
    /// Docker's json-file format rather than plain lines.
    docker_json: bool,
}

/// Hands what a follower reads to the source's decoder.
struct ToDecoder<'a> {
    decoder: &'a mut Decoder<FilePos>,
    docker_json: bool,
    read: ReadAt,
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

    fn file_done(&mut self, _file: FileId) {
        self.decoder.flush_all(self.out);
    }
}

/// Everything the reading loop needs.
pub struct Reader {
    patterns: Vec<FilePattern>,
    docker_dir: Option<PathBuf>,
    sources: Vec<Source>,
    saved: HashMap<PathBuf, Vec<Checkpoint>>,
    filter: EventFilter,
    settings: DecodeSettings,
    poll_interval: Duration,
    wakeup: Option<Wakeup>,
    watched_dirs: BTreeSet<PathBuf>,
    /// The container this process runs in, whose log is never read.
    own_container: Option<String>,
}

impl Reader {
    /// A reader over `patterns` and the containers of `docker_dir`, resuming from `saved`
    /// checkpoints. `wakeup`, when given, tells it at once when a watched folder changes;
    /// it polls every `poll_interval` either way.
    pub fn new(
        patterns: Vec<FilePattern>,
        docker_dir: Option<PathBuf>,
        saved: Vec<Checkpoint>,
        filter: EventFilter,
        settings: DecodeSettings,
        poll_interval: Duration,
        wakeup: Option<Wakeup>,
    ) -> Reader {
        let mut by_path: HashMap<PathBuf, Vec<Checkpoint>> = HashMap::new();
        for checkpoint in saved {
            by_path
                .entry(checkpoint.path.clone())
                .or_default()
                .push(checkpoint);
        }
        Reader {
            patterns,
            docker_dir,
            sources: Vec::new(),
            saved: by_path,
            filter,
            settings,
            poll_interval,
            wakeup,
            watched_dirs: BTreeSet::new(),
            own_container: crate::source::own_container::own_container_id(),
        }
    }

    /// Paths currently followed, for `/livez` and metrics.
    pub fn sources(&self) -> Vec<SourceStatus> {
        self.sources
            .iter()
            .map(|s| {
                let f = &s.follower;
                SourceStatus {
                    kind: if s.docker_json { "docker_file" } else { "file" },
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
        for pattern in self.patterns.clone() {
            self.watch(pattern.pattern.parent());
            for path in expand(&pattern.pattern) {
                let service = pattern.service.clone().unwrap_or_else(|| file_stem(&path));
                self.follow(path, service, false);
            }
        }
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
        if !self.watched_dirs.contains(dir) && wakeup.watch(dir) {
            self.watched_dirs.insert(dir.to_path_buf());
        }
    }

    fn follow(&mut self, path: PathBuf, service: String, docker_json: bool) {
        if self.sources.iter().any(|s| s.follower.path() == path) {
            return;
        }
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
            busy |= bytes_read >= crate::source::file::POLL_BUDGET;
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
    /// is due to be let go sooner.
    fn idle_wait(&self) -> Duration {
        let now = Instant::now();
        self.sources
            .iter()
            .filter_map(|s| s.decoder.next_flush())
            .map(|due| due.saturating_duration_since(now))
            .fold(self.poll_interval, Duration::min)
    }

    /// Runs until `shutdown`, sending batches to the writer and publishing source status to
    /// `status`. Blocking: run it on its own thread. Before returning it completes what is
    /// held and sends that too, so a clean stop loses and repeats nothing.
    pub fn run(
        mut self,
        batches: mpsc::Sender<Batch>,
        status: Arc<std::sync::Mutex<Vec<SourceStatus>>>,
        shutdown: CancellationToken,
    ) {
        let mut buffer = Vec::new();
        let mut last_discovery: Option<Instant> = None;
        loop {
            let stopping = shutdown.is_cancelled();
            let discovering = last_discovery.is_none_or(|t| t.elapsed() >= DISCOVERY_INTERVAL);
            if discovering {
                self.discover();
                last_discovery = Some(Instant::now());
            }
            let (batch, busy) = self.pass(&mut buffer, stopping);
            if discovering {
                // After the pass, so files found just now show as open.
                publish_sources(&status, &["file", "docker_file"], self.sources());
            }
            if !batch.is_empty() && batches.blocking_send(batch).is_err() {
                return;
            }
            if stopping {
                return;
            }
            if !busy {
                let wait = self.idle_wait();
                match &self.wakeup {
                    Some(wakeup) => wakeup.wait(wait),
                    None => std::thread::sleep(wait),
                }
            }
        }
    }
}

/// The file stem: `/logs/web.log` is service `web`.
pub fn file_stem(path: &Path) -> String {
    path.file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("unknown")
        .to_string()
}

/// Expands a path whose last component may hold `*` and `?` wildcards. Rotated and
/// compressed files (`app.log.1`, `app.log.gz`) are left out: their lines are read through
/// the file they were rotated from.
pub fn expand(pattern: &Path) -> Vec<PathBuf> {
    let Some(name) = pattern.file_name().and_then(|n| n.to_str()) else {
        return Vec::new();
    };
    if !name.contains(['*', '?']) {
        return vec![pattern.to_path_buf()];
    }
    let dir = pattern
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|e| {
            let file_name = e.file_name().into_string().ok()?;
            (wildcard_match(name, &file_name) && !looks_rotated(&file_name)).then(|| e.path())
        })
        .collect();
    paths.sort();
    paths
}

fn looks_rotated(name: &str) -> bool {
    let last = name.rsplit('.').next().unwrap_or("");
    let numbered =
        !last.is_empty() && last.bytes().all(|b| b.is_ascii_digit()) && name.contains('.');
    numbered
        || [".gz", ".bz2", ".xz", ".zst", ".old"]
            .iter()
            .any(|ext| name.ends_with(ext))
}

/// `*` matches any run of characters, `?` one character.
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_file_names() {
        assert!(wildcard_match("*.log", "web.log"));
        assert!(wildcard_match("api-?.log", "api-1.log"));
        assert!(!wildcard_match("*.log", "web.txt"));
        assert!(looks_rotated("web.log.1"));
        assert!(looks_rotated("web.log.gz"));
        assert!(!looks_rotated("web.log"));
    }
}
