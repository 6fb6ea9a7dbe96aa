//! One endpoint's check: what it is ([`CheckInfo`]), when it runs ([`Schedule`]), how it is
//! probed ([`Probe`], one file per check type) and what it last found ([`CheckState`]),
//! together in one [`Check`].
//!
//! The settings build every `Check` once from the config (so bad config is caught at
//! start-up); the scheduler runs its probe on every tick and records the [`Outcome`] in its
//! state; the API reads the state.
//!
//! - `probe`: [`Probe`], building a check type's probe from its config entry and running it.
//! - `http`, `tcp`, `postgres`, `command`, `docker`: each check type, what counts as up, degraded,
//!   down, and the error texts; `postgres_tls`: `sslmode` on rustls for Postgres checks.
//! - `outcome`: [`Outcome`] and [`Status`].
//! - `secrets`: [`Secrets`], the secret values a check carries, scrubbed from every text it
//!   produces.
//! - `state`: [`CheckState`] (last outcome, counters, uptime, latencies), the alerting
//!   hysteresis ([`Transition`]) and whether its alert goes out ([`Gate`]).

mod command;
mod docker;
mod http;
mod outcome;
mod postgres;
pub mod postgres_tls;
mod probe;
mod secrets;
mod state;
mod tcp;

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::time::{Instant, Interval, MissedTickBehavior};

pub use command::CommandProbe;
pub use docker::{ContainerViews, DockerProbe, GuardedProbe};
pub use http::{HttpClients, HttpProbe};
use outcome::one_line;
pub use outcome::{Outcome, Status};
pub use postgres::PostgresProbe;
pub use probe::{FieldProblem, Probe};
pub use secrets::{shown_command, Secrets};
pub use state::{
    CheckState, Gate, HourBucket, Sample, Transition, EVIDENCE_WINDOW, RECENT_SAMPLES, UPTIME_HOURS,
};
pub use tcp::TcpProbe;

/// One endpoint, from its settings to its live state.
#[derive(Debug)]
pub struct Check {
    /// What the check is: name, type, target, alert thresholds.
    pub info: CheckInfo,
    /// When it runs.
    pub schedule: Schedule,
    /// What one run does.
    pub probe: Probe,
    /// What it found so far; locked only to copy or update a few fields.
    pub state: Mutex<CheckState>,
    /// Whether `/health` waits for its first outcome (see [`crate::state::HealthState`]).
    pub awaited: AtomicBool,
}

impl Check {
    /// A check that has not run yet (status unknown).
    pub fn new(info: CheckInfo, schedule: Schedule, probe: Probe) -> Check {
        Check {
            info,
            schedule,
            probe,
            state: Mutex::new(CheckState::default()),
            awaited: AtomicBool::new(false),
        }
    }

    /// Its state, locked. A panic elsewhere while it was held leaves plain data behind, so
    /// a poisoned lock is used as is.
    pub fn lock(&self) -> MutexGuard<'_, CheckState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// What does not change about a check while the service runs.
#[derive(Debug, Clone)]
pub struct CheckInfo {
    /// Unique name (shared with history records without copying).
    pub name: Arc<str>,
    /// Check type as shown (`http`, `tcp`, `postgres`, `command`).
    pub kind: &'static str,
    /// What is probed, credentials masked.
    pub target: String,
    /// Consecutive failures before alerting down.
    pub failure_threshold: u32,
    /// Consecutive successes before alerting recovered.
    pub success_threshold: u32,
    /// The Compose project it belongs to, when known (`docker` checks, discovered checks).
    pub project: Option<String>,
    /// Whether discovery made it from a container's labels rather than the config.
    pub discovered: bool,
}

/// When a check runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    /// Time between two runs.
    pub interval: Duration,
}

impl Schedule {
    /// The ticks of the check: the first within a second from now, at random, so that many
    /// checks do not start in one burst; then one every interval. A tick that could not run
    /// on time is delayed rather than made up for by a burst.
    pub fn ticks(&self) -> Interval {
        let jitter_cap = self.interval.min(Duration::from_secs(1)).as_millis() as u64;
        let first = Instant::now() + Duration::from_millis(fastrand::u64(0..jitter_cap.max(1)));
        let mut ticks = tokio::time::interval_at(first, self.interval);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        ticks
    }

    /// Whether a run due at `due` starts so late (more than half an interval) that a round
    /// counts as missed.
    pub fn is_late(&self, due: Instant) -> bool {
        due.elapsed() > self.interval / 2
    }
}
