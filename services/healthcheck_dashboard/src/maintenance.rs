//! Maintenance windows: a time during which some services are expected to go down (a deploy
//! restarting them), opened through `POST /api/maintenance` (webhook_handler's deploy does,
//! with [`service_kit::peers::healthcheck::open_maintenance`]) and closed by
//! `DELETE /api/maintenance/ID` or by reaching its end.
//!
//! While a window covers a service its checks go on and everything shows the truth; only its
//! alerts are held back (the check's [`maintenance`](crate::check::CheckState::maintenance)
//! flag, the one per-check cost of this module). When the last window over a service ends and
//! the service is still down, its down alert goes out then, so a failed deploy left broken
//! still pages someone; a recovery inside the window sends nothing.
//!
//! Windows live in memory only: a restart forgets them (and with them the held-back alerts,
//! which the next failures bring back). At most [`MAX_WINDOWS`] are open at once.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use service_kit::http_error::ApiError;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::alerting::Alerter;
use crate::state::HealthState;

/// Open windows at most; one more is refused with 409.
pub const MAX_WINDOWS: usize = 100;
/// The longest window, in seconds (a day).
pub const MAX_DURATION_SECS: u64 = 86_400;
/// The longest reason, in characters.
pub const MAX_REASON_CHARS: usize = 200;

/// The body of `POST /api/maintenance`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenRequest {
    /// Names of checks (Compose service names) the window covers.
    pub services: Vec<String>,
    /// How long it lasts, 1 to [`MAX_DURATION_SECS`].
    pub duration_secs: u64,
    /// Why, shown on the dashboard (at most [`MAX_REASON_CHARS`] characters).
    #[serde(default)]
    pub reason: String,
}

/// A window as the API shows it: `{"id", "services", "until", "reason"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WindowView {
    /// Its id, for `DELETE /api/maintenance/ID`.
    pub id: String,
    /// The services it covers.
    pub services: Vec<String>,
    /// When it ends (RFC 3339).
    pub until: String,
    /// Why it was opened.
    pub reason: String,
}

/// One open window.
#[derive(Debug)]
struct Window {
    /// As the API shows it.
    view: WindowView,
    /// When it ends.
    until: DateTime<Utc>,
    /// The checks it covers (names: a discovered check may go and come back meanwhile).
    checks: Vec<Arc<str>>,
}

/// The open windows, and what their opening and ending does to the checks.
pub struct Maintenance {
    /// Open windows (expired ones until the expiry task removes them, within moments).
    windows: Mutex<Vec<Window>>,
    /// Wakes the expiry task when a window opens or closes.
    changed: Notify,
    /// The checks whose flags the windows set.
    state: Arc<HealthState>,
    /// Where a held-back down alert goes when its window ends.
    alerter: Arc<Alerter>,
}

impl Maintenance {
    /// No windows yet.
    pub fn new(state: Arc<HealthState>, alerter: Arc<Alerter>) -> Maintenance {
        Maintenance {
            windows: Mutex::new(Vec::new()),
            changed: Notify::new(),
            state,
            alerter,
        }
    }

    /// The windows, even if a panic poisoned the lock (the list stays consistent).
    fn windows(&self) -> MutexGuard<'_, Vec<Window>> {
        self.windows
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Checks `request` and opens its window; the first problem is a 400 naming it, or a
    /// 409 when [`MAX_WINDOWS`] are open.
    pub fn open(&self, request: OpenRequest, now: DateTime<Utc>) -> Result<WindowView, ApiError> {
        let mut services = Vec::with_capacity(request.services.len().min(64));
        let mut checks = Vec::new();
        let mut seen = HashSet::new();
        for name in &request.services {
            let check = self.state.check_named(name).ok_or_else(|| {
                ApiError::BadRequest(format!("services: no check named {name:?}"))
            })?;
            if seen.insert(check.info.name.clone()) {
                checks.push(check.info.name.clone());
                services.push(name.clone());
            }
        }
        if checks.is_empty() {
            return Err(ApiError::BadRequest(
                "services: name at least one check".to_string(),
            ));
        }
        if !(1..=MAX_DURATION_SECS).contains(&request.duration_secs) {
            return Err(ApiError::BadRequest(format!(
                "duration_secs must be between 1 and {MAX_DURATION_SECS}"
            )));
        }
        if request.reason.chars().count() > MAX_REASON_CHARS {
            return Err(ApiError::BadRequest(format!(
                "reason must be at most {MAX_REASON_CHARS} characters"
            )));
        }
        let until = now + chrono::TimeDelta::seconds(request.duration_secs as i64);
        let mut windows = self.windows();
        if windows.iter().filter(|w| w.until > now).count() >= MAX_WINDOWS {
            return Err(ApiError::Conflict(format!(
                "{MAX_WINDOWS} maintenance windows are open already; close one first"
            )));
        }
        let id = loop {
            let id = format!("{:012x}", fastrand::u64(..) >> 16);
            if !windows.iter().any(|w| w.view.id == id) {
                break id;
            }
        };
        for name in &checks {
            if let Some(check) = self.state.check_named(name) {
                check.lock().maintenance = true;
            }
        }
        let view = WindowView {
            id,
            services,
            until: until.to_rfc3339_opts(SecondsFormat::Secs, true),
            reason: request.reason,
        };
        tracing::info!(
            id = %view.id,
            services = %view.services.join(", "),
            until = %view.until,
            reason = ?view.reason,
            "Maintenance window opened."
        );
        windows.push(Window {
            view: view.clone(),
            until,
            checks,
        });
        drop(windows);
        self.changed.notify_one();
        self.state.touch();
        Ok(view)
    }

