//! Up, degraded or down for a container, and why, in the words a person on call reads:
//! up when it runs (and its HEALTHCHECK, if it has one, says healthy); degraded while that
//! HEALTHCHECK is starting or shortly after a restart; down when it exited (with its exit
//! code, and for 137 whether the OOM killer did it), restarts, is unhealthy, paused or missing.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::facts::{ContainerFacts, HealthState, RunState};

/// How long after a restart a running container still counts as degraded, unless told.
pub const RECENT_RESTART: Duration = Duration::from_secs(300);

/// The three states a check reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ContainerStatus {
    /// Running (and healthy, when it has a HEALTHCHECK).
    Up,
    /// Running, but its HEALTHCHECK is starting or it restarted a moment ago.
    Degraded,
    /// Not serving: exited, restarting, unhealthy, paused, created only, or missing.
    Down,
}

/// The verdict on a container (or on the replicas of one service).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Up, degraded or down.
    pub status: ContainerStatus,
    /// Why it is not up (`exited with code 137 (OOM-killed)`); `None` when up.
    pub reason: Option<String>,
    /// What a person wants to see beside it: state, uptime or time since it ended, restarts.
    pub detail: String,
}

/// The verdict on one container at `now`; `None` is a container that does not exist.
/// `recent_restart` is how long a restart keeps a running container degraded.
pub fn judge(
    facts: Option<&ContainerFacts>,
    now: DateTime<Utc>,
    recent_restart: Duration,
) -> Verdict {
    let Some(facts) = facts else {
        return Verdict {
            status: ContainerStatus::Down,
            reason: Some("container missing".to_string()),
            detail: "no container".to_string(),
        };
    };
    let restarts = match facts.restart_count {
        1 => "1 restart".to_string(),
        n => format!("{n} restarts"),
    };
    let (status, reason) = match facts.state {
        RunState::Running => running(facts, now, recent_restart),
        RunState::Restarting => (
            ContainerStatus::Down,
            Some(match facts.exit_code {
                Some(code) => format!("restarting (last {})", ended_how(code, facts.oom_killed)),
                None => "restarting".to_string(),
            }),
        ),
        RunState::Exited | RunState::Dead => (
            ContainerStatus::Down,
            Some(match (facts.exit_code, &facts.error) {
                (_, Some(error)) => format!("{} ({error})", facts.state.as_str()),
                (Some(code), None) => ended_how(code, facts.oom_killed),
                (None, None) => facts.state.as_str().to_string(),
            }),
        ),
        RunState::Paused => (ContainerStatus::Down, Some("paused".to_string())),
        RunState::Created => (
            ContainerStatus::Down,
            Some("created, never started".to_string()),
        ),
        RunState::Removing => (ContainerStatus::Down, Some("being removed".to_string())),
    };
    let detail = match facts.state {
        RunState::Running | RunState::Paused => match facts.started_at {
            Some(started) => format!(
                "{} for {}, {restarts}",
                facts.state.as_str(),
                since(started, now)
            ),
            None => format!("{}, {restarts}", facts.state.as_str()),
        },
        _ => match facts.finished_at {
            Some(finished) => format!(
                "{} {} ago, {restarts}",
                facts.state.as_str(),
                since(finished, now)
            ),
            None => format!("{}, {restarts}", facts.state.as_str()),
        },
    };
    Verdict {
        status,
        reason,
        detail,
    }
}

/// The verdict on a service's replicas: the worst of them, its detail saying how many run
/// when there are several. No replica at all is a missing container.
pub fn judge_replicas(
    replicas: &[ContainerFacts],
    now: DateTime<Utc>,
    recent_restart: Duration,
) -> Verdict {
    let verdicts: Vec<Verdict> = replicas
        .iter()
        .map(|facts| judge(Some(facts), now, recent_restart))
        .collect();
    let Some(worst) = verdicts.iter().max_by_key(|v| v.status) else {
        return judge(None, now, recent_restart);
    };
    if verdicts.len() == 1 {
        return worst.clone();
    }
    let running = replicas
        .iter()
        .filter(|f| f.state == RunState::Running)
        .count();
    Verdict {
        status: worst.status,
        reason: worst.reason.clone(),
        detail: format!(
            "{running} of {} replicas running; {}",
            replicas.len(),
            worst.detail
        ),
    }
}

