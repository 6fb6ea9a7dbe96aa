//! The live state of one check: last outcome, counters, recent latencies, hourly uptime, and
//! the alerting hysteresis that turns outcomes into [`Transition`]s (down after
//! `failure_threshold` failures in a row, recovered after `success_threshold` successes,
//! reminders while down), and whether a transition's alert goes out ([`Gate`]): not while a
//! maintenance window covers the check, and a recovery only after a down alert went out.

use std::collections::VecDeque;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{CheckInfo, Outcome, Status};

/// Latencies kept per check for the dashboard's sparkline.
pub const RECENT_SAMPLES: usize = 60;
/// Hours of pass/fail counts kept per check for the uptime percentage.
pub const UPTIME_HOURS: i64 = 24;

/// One point of the response-time history. Kept small (12 bytes): every check keeps
/// [`RECENT_SAMPLES`] of them, and a large stack has thousands of checks.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Sample {
    /// Unix seconds (unsigned 32 bits last until 2106).
    pub at: u32,
    /// Response time in milliseconds (saturating at about 49 days).
    pub ms: u32,
    /// The status of that check.
    pub status: Status,
}

/// Pass/fail counts of one hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HourBucket {
    /// Hours since the unix epoch.
    pub hour: i64,
    /// Checks run.
    pub total: u32,
    /// Checks that were up or degraded.
    pub ok: u32,
}

/// The changing state of one check.
#[derive(Debug, Clone)]
pub struct CheckState {
    /// Current status.
    pub status: Status,
    /// The last outcome.
    pub last: Option<Outcome>,
    /// When it was last checked.
    pub last_checked: Option<DateTime<Utc>>,
    /// When the status last changed.
    pub status_since: Option<DateTime<Utc>>,
    /// Failures in a row (0 when the last check passed).
    pub consecutive_failures: u32,
    /// Successes in a row (0 when the last check failed).
    pub consecutive_successes: u32,
    /// The most recent error and when it happened, kept after recovery.
    pub last_error: Option<(DateTime<Utc>, String)>,
    /// Recent response times.
    pub recent: VecDeque<Sample>,
    /// Hourly counts for uptime.
    pub hourly: VecDeque<HourBucket>,
    /// Whether a down alert is active (hysteresis).
    pub alerting: bool,
    /// Whether people were told about the current outage (its down alert went out); a
    /// recovery is announced only then. False while a maintenance window holds it back.
    pub announced: bool,
    /// Whether a maintenance window covers the check (set by [`crate::maintenance`]): its
    /// alerts are held back, everything else goes on.
    pub maintenance: bool,
    /// When the current failure streak began.
    pub failing_since: Option<DateTime<Utc>>,
    /// When the last down alert or reminder was sent.
    pub last_alert: Option<DateTime<Utc>>,
    /// When the announced outage began (set while `alerting`).
    pub outage_start: Option<DateTime<Utc>>,
    /// Checks run since start.
    pub runs_total: u64,
    /// Failed checks since start.
    pub failures_total: u64,
}

impl Default for CheckState {
    fn default() -> Self {
        CheckState {
            status: Status::Unknown,
            last: None,
            last_checked: None,
            status_since: None,
            consecutive_failures: 0,
            consecutive_successes: 0,
            last_error: None,
            recent: VecDeque::with_capacity(RECENT_SAMPLES),
            hourly: VecDeque::new(),
            alerting: false,
            announced: false,
            maintenance: false,
            failing_since: None,
            last_alert: None,
            outage_start: None,
            runs_total: 0,
            failures_total: 0,
        }
    }
}

/// What a new outcome means for alerting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transition {
    /// Nothing to announce.
    None,
    /// Failed `failure_threshold` times in a row: announce down.
    WentDown {
        /// When the failure streak began.
        since: DateTime<Utc>,
        /// The latest error.
        error: String,
    },
    /// Still down and the reminder interval passed: announce again.
    StillDown {
        /// When the failure streak began.
        since: DateTime<Utc>,
        /// The latest error.
        error: String,
    },
    /// Passed `success_threshold` times in a row after an announced failure.
    Recovered {
        /// When the outage began.
        down_since: DateTime<Utc>,
    },
}

