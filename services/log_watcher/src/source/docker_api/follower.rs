//! Following one container's log through the Engine API: one `follow` logs request with
//! timestamps, resumed from the container's checkpoint; each frame decoded (partial chunks
//! merged, multiline events joined) and sent to the writer in [`Batch`]es that carry the
//! container's new checkpoint, so lines and position are committed together.
//!
//! A request ends when the container stops (the engine closes the answer: whatever is
//! held is complete and let go), when the connection fails (held lines are *not* let go:
//! the checkpoint stays before them and they are read again on the next request), or when
//! the service stops (everything held is let go, as the file source does).

use std::time::Duration;

use bollard::container::LogOutput;
use bollard::query_parameters::LogsOptions;
use bollard::Docker;
use chrono::Utc;
use futures_util::{FutureExt, StreamExt};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::batch::{Batch, CountEntry};
use crate::checkpoint::ContainerCheckpoint;
use crate::decode::{DecodeSettings, Decoded, Decoder, EventFilter, ReadAt};
use crate::parse::{DockerLine, Stream};

use super::frame::{Frame, Utf8Carry};
use super::position::{FramePos, PositionTracker};
use super::selector::ContainerInfo;

/// Frames decoded at most before a batch is sent, so a flood is committed in pieces.
const MAX_BATCH_FRAMES: usize = 2_000;

/// An unchanged checkpoint is saved again this often, so that retention never prunes the
/// checkpoint of a quiet container still followed.
const CHECKPOINT_REFRESH: Duration = Duration::from_secs(3_600);

/// Everything one follow request needs.
pub struct FollowRequest {
    /// The engine.
    pub docker: Docker,
    /// The container.
    pub container: ContainerInfo,
    /// Where reading stands (from the start when `None`).
    pub from: Option<ContainerCheckpoint>,
    /// Which lines are events.
    pub filter: EventFilter,
    /// Chunk merging and multiline joining.
    pub settings: DecodeSettings,
    /// The writer.
    pub batches: mpsc::Sender<Batch>,
    /// Ends the request: the connection is being dropped, or the service stops.
    pub stop: CancellationToken,
    /// The service stops (then held lines are let go before the request ends).
    pub shutdown: CancellationToken,
    /// Wait this long before asking (a retry after a failed request).
    pub delay: Duration,
}

/// Why a follow request ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FollowEnd {
    /// The engine ended the answer: the container stopped (or its log ended).
    Ended,
    /// The request failed; the text says why.
    Failed(String),
    /// Stopped by us (reconnect or shutdown).
    Stopped,
}

/// What a finished follow request reports back.
#[derive(Debug)]
pub struct FollowOutcome {
    /// The container.
    pub container: ContainerInfo,
    /// Where reading stands now (also saved with the last batch).
    pub checkpoint: ContainerCheckpoint,
    /// Why it ended.
    pub end: FollowEnd,
}

/// Runs one follow request to its end.
pub async fn follow(request: FollowRequest) -> FollowOutcome {
    let mut follower = Follower::new(&request);
    let end = follower.run(&request).await;
    let checkpoint = follower.tracker.checkpoint(follower.decoder.held_from());
    FollowOutcome {
        container: request.container,
        checkpoint,
        end,
    }
}

/// The state of one request.
struct Follower {
    /// Frame numbering and checkpoints.
    tracker: PositionTracker,
    /// Frames to counted lines and events.
    decoder: Decoder<FramePos>,
    /// A character cut by a chunk boundary, per stream.
    carry: [Utf8Carry; 2],
    /// Decoded and not sent yet.
    out: Decoded,
    /// Bytes of the frames in `out`.
    bytes: u64,
    /// Time of the last frame, for frames without one.
    last_time: Option<chrono::DateTime<Utc>>,
    /// The checkpoint last sent.
    saved: Option<ContainerCheckpoint>,
    /// When it was sent.
    saved_at: Instant,
}

impl Follower {
    fn new(request: &FollowRequest) -> Follower {
        let service = std::sync::Arc::from(request.container.service.as_str());
        Follower {
            tracker: PositionTracker::resume(&request.container.id, request.from.as_ref()),
            decoder: Decoder::new(service, request.filter.clone(), &request.settings),
            carry: Default::default(),
            out: Decoded::default(),
            bytes: 0,
            last_time: None,
            saved: None,
            saved_at: Instant::now(),
        }
    }

