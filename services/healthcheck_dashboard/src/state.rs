//! All checks of the service, shared by the scheduler (which records outcomes) and the HTTP
//! handlers (which read them): lookup by name, whether the first round is done, and a
//! notification on every outcome for the dashboard's event stream. Each check's own state
//! sits behind its own lock ([`Check::lock`]), held only to copy or update a few fields.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::check::{Check, Outcome, Status, Transition};

/// Every check and what is known about them as a whole.
pub struct HealthState {
    /// In config order.
    checks: Vec<Check>,
    /// Position of each check by name.
    by_name: HashMap<Arc<str>, usize>,
    /// Checks that have no outcome yet; `/health` is 503 until this is zero.
    waiting_first: AtomicUsize,
    /// Bumped on every outcome; the dashboard's event stream waits on it.
    version: tokio::sync::watch::Sender<u64>,
    /// Process start, for "up since".
    pub started_at: DateTime<Utc>,
}

impl HealthState {
    /// State for `checks`, none run yet.
    pub fn new(checks: Vec<Check>) -> HealthState {
        let by_name = checks
            .iter()
            .enumerate()
            .map(|(i, check)| (check.info.name.clone(), i))
            .collect();
        HealthState {
            waiting_first: AtomicUsize::new(checks.len()),
            checks,
            by_name,
            version: tokio::sync::watch::channel(0).0,
            started_at: Utc::now(),
        }
    }

    /// The checks, in config order.
    pub fn checks(&self) -> &[Check] {
        &self.checks
    }

    /// The check named `name`.
    pub fn check_named(&self, name: &str) -> Option<&Check> {
        self.by_name.get(name).map(|&i| &self.checks[i])
    }

    /// Whether every check has run at least once.
    pub fn first_round_done(&self) -> bool {
        self.waiting_first.load(Ordering::Acquire) == 0
    }

    /// Records an outcome of check number `index`; returns the status before it and the
    /// alerting transition.
    pub fn record(
        &self,
        index: usize,
        outcome: Outcome,
        at: DateTime<Utc>,
        reminder: Option<Duration>,
    ) -> (Status, Transition) {
        let check = &self.checks[index];
        let recorded = {
            let mut state = check.lock();
            let first = state.last.is_none();
            let previous = state.status;
            let transition = state.apply(&check.info, outcome, at, reminder);
            if first {
                self.waiting_first.fetch_sub(1, Ordering::AcqRel);
            }
            (previous, transition)
        };
        self.version.send_modify(|v| *v += 1);
        recorded
    }

    /// A receiver that changes whenever any check records an outcome.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.version.subscribe()
    }
}