/// Whether the alert a [`Transition`] calls for goes out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// Send it.
    Send,
    /// A maintenance window covers the check: log and count it, send nothing.
    HeldBack,
    /// Nothing to send: no transition, or the recovery of an outage nobody was told about.
    Quiet,
}

/// How far back the error lines of a down alert reach at most.
pub const EVIDENCE_WINDOW: chrono::TimeDelta = chrono::TimeDelta::minutes(15);

impl CheckState {
    /// Decides whether the alert of `transition` (just returned by [`apply`](Self::apply))
    /// goes out, and remembers whether people know about the outage. A recovery inside a
    /// maintenance window is quiet unless its down alert went out before the window.
    pub fn gate(&mut self, transition: &Transition) -> Gate {
        match transition {
            Transition::None => Gate::Quiet,
            Transition::WentDown { .. } | Transition::StillDown { .. } => {
                if self.maintenance {
                    Gate::HeldBack
                } else {
                    self.announced = true;
                    Gate::Send
                }
            }
            Transition::Recovered { .. } => {
                if std::mem::take(&mut self.announced) {
                    Gate::Send
                } else {
                    Gate::Quiet
                }
            }
        }
    }

    /// Clears the maintenance flag; when the check is still down behind an outage whose
    /// alert was held back, returns the down transition to announce now (so a failed
    /// deploy left broken still pages someone).
    pub fn end_maintenance(&mut self, at: DateTime<Utc>) -> Option<Transition> {
        self.maintenance = false;
        if !self.alerting || self.announced || self.status.is_ok() {
            return None;
        }
        self.announced = true;
        self.last_alert = Some(at);
        let since = self.outage_start.or(self.failing_since).unwrap_or(at);
        let error = self
            .last
            .as_ref()
            .and_then(|o| o.error.clone())
            .unwrap_or_else(|| "failed".to_string());
        Some(Transition::WentDown { since, error })
    }

    /// Where the error lines of a down alert start: the last check that passed, or
    /// [`EVIDENCE_WINDOW`] ago, whichever is later.
    pub fn evidence_since(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let floor = now - EVIDENCE_WINDOW;
        self.recent
            .iter()
            .rev()
            .find(|sample| sample.status.is_ok())
            .and_then(|sample| DateTime::from_timestamp(i64::from(sample.at), 0))
            .map_or(floor, |last_up| last_up.max(floor))
    }

    /// Uptime over the last [`UPTIME_HOURS`] hours, as a percentage; `None` before any check.
    pub fn uptime_percent(&self, now: DateTime<Utc>) -> Option<f64> {
        let current_hour = now.timestamp().div_euclid(3600);
        let (total, ok) = self
            .hourly
            .iter()
            .filter(|b| b.hour > current_hour - UPTIME_HOURS)
            .fold((0u64, 0u64), |(t, o), b| {
                (t + u64::from(b.total), o + u64::from(b.ok))
            });
        (total > 0).then(|| ok as f64 * 100.0 / total as f64)
    }

    fn count_hour(&mut self, at: DateTime<Utc>, ok: bool) {
        let hour = at.timestamp().div_euclid(3600);
        match self.hourly.back_mut() {
            Some(bucket) if bucket.hour == hour => {
                bucket.total += 1;
                bucket.ok += u32::from(ok);
            }
            _ => {
                self.hourly.push_back(HourBucket {
                    hour,
                    total: 1,
                    ok: u32::from(ok),
                });
                while self
                    .hourly
                    .front()
                    .is_some_and(|b| b.hour <= hour - UPTIME_HOURS)
                {
                    self.hourly.pop_front();
                }
            }
        }
    }

    /// Puts back history loaded from storage (before the first check runs).
    pub fn restore(
        &mut self,
        hourly: Vec<HourBucket>,
        recent: Vec<Sample>,
        last_error: Option<(DateTime<Utc>, String)>,
    ) {
        self.hourly = hourly.into();
        self.recent = recent
            .into_iter()
            .rev()
            .take(RECENT_SAMPLES)
            .rev()
            .collect();
        self.last_error = last_error;
    }