    async fn run(&mut self, request: &FollowRequest) -> FollowEnd {
        if !request.delay.is_zero() {
            tokio::select! {
                _ = tokio::time::sleep(request.delay) => {}
                _ = request.stop.cancelled() => return FollowEnd::Stopped,
            }
        }
        let options = LogsOptions {
            follow: true,
            stdout: true,
            stderr: true,
            timestamps: true,
            // The API takes whole seconds here; the tracker's `skip` does the rest.
            since: i32::try_from(self.tracker.since()).unwrap_or(i32::MAX),
            ..Default::default()
        };
        let mut stream = request.docker.logs(&request.container.id, Some(options));
        // Saving the checkpoint at the start of every request keeps it young in the store.
        if !self.send(request, true).await {
            return FollowEnd::Stopped;
        }
        loop {
            let wake = self.next_wake();
            let first = tokio::select! {
                biased;
                _ = request.stop.cancelled() => {
                    if request.shutdown.is_cancelled() {
                        self.decoder.flush_all(&mut self.out);
                    }
                    self.send(request, false).await;
                    return FollowEnd::Stopped;
                }
                item = stream.next() => item,
                _ = tokio::time::sleep_until(wake) => {
                    self.decoder.flush_idle(&mut self.out);
                    let refresh = self.saved_at.elapsed() >= CHECKPOINT_REFRESH;
                    if !self.send(request, refresh).await {
                        return FollowEnd::Stopped;
                    }
                    continue;
                }
            };
            // Take what else has arrived already, and commit it as one batch.
            let mut item = Some(first);
            let mut frames = 0;
            while let Some(next) = item.take() {
                let read = ReadAt::now();
                match next {
                    Some(Ok(output)) => self.frame(output, read),
                    Some(Err(err)) => {
                        self.send(request, false).await;
                        return FollowEnd::Failed(err.to_string());
                    }
                    None => {
                        self.decoder.flush_all(&mut self.out);
                        self.send(request, false).await;
                        return FollowEnd::Ended;
                    }
                }
                frames += 1;
                if frames < MAX_BATCH_FRAMES {
                    item = stream.next().now_or_never();
                }
            }
            self.decoder.flush_idle(&mut self.out);
            if !self.send(request, false).await {
                return FollowEnd::Stopped;
            }
        }
    }

    /// When a held event is due to be let go, or the checkpoint to be saved again.
    fn next_wake(&self) -> Instant {
        let refresh = self.saved_at + CHECKPOINT_REFRESH;
        match self.decoder.next_flush() {
            Some(due) => refresh.min(Instant::from_std(due)),
            None => refresh,
        }
    }

    /// Decodes one frame, unless it was read before a restart.
    fn frame(&mut self, output: LogOutput, read: ReadAt) {
        let (stream, payload) = match output {
            LogOutput::StdErr { message } => (Stream::Stderr, message),
            // Console: a container with a TTY has one combined stream.
            LogOutput::StdOut { message } | LogOutput::Console { message } => {
                (Stream::Stdout, message)
            }
            LogOutput::StdIn { .. } => return,
        };
        let frame = Frame::parse(&payload);
        // Every frame takes a place in the numbering, also one without a time.
        let time = frame.time.or(self.last_time).unwrap_or(read.wall);
        self.last_time = Some(time);
        let (position, read_before) = self.tracker.next_frame(time);
        if read_before {
            return;
        }
        self.bytes += payload.len() as u64;
        let lane = match stream {
            Stream::Stdout => 0,
            Stream::Stderr => 1,
        };
        let log = self.carry[lane].decode(frame.text, frame.partial);
        let line = DockerLine {
            log,
            stream,
            time: frame.time,
            partial: frame.partial,
        };
        self.decoder
            .docker_line(line, position, read, &mut self.out);
    }

    /// Sends what was decoded with the checkpoint, when there is anything new (or `always`).
    /// False when the writer is gone.
    async fn send(&mut self, request: &FollowRequest, always: bool) -> bool {
        let checkpoint = self.tracker.checkpoint(self.decoder.held_from());
        let moved = self.saved.as_ref() != Some(&checkpoint);
        let read = !self.out.is_empty() || self.bytes > 0;
        if !read && !moved && !always {
            return true;
        }
        let mut batch = Batch::default();
        if read {
            let out = std::mem::take(&mut self.out);
            batch.counts.push(CountEntry {
                service: self.decoder.service().clone(),
                second: Utc::now().timestamp(),
                counts: out.counts,
                bytes: std::mem::take(&mut self.bytes),
            });
            batch.events = out.events;
        }
        batch.container_checkpoints.push(checkpoint.clone());
        if request.batches.send(batch).await.is_err() {
            return false;
        }
        self.saved = Some(checkpoint);
        self.saved_at = Instant::now();
        true
    }
}
