//! Counters behind `/metrics`: deliveries by hook and outcome, finished jobs by hook and
//! state, and job durations per hook. Hooks are configured, so labels stay few. The queue
//! depth is read from the job queues at scrape time.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use service_kit::metrics_text::Histogram;

use crate::deliveries::Outcome;
use crate::jobs::record::JobState;

/// Upper bounds of the job duration buckets, in seconds: deploys take seconds to minutes.
pub const DURATION_BUCKETS: [f64; 10] =
    [0.5, 1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0];

/// The counters.
#[derive(Debug)]
pub struct Metrics {
    /// Per hook, per [`Outcome::ALL`] index.
    deliveries: HashMap<String, [AtomicU64; Outcome::ALL.len()]>,
    /// Requests for hooks that do not exist.
    unknown_hook: AtomicU64,
    /// Per hook: finished jobs per [`JobState::ALL`] index, and durations.
    jobs: Mutex<HashMap<String, JobCounts>>,
}

/// One hook's finished jobs.
#[derive(Debug, Clone)]
pub struct JobCounts {
    /// Per [`JobState::ALL`] index.
    pub by_state: [u64; JobState::ALL.len()],
    /// How long they ran.
    pub durations: Histogram,
}

impl Metrics {
    /// Counters for these hooks, all zero.
    pub fn new<'a>(hooks: impl IntoIterator<Item = &'a str>) -> Metrics {
        let hooks: Vec<&str> = hooks.into_iter().collect();
        Metrics {
            deliveries: hooks
                .iter()
                .map(|h| (h.to_string(), std::array::from_fn(|_| AtomicU64::new(0))))
                .collect(),
            unknown_hook: AtomicU64::new(0),
            jobs: Mutex::new(
                hooks
                    .iter()
                    .map(|h| {
                        (
                            h.to_string(),
                            JobCounts {
                                by_state: [0; JobState::ALL.len()],
                                durations: Histogram::new(&DURATION_BUCKETS),
                            },
                        )
                    })
                    .collect(),
            ),
        }
    }

    /// Counts a delivery to `hook`.
    pub fn delivery(&self, hook: &str, outcome: Outcome) {
        if let Some(counts) = self.deliveries.get(hook) {
            let index = Outcome::ALL.iter().position(|o| *o == outcome).unwrap_or(0);
            counts[index].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts a request for a hook that does not exist.
    pub fn unknown_hook(&self) {
        self.unknown_hook.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a finished job of `hook`.
    pub fn job_finished(&self, hook: &str, state: JobState, duration_secs: Option<f64>) {
        let mut jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(counts) = jobs.get_mut(hook) {
            let index = JobState::ALL.iter().position(|s| *s == state).unwrap_or(0);
            counts.by_state[index] += 1;
            if let Some(secs) = duration_secs {
                counts.durations.observe(secs);
            }
        }
    }

    /// Deliveries per hook and outcome, sorted by hook.
    pub fn deliveries(&self) -> Vec<(String, Vec<(Outcome, u64)>)> {
        let mut out: Vec<_> = self
            .deliveries
            .iter()
            .map(|(hook, counts)| {
                let by_outcome = Outcome::ALL
                    .iter()
                    .zip(counts)
                    .map(|(o, c)| (*o, c.load(Ordering::Relaxed)))
                    .collect();
                (hook.clone(), by_outcome)
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// Requests for unknown hooks.
    pub fn unknown_hooks(&self) -> u64 {
        self.unknown_hook.load(Ordering::Relaxed)
    }

    /// Finished jobs per hook, sorted by hook.
    pub fn jobs(&self) -> Vec<(String, JobCounts)> {
        let jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
        let mut out: Vec<_> = jobs.iter().map(|(h, c)| (h.clone(), c.clone())).collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deliveries_and_jobs_are_counted_per_hook() {
        let metrics = Metrics::new(["app", "docs"]);
        metrics.delivery("app", Outcome::Rejected);
        metrics.delivery("app", Outcome::Rejected);
        metrics.delivery("nope", Outcome::Accepted);
        metrics.job_finished("docs", JobState::Failed, Some(2.0));
        let deliveries = metrics.deliveries();
        assert_eq!(deliveries[0].0, "app");
        assert!(deliveries[0].1.contains(&(Outcome::Rejected, 2)));
        let jobs = metrics.jobs();
        assert_eq!(jobs[1].1.by_state[3], 1);
    }
}
