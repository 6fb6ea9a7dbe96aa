//! One hook's queue: a running slot and a waiting slot, and the two tasks that serve them.
//!
//! - The committer takes new jobs in bursts and inserts each burst in one transaction (a
//!   flood of deliveries costs one commit per burst, not one per delivery); each new job
//!   takes the waiting slot and supersedes the job that was there. It runs apart from the
//!   request that submitted the job, so a sender that hangs up mid-request cannot leave a
//!   stored job outside the queue.
//! - The worker moves the waiting job to the running slot when the running one is done and
//!   a global permit is free, and runs it.
//!
//! The slots are locked for the whole of a commit, so the worker never starts a job that
//! the commit is superseding.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};

use futures_util::FutureExt;
use service_kit::storage::StorageError;
use tokio::sync::{mpsc, oneshot, Notify, Semaphore};
use tokio_util::sync::CancellationToken;

use super::output::LiveOutput;
use super::record::JobState;
use super::JobContext;
use crate::settings::Hook;
use crate::store::{Enqueued, EnqueuedBatch, Finish, NewJob};

/// Jobs a committer takes into one transaction, at most.
const BURST: usize = 256;

/// Jobs waiting for the committer, at most; submitters wait beyond that.
const SUBMISSIONS: usize = 1024;

/// A job handed to the committer, and where its outcome goes.
type Submission = (NewJob, oneshot::Sender<Result<Enqueued, StorageError>>);

/// A hook's two slots.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Slots {
    /// The job running now.
    pub running: Option<i64>,
    /// The job waiting for it.
    pub waiting: Option<i64>,
}

/// A hook's queue, shared by its submitters, committer and worker.
#[derive(Debug)]
pub struct HookQueue {
    /// The slots; locked (briefly, or for one commit) by the committer and the worker.
    slots: Arc<Mutex<Slots>>,
    /// A copy of the slots for readers that must not wait for a commit (metrics, pages).
    shown: Mutex<Slots>,
    /// To the committer.
    submissions: mpsc::Sender<Submission>,
    /// Wakes the worker when a job starts waiting.
    wake: Notify,
}

impl HookQueue {
    /// A queue whose committer reads from the returned receiver.
    pub fn new() -> (HookQueue, mpsc::Receiver<Submission>) {
        let (submissions, received) = mpsc::channel(SUBMISSIONS);
        let queue = HookQueue {
            slots: Arc::default(),
            shown: Mutex::default(),
            submissions,
            wake: Notify::new(),
        };
        (queue, received)
    }

    /// Puts a job queued before a restart in the waiting slot.
    pub fn resume(&self, id: i64) {
        self.update(|slots| slots.waiting = Some(id));
        self.wake.notify_one();
    }

    /// Hands `job` to the committer and waits for what became of it. Once handed over, the
    /// job is stored and queued even if this future is dropped.
    pub async fn submit(&self, job: NewJob) -> Result<Enqueued, StorageError> {
        let (reply, outcome) = oneshot::channel();
        self.submissions
            .send((job, reply))
            .await
            .map_err(|_| StorageError::Task("the job queue is shutting down".to_string()))?;
        outcome
            .await
            .map_err(|_| StorageError::Task("the job queue stopped before answering".to_string()))?
    }

