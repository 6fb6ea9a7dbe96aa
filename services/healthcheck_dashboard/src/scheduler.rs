//! Runs every check on its own schedule, concurrently, and takes each outcome the rest of the
//! way: into the check's state, the history, a log line when the status changes, and the
//! alerter (or, under a maintenance window, a held-back alert). One task per check, a
//! semaphore bounding how many probes run at once, a little jitter so checks do not fire in
//! lockstep ([`Schedule::ticks`]). A slow or hung target only ever holds its own task (and
//! one permit, for at most its timeout).
//!
//! [`Schedule::ticks`]: crate::check::Schedule::ticks

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use chrono::Utc;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::alerting::Alerter;
use crate::check::{ContainerViews, Gate, HttpClients, Outcome, Status};
use crate::history::{HistoryRecord, HistoryWriter};
use crate::state::{CheckRef, HealthState};
use service_kit::supervisor::Supervisor;

/// Counters about the scheduler itself, exported in `/metrics`.
#[derive(Debug, Default)]
pub struct SchedulerStats {
    /// Ticks that started later than half an interval after they were due (a missed round).
    pub missed_rounds: AtomicU64,
    /// Probes run.
    pub probes_run: AtomicU64,
}

/// Everything the check tasks share (one `Arc` for all of them, so that a sleeping task
/// holds little more than its timer).
pub struct Scheduler {
    /// The checks, and where outcomes go.
    pub state: Arc<HealthState>,
    /// Where history goes.
    pub history: HistoryWriter,
    /// Where transitions go.
    pub alerter: Arc<Alerter>,
    /// Bounds concurrently running probes.
    pub permits: Semaphore,
    /// Pooled clients shared by all HTTP checks.
    pub clients: HttpClients,
    /// The live views of the Compose projects that `docker` checks read.
    pub containers: ContainerViews,
    /// Scheduler counters.
    pub stats: Arc<SchedulerStats>,
}

/// One log line per status change, so `docker logs` tells the story without the dashboard.
fn log_status_change(name: &str, previous: Status, outcome: &Outcome) {
    let ms = outcome.elapsed.as_millis() as u64;
    match outcome.status {
        Status::Down => tracing::warn!(
            check = name,
            from = previous.as_str(),
            error = outcome.error.as_deref().unwrap_or(""),
            "Check is down."
        ),
        Status::Degraded => tracing::warn!(
            check = name,
            from = previous.as_str(),
            detail = outcome.detail.as_deref().unwrap_or(""),
            response_time_ms = ms,
            "Check is degraded."
        ),
        Status::Up => tracing::info!(
            check = name,
            from = previous.as_str(),
            response_time_ms = ms,
            "Check is up."
        ),
        Status::Unknown => {}
    }
}

impl Scheduler {
    /// Starts one task per check under `supervisor`; they stop when `shutdown` is cancelled.
    pub fn spawn(self: Arc<Self>, supervisor: &Arc<Supervisor>, shutdown: CancellationToken) {
        for check in self.state.checks().iter() {
            let (scheduler, check) = (self.clone(), check.clone());
            let shutdown = shutdown.clone();
            supervisor.spawn("scheduler", async move {
                scheduler.run_check(check, shutdown).await
            });
        }
    }

    /// Runs `check` on its schedule until `stop` (the service's shutdown, or the check's
    /// removal).
    pub async fn run_check(&self, check: CheckRef, stop: CancellationToken) {
        let mut ticks = check.schedule.ticks();
        let reminder = self.alerter.reminder();
        loop {
            let due = tokio::select! {
                due = ticks.tick() => due,
                _ = stop.cancelled() => return,
            };
            if check.schedule.is_late(due) {
                self.stats.missed_rounds.fetch_add(1, Ordering::Relaxed);
            }
            // The permit first, the probe's future only then: that future (an HTTP request in
            // flight) is large, so it is boxed, not held inline by every sleeping check task,
            // and it exists only while it runs. Created before the wait, as it once was, every
            // check waiting for a permit held one: when the workers are busy (a burst of
            // requests, wrk on /health/NAME), thousands of them at 10,000 checks, and the
            // peak RSS rose by tens of MiB that glibc then kept.
            let permit = tokio::select! {
                permit = self.permits.acquire() => permit.expect("semaphore is never closed"),
                _ = stop.cancelled() => return,
            };
            let probing = Box::pin(check.probe.run(&self.clients, &self.containers));
            let outcome = tokio::select! {
                outcome = probing => outcome,
                _ = stop.cancelled() => return,
            };
            drop(permit);
            self.stats.probes_run.fetch_add(1, Ordering::Relaxed);
            let at = Utc::now();
            self.history.record(HistoryRecord {
                name: check.info.name.clone(),
                at: at.timestamp(),
                ok: outcome.status.is_ok(),
                latency_ms: outcome.elapsed.as_millis() as u64,
                error: outcome.error.clone(),
            });
            let recorded = self.state.record(&check, outcome.clone(), at, reminder);
            if recorded.previous != outcome.status {
                log_status_change(&check.info.name, recorded.previous, &outcome);
            }
            match recorded.gate {
                Gate::Send => self.alerter.handle(
                    &check.info,
                    &recorded.transition,
                    &outcome,
                    recorded.evidence_since,
                ),
                Gate::HeldBack => {
                    self.alerter
                        .hold_back(&check.info, &recorded.transition, &outcome)
                }
                Gate::Quiet => {}
            }
        }
    }
}
