//! Where reading of one container's log stands, in terms the Engine API can resume from.
//!
//! The API cannot seek. `GET /containers/ID/logs?since=S` returns every frame whose time is
//! at or after `S`, in the order the log driver stored them; nothing else. Frame times are
//! not strictly increasing in that order (stdout and stderr are timestamped by two copiers
//! and then written one after the other), so "resume after timestamp T" could skip a frame
//! stored later with an earlier time, or repeat one stored earlier with a later time.
//!
//! A position is therefore a [`ContainerCheckpoint`] `(since, skip)`: ask for `since`
//! (whole seconds) and drop the first `skip` frames of the answer, because they were read
//! before. That is exact whatever the order of times, as long as the driver hands out the
//! same frames in the same order (it reads the same file). `since` is chosen a little
//! before the time of the frame at the position ([`ANCHOR_MARGIN_SECS`]), so that frames
//! stored after it with a slightly earlier time are still in the answer, and never before
//! the `since` of the current request, whose answer is all the [`PositionTracker`] knows.

use std::collections::VecDeque;

use chrono::{DateTime, Utc};

use crate::checkpoint::ContainerCheckpoint;

/// How far before the time of the frame at the position `since` is put, in seconds: more
/// than any reordering between stdout and stderr (microseconds in practice).
pub const ANCHOR_MARGIN_SECS: i64 = 2;

/// Runs of frames older than the anchor by more than this are forgotten, in seconds.
const FORGET_AFTER_SECS: i64 = 10;

/// Where one frame sits in the answer to one logs request: the position type of the
/// decoder of this source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FramePos {
    /// Ordinal of the frame in the answer, from 0 (frames skipped as read before included).
    pub seq: u64,
    /// Docker's timestamp of the frame.
    pub time: DateTime<Utc>,
}

/// Consecutive frames whose times fall in the same whole second.
#[derive(Debug, Clone, Copy)]
struct Run {
    /// The unix second.
    second: i64,
    /// Ordinal of the first frame of the run.
    first_seq: u64,
    /// Frames in the run.
    count: u64,
}

/// Numbers the frames of one logs request and turns any position into a checkpoint.
#[derive(Debug)]
pub struct PositionTracker {
    /// The container.
    container_id: String,
    /// `since` of the request.
    since: i64,
    /// Frames at the start of the answer still to be skipped (read before).
    skip_left: u64,
    /// Ordinal of the next frame.
    next_seq: u64,
    /// Time of the last frame.
    last_time: Option<DateTime<Utc>>,
    /// Frames seen, by second, oldest first; old runs are forgotten.
    runs: VecDeque<Run>,
}

impl PositionTracker {
    /// A tracker for a request resuming from `from` (from the start when `None`).
    pub fn resume(container_id: &str, from: Option<&ContainerCheckpoint>) -> PositionTracker {
        PositionTracker {
            container_id: container_id.to_string(),
            since: from.map_or(0, |c| c.since.max(0)),
            skip_left: from.map_or(0, |c| c.skip),
            next_seq: 0,
            last_time: None,
            runs: VecDeque::new(),
        }
    }

    /// The `since` to request, in unix seconds (0: everything).
    pub fn since(&self) -> i64 {
        self.since
    }

    /// Takes note of the next frame of the answer, written at `time`. Returns its position,
    /// and `true` when it was read before and must be skipped.
    pub fn next_frame(&mut self, time: DateTime<Utc>) -> (FramePos, bool) {
        let pos = FramePos {
            seq: self.next_seq,
            time,
        };
        self.next_seq += 1;
        self.last_time = Some(time);
        let second = time.timestamp();
        match self.runs.back_mut() {
            Some(run) if run.second == second => run.count += 1,
            _ => self.runs.push_back(Run {
                second,
                first_seq: pos.seq,
                count: 1,
            }),
        }
        let skip = self.skip_left > 0;
        self.skip_left = self.skip_left.saturating_sub(1);
        (pos, skip)
    }