    /// (running, waiting), without waiting for a commit.
    pub fn slots(&self) -> Slots {
        *self.shown.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn update(&self, change: impl FnOnce(&mut Slots)) {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        change(&mut slots);
        *self.shown.lock().unwrap_or_else(|p| p.into_inner()) = *slots;
    }

    /// Moves the waiting job to the running slot.
    fn start_waiting(&self) -> Option<i64> {
        let mut started = None;
        self.update(|slots| {
            started = slots.waiting.take();
            slots.running = started;
        });
        started
    }

    fn finish_running(&self) {
        self.update(|slots| slots.running = None);
    }

    fn has_waiting(&self) -> bool {
        self.slots().waiting.is_some()
    }
}

/// The task that stores one hook's new jobs in bursts.
pub struct Committer {
    /// The hook's id (for counters).
    pub hook: String,
    /// Its queue.
    pub queue: Arc<HookQueue>,
    /// Submitted jobs.
    pub received: mpsc::Receiver<Submission>,
    /// What jobs run with (the store, the counters).
    pub context: Arc<JobContext>,
    /// Cancelled once no request can submit any more: the committer stores what is left
    /// and ends.
    pub stop: CancellationToken,
}

impl Committer {
    /// Stores bursts until stopped.
    pub async fn run(mut self) {
        let mut burst = Vec::with_capacity(BURST);
        loop {
            let open = tokio::select! {
                n = self.received.recv_many(&mut burst, BURST) => n > 0,
                _ = self.stop.cancelled() => {
                    self.received.close();
                    while let Ok(submission) = self.received.try_recv() {
                        burst.push(submission);
                    }
                    false
                }
            };
            if !burst.is_empty() {
                self.commit(std::mem::take(&mut burst)).await;
            }
            if !open {
                return;
            }
        }
    }

    async fn commit(&self, burst: Vec<Submission>) {
        let (jobs, replies): (Vec<NewJob>, Vec<_>) = burst.into_iter().unzip();
        let store = self.context.store.clone();
        let queue = self.queue.clone();
        let committed = tokio::task::spawn_blocking(move || {
            let mut slots = queue.slots.lock().unwrap_or_else(|p| p.into_inner());
            let batch = store.enqueue_batch(jobs, slots.waiting)?;
            slots.waiting = batch.waiting;
            *queue.shown.lock().unwrap_or_else(|p| p.into_inner()) = *slots;
            Ok::<EnqueuedBatch, StorageError>(batch)
        })
        .await
        .unwrap_or_else(|e| Err(StorageError::Task(e.to_string())));
        match committed {
            Ok(batch) => {
                for _ in 0..batch.superseded {
                    self.context
                        .metrics
                        .job_finished(&self.hook, JobState::Superseded, None);
                }
                let mut lines = crate::event_log::Lines::default();
                for result in &batch.results {
                    if let Enqueued::Queued(id) = result {
                        lines.info(&format!("Queued job {id} for hook {}.", self.hook));
                    }
                }
                // Said before the worker can start the job.
                lines.flush();
                if batch.waiting.is_some() {
                    self.queue.wake.notify_one();
                }
                for (reply, result) in replies.into_iter().zip(batch.results) {
                    let _ = reply.send(Ok(result));
                }
            }
            Err(err) => {
                tracing::error!(hook = %self.hook, %err, "Cannot store new jobs.");
                for reply in replies {
                    let _ = reply.send(Err(StorageError::Task(err.to_string())));
                }
            }
        }
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
    /// Cancelled when the service stops: the running job is interrupted.
    pub shutdown: CancellationToken,
}

impl Worker {
    /// Runs the hook's jobs until shutdown.
    pub async fn run(self) {
        loop {
            while !self.queue.has_waiting() {
                tokio::select! {
                    biased;
                    _ = self.shutdown.cancelled() => return,
                    _ = self.queue.wake.notified() => {}
                }
            }
            // A stopping service starts nothing new: the waiting job stays queued for the
            // next start.
            let permit = tokio::select! {
                biased;
                _ = self.shutdown.cancelled() => return,
                permit = self.permits.clone().acquire_owned() => match permit {
                    Ok(permit) => permit,
                    Err(_) => return,
                },
            };
            let Some(id) = self.queue.start_waiting() else {
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
                let finish = Finish {
                    state: JobState::Failed,
                    reason: Some("internal error in the webhook handler (logged)".to_string()),
                    exit_code: None,
                    attempts: 0,
                    output: output.snapshot(),
                };
                let _ = self.context.store.finish(id, finish).await;
                output.end(JobState::Failed);
            }
            self.running
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&id);
            self.queue.finish_running();
            drop(permit);
        }
    }
}
