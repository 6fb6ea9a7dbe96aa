//! Task supervision: every long-running part of the service (the file reader thread, the
//! writer, the Docker Engine API source, housekeeping, the deploy poller) runs under a
//! [`Supervisor`]. One that panics, or ends while the service is not stopping, is a
//! failure: it is logged once, `/livez` answers 503 from then on, and the shutdown token is
//! cancelled so that [`run`](crate::run) returns an error and the process exits non-zero,
//! for Docker (or whoever runs it) to restart it, instead of serving a frozen state.

use std::future::Future;
use std::sync::{Arc, Mutex};

use futures_util::FutureExt;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The first task that failed, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskFailure {
    /// The task's name (`reader`, `writer`, `docker_api`, `housekeeping`, `deploys`).
    pub task: &'static str,
    /// What happened: `panicked: MESSAGE` or `stopped on its own`.
    pub reason: String,
}

impl std::fmt::Display for TaskFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the {} task {}", self.task, self.reason)
    }
}

/// Watches the tasks of one run of the service.
#[derive(Debug)]
pub struct Supervisor {
    /// Cancelled on the first failure (and by the signals, which makes ending normal).
    shutdown: CancellationToken,
    /// The first failure.
    failure: Mutex<Option<TaskFailure>>,
}

impl Supervisor {
    /// A supervisor that cancels `shutdown` when a task fails.
    pub fn new(shutdown: CancellationToken) -> Arc<Supervisor> {
        Arc::new(Supervisor {
            shutdown,
            failure: Mutex::new(None),
        })
    }

    /// Spawns `task` on the runtime under supervision.
    pub fn spawn<F>(self: &Arc<Self>, name: &'static str, task: F) -> JoinHandle<()>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let supervisor = self.clone();
        tokio::spawn(async move {
            let ended = std::panic::AssertUnwindSafe(task).catch_unwind().await;
            supervisor.ended(name, ended.map_err(|panic| describe(panic.as_ref())));
        })
    }

    /// Starts `task` on a thread of its own, under supervision.
    pub fn spawn_thread<F>(
        self: &Arc<Self>,
        name: &'static str,
        task: F,
    ) -> std::io::Result<std::thread::JoinHandle<()>>
    where
        F: FnOnce() + Send + 'static,
    {
        let supervisor = self.clone();
        std::thread::Builder::new()
            .name(format!("log-{name}"))
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

    /// Records how `task` ended: a panic always fails; a normal end fails unless the
    /// service is stopping. The first failure is kept, except that a panic replaces an end:
    /// a task that panics lets go of what it held while it unwinds, and the task waiting on
    /// that (the writer on the reader's channel) may end before the panic is recorded.
    fn ended(&self, task: &'static str, outcome: Result<(), String>) {
        let (reason, panicked) = match outcome {
            Err(panic) => (format!("panicked: {panic}"), true),
            Ok(()) if self.shutdown.is_cancelled() => return,
            Ok(()) => ("stopped on its own".to_string(), false),
        };
        let failure = TaskFailure { task, reason };
        {
            let mut first = self.failure.lock().unwrap_or_else(|p| p.into_inner());
            let replaces = match &*first {
                None => true,
                Some(earlier) => panicked && !earlier.reason.starts_with("panicked"),
            };
            if !replaces {
                return;
            }
            *first = Some(failure.clone());
        }
        tracing::error!(
            task,
            reason = %failure.reason,
            "A task of the service failed; stopping so that the service is restarted."
        );
        self.shutdown.cancel();
    }
}

fn describe(panic: &(dyn std::any::Any + Send)) -> String {
    service_kit::http_error::panic_message(panic)
}

/// Test hook, in debug builds only: `LOG_WATCHER_INJECT_PANIC=writer` makes the named task
/// panic as it starts, so that tests can watch supervision work on the real binary. Release
/// builds have no such hook.
pub fn injected_panic(task: &str) {
    #[cfg(debug_assertions)]
    if std::env::var("LOG_WATCHER_INJECT_PANIC").is_ok_and(|wanted| wanted == task) {
        panic!("injected panic in the {task} task (LOG_WATCHER_INJECT_PANIC)");
    }
    #[cfg(not(debug_assertions))]
    let _ = task;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn a_task_that_panics_fails_the_service_and_cancels_the_token() {
        let shutdown = CancellationToken::new();
        let supervisor = Supervisor::new(shutdown.clone());
        let calm = supervisor.spawn("housekeeping", {
            let shutdown = shutdown.clone();
            async move { shutdown.cancelled().await }
        });
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
    }

    #[tokio::test]
    async fn a_task_ending_early_fails_but_ending_on_shutdown_does_not() {
        let shutdown = CancellationToken::new();
        let supervisor = Supervisor::new(shutdown.clone());
        supervisor
            .spawn_thread("reader", || {})
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(
            supervisor.failure().unwrap().to_string(),
            "the reader task stopped on its own"
        );
        assert!(shutdown.is_cancelled());

        let shutdown = CancellationToken::new();
        let supervisor = Supervisor::new(shutdown.clone());
        shutdown.cancel();
        supervisor.spawn("docker_api", async {}).await.unwrap();
        supervisor
            .spawn_thread("reader", || {})
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(supervisor.failure(), None);
    }

    #[tokio::test]
    async fn a_panic_is_the_failure_even_when_a_task_waiting_on_it_ended_first() {
        let shutdown = CancellationToken::new();
        let supervisor = Supervisor::new(shutdown.clone());
        supervisor.spawn("writer", async {}).await.unwrap();
        supervisor
            .spawn_thread("reader", || panic!("bad inode"))
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

    #[test]
    fn a_thread_that_panics_is_a_failure_too() {
        let shutdown = CancellationToken::new();
        let supervisor = Supervisor::new(shutdown.clone());
        supervisor
            .spawn_thread("reader", || panic!("bad inode"))
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(supervisor.failure().unwrap().reason, "panicked: bad inode");
        assert!(shutdown.is_cancelled());
    }
}
