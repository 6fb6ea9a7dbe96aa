//! Supervision of the service's long-lived tasks (one per check, the history writer, the
//! maintenance expiry, the deploy poller). They only ever end at shutdown; one that ends
//! before, or panics, would leave the service serving a frozen state that looks healthy. So
//! the first such death turns [`Liveness`] to failed (`GET /livez` answers 503) and
//! [`crate::run`] stops the service with an error, so the process exits non-zero and Docker
//! (`restart: unless-stopped`) starts a fresh one.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};

use futures_util::FutureExt;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// Whether every supervised task is still running; what `/livez` says.
#[derive(Debug, Default)]
pub struct Liveness {
    failed: AtomicBool,
}

impl Liveness {
    /// Alive until [`mark_failed`](Self::mark_failed).
    pub fn new() -> Liveness {
        Liveness::default()
    }

    /// Records that a task died.
    pub fn mark_failed(&self) {
        self.failed.store(true, Ordering::Release);
    }

    /// Whether no task has died.
    pub fn is_alive(&self) -> bool {
        !self.failed.load(Ordering::Acquire)
    }
}

/// A task that ended before shutdown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Death {
    /// Which task (`scheduler`, `history writer`, ...).
    pub task: &'static str,
    /// `panicked: <message>` or `stopped`.
    pub reason: String,
}

impl std::fmt::Display for Death {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the {} task {}", self.task, self.reason)
    }
}

/// Runs the long-lived tasks and reports the first that dies before `shutdown`.
pub struct Supervisor {
    tasks: JoinSet<()>,
    died: mpsc::UnboundedSender<Death>,
    deaths: mpsc::UnboundedReceiver<Death>,
    shutdown: CancellationToken,
}

impl Supervisor {
    /// A supervisor whose tasks stop with `shutdown`.
    pub fn new(shutdown: CancellationToken) -> Supervisor {
        let (died, deaths) = mpsc::unbounded_channel();
        Supervisor {
            tasks: JoinSet::new(),
            died,
            deaths,
            shutdown,
        }
    }

    /// Spawns `task` under supervision; its ending (or panic) before shutdown is a death.
    pub fn spawn(&mut self, name: &'static str, task: impl Future<Output = ()> + Send + 'static) {
        let died = self.died.clone();
        let shutdown = self.shutdown.clone();
        self.tasks.spawn(async move {
            // Caught here, with the task's name, rather than found later in a JoinError.
            let result = AssertUnwindSafe(task).catch_unwind().await;
            if shutdown.is_cancelled() {
                return;
            }
            let reason = match result {
                Ok(()) => "stopped".to_string(),
                Err(panic) => format!(
                    "panicked: {}",
                    service_kit::http_error::panic_message(panic.as_ref())
                ),
            };
            let _ = died.send(Death { task: name, reason });
        });
    }

    /// The first task that died; pending for as long as none does.
    pub async fn first_death(&mut self) -> Death {
        match self.deaths.recv().await {
            Some(death) => death,
            // Never: the supervisor holds a sender itself.
            None => std::future::pending().await,
        }
    }

    /// Waits for every task to finish (after `shutdown` was cancelled).
    pub async fn join_all(self) {
        self.tasks.join_all().await;
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn a_task_that_panics_before_shutdown_is_reported_by_name() {
        let shutdown = CancellationToken::new();
        let mut supervisor = Supervisor::new(shutdown.clone());
        supervisor.spawn("steady", std::future::pending());
        supervisor.spawn("scheduler", async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            panic!("injected fault");
        });
        let death = tokio::time::timeout(Duration::from_secs(5), supervisor.first_death())
            .await
            .expect("the death is reported");
        assert_eq!(
            death.to_string(),
            "the scheduler task panicked: injected fault"
        );
        shutdown.cancel();
    }

    #[tokio::test]
    async fn a_task_that_returns_before_shutdown_counts_as_dead_but_not_after() {
        let shutdown = CancellationToken::new();
        let mut supervisor = Supervisor::new(shutdown.clone());
        supervisor.spawn("history writer", async {});
        let death = tokio::time::timeout(Duration::from_secs(5), supervisor.first_death())
            .await
            .unwrap();
        assert_eq!(death.reason, "stopped");

        let mut supervisor = Supervisor::new(shutdown.clone());
        let stop = shutdown.clone();
        supervisor.spawn("scheduler", async move { stop.cancelled().await });
        shutdown.cancel();
        let quiet = tokio::time::timeout(Duration::from_millis(200), supervisor.first_death());
        assert!(quiet.await.is_err(), "an ending at shutdown is no death");
        supervisor.join_all().await;
    }

    #[test]
    fn liveness_turns_failed_once_and_stays() {
        let liveness = Liveness::new();
        assert!(liveness.is_alive());
        liveness.mark_failed();
        assert!(!liveness.is_alive());
    }
}
