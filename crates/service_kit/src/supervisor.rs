//! Supervision of a service's long-lived tasks (readers, writers, schedulers, pollers): they
//! only ever end when the service stops, so one that panics, or ends while the service is
//! not stopping, would leave it serving a frozen state that looks healthy. The first such
//! failure is logged once, `/livez` answers 503 from then on ([`Supervisor::is_alive`]),
//! and, after a grace period that lets a health probe see the 503, the shutdown token is
//! cancelled, so the service's `run` returns an error and the process exits non-zero, for
//! Docker (`restart: unless-stopped`) to start a fresh one.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::FutureExt;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How long a service whose task failed goes on answering (`/livez` 503) before it stops:
/// long enough for a health probe to see it.
pub const FAILURE_GRACE: Duration = Duration::from_secs(1);

/// The first task that failed, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskFailure {
    /// The task's name (`reader`, `writer`, `scheduler`, ...).
    pub task: &'static str,
    /// What happened: `panicked: MESSAGE` or `stopped on its own`.
    pub reason: String,
}

impl std::fmt::Display for TaskFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the {} task {}", self.task, self.reason)
    }
}

/// Watches the tasks of one run of a service. See the module documentation.
#[derive(Debug)]
pub struct Supervisor {
    /// The service's shutdown: ends after it are normal; cancelled after the first failure.
    shutdown: CancellationToken,
    /// How long the service goes on answering after a failure before it stops.
    grace: Duration,
    /// The first failure.
    failure: Mutex<Option<TaskFailure>>,
    /// The async tasks, to wait for at the end ([`join_all`](Self::join_all)).
    tasks: TaskTracker,
}

impl Supervisor {
    /// A supervisor that cancels `shutdown` `grace` after the first failure (at once when
    /// `grace` is zero).
    pub fn new(shutdown: CancellationToken, grace: Duration) -> Arc<Supervisor> {
        Arc::new(Supervisor {
            shutdown,
            grace,
            failure: Mutex::new(None),
            tasks: TaskTracker::new(),
        })
    }

    /// Spawns `task` on the runtime under supervision.
    pub fn spawn<F>(self: &Arc<Self>, name: &'static str, task: F) -> JoinHandle<()>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let supervisor = self.clone();
        self.tasks.spawn(async move {
            // Caught here, with the task's name, rather than found later in a JoinError.
            let ended = std::panic::AssertUnwindSafe(task).catch_unwind().await;
            supervisor.ended(name, ended.map_err(|panic| describe(panic.as_ref())));
        })
    }

    /// Starts `task` on a thread of its own named `thread_name`, under supervision as `name`.
    pub fn spawn_thread<F>(
        self: &Arc<Self>,
        name: &'static str,
        thread_name: &str,
        task: F,
    ) -> std::io::Result<std::thread::JoinHandle<()>>
    where
        F: FnOnce() + Send + 'static,
    {
        let supervisor = self.clone();
        std::thread::Builder::new()
            .name(thread_name.to_string())
            .spawn(move || {
                let ended = std::panic::catch_unwind(std::panic::AssertUnwindSafe(task));
                supervisor.ended(name, ended.map_err(|panic| describe(panic.as_ref())));
            })
    }

