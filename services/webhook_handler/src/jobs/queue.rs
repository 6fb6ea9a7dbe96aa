//! One hook's queue: a running slot and a waiting slot. A new job takes the waiting slot,
//! superseding the job that was there; the hook's worker moves the waiting job to the running
//! slot when the running one is done and a global permit is free.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};

use futures_util::FutureExt;

use service_kit::storage::StorageError;
use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;

use super::output::LiveOutput;
use super::JobContext;
use crate::settings::Hook;
use crate::store::{Enqueued, JobStore, NewJob};

/// A hook's two slots.
#[derive(Debug, Default)]
pub struct HookQueue {
    /// The slots; the async mutex is held across the insert so that the database and the
    /// slots agree on which job waits.
    slots: tokio::sync::Mutex<Slots>,
    /// A copy of the slots for readers that must not wait (metrics, dashboard).
    shown: Mutex<(Option<i64>, Option<i64>)>,
    /// Wakes the worker when a job starts waiting.
    wake: Notify,
}

#[derive(Debug, Default, Clone, Copy)]
struct Slots {
    running: Option<i64>,
    waiting: Option<i64>,
}

impl HookQueue {
    /// Puts a job queued before a restart in the waiting slot.
    pub fn resume(&self, id: i64) {
        if let Ok(mut slots) = self.slots.try_lock() {
            slots.waiting = Some(id);
            self.show(*slots);
        }
        self.wake.notify_one();
    }

    /// Inserts `job`, superseding the waiting one, and wakes the worker.
    pub async fn submit(&self, store: &JobStore, job: NewJob) -> Result<Enqueued, StorageError> {
        let mut slots = self.slots.lock().await;
        let enqueued = store.enqueue(job, slots.waiting).await?;
        if let Enqueued::Queued(id) = enqueued {
            slots.waiting = Some(id);
            self.show(*slots);
            self.wake.notify_one();
        }
        Ok(enqueued)
    }

    /// (running, waiting), without waiting for the lock.
    pub fn slots(&self) -> (Option<i64>, Option<i64>) {
        *self.shown.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn show(&self, slots: Slots) {
        *self.shown.lock().unwrap_or_else(|p| p.into_inner()) = (slots.running, slots.waiting);
    }

    /// Moves the waiting job to the running slot.
    async fn start_waiting(&self) -> Option<i64> {
        let mut slots = self.slots.lock().await;
        let id = slots.waiting.take()?;
        slots.running = Some(id);
        self.show(*slots);
        Some(id)
    }

    async fn finish_running(&self) {
        let mut slots = self.slots.lock().await;
        slots.running = None;
        self.show(*slots);
    }

    async fn has_waiting(&self) -> bool {
        self.slots.lock().await.waiting.is_some()
    }
}

/// The task that runs one hook's jobs, one at a time.
pub struct Worker {
    /// The hook.
    pub hook: Arc<Hook>,
    /// Its queue.
    pub queue: Arc<HookQueue>,
    /// Global bound on jobs running at once.
    pub permits: Arc<Semaphore>,
    /// What jobs run with.
    pub context: Arc<JobContext>,
    /// Output of running jobs, shared with the HTTP side.
    pub running: Arc<Mutex<HashMap<i64, Arc<LiveOutput>>>>,
    /// Cancelled when the service stops.
    pub shutdown: CancellationToken,
}

impl Worker {
    /// Runs the hook's jobs until shutdown.
    pub async fn run(self) {
        loop {
            while !self.queue.has_waiting().await {
                tokio::select! {
                    _ = self.queue.wake.notified() => {}
                    _ = self.shutdown.cancelled() => return,
                }
            }
            let permit = tokio::select! {
                permit = self.permits.clone().acquire_owned() => match permit {
                    Ok(permit) => permit,
                    Err(_) => return,
                },
                _ = self.shutdown.cancelled() => return,
            };
            let Some(id) = self.queue.start_waiting().await else {
                continue;
            };
            let output = LiveOutput::new(self.context.limits.output_limit_bytes);
            self.running
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(id, output.clone());
            let job =
                super::runner::run_job(&self.context, &self.hook, id, &output, &self.shutdown);
            // A bug in running one job must not stop the hook's queue for good.
            if let Err(panic) = AssertUnwindSafe(job).catch_unwind().await {
                let what = service_kit::http_error::panic_message(panic.as_ref());
                tracing::error!(job = id, hook = %self.hook.id, panic = %what, "A job's runner panicked; the job is marked failed.");
                let finish = crate::store::Finish {
                    state: super::record::JobState::Failed,
                    reason: Some("internal error in the webhook handler (logged)".to_string()),
                    exit_code: None,
                    attempts: 0,
                    output: output.snapshot(),
                };
                let _ = self.context.store.finish(id, finish).await;
                output.end(super::record::JobState::Failed);
            }
            self.running
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&id);
            self.queue.finish_running().await;
            drop(permit);
        }
    }
}
