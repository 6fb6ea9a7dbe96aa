//! Jobs: accepted deliveries become jobs, queued per hook in the manner of CI concurrency
//! groups and run in the background.
//!
//! - At most one job runs per hook. While it runs, newer jobs wait, and only the newest
//!   waiting one is kept: the one it replaces ends `superseded` (recorded, in the same
//!   transaction as the new job). A flood of valid deliveries therefore never starts more
//!   than one process per hook.
//! - Different hooks run in parallel, at most `[jobs] max_parallel` at once.
//! - After a restart, jobs that were running are `interrupted` ([`crate::store`]) and the
//!   newest queued job of each hook runs.
//!
//! # Layout
//! - [`record`]: the job as stored and served, its states.
//! - `queue`: one hook's waiting and running slots, the committer that stores new jobs in
//!   bursts, and the worker that runs them.
//! - `runner`: one job from start to end: payload file, environment, attempts, outcome,
//!   notification.
//! - [`program`]: one program run in its own process group with a time limit.
//! - [`compose`]: which Compose program the machine has and the commands of an action.
//! - [`deploy`]: health-gated Compose deploys with automatic rollback.
//! - [`output`]: a running job's bounded output and its live feed.

pub mod compose;
pub mod deploy;
pub mod output;
pub mod program;
mod queue;
pub mod record;
mod runner;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use service_kit::storage::StorageError;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::metrics::Metrics;
use crate::notify::Notifier;
use crate::settings::{Hook, JobLimits};
use crate::store::{Enqueued, JobStore, NewJob};
use compose::ComposeCli;
use output::LiveOutput;
use queue::HookQueue;

/// What every job needs besides its hook.
pub struct JobContext {
    /// The database.
    pub store: JobStore,
    /// Where payload files are written while their job runs.
    pub payload_dir: PathBuf,
    /// Limits from `[jobs]`.
    pub limits: JobLimits,
    /// Environment variables never passed to commands.
    pub hidden_env: Arc<Vec<String>>,
    /// The Compose program, when the machine has one.
    pub compose: Option<ComposeCli>,
    /// Where outcomes are announced.
    pub notifier: Arc<Notifier>,
    /// Counters.
    pub metrics: Arc<Metrics>,
}

/// The job engine: queues, workers, and the output of running jobs.
pub struct Jobs {
    /// What jobs run with.
    context: Arc<JobContext>,
    /// Each hook's queue.
    queues: HashMap<String, Arc<HookQueue>>,
    /// Output of the jobs running now, by id.
    running: Arc<Mutex<HashMap<i64, Arc<LiveOutput>>>>,
    /// The workers.
    tasks: TaskTracker,
}

/// One hook's queue as `/metrics` and the dashboard show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueDepth {
    /// The hook.
    pub hook: String,
    /// The job running now.
    pub running: Option<i64>,
    /// The job waiting for it.
    pub waiting: Option<i64>,
}

impl Jobs {
    /// Starts one committer and one worker per hook, resuming the newest queued job of each
    /// hook (older queued ones are superseded by it). `shutdown` interrupts running jobs;
    /// `stop_accepting`, cancelled once no request can submit any more, ends the committers
    /// after they stored what was submitted.
    pub fn start(
        hooks: &[Arc<Hook>],
        context: JobContext,
        shutdown: CancellationToken,
        stop_accepting: CancellationToken,
    ) -> Result<Arc<Jobs>, StorageError> {
        let permits = Arc::new(Semaphore::new(context.limits.max_parallel));
        let mut queued: HashMap<String, Vec<i64>> = HashMap::new();
        for (hook, id) in context.store.queued()? {
            queued.entry(hook).or_default().push(id);
        }
        let mut receivers = HashMap::new();
        let queues: HashMap<String, Arc<HookQueue>> = hooks
            .iter()
            .map(|hook| {
                let (queue, received) = HookQueue::new();
                receivers.insert(hook.id.clone(), received);
                (hook.id.clone(), Arc::new(queue))
            })
            .collect();
        for (hook, mut ids) in queued {
            let Some(newest) = ids.pop() else { continue };
            match queues.get(&hook) {
                Some(queue) => {
                    context.store.supersede_stale(ids, newest)?;
                    queue.resume(newest);
                }
                None => {
                    // Its hook is gone from the config: nothing can run it.
                    ids.push(newest);
                    tracing::warn!(
                        hook,
                        jobs = ids.len(),
                        "Queued jobs of a hook no longer configured stay queued."
                    );
                }
            }
        }
        let jobs = Arc::new(Jobs {
            context: Arc::new(context),
            queues,
            running: Arc::new(Mutex::new(HashMap::new())),
            tasks: TaskTracker::new(),
        });
        for hook in hooks {
            let queue = jobs.queues[&hook.id].clone();
            let committer = queue::Committer {
                hook: hook.id.clone(),
                queue: queue.clone(),
                received: receivers.remove(&hook.id).expect("one receiver per hook"),
                context: jobs.context.clone(),
                stop: stop_accepting.clone(),
            };
            jobs.tasks.spawn(committer.run());
            let worker = queue::Worker {
                hook: hook.clone(),
                queue,
                permits: permits.clone(),
                context: jobs.context.clone(),
                running: jobs.running.clone(),
                shutdown: shutdown.clone(),
            };
            jobs.tasks.spawn(worker.run());
        }
        jobs.tasks.close();
        Ok(jobs)
    }

    /// Queues `job` for `hook`, replacing the job waiting there (which ends `superseded`).
    /// A delivery id seen in the last 7 days queues nothing.
    pub async fn submit(&self, hook: &str, job: NewJob) -> Result<Enqueued, StorageError> {
        let queue = self
            .queues
            .get(hook)
            .ok_or_else(|| StorageError::Task(format!("no queue for hook {hook}")))?;
        queue.submit(job).await
    }

    /// The live output of a running job.
    pub fn live(&self, id: i64) -> Option<Arc<LiveOutput>> {
        let running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        running.get(&id).cloned()
    }

    /// Every hook's queue, sorted by hook.
    pub fn depths(&self) -> Vec<QueueDepth> {
        let mut depths: Vec<QueueDepth> = self
            .queues
            .iter()
            .map(|(hook, queue)| {
                let slots = queue.slots();
                QueueDepth {
                    hook: hook.clone(),
                    running: slots.running,
                    waiting: slots.waiting,
                }
            })
            .collect();
        depths.sort_by(|a, b| a.hook.cmp(&b.hook));
        depths
    }

    /// Waits for the committers and workers to end (after both tokens are cancelled):
    /// running jobs are stopped and recorded `interrupted`; waiting ones stay queued for the
    /// next start.
    pub async fn stopped(&self) {
        self.tasks.wait().await;
    }

    /// The database.
    pub fn store(&self) -> &JobStore {
        &self.context.store
    }
}