fn running(
    facts: &ContainerFacts,
    now: DateTime<Utc>,
    recent_restart: Duration,
) -> (ContainerStatus, Option<String>) {
    match facts.health {
        Some(HealthState::Unhealthy) => {
            let reason = match &facts.health_output {
                Some(output) => format!("HEALTHCHECK unhealthy: {output}"),
                None => "HEALTHCHECK unhealthy".to_string(),
            };
            return (ContainerStatus::Down, Some(reason));
        }
        Some(HealthState::Starting) => {
            return (
                ContainerStatus::Degraded,
                Some("HEALTHCHECK starting".to_string()),
            )
        }
        Some(HealthState::Healthy) | None => {}
    }
    let restarted_recently = facts.restart_count > 0
        && facts.started_at.is_some_and(|started| {
            (now - started)
                .to_std()
                .is_ok_and(|since| since < recent_restart)
        });
    if restarted_recently {
        let started = facts.started_at.unwrap_or(now);
        let last = match facts.exit_code {
            Some(code) => format!(" after it {}", ended_how(code, facts.oom_killed)),
            None => String::new(),
        };
        return (
            ContainerStatus::Degraded,
            Some(format!("restarted {} ago{last}", since(started, now))),
        );
    }
    (ContainerStatus::Up, None)
}

/// How a container ended, as both services word it: `exited with code 1`,
/// `exited with code 137 (OOM-killed)`, `exited with code 137 (killed)`,
/// `exited with code 143 (terminated)`.
pub fn ended_how(code: i64, oom_killed: bool) -> String {
    match (code, oom_killed) {
        (_, true) => format!("exited with code {code} (OOM-killed)"),
        (137, false) => "exited with code 137 (killed)".to_string(),
        (143, false) => "exited with code 143 (terminated)".to_string(),
        _ => format!("exited with code {code}"),
    }
}

