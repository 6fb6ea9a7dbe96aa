//! Writes verified deliveries to the audit trail in SQLite in batches, off the request path:
//! a delivery is answered without waiting for the disk, and a burst of them costs one
//! transaction per batch. The queue in front of the writer is bounded; when it is full the
//! record is dropped and counted (its job, if any, is stored regardless), so a flood can
//! never grow memory.

use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::deliveries::DeliveryRecord;
use crate::store::JobStore;

/// Records waiting for the writer, at most.
const QUEUE: usize = 8192;

/// Records written in one transaction, at most.
const BATCH: usize = 512;

/// The sending side, held by the HTTP handlers.
pub struct AuditTrail {
    /// To the writer task.
    queue: mpsc::Sender<(i64, DeliveryRecord)>,
    /// Records dropped because the queue was full.
    dropped: AtomicU64,
}

impl AuditTrail {
    /// Starts the writer; it stops when `shutdown` is cancelled, after writing what it has.
    pub fn start(
        store: JobStore,
        shutdown: CancellationToken,
    ) -> (AuditTrail, tokio::task::JoinHandle<()>) {
        let (queue, received) = mpsc::channel(QUEUE);
        let writer = tokio::spawn(write(store, received, shutdown));
        (
            AuditTrail {
                queue,
                dropped: AtomicU64::new(0),
            },
            writer,
        )
    }

    /// Queues `record` (received at `ms`) for the audit trail.
    pub fn store(&self, ms: i64, record: DeliveryRecord) {
        if self.queue.try_send((ms, record)).is_err() {
            let before = self.dropped.fetch_add(1, Ordering::Relaxed);
            if before.is_power_of_two() {
                tracing::warn!(
                    dropped = before + 1,
                    "Audit trail writer is behind; delivery records dropped."
                );
            }
        }
    }

    /// Records dropped so far.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

async fn write(
    store: JobStore,
    mut received: mpsc::Receiver<(i64, DeliveryRecord)>,
    shutdown: CancellationToken,
) {
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        let open = tokio::select! {
            n = received.recv_many(&mut batch, BATCH) => n > 0,
            _ = shutdown.cancelled() => {
                received.close();
                while let Ok(record) = received.try_recv() {
                    batch.push(record);
                }
                false
            }
        };
        if !batch.is_empty() {
            if let Err(err) = store.record_deliveries(std::mem::take(&mut batch)).await {
                tracing::error!(%err, "Cannot write delivery records to the audit trail.");
            }
        }
        if !open {
            return;
        }
    }
}
