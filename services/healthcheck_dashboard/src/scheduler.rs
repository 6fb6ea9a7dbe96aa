//! Runs every check on its own interval, concurrently: one task per check, a semaphore bounding
//! how many probes run at once, a little jitter so checks do not fire in lockstep. A slow or
//! hung target only ever holds its own task (and one permit, for at most its timeout).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use crate::alerting::Alerter;
use crate::check::Probe;
use crate::history::{HistoryRecord, HistoryWriter};
use crate::state::HealthState;

/// Counters about the scheduler itself, exported in `/metrics`.
#[derive(Debug, Default)]
pub struct SchedulerStats {
    /// Ticks that started later than half an interval after they were due (a missed round).
    pub missed_rounds: AtomicU64,
    /// Probes run.
    pub probes_run: AtomicU64,
}

/// Everything the check tasks share.
pub struct Scheduler {
    /// The probes, in the same order as the state's checks.
    pub probes: Vec<Probe>,
    /// Interval of each check.
    pub intervals: Vec<Duration>,
    /// Where outcomes go.
    pub state: Arc<HealthState>,
    /// Where history goes.
    pub history: HistoryWriter,
    /// Where transitions go.
    pub alerter: Arc<Alerter>,
    /// Bounds concurrently running probes.
    pub permits: Arc<Semaphore>,
    /// Verifying HTTP client, shared by all HTTP checks (connection pooling).
    pub http: reqwest::Client,
    /// Client for checks with `tls_verify = false`.
    pub insecure_http: reqwest::Client,
    /// Scheduler counters.
    pub stats: Arc<SchedulerStats>,
}

/// One log line per status change, so `docker logs` tells the story without the dashboard.
fn log_status_change(name: &str, previous: crate::check::Status, outcome: &crate::check::Outcome) {
    use crate::check::Status;
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

/// Builds the shared HTTP client.
pub fn http_client(verify_tls: bool) -> reqwest::Client {
    reqwest::Client::builder()
        .user_agent(concat!(
            "compose-sidecars-healthcheck/",
            env!("CARGO_PKG_VERSION")
        ))
        .tls_info(true)
        .danger_accept_invalid_certs(!verify_tls)
        .redirect(reqwest::redirect::Policy::limited(5))
        .pool_idle_timeout(Duration::from_secs(60))
        .build()
        .expect("the TLS backend is compiled in")
}

impl Scheduler {
    /// Starts one task per check; they stop when `shutdown` is cancelled.
    pub fn spawn(self, shutdown: CancellationToken) -> JoinSet<()> {
        let shared = Arc::new(self);
        let mut tasks = JoinSet::new();
        for index in 0..shared.probes.len() {
            let shared = shared.clone();
            let shutdown = shutdown.clone();
            tasks.spawn(async move { shared.run_check(index, shutdown).await });
        }
        tasks
    }

    async fn run_check(&self, index: usize, shutdown: CancellationToken) {
        let interval = self.intervals[index];
        let probe = &self.probes[index];
        let info = &self.state.infos()[index];
        let name: Arc<str> = Arc::from(info.name.as_str());
        // Spread first runs over up to a second so many checks do not start in one burst.
        let jitter_cap = interval.min(Duration::from_secs(1)).as_millis() as u64;
        let first = Instant::now() + Duration::from_millis(fastrand::u64(0..jitter_cap.max(1)));
        let mut ticks = tokio::time::interval_at(first, interval);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let reminder = self.alerter.reminder();
        loop {
            let due = tokio::select! {
                due = ticks.tick() => due,
                _ = shutdown.cancelled() => return,
            };
            if due.elapsed() > interval / 2 {
                self.stats.missed_rounds.fetch_add(1, Ordering::Relaxed);
            }
            // Boxed: the probe's future (an HTTP request in flight) is large, and held inline
            // it would make every sleeping check task that large too, 10,000 of them at scale.
            let probing = Box::pin(async {
                let _permit = self
                    .permits
                    .acquire()
                    .await
                    .expect("semaphore is never closed");
                probe.run(&self.http, &self.insecure_http).await
            });
            let outcome = tokio::select! {
                outcome = probing => outcome,
                _ = shutdown.cancelled() => return,
            };
            self.stats.probes_run.fetch_add(1, Ordering::Relaxed);
            let at = Utc::now();
            self.history.record(HistoryRecord {
                name: name.clone(),
                at: at.timestamp(),
                ok: outcome.status.is_ok(),
                latency_ms: outcome.elapsed.as_millis() as u64,
                error: outcome.error.clone(),
            });
            let (previous, transition) = self.state.record(index, outcome.clone(), at, reminder);
            if previous != outcome.status {
                log_status_change(&info.name, previous, &outcome);
            }
            self.alerter.handle(info, &transition, &outcome);
        }
    }
}
