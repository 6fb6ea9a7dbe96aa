//! What one container is doing now, as an inspect tells it: running or not, its HEALTHCHECK,
//! how it last ended (exit code, OOM kill), restarts and times. Plain data, so that the
//! verdict on it is a pure function tested without an engine.

use std::collections::BTreeMap;

use bollard::models::{ContainerInspectResponse, ContainerStateStatusEnum, HealthStatusEnum};
use chrono::{DateTime, Utc};

use crate::{ONEOFF_LABEL, PROJECT_LABEL, SERVICE_LABEL};

/// The container's run state (Docker's `State.Status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunState {
    /// Created, never started.
    Created,
    /// Its process runs.
    Running,
    /// Frozen by `docker pause`.
    Paused,
    /// Between two runs under a restart policy.
    Restarting,
    /// Being removed.
    Removing,
    /// Its process ended.
    Exited,
    /// Could not be stopped or removed cleanly.
    Dead,
}

impl RunState {
    /// Docker's word for it.
    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Created => "created",
            RunState::Running => "running",
            RunState::Paused => "paused",
            RunState::Restarting => "restarting",
            RunState::Removing => "removing",
            RunState::Exited => "exited",
            RunState::Dead => "dead",
        }
    }
}

/// What the container's own HEALTHCHECK reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HealthState {
    /// Within its start period, or no check has passed yet.
    Starting,
    /// The last check passed.
    Healthy,
    /// The check failed `retries` times in a row.
    Unhealthy,
}

impl HealthState {
    /// Docker's word for it.
    pub fn as_str(self) -> &'static str {
        match self {
            HealthState::Starting => "starting",
            HealthState::Healthy => "healthy",
            HealthState::Unhealthy => "unhealthy",
        }
    }

    /// Parses Docker's word (`health_status: healthy` events carry it too).
    pub fn parse(word: &str) -> Option<HealthState> {
        match word.trim() {
            "starting" => Some(HealthState::Starting),
            "healthy" => Some(HealthState::Healthy),
            "unhealthy" => Some(HealthState::Unhealthy),
            _ => None,
        }
    }
}

/// One container's state at the moment it was inspected.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerFacts {
    /// The container's id.
    pub id: String,
    /// Its name, without Docker's leading `/`.
    pub name: String,
    /// Its Compose project, if Compose made it.
    pub project: Option<String>,
    /// Its Compose service, if Compose made it.
    pub service: Option<String>,
    /// Whether it is a one-off (`compose run`) container rather than a service's.
    pub oneoff: bool,
    /// Every label (the image's and the container's).
    pub labels: BTreeMap<String, String>,
    /// Running, exited, ...
    pub state: RunState,
    /// Its HEALTHCHECK's verdict; `None` when it has none.
    pub health: Option<HealthState>,
    /// The output of the last HEALTHCHECK run, trimmed.
    pub health_output: Option<String>,
    /// How its last run ended; `None` while it never ended.
    pub exit_code: Option<i64>,
    /// Whether the kernel's OOM killer ended its last run.
    pub oom_killed: bool,
    /// The engine's error for it (a start that failed), if any.
    pub error: Option<String>,
    /// How many times its restart policy restarted it.
    pub restart_count: u64,
    /// When its current (or last) run started.
    pub started_at: Option<DateTime<Utc>>,
    /// When its last run ended.
    pub finished_at: Option<DateTime<Utc>>,
}

impl ContainerFacts {
    /// The facts of an inspect answer; `None` when it lacks an id or a state.
    pub fn from_inspect(inspect: ContainerInspectResponse) -> Option<ContainerFacts> {
        let id = inspect.id?;
        let state = inspect.state?;
        let labels: BTreeMap<String, String> = inspect
            .config
            .and_then(|config| config.labels)
            .unwrap_or_default()
            .into_iter()
            .collect();
        let run_state = match state.status {
            Some(ContainerStateStatusEnum::CREATED) => RunState::Created,
            Some(ContainerStateStatusEnum::RUNNING) => RunState::Running,
            Some(ContainerStateStatusEnum::PAUSED) => RunState::Paused,
            Some(ContainerStateStatusEnum::RESTARTING) => RunState::Restarting,
            Some(ContainerStateStatusEnum::REMOVING) => RunState::Removing,
            Some(ContainerStateStatusEnum::DEAD) => RunState::Dead,
            Some(ContainerStateStatusEnum::EXITED) => RunState::Exited,
            // Older engines leave `Status` out: the flags tell the same.
            _ if state.restarting == Some(true) => RunState::Restarting,
            _ if state.paused == Some(true) => RunState::Paused,
            _ if state.running == Some(true) => RunState::Running,
            _ => RunState::Exited,
        };
        let health = state.health.as_ref().and_then(|h| match h.status {
            Some(HealthStatusEnum::STARTING) => Some(HealthState::Starting),
            Some(HealthStatusEnum::HEALTHY) => Some(HealthState::Healthy),
            Some(HealthStatusEnum::UNHEALTHY) => Some(HealthState::Unhealthy),
            _ => None,
        });
        let health_output = state
            .health
            .as_ref()
            .and_then(|h| h.log.as_ref())
            .and_then(|log| log.last())
            .and_then(|last| last.output.as_deref())
            .map(str::trim)
            .filter(|out| !out.is_empty())
            .map(|out| out.chars().take(300).collect());
        let started_at = state.started_at.as_deref().and_then(docker_time);
        let finished_at = state.finished_at.as_deref().and_then(docker_time);
        Some(ContainerFacts {
            name: inspect
                .name
                .as_deref()
                .unwrap_or(&id)
                .trim_start_matches('/')
                .to_string(),
            id,
            project: labels.get(PROJECT_LABEL).cloned(),
            service: labels.get(SERVICE_LABEL).cloned(),
            oneoff: labels
                .get(ONEOFF_LABEL)
                .is_some_and(|v| v.eq_ignore_ascii_case("true")),
            labels,
            state: run_state,
            health,
            health_output,
            // A container that never ran has exit code 0 and no finish time: no ending.
            exit_code: state.exit_code.filter(|_| finished_at.is_some()),
            oom_killed: state.oom_killed == Some(true),
            error: state.error.filter(|e| !e.is_empty()),
            restart_count: state_restart_count(inspect.restart_count),
            started_at,
            finished_at,
        })
    }