/// `3m 12s`: whole seconds, as people read an uptime.
fn since(then: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (now - then).num_seconds().max(0).unsigned_abs();
    humantime::format_duration(Duration::from_secs(secs)).to_string()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use chrono::TimeZone;

    use super::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 28, 12, 0, 0).unwrap()
    }

    fn running_for(secs: i64) -> ContainerFacts {
        ContainerFacts {
            id: "c1".to_string(),
            name: "shop_api_1".to_string(),
            project: Some("shop".to_string()),
            service: Some("api".to_string()),
            oneoff: false,
            labels: BTreeMap::new(),
            state: RunState::Running,
            health: None,
            health_output: None,
            exit_code: None,
            oom_killed: false,
            error: None,
            restart_count: 0,
            started_at: Some(now() - chrono::Duration::seconds(secs)),
            finished_at: None,
        }
    }

    fn exited(code: i64, oom: bool) -> ContainerFacts {
        ContainerFacts {
            state: RunState::Exited,
            exit_code: Some(code),
            oom_killed: oom,
            finished_at: Some(now() - chrono::Duration::seconds(45)),
            ..running_for(600)
        }
    }

    #[test]
    fn a_running_container_without_healthcheck_is_up_with_its_uptime() {
        let verdict = judge(Some(&running_for(192)), now(), RECENT_RESTART);
        assert_eq!(verdict.status, ContainerStatus::Up);
        assert_eq!(verdict.reason, None);
        assert_eq!(verdict.detail, "running for 3m 12s, 0 restarts");
    }

    #[test]
    fn the_healthcheck_decides_while_it_runs() {
        let mut facts = running_for(10);
        facts.health = Some(HealthState::Starting);
        assert_eq!(
            judge(Some(&facts), now(), RECENT_RESTART).status,
            ContainerStatus::Degraded
        );
        facts.health = Some(HealthState::Healthy);
        assert_eq!(
            judge(Some(&facts), now(), RECENT_RESTART).status,
            ContainerStatus::Up
        );
        facts.health = Some(HealthState::Unhealthy);
        facts.health_output = Some("wget: server returned error 500".to_string());
        let verdict = judge(Some(&facts), now(), RECENT_RESTART);
        assert_eq!(verdict.status, ContainerStatus::Down);
        assert_eq!(
            verdict.reason.as_deref(),
            Some("HEALTHCHECK unhealthy: wget: server returned error 500")
        );
    }

    #[test]
    fn a_recent_restart_is_degraded_then_up_again() {
        let mut facts = running_for(65);
        facts.restart_count = 3;
        facts.exit_code = Some(1);
        let verdict = judge(Some(&facts), now(), RECENT_RESTART);
        assert_eq!(verdict.status, ContainerStatus::Degraded);
        assert_eq!(
            verdict.reason.as_deref(),
            Some("restarted 1m 5s ago after it exited with code 1")
        );
        assert_eq!(verdict.detail, "running for 1m 5s, 3 restarts");
        let mut settled = running_for(301);
        settled.restart_count = 3;
        assert_eq!(
            judge(Some(&settled), now(), RECENT_RESTART).status,
            ContainerStatus::Up
        );
    }

    #[test]
    fn an_exited_container_is_down_with_its_exit_code_and_oom_kill() {
        let verdict = judge(Some(&exited(1, false)), now(), RECENT_RESTART);
        assert_eq!(verdict.status, ContainerStatus::Down);
        assert_eq!(verdict.reason.as_deref(), Some("exited with code 1"));
        assert_eq!(verdict.detail, "exited 45s ago, 0 restarts");
        let oom = judge(Some(&exited(137, true)), now(), RECENT_RESTART);
        assert_eq!(
            oom.reason.as_deref(),
            Some("exited with code 137 (OOM-killed)")
        );
        let killed = judge(Some(&exited(137, false)), now(), RECENT_RESTART);
        assert_eq!(
            killed.reason.as_deref(),
            Some("exited with code 137 (killed)")
        );
    }

    #[test]
    fn restarting_paused_created_and_missing_are_down() {
        let mut restarting = exited(2, false);
        restarting.state = RunState::Restarting;
        restarting.restart_count = 7;
        let verdict = judge(Some(&restarting), now(), RECENT_RESTART);
        assert_eq!(verdict.status, ContainerStatus::Down);
        assert_eq!(
            verdict.reason.as_deref(),
            Some("restarting (last exited with code 2)")
        );
        assert_eq!(verdict.detail, "restarting 45s ago, 7 restarts");

        let mut paused = running_for(5);
        paused.state = RunState::Paused;
        assert_eq!(
            judge(Some(&paused), now(), RECENT_RESTART)
                .reason
                .as_deref(),
            Some("paused")
        );
        let missing = judge(None, now(), RECENT_RESTART);
        assert_eq!(missing.status, ContainerStatus::Down);
        assert_eq!(missing.reason.as_deref(), Some("container missing"));
    }

    #[test]
    fn replicas_take_the_worst_and_say_how_many_run() {
        let verdict = judge_replicas(
            &[running_for(100), exited(1, false), running_for(100)],
            now(),
            RECENT_RESTART,
        );
        assert_eq!(verdict.status, ContainerStatus::Down);
        assert_eq!(verdict.reason.as_deref(), Some("exited with code 1"));
        assert_eq!(
            verdict.detail,
            "2 of 3 replicas running; exited 45s ago, 0 restarts"
        );
        assert_eq!(
            judge_replicas(&[], now(), RECENT_RESTART).reason.as_deref(),
            Some("container missing")
        );
    }
}