    /// The checkpoint saying "every frame before the first of `held` is done", or, when
    /// nothing is held, "every frame seen is done". Forgets what no later checkpoint needs.
    pub fn checkpoint(&mut self, held: impl Iterator<Item = FramePos>) -> ContainerCheckpoint {
        let Some(last_time) = self.last_time else {
            // Nothing seen yet: still where the request started.
            return ContainerCheckpoint {
                container_id: self.container_id.clone(),
                since: self.since,
                skip: self.skip_left,
            };
        };
        let (before, time) = match held.min_by_key(|p| p.seq) {
            Some(first) => (first.seq, first.time),
            None => (self.next_seq, last_time),
        };
        let since = (time.timestamp() - ANCHOR_MARGIN_SECS).max(self.since);
        // Skipped frames at the start count too: they are in the answer to `since`.
        let skip = self
            .runs
            .iter()
            .filter(|run| run.second >= since)
            .map(|run| before.saturating_sub(run.first_seq).min(run.count))
            .sum();
        while self.runs.front().is_some_and(|run| {
            run.second < since - FORGET_AFTER_SECS && run.first_seq + run.count <= before
        }) {
            self.runs.pop_front();
        }
        ContainerCheckpoint {
            container_id: self.container_id.clone(),
            since,
            skip,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(second: i64, millis: i64) -> DateTime<Utc> {
        Utc.timestamp_millis_opt(second * 1000 + millis).unwrap()
    }

    /// What Docker answers to `since`: the frames at or after it, in stored order.
    fn answer(frames: &[DateTime<Utc>], since: i64) -> Vec<DateTime<Utc>> {
        frames
            .iter()
            .copied()
            .filter(|t| t.timestamp() >= since)
            .collect()
    }

    #[test]
    fn a_resumed_request_skips_exactly_the_frames_read_before_even_when_times_go_backwards() {
        // Stored order; the third frame (stderr) was timestamped before the second.
        let stored = [
            at(100, 0),
            at(103, 999),
            at(104, 1),
            at(103, 998),
            at(104, 500),
            at(105, 0),
        ];
        for read in 0..=stored.len() {
            let mut tracker = PositionTracker::resume("c", None);
            for time in &stored[..read] {
                assert!(!tracker.next_frame(*time).1);
            }
            let checkpoint = tracker.checkpoint(std::iter::empty());
            let mut resumed = PositionTracker::resume("c", Some(&checkpoint));
            let fresh: Vec<_> = answer(&stored, resumed.since())
                .into_iter()
                .filter(|t| !resumed.next_frame(*t).1)
                .collect();
            assert_eq!(
                fresh,
                stored[read..].to_vec(),
                "after reading {read} frames: {checkpoint:?}"
            );
        }
    }

    #[test]
    fn a_held_frame_is_read_again_after_a_restart() {
        let stored = [at(200, 0), at(200, 0), at(201, 0), at(202, 0)];
        let mut tracker = PositionTracker::resume("c", None);
        let positions: Vec<FramePos> = stored.iter().map(|t| tracker.next_frame(*t).0).collect();
        // Frames 1.. are an unfinished event: the checkpoint stays at frame 1.
        let checkpoint = tracker.checkpoint([positions[2], positions[1]].into_iter());
        let mut resumed = PositionTracker::resume("c", Some(&checkpoint));
        let fresh: Vec<_> = answer(&stored, resumed.since())
            .into_iter()
            .filter(|t| !resumed.next_frame(*t).1)
            .collect();
        assert_eq!(fresh, stored[1..].to_vec());
    }

    #[test]
    fn a_checkpoint_of_a_resumed_request_counts_the_skipped_frames() {
        let stored: Vec<_> = (0..50).map(|i| at(1000 + i / 10, i % 10)).collect();
        let mut first = PositionTracker::resume("c", None);
        for time in &stored[..23] {
            first.next_frame(*time);
        }
        let checkpoint = first.checkpoint(std::iter::empty());
        // Resume, read nothing new yet but the skipped frames, and checkpoint again.
        let mut second = PositionTracker::resume("c", Some(&checkpoint));
        for time in answer(&stored, second.since())
            .iter()
            .take(checkpoint.skip as usize)
        {
            assert!(second.next_frame(*time).1);
        }
        let again = second.checkpoint(std::iter::empty());
        let mut third = PositionTracker::resume("c", Some(&again));
        let fresh: Vec<_> = answer(&stored, third.since())
            .into_iter()
            .filter(|t| !third.next_frame(*t).1)
            .collect();
        assert_eq!(fresh, stored[23..].to_vec());
    }

    #[test]
    fn old_runs_are_forgotten() {
        let mut tracker = PositionTracker::resume("c", None);
        for second in 0..1000 {
            tracker.next_frame(at(second, 0));
            tracker.checkpoint(std::iter::empty());
        }
        assert!(tracker.runs.len() <= (ANCHOR_MARGIN_SECS + FORGET_AFTER_SECS + 2) as usize);
    }
}
