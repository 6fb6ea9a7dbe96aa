//! A job as it is stored and served: its hook, the facts of the delivery that made it, its
//! state through its life, and what it printed.
//!
//! ```text
//! queued ──▶ running ──▶ succeeded | failed | rolled_back | rollback_failed
//!    │          └──────▶ interrupted (the process stopped or died while it ran)
//!    └─────▶ superseded (a newer delivery for the hook replaced it while it waited)
//! ```

use serde::Serialize;

use crate::payload::Facts;

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Accepted, waiting for its hook's previous job (or a free slot).
    Queued,
    /// Its action is running.
    Running,
    /// The action ended well.
    Succeeded,
    /// The action failed, timed out, or could not start.
    Failed,
    /// A newer delivery for the same hook replaced it before it ran.
    Superseded,
    /// The service stopped or died while it ran.
    Interrupted,
    /// A deploy failed and the previous version was brought back.
    RolledBack,
    /// A deploy failed and bringing the previous version back failed too.
    RollbackFailed,
}

impl JobState {
    /// Every state, in the order above.
    pub const ALL: [JobState; 8] = [
        JobState::Queued,
        JobState::Running,
        JobState::Succeeded,
        JobState::Failed,
        JobState::Superseded,
        JobState::Interrupted,
        JobState::RolledBack,
        JobState::RollbackFailed,
    ];

    /// Its name, as stored and served.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Succeeded => "succeeded",
            JobState::Failed => "failed",
            JobState::Superseded => "superseded",
            JobState::Interrupted => "interrupted",
            JobState::RolledBack => "rolled_back",
            JobState::RollbackFailed => "rollback_failed",
        }
    }

    /// The state named `name`.
    pub fn parse(name: &str) -> Option<JobState> {
        JobState::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// Whether the job is over.
    pub fn is_final(self) -> bool {
        !matches!(self, JobState::Queued | JobState::Running)
    }
}

/// What made a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// A verified delivery.
    Webhook,
    /// `POST /hooks/ID/trigger`.
    Manual,
    /// `POST /jobs/ID/retry`.
    Retry,
}

impl Trigger {
    /// Its name, as stored and served.
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Webhook => "webhook",
            Trigger::Manual => "manual",
            Trigger::Retry => "retry",
        }
    }

    /// The trigger named `name`.
    pub fn parse(name: &str) -> Option<Trigger> {
        [Trigger::Webhook, Trigger::Manual, Trigger::Retry]
            .into_iter()
            .find(|t| t.as_str() == name)
    }
}

/// A job as `/jobs` and `/jobs/ID` serve it.
#[derive(Debug, Clone, Serialize)]
pub struct JobRecord {
    /// Its number, increasing.
    pub id: i64,
    /// The hook it belongs to.
    pub hook: String,
    /// What made it.
    pub trigger: Trigger,
    /// For retries: the job retried.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_of: Option<i64>,
    /// The delivery's facts (event, repo, ref, branch, tag, commit, pusher, delivery).
    #[serde(flatten)]
    pub facts: Facts,
    /// Where it is in its life.
    pub state: JobState,
    /// Why it ended as it did (failed, superseded, interrupted), in words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The exit code of the action's last program, when it exited.
    pub exit_code: Option<i32>,
    /// Attempts made (retries included).
    pub attempts: u32,
    /// When it was accepted (RFC 3339).
    pub created_at: String,
    /// When it started running.
    pub started_at: Option<String>,
    /// When it ended.
    pub finished_at: Option<String>,
    /// How long it ran, in milliseconds.
    pub duration_ms: Option<u64>,
    /// The tail of its output (only in `/jobs/ID`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    /// The steps of a deploy, with their times and outcomes (empty for plain actions).
    pub steps: Vec<serde_json::Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_round_trip_through_their_names() {
        for state in JobState::ALL {
            assert_eq!(JobState::parse(state.as_str()), Some(state));
        }
        assert_eq!(JobState::parse("done"), None);
    }

    #[test]
    fn only_queued_and_running_jobs_are_unfinished() {
        let unfinished: Vec<_> = JobState::ALL
            .into_iter()
            .filter(|s| !s.is_final())
            .collect();
        assert_eq!(unfinished, [JobState::Queued, JobState::Running]);
    }
}
