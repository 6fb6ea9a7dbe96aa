//! The writer: the one task that commits what the sources read. Each [`Batch`] is committed
//! in one transaction (events, counts and checkpoints together); then, and only then, its
//! events are printed to stdout (`[2024-06-12T01:23:45Z][api][ERROR] message`), its lines
//! counted for `/summary` and `/metrics`, and its events handed to the alerter. A batch
//! that cannot be stored is tried again with backoff, holding up the sources (the channel
//! is bounded) rather than losing lines.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use service_kit::backoff::Backoff;
use tokio::sync::mpsc;

use crate::alerting::Alerter;
use crate::batch::Batch;
use crate::event::{format_time, LogEvent};
use crate::store::{EventStore, LineCounter, Uncommitted};

/// First wait before storing a batch again; it doubles up to [`RETRY_MAX`].
const RETRY_FIRST: Duration = Duration::from_millis(200);
/// Longest wait between two attempts to store a batch.
const RETRY_MAX: Duration = Duration::from_secs(5);

/// What the writer commits to and reports to.
pub struct Writer {
    /// Where batches are committed.
    pub store: Arc<EventStore>,
    /// Lines read per service and level.
    pub counter: Arc<LineCounter>,
    /// Rules and sinks.
    pub alerter: Arc<Alerter>,
    /// Events kept since start (`/metrics`).
    pub events_total: Arc<AtomicU64>,
}

/// Bytes of stdout buffered before a write(2): a batch's events go out in few calls.
const STDOUT_BUFFER: usize = 64 * 1024;

/// Prints each event's [`stdout_line`](LogEvent::stdout_line), written piece by piece into
/// one buffer rather than formatted into a string per event; the time, the same for many
/// events in a row, is formatted once per second.
fn print_events(events: &[Arc<LogEvent>]) {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(STDOUT_BUFFER, stdout.lock());
    let mut time: Option<(i64, String)> = None;
    for event in events {
        let second = event.timestamp.timestamp();
        if time.as_ref().is_none_or(|(at, _)| *at != second) {
            time = Some((second, format_time(event.timestamp)));
        }
        let formatted = time.as_ref().map_or("", |(_, text)| text.as_str());
        let _ = write_stdout_line(&mut out, formatted, event);
    }
    let _ = out.flush();
}

/// `[time][service][LEVEL] message` and a newline, as [`LogEvent::stdout_line`] has it.
fn write_stdout_line(out: &mut impl Write, time: &str, event: &LogEvent) -> std::io::Result<()> {
    out.write_all(b"[")?;
    out.write_all(time.as_bytes())?;
    out.write_all(b"][")?;
    out.write_all(event.service.as_bytes())?;
    out.write_all(b"][")?;
    out.write_all(event.level.label().as_bytes())?;
    out.write_all(b"] ")?;
    out.write_all(event.message.as_bytes())?;
    out.write_all(b"\n")
}

impl Writer {
    /// Commits batches until every sender is gone; after each commit prints its events,
    /// counts its lines and alerts.
    pub async fn run(self, mut received: mpsc::Receiver<Batch>) {
        while let Some(batch) = received.recv().await {
            let counts = batch.counts.clone();
            let Some(events) = self.commit(batch).await else {
                // Going on would commit later batches whose checkpoints pass over these
                // lines: stop instead (the supervisor then stops the service), and the
                // lines are read again, from the last stored checkpoint, after the restart.
                return;
            };
            for entry in &counts {
                self.counter
                    .add(&entry.service, entry.second, &entry.counts, entry.bytes);
            }
            if events.is_empty() {
                continue;
            }
            print_events(&events);
            self.events_total
                .fetch_add(events.len() as u64, Ordering::Relaxed);
            for event in &events {
                self.alerter.handle(event);
            }
        }
    }

    /// Commits `batch`, trying again with backoff while the database refuses it; `None`
    /// when the database task itself is gone (its lines are read again after a restart,
    /// since their checkpoints were not stored either).
    async fn commit(&self, mut batch: Batch) -> Option<Vec<Arc<crate::event::LogEvent>>> {
        let mut backoff = Backoff::new(RETRY_FIRST, RETRY_MAX);
        loop {
            match self.store.commit(batch).await {
                Ok(events) => return Some(events),
                Err(Uncommitted {
                    error,
                    batch: Some(back),
                }) => {
                    let delay = backoff.next_delay();
                    let attempt = backoff.failures();
                    tracing::error!(%error, attempt, "Could not store a batch of log lines; retrying.");
                    tokio::time::sleep(delay).await;
                    batch = back;
                }
                Err(Uncommitted { error, batch: None }) => {
                    tracing::error!(%error, "Could not store a batch of log lines and the database is gone; stopping, to read them again after a restart.");
                    return None;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::Level;
    use chrono::{TimeZone, Utc};

    #[test]
    fn the_written_line_is_the_events_stdout_line() {
        let event = LogEvent {
            id: 1,
            timestamp: Utc.with_ymd_and_hms(2024, 6, 12, 1, 23, 45).unwrap()
                + chrono::Duration::milliseconds(678),
            service: Arc::from("api"),
            level: Level::Warning,
            message: "disk at 91%\nsecond line".to_string(),
        };
        let mut out = Vec::new();
        write_stdout_line(&mut out, &format_time(event.timestamp), &event).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            format!("{}\n", event.stdout_line())
        );
    }
}
