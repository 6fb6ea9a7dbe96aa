//! All checks of the service, shared by the scheduler (which records outcomes) and the HTTP
//! handlers (which read them): lookup by name, whether the first round is done, and a
//! notification on every outcome (and on other changes the page shows: maintenance windows,
//! deploys) for the dashboard's event stream. Each check's own state
//! sits behind its own lock ([`Check::lock`]), held only to copy or update a few fields.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::check::{Check, Gate, Outcome, Status, Transition};

/// What recording one outcome decided.
#[derive(Debug)]
pub struct Recorded {
    /// The status before it.
    pub previous: Status,
    /// The alerting transition.
    pub transition: Transition,
    /// Whether its alert goes out.
    pub gate: Gate,
    /// Where the error lines of a down alert start (see
    /// [`CheckState::evidence_since`](crate::check::CheckState::evidence_since)).
    pub evidence_since: DateTime<Utc>,
}

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

    /// The position of the check named `name`.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).copied()
    }

    /// Whether every check has run at least once.
    pub fn first_round_done(&self) -> bool {
        self.waiting_first.load(Ordering::Acquire) == 0
    }

    /// Records an outcome of check number `index`: the status before it, the alerting
    /// transition and whether its alert goes out, decided under one lock with the
    /// maintenance flag.
    pub fn record(
        &self,
        index: usize,
        outcome: Outcome,
        at: DateTime<Utc>,
        reminder: Option<Duration>,
    ) -> Recorded {
        let check = &self.checks[index];
        let recorded = {
            let mut state = check.lock();
            let first = state.last.is_none();
            let previous = state.status;
            let transition = state.apply(&check.info, outcome, at, reminder);
            let gate = state.gate(&transition);
            if first {
                self.waiting_first.fetch_sub(1, Ordering::AcqRel);
            }
            Recorded {
                previous,
                evidence_since: state.evidence_since(at),
                transition,
                gate,
            }
        };
        self.version.send_modify(|v| *v += 1);
        recorded
    }

    /// Tells the event stream that something it shows changed without a new outcome (a
    /// maintenance window opened or closed).
    pub fn touch(&self) {
        self.version.send_modify(|v| *v += 1);
    }

    /// A receiver that changes whenever any check records an outcome.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.version.subscribe()
    }
}