    /// Closes window `id` before its time; false when there is no such window.
    pub fn close(&self, id: &str) -> bool {
        let closed = self.end_where(|w| w.view.id == id, Utc::now());
        if closed > 0 {
            self.changed.notify_one();
        }
        closed > 0
    }

    /// The open windows, soonest end first.
    pub fn active(&self, now: DateTime<Utc>) -> Vec<WindowView> {
        let windows = self.windows();
        let mut open: Vec<&Window> = windows.iter().filter(|w| w.until > now).collect();
        open.sort_by_key(|w| w.until);
        open.into_iter().map(|w| w.view.clone()).collect()
    }

    /// How many windows are open.
    pub fn count(&self, now: DateTime<Utc>) -> usize {
        self.windows().iter().filter(|w| w.until > now).count()
    }

    /// Ends the windows that `ends` picks: removes them, clears the flag of every check no
    /// other window covers, and sends the down alerts they held back for checks still down.
    /// Returns how many windows ended.
    fn end_where(&self, ends: impl Fn(&Window) -> bool, now: DateTime<Utc>) -> usize {
        let mut announce = Vec::new();
        let ended = {
            let mut windows = self.windows();
            let (ended, kept): (Vec<Window>, Vec<Window>) =
                std::mem::take(&mut *windows).into_iter().partition(ends);
            *windows = kept;
            let still_covered: HashSet<Arc<str>> = windows
                .iter()
                .flat_map(|w| w.checks.iter().cloned())
                .collect();
            let mut released = HashSet::new();
            for window in &ended {
                tracing::info!(
                    id = %window.view.id,
                    services = %window.view.services.join(", "),
                    early = window.until > now,
                    "Maintenance window ended."
                );
                for name in &window.checks {
                    if still_covered.contains(name) || !released.insert(name.clone()) {
                        continue;
                    }
                    let Some(check) = self.state.check_named(name) else {
                        continue;
                    };
                    let mut state = check.lock();
                    if let Some(transition) = state.end_maintenance(now) {
                        let outcome = state.last.clone();
                        announce.push((
                            check.clone(),
                            transition,
                            outcome,
                            state.evidence_since(now),
                        ));
                    }
                }
            }
            ended.len()
        };
        for (check, transition, outcome, since) in announce {
            tracing::warn!(
                check = &*check.info.name,
                "Maintenance window ended with the service still down; announcing it now."
            );
            if let Some(outcome) = outcome {
                self.alerter
                    .handle(&check.info, &transition, &outcome, since);
            }
        }
        if ended > 0 {
            self.state.touch();
        }
        ended
    }

    /// When the next window ends.
    fn next_end(&self) -> Option<DateTime<Utc>> {
        self.windows().iter().map(|w| w.until).min()
    }

    /// Ends every window at its time until `shutdown` is cancelled.
    pub async fn run_expiry(self: Arc<Self>, shutdown: CancellationToken) {
        loop {
            let wait = self.next_end().map_or(Duration::from_secs(3600), |end| {
                (end - Utc::now()).to_std().unwrap_or_default()
            });
            tokio::select! {
                _ = tokio::time::sleep(wait) => {
                    let now = Utc::now();
                    self.end_where(|w| w.until <= now, now);
                }
                _ = self.changed.notified() => {}
                _ = shutdown.cancelled() => return,
            }
        }
    }
}