    /// The name people know it by: its Compose service, else its container name.
    pub fn display_name(&self) -> &str {
        self.service.as_deref().unwrap_or(&self.name)
    }
}

fn state_restart_count(count: Option<i64>) -> u64 {
    count.and_then(|c| u64::try_from(c).ok()).unwrap_or(0)
}

/// A time as the engine writes it; its zero time (`0001-01-01T00:00:00Z`, "never") is `None`.
pub fn docker_time(text: &str) -> Option<DateTime<Utc>> {
    let time = DateTime::parse_from_rfc3339(text).ok()?.with_timezone(&Utc);
    (time.timestamp() > 0).then_some(time)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use bollard::models::{ContainerConfig, ContainerState, Health, HealthcheckResult};

    use super::*;

    fn inspect(state: ContainerState, labels: &[(&str, &str)]) -> ContainerInspectResponse {
        ContainerInspectResponse {
            id: Some("abc123".to_string()),
            name: Some("/shop_api_1".to_string()),
            restart_count: Some(2),
            state: Some(state),
            config: Some(ContainerConfig {
                labels: Some(
                    labels
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect::<HashMap<_, _>>(),
                ),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn an_oom_killed_container_is_exited_with_137_and_the_flag() {
        let facts = ContainerFacts::from_inspect(inspect(
            ContainerState {
                status: Some(ContainerStateStatusEnum::EXITED),
                exit_code: Some(137),
                oom_killed: Some(true),
                started_at: Some("2026-11-28T10:00:00.5Z".to_string()),
                finished_at: Some("2026-11-28T10:05:00Z".to_string()),
                ..Default::default()
            },
            &[(PROJECT_LABEL, "shop"), (SERVICE_LABEL, "api")],
        ))
        .unwrap();
        assert_eq!(facts.state, RunState::Exited);
        assert_eq!(facts.exit_code, Some(137));
        assert!(facts.oom_killed);
        assert_eq!(facts.name, "shop_api_1");
        assert_eq!(facts.display_name(), "api");
        assert_eq!(facts.project.as_deref(), Some("shop"));
        assert_eq!(facts.restart_count, 2);
        assert!(!facts.oneoff);
    }

    #[test]
    fn a_container_that_never_ran_has_no_exit_code_nor_times() {
        let facts = ContainerFacts::from_inspect(inspect(
            ContainerState {
                status: Some(ContainerStateStatusEnum::CREATED),
                exit_code: Some(0),
                started_at: Some("0001-01-01T00:00:00Z".to_string()),
                finished_at: Some("0001-01-01T00:00:00Z".to_string()),
                ..Default::default()
            },
            &[(ONEOFF_LABEL, "True")],
        ))
        .unwrap();
        assert_eq!(facts.state, RunState::Created);
        assert_eq!(facts.exit_code, None);
        assert_eq!(facts.started_at, None);
        assert!(facts.oneoff);
        assert_eq!(facts.display_name(), "shop_api_1");
    }

    #[test]
    fn the_healthcheck_verdict_and_its_last_output_are_kept() {
        let facts = ContainerFacts::from_inspect(inspect(
            ContainerState {
                status: Some(ContainerStateStatusEnum::RUNNING),
                health: Some(Health {
                    status: Some(HealthStatusEnum::UNHEALTHY),
                    failing_streak: Some(3),
                    log: Some(vec![HealthcheckResult {
                        output: Some("  curl: (7) connection refused\n".to_string()),
                        exit_code: Some(1),
                        ..Default::default()
                    }]),
                }),
                ..Default::default()
            },
            &[],
        ))
        .unwrap();
        assert_eq!(facts.health, Some(HealthState::Unhealthy));
        assert_eq!(
            facts.health_output.as_deref(),
            Some("curl: (7) connection refused")
        );
    }

    #[test]
    fn health_words_parse_as_docker_writes_them() {
        assert_eq!(HealthState::parse(" healthy"), Some(HealthState::Healthy));
        assert_eq!(
            HealthState::parse("unhealthy"),
            Some(HealthState::Unhealthy)
        );
        assert_eq!(HealthState::parse("starting"), Some(HealthState::Starting));
        assert_eq!(HealthState::parse("none"), None);
    }
}
