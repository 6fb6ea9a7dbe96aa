//! All checks of the service, shared by the scheduler (which records outcomes), discovery
//! (which adds and removes checks) and the HTTP handlers (which read them): lookup by name,
//! whether the first round is done, and a notification on every outcome (and on other
//! changes the page shows: maintenance windows, deploys) for the dashboard's event stream.
//! Each check's own state sits behind its own lock ([`Check::lock`]), held only to copy or
//! update a few fields.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
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

/// One check, shared: the configured checks sit side by side in one allocation (as a plain
/// list would hold them: at 10,000 checks, one allocation per check cost 8 MB more of the
/// allocator's heap), each discovered check in one of its own.
#[derive(Clone)]
pub struct CheckRef {
    block: Arc<[Check]>,
    index: usize,
}

impl CheckRef {
    /// Every check of `block`.
    fn all(block: Arc<[Check]>) -> impl Iterator<Item = CheckRef> {
        (0..block.len()).map(move |index| CheckRef {
            block: block.clone(),
            index,
        })
    }

    /// Whether both are the same check.
    pub fn same(&self, other: &CheckRef) -> bool {
        Arc::ptr_eq(&self.block, &other.block) && self.index == other.index
    }
}

impl std::ops::Deref for CheckRef {
    type Target = Check;

    fn deref(&self) -> &Check {
        &self.block[self.index]
    }
}

impl std::fmt::Debug for CheckRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("CheckRef").field(&self.info.name).finish()
    }
}

/// The checks at one moment: a snapshot that stays valid while checks are added or removed
/// (discovery), in config order with discovered ones after, and by name.
#[derive(Debug, Default)]
pub struct CheckSet {
    checks: Vec<CheckRef>,
    by_name: HashMap<Arc<str>, usize>,
}

impl CheckSet {
    fn from_checks(checks: Vec<CheckRef>) -> CheckSet {
        let by_name = checks
            .iter()
            .enumerate()
            .map(|(i, check)| (check.info.name.clone(), i))
            .collect();
        CheckSet { checks, by_name }
    }

    /// The check named `name`.
    pub fn named(&self, name: &str) -> Option<&CheckRef> {
        self.by_name.get(name).map(|&i| &self.checks[i])
    }
}

impl std::ops::Deref for CheckSet {
    type Target = [CheckRef];

    fn deref(&self) -> &[CheckRef] {
        &self.checks
    }
}

/// Every check and what is known about them as a whole.
pub struct HealthState {
    /// The current checks; replaced as a whole when one is added or removed, so readers
    /// never wait on a writer for more than a pointer copy.
    set: RwLock<Arc<CheckSet>>,
    /// Checks that have no outcome yet; `/health` is 503 until this is zero. Counts the
    /// checks there at start and those added before every one of them had run.
    waiting_first: AtomicUsize,
    /// Bumped on every outcome; the dashboard's event stream waits on it.
    version: tokio::sync::watch::Sender<u64>,
    /// Process start, for "up since".
    pub started_at: DateTime<Utc>,
}

impl HealthState {
    /// State for `checks`, none run yet.
    pub fn new(checks: Vec<Check>) -> HealthState {
        let checks: Vec<CheckRef> = CheckRef::all(Arc::from(checks)).collect();
        for check in &checks {
            check.awaited.store(true, Ordering::Release);
        }
        HealthState {
            waiting_first: AtomicUsize::new(checks.len()),
            set: RwLock::new(Arc::new(CheckSet::from_checks(checks))),
            version: tokio::sync::watch::channel(0).0,
            started_at: Utc::now(),
        }
    }

    /// The checks now, in config order (discovered ones after).
    pub fn checks(&self) -> Arc<CheckSet> {
        self.set.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The check named `name`.
    pub fn check_named(&self, name: &str) -> Option<CheckRef> {
        self.checks().named(name).cloned()
    }

    /// Adds `check`; `None` (and the check dropped) when its name is taken.
    pub fn add(&self, check: Check) -> Option<CheckRef> {
        let mut set = self.set.write().unwrap_or_else(|e| e.into_inner());
        if set.named(&check.info.name).is_some() {
            return None;
        }
        let check = CheckRef {
            block: Arc::from(vec![check]),
            index: 0,
        };
        if !self.first_round_done() {
            check.awaited.store(true, Ordering::Release);
            self.waiting_first.fetch_add(1, Ordering::AcqRel);
        }
        let mut checks = set.checks.clone();
        checks.push(check.clone());
        *set = Arc::new(CheckSet::from_checks(checks));
        drop(set);
        self.touch();
        Some(check)
    }

    /// Removes the check named `name`, returning it.
    pub fn remove(&self, name: &str) -> Option<CheckRef> {
        let mut set = self.set.write().unwrap_or_else(|e| e.into_inner());
        let removed = set.named(name)?.clone();
        let checks = set
            .checks
            .iter()
            .filter(|c| !c.same(&removed))
            .cloned()
            .collect();
        *set = Arc::new(CheckSet::from_checks(checks));
        drop(set);
        if removed.awaited.swap(false, Ordering::AcqRel) {
            self.waiting_first.fetch_sub(1, Ordering::AcqRel);
        }
        self.touch();
        Some(removed)
    }

    /// Whether every check has run at least once.
    pub fn first_round_done(&self) -> bool {
        self.waiting_first.load(Ordering::Acquire) == 0
    }

    /// Records an outcome of `check`: the status before it, the alerting transition and
    /// whether its alert goes out, decided under one lock with the maintenance flag.
    pub fn record(
        &self,
        check: &Check,
        outcome: Outcome,
        at: DateTime<Utc>,
        reminder: Option<Duration>,
    ) -> Recorded {
        let recorded = {
            let mut state = check.lock();
            let previous = state.status;
            let transition = state.apply(&check.info, outcome, at, reminder);
            let gate = state.gate(&transition);
            Recorded {
                previous,
                evidence_since: state.evidence_since(at),
                transition,
                gate,
            }
        };
        if check.awaited.swap(false, Ordering::AcqRel) {
            self.waiting_first.fetch_sub(1, Ordering::AcqRel);
        }
        self.version.send_modify(|v| *v += 1);
        recorded
    }

    /// Tells the event stream that something it shows changed without a new outcome (a
    /// maintenance window opened or closed, a check added or removed).
    pub fn touch(&self) {
        self.version.send_modify(|v| *v += 1);
    }

    /// A receiver that changes whenever any check records an outcome.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.version.subscribe()
    }
}
