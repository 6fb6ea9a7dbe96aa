//! The steps of a deploy as its job record keeps them (`steps` in `/jobs/ID`, the timeline on
//! the dashboard): each with its name, when it started and ended, how it ended and what it
//! found. Saved at every change, so a deploy in progress and one cut short by a crash show
//! how far they got.

use std::sync::Mutex;

use serde::Serialize;

use crate::store::{now_ms, rfc3339, JobStore};

/// How a step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepOutcome {
    /// Still going.
    Running,
    /// Done as hoped.
    Ok,
    /// Failed; the detail says why.
    Failed,
    /// Not needed this time.
    Skipped,
}

/// One step.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    /// `recorded`, `updated`, `started`, `health`, `rolled back`, ...
    pub name: String,
    /// When it began (RFC 3339).
    pub started_at: String,
    /// When it ended.
    pub finished_at: Option<String>,
    /// How it ended.
    pub outcome: StepOutcome,
    /// What it did or found, in words.
    pub detail: String,
}

/// The steps of one job, saved to its record as they change.
pub struct Steps {
    /// The job.
    job: i64,
    /// Where they are saved.
    store: JobStore,
    /// The steps so far.
    list: Mutex<Vec<Step>>,
}

impl Steps {
    /// No steps yet, for `job`.
    pub fn new(job: i64, store: JobStore) -> Steps {
        Steps {
            job,
            store,
            list: Mutex::new(Vec::new()),
        }
    }

    /// Starts step `name`; returns its index.
    pub async fn begin(&self, name: &str, detail: impl Into<String>) -> usize {
        let index = {
            let mut list = self.list.lock().unwrap_or_else(|p| p.into_inner());
            list.push(Step {
                name: name.to_string(),
                started_at: rfc3339(now_ms()),
                finished_at: None,
                outcome: StepOutcome::Running,
                detail: detail.into(),
            });
            list.len() - 1
        };
        self.save().await;
        index
    }

    /// Ends step `index`.
    pub async fn end(&self, index: usize, outcome: StepOutcome, detail: impl Into<String>) {
        {
            let mut list = self.list.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(step) = list.get_mut(index) {
                step.finished_at = Some(rfc3339(now_ms()));
                step.outcome = outcome;
                step.detail = detail.into();
            }
        }
        self.save().await;
    }

    /// Records a step that began and ended at once.
    pub async fn note(&self, name: &str, outcome: StepOutcome, detail: impl Into<String>) {
        let index = self.begin(name, "").await;
        self.end(index, outcome, detail).await;
    }

    /// The steps so far.
    pub fn list(&self) -> Vec<Step> {
        self.list.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    async fn save(&self) {
        let json = serde_json::to_string(&self.list()).unwrap_or_else(|_| "[]".to_string());
        if let Err(err) = self.store.save_steps(self.job, json).await {
            tracing::warn!(job = self.job, %err, "Cannot save a deploy's steps.");
        }
    }
}
