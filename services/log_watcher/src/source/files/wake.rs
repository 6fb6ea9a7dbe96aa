//! Waking the reading loop when a watched folder changes (Linux inotify), so a line is read
//! within milliseconds of being written while idle files cost nothing between polls. The
//! loop still polls every `poll_interval_ms`: inotify can be unavailable (bind mounts of some
//! Docker Desktop setups, exhausted watch limits) and then polling alone keeps it correct.

use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use futures_util::StreamExt;
use inotify::{Inotify, WatchMask, Watches};
use tokio_util::sync::CancellationToken;

/// The reading loop's side: watch folders, wait for a change.
pub struct Wakeup {
    /// The inotify watch list, to add folders to.
    watches: Watches,
    /// Fires (once, however many changes) when a watched folder changed.
    changed: mpsc::Receiver<()>,
}

impl Wakeup {
    /// Starts watching (nothing yet) on the current Tokio runtime; `None` when inotify is
    /// unavailable. The watcher task ends with `shutdown`.
    pub fn start(shutdown: CancellationToken) -> Option<Wakeup> {
        let inotify = match Inotify::init() {
            Ok(inotify) => inotify,
            Err(err) => {
                tracing::warn!(%err, "inotify is unavailable; polling log files only.");
                return None;
            }
        };
        let stream = match inotify.into_event_stream(vec![0u8; 4096]) {
            Ok(stream) => stream,
            Err(err) => {
                tracing::warn!(%err, "inotify is unavailable; polling log files only.");
                return None;
            }
        };
        let watches = stream.watches();
        // One pending wake-up is enough: the loop reads everything when it wakes.
        let (notify, changed) = mpsc::sync_channel(1);
        tokio::spawn(async move {
            let mut stream = stream;
            loop {
                tokio::select! {
                    event = stream.next() => match event {
                        Some(Ok(_)) => {
                            let _ = notify.try_send(());
                        }
                        Some(Err(err)) => {
                            tracing::warn!(%err, "inotify failed; polling log files only.");
                            return;
                        }
                        None => return,
                    },
                    _ = shutdown.cancelled() => {
                        let _ = notify.try_send(());
                        return;
                    }
                }
            }
        });
        Some(Wakeup { watches, changed })
    }

    /// Watches `dir` for files written, created, moved or deleted in it. Returns `false` when
    /// the folder does not exist yet, so it is tried again at the next discovery.
    pub fn watch(&self, dir: &Path) -> bool {
        let mask = WatchMask::MODIFY
            | WatchMask::CREATE
            | WatchMask::MOVED_TO
            | WatchMask::MOVED_FROM
            | WatchMask::DELETE
            | WatchMask::CLOSE_WRITE;
        match self.watches.clone().add(dir, mask) {
            Ok(_) => true,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => false,
            Err(err) => {
                // Not retried: the folder is polled like every other.
                tracing::warn!(dir = %dir.display(), %err, "Cannot watch folder; polling it.");
                true
            }
        }
    }

    /// Blocks until a watched folder changes or `at_most` passes; whether one changed (or
    /// may have: once inotify has failed, every wait lasts `at_most` and answers yes, so the
    /// loop polls and discovers as it does without inotify).
    pub fn wait(&self, at_most: Duration) -> bool {
        match self.changed.recv_timeout(at_most) {
            Ok(()) => true,
            Err(mpsc::RecvTimeoutError::Timeout) => false,
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                // The watcher has stopped: without this sleep the loop would spin.
                std::thread::sleep(at_most);
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_change_in_a_watched_folder_wakes_the_wait_and_quiet_lets_it_time_out() {
        let dir = tempfile::tempdir().unwrap();
        let shutdown = CancellationToken::new();
        let wakeup = Wakeup::start(shutdown.clone()).expect("inotify on this machine");
        assert!(wakeup.watch(dir.path()));
        let path = dir.path().join("app.log");
        let woken = tokio::task::spawn_blocking(move || {
            let quiet = wakeup.wait(Duration::from_millis(50));
            std::fs::write(&path, "line\n").unwrap();
            let changed = wakeup.wait(Duration::from_secs(10));
            (quiet, changed)
        })
        .await
        .unwrap();
        assert_eq!(woken, (false, true));
        shutdown.cancel();
    }

    #[test]
    fn once_the_watcher_has_stopped_a_wait_lasts_its_time_and_answers_changed() {
        let inotify = Inotify::init().expect("inotify on this machine");
        let (notify, changed) = mpsc::sync_channel(1);
        drop(notify);
        let wakeup = Wakeup {
            watches: inotify.watches(),
            changed,
        };
        let started = Instant::now();
        assert!(wakeup.wait(Duration::from_millis(100)));
        assert!(
            started.elapsed() >= Duration::from_millis(100),
            "no spinning"
        );
    }
}