    /// The first failure, if any task failed.
    pub fn failure(&self) -> Option<TaskFailure> {
        self.failure
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Whether no task has failed: what `/livez` says.
    pub fn is_alive(&self) -> bool {
        self.failure().is_none()
    }

    /// Waits for every async task to end (after shutdown; threads are the caller's to join).
    pub async fn join_all(&self) {
        self.tasks.close();
        self.tasks.wait().await;
    }

    /// Records how `task` ended: a panic always fails; a normal end fails unless the
    /// service is stopping. The first failure is kept, except that a panic replaces an end:
    /// a task that panics lets go of what it held while it unwinds, and the task waiting on
    /// that (a writer on a reader's channel) may end before the panic is recorded.
    fn ended(&self, task: &'static str, outcome: Result<(), String>) {
        let (reason, panicked) = match outcome {
            Err(panic) => (format!("panicked: {panic}"), true),
            Ok(()) if self.shutdown.is_cancelled() => return,
            Ok(()) => ("stopped on its own".to_string(), false),
        };
        let failure = TaskFailure { task, reason };
        let first = {
            let mut recorded = self.failure.lock().unwrap_or_else(|p| p.into_inner());
            let first = recorded.is_none();
            let replaces = match &*recorded {
                None => true,
                Some(earlier) => panicked && !earlier.reason.starts_with("panicked"),
            };
            if !replaces {
                return;
            }
            *recorded = Some(failure.clone());
            first
        };
        tracing::error!(
            task,
            reason = %failure.reason,
            "A task of the service failed; /livez answers 503 and the service stops, to be restarted."
        );
        if first {
            self.stop_after_grace();
        }
    }

    /// Cancels the shutdown token once the grace period has passed (from a thread of its
    /// own: a failure may be recorded on a thread outside the runtime).
    fn stop_after_grace(&self) {
        if self.grace.is_zero() {
            self.shutdown.cancel();
            return;
        }
        let (shutdown, grace) = (self.shutdown.clone(), self.grace);
        let started = std::thread::Builder::new()
            .name("supervisor-grace".to_string())
            .spawn(move || {
                std::thread::sleep(grace);
                shutdown.cancel();
            });
        if started.is_err() {
            self.shutdown.cancel();
        }
    }
}

fn describe(panic: &(dyn std::any::Any + Send)) -> String {
    crate::http_error::panic_message(panic)
}

/// Test hook, in debug builds only: when the environment variable `variable` names `task`
/// (`LOG_WATCHER_INJECT_PANIC=writer`), this panics, so that tests can watch supervision
/// work on the real binary. Release builds have no such hook.
pub fn injected_panic(variable: &str, task: &str) {
    #[cfg(debug_assertions)]
    if std::env::var(variable).is_ok_and(|wanted| wanted == task) {
        panic!("injected panic in the {task} task ({variable})");
    }
    #[cfg(not(debug_assertions))]
    let _ = (variable, task);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_task_that_panics_fails_the_service_and_cancels_the_token() {
        let shutdown = CancellationToken::new();
        let supervisor = Supervisor::new(shutdown.clone(), Duration::ZERO);
        let calm = supervisor.spawn("housekeeping", {
            let shutdown = shutdown.clone();
            async move { shutdown.cancelled().await }
        });
        assert!(supervisor.is_alive());
        supervisor
            .spawn("writer", async { panic!("disk on fire") })
            .await
            .unwrap();
        assert_eq!(
            supervisor.failure(),
            Some(TaskFailure {
                task: "writer",
                reason: "panicked: disk on fire".to_string()
            })
        );
        assert!(!supervisor.is_alive());
        assert!(shutdown.is_cancelled());
        tokio::time::timeout(Duration::from_secs(1), calm)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            supervisor.failure().unwrap().task,
            "writer",
            "the first failure stays"
        );
        tokio::time::timeout(Duration::from_secs(1), supervisor.join_all())
            .await
            .expect("every task ended");
    }

    #[tokio::test]
    async fn a_task_ending_early_fails_but_ending_on_shutdown_does_not() {
        let shutdown = CancellationToken::new();
        let supervisor = Supervisor::new(shutdown.clone(), Duration::ZERO);
        supervisor
            .spawn_thread("reader", "test-reader", || {})
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(
            supervisor.failure().unwrap().to_string(),
            "the reader task stopped on its own"
        );
        assert!(shutdown.is_cancelled());

        let shutdown = CancellationToken::new();
        let supervisor = Supervisor::new(shutdown.clone(), Duration::ZERO);
        shutdown.cancel();
        supervisor.spawn("docker_api", async {}).await.unwrap();
        supervisor
            .spawn_thread("reader", "test-reader", || {})
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(supervisor.failure(), None);
    }

    #[tokio::test]
    async fn a_panic_is_the_failure_even_when_a_task_waiting_on_it_ended_first() {
        let shutdown = CancellationToken::new();
        let supervisor = Supervisor::new(shutdown.clone(), Duration::ZERO);
        supervisor.spawn("writer", async {}).await.unwrap();
        supervisor
            .spawn_thread("reader", "test-reader", || panic!("bad inode"))
            .unwrap()
            .join()
            .unwrap();
        supervisor
            .spawn("housekeeping", async { panic!("later") })
            .await
            .unwrap();
        assert_eq!(
            supervisor.failure().unwrap().to_string(),
            "the reader task panicked: bad inode"
        );
    }

    #[tokio::test]
    async fn with_a_grace_period_the_service_answers_failed_for_a_while_before_it_stops() {
        let shutdown = CancellationToken::new();
        let supervisor = Supervisor::new(shutdown.clone(), Duration::from_millis(300));
        supervisor
            .spawn("scheduler", async { panic!("injected fault") })
            .await
            .unwrap();
        assert!(!supervisor.is_alive());
        assert!(!shutdown.is_cancelled(), "still answering, with a 503");
        tokio::time::timeout(Duration::from_secs(5), shutdown.cancelled())
            .await
            .expect("stops once the grace period is over");
    }

    #[test]
    fn a_thread_that_panics_is_a_failure_too_outside_any_runtime() {
        let shutdown = CancellationToken::new();
        let supervisor = Supervisor::new(shutdown.clone(), Duration::from_millis(10));
        supervisor
            .spawn_thread("reader", "test-reader", || panic!("bad inode"))
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(supervisor.failure().unwrap().reason, "panicked: bad inode");
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while !shutdown.is_cancelled() {
            assert!(std::time::Instant::now() < deadline, "never stopped");
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}