    /// Applies an outcome and decides the alerting transition.
    pub fn apply(
        &mut self,
        info: &CheckInfo,
        outcome: Outcome,
        at: DateTime<Utc>,
        reminder: Option<Duration>,
    ) -> Transition {
        let ok = outcome.status.is_ok();
        if self.status != outcome.status {
            self.status_since = Some(at);
        }
        self.status = outcome.status;
        self.last_checked = Some(at);
        self.runs_total += 1;
        self.count_hour(at, ok);
        if self.recent.len() == RECENT_SAMPLES {
            self.recent.pop_front();
        }
        self.recent.push_back(Sample {
            at: u32::try_from(at.timestamp()).unwrap_or(0),
            ms: u32::try_from(outcome.elapsed.as_millis()).unwrap_or(u32::MAX),
            status: outcome.status,
        });
        let transition = if ok {
            self.consecutive_failures = 0;
            self.consecutive_successes += 1;
            self.failing_since = None;
            if self.alerting && self.consecutive_successes >= info.success_threshold {
                self.alerting = false;
                Transition::Recovered {
                    down_since: self.outage_start.take().unwrap_or(at),
                }
            } else {
                Transition::None
            }
        } else {
            self.failures_total += 1;
            self.consecutive_successes = 0;
            self.consecutive_failures += 1;
            let since = *self.failing_since.get_or_insert(at);
            let error = outcome
                .error
                .clone()
                .unwrap_or_else(|| "failed".to_string());
            self.last_error = Some((at, error.clone()));
            if !self.alerting && self.consecutive_failures >= info.failure_threshold {
                self.alerting = true;
                self.outage_start = Some(since);
                self.last_alert = Some(at);
                Transition::WentDown { since, error }
            } else if self.alerting
                && reminder.is_some_and(|every| {
                    self.last_alert
                        .is_some_and(|last| (at - last).to_std().unwrap_or_default() >= every)
                })
            {
                self.last_alert = Some(at);
                Transition::StillDown {
                    since: self.outage_start.unwrap_or(since),
                    error,
                }
            } else {
                Transition::None
            }
        };
        self.last = Some(outcome);
        transition
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(failure_threshold: u32, success_threshold: u32) -> CheckInfo {
        CheckInfo {
            name: "api".into(),
            kind: "http",
            target: "http://api/".to_string(),
            failure_threshold,
            success_threshold,
            project: None,
            discovered: false,
        }
    }

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + secs, 0).unwrap()
    }

    fn down() -> Outcome {
        Outcome::down(Duration::from_millis(5), "boom")
    }

    fn up() -> Outcome {
        Outcome::up(Duration::from_millis(5))
    }

    #[test]
    fn down_is_announced_once_after_the_failure_threshold() {
        let info = info(3, 1);
        let mut state = CheckState::default();
        assert_eq!(state.apply(&info, down(), at(0), None), Transition::None);
        assert_eq!(state.apply(&info, down(), at(10), None), Transition::None);
        assert_eq!(
            state.apply(&info, down(), at(20), None),
            Transition::WentDown {
                since: at(0),
                error: "boom".to_string()
            }
        );
        assert_eq!(state.apply(&info, down(), at(30), None), Transition::None);
        assert_eq!(state.status, Status::Down);
        assert_eq!(state.consecutive_failures, 4);
    }

    #[test]
    fn a_single_success_resets_the_failure_streak() {
        let info = info(2, 1);
        let mut state = CheckState::default();
        state.apply(&info, down(), at(0), None);
        state.apply(&info, up(), at(10), None);
        assert_eq!(state.apply(&info, down(), at(20), None), Transition::None);
    }

    #[test]
    fn recovery_needs_the_success_threshold_and_reports_the_outage_start() {
        let info = info(1, 2);
        let mut state = CheckState::default();
        state.apply(&info, down(), at(0), None);
        assert_eq!(state.apply(&info, up(), at(10), None), Transition::None);
        assert_eq!(
            state.apply(&info, up(), at(20), None),
            Transition::Recovered { down_since: at(0) }
        );
        assert!(!state.alerting);
    }

    #[test]
    fn reminders_repeat_while_down_at_their_interval() {
        let info = info(1, 1);
        let mut state = CheckState::default();
        let every = Some(Duration::from_secs(60));
        assert!(matches!(
            state.apply(&info, down(), at(0), every),
            Transition::WentDown { .. }
        ));
        assert_eq!(state.apply(&info, down(), at(30), every), Transition::None);
        assert!(matches!(
            state.apply(&info, down(), at(60), every),
            Transition::StillDown { since, .. } if since == at(0)
        ));
        assert_eq!(state.apply(&info, down(), at(90), every), Transition::None);
    }

    #[test]
    fn a_window_holds_back_down_and_ending_it_while_down_announces_it() {
        let info = info(1, 1);
        let mut state = CheckState {
            maintenance: true,
            ..CheckState::default()
        };
        let went_down = state.apply(&info, down(), at(0), None);
        assert_eq!(state.gate(&went_down), Gate::HeldBack);
        assert!(state.alerting && !state.announced);
        assert_eq!(
            state.end_maintenance(at(30)),
            Some(Transition::WentDown {
                since: at(0),
                error: "boom".to_string()
            })
        );
        assert!(state.announced && !state.maintenance);
        // Told about, so its recovery is announced too.
        let recovered = state.apply(&info, up(), at(40), None);
        assert_eq!(state.gate(&recovered), Gate::Send);
    }

    #[test]
    fn a_recovery_inside_a_window_is_quiet_and_nothing_is_left_to_announce() {
        let info = info(1, 1);
        let mut state = CheckState {
            maintenance: true,
            ..CheckState::default()
        };
        let went_down = state.apply(&info, down(), at(0), None);
        assert_eq!(state.gate(&went_down), Gate::HeldBack);
        let recovered = state.apply(&info, up(), at(10), None);
        assert_eq!(state.gate(&recovered), Gate::Quiet);
        assert_eq!(state.end_maintenance(at(20)), None);
    }

    #[test]
    fn an_outage_announced_before_the_window_still_gets_its_recovery() {
        let info = info(1, 1);
        let mut state = CheckState::default();
        let went_down = state.apply(&info, down(), at(0), None);
        assert_eq!(state.gate(&went_down), Gate::Send);
        state.maintenance = true;
        let recovered = state.apply(&info, up(), at(10), None);
        assert_eq!(state.gate(&recovered), Gate::Send);
    }

    #[test]
    fn evidence_starts_at_the_last_passing_check_but_at_most_15_minutes_back() {
        let info = info(3, 1);
        let mut state = CheckState::default();
        state.apply(&info, up(), at(0), None);
        state.apply(&info, down(), at(10), None);
        assert_eq!(state.evidence_since(at(20)), at(0));
        assert_eq!(state.evidence_since(at(3600)), at(3600 - 900));
        assert_eq!(
            CheckState::default().evidence_since(at(3600)),
            at(3600 - 900)
        );
    }

    #[test]
    #[cfg(target_pointer_width = "64")]
    fn the_maintenance_flags_fit_in_what_a_check_already_took() {
        // 10,000 checks must fit in 64 MiB: the two flags of maintenance windows live in
        // the padding of the state (296 bytes before them too).
        assert!(std::mem::size_of::<CheckState>() <= 296);
    }

    #[test]
    fn uptime_counts_the_last_24_hours_only() {
        let info = info(1, 1);
        let mut state = CheckState::default();
        state.apply(&info, down(), at(0), None);
        state.apply(&info, up(), at(3600 * 30), None);
        state.apply(&info, up(), at(3600 * 30 + 10), None);
        assert_eq!(state.uptime_percent(at(3600 * 30 + 20)), Some(100.0));
        state.apply(&info, down(), at(3600 * 30 + 30), None);
        let uptime = state.uptime_percent(at(3600 * 30 + 40)).unwrap();
        assert!((uptime - 66.666).abs() < 0.01);
    }
}
