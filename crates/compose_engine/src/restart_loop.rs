//! A restart loop: a service (re)started `threshold` times within `window`. Said once per
//! loop: after it was said, the service must first stay up for a whole window.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use chrono::{DateTime, Utc};

/// Counts starts per service.
#[derive(Debug, Clone)]
pub struct RestartLoops {
    threshold: usize,
    window: chrono::Duration,
    /// Recent starts per service, oldest first; and whether its loop was said already.
    services: HashMap<String, (VecDeque<DateTime<Utc>>, bool)>,
}

impl RestartLoops {
    /// A loop is `threshold` (at least 2) starts within `window`.
    pub fn new(threshold: u32, window: Duration) -> RestartLoops {
        RestartLoops {
            threshold: threshold.max(2) as usize,
            window: chrono::Duration::from_std(window).unwrap_or(chrono::Duration::MAX),
            services: HashMap::new(),
        }
    }

    /// Records a start of `service` at `at`; `Some(starts)` when that makes a loop that was
    /// not said yet, with how many starts fell within the window.
    pub fn on_start(&mut self, service: &str, at: DateTime<Utc>) -> Option<usize> {
        let (starts, said) = self.services.entry(service.to_string()).or_default();
        while starts
            .front()
            .is_some_and(|first| at - *first > self.window)
        {
            starts.pop_front();
        }
        if starts.is_empty() {
            // A whole window without a start: the loop (if any) is over.
            *said = false;
        }
        starts.push_back(at);
        // Only what can still count is kept: memory stays bounded by `threshold`.
        if starts.len() > self.threshold {
            starts.pop_front();
        }
        if starts.len() >= self.threshold && !*said {
            *said = true;
            return Some(starts.len());
        }
        None
    }

    /// Forgets a service (its containers were removed).
    pub fn forget(&mut self, service: &str) {
        self.services.remove(service);
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_795_000_000 + secs, 0).unwrap()
    }

    #[test]
    fn the_nth_start_within_the_window_is_a_loop_said_once() {
        let mut loops = RestartLoops::new(3, Duration::from_secs(300));
        assert_eq!(loops.on_start("worker", at(0)), None);
        assert_eq!(loops.on_start("worker", at(10)), None);
        assert_eq!(loops.on_start("api", at(15)), None);
        assert_eq!(loops.on_start("worker", at(20)), Some(3));
        assert_eq!(loops.on_start("worker", at(30)), None, "said once");
        assert_eq!(loops.on_start("worker", at(40)), None);
    }

    #[test]
    fn starts_spread_wider_than_the_window_are_no_loop() {
        let mut loops = RestartLoops::new(3, Duration::from_secs(60));
        for i in 0..10 {
            assert_eq!(loops.on_start("api", at(i * 40)), None, "start {i}");
        }
    }

    #[test]
    fn a_loop_said_is_said_again_only_after_a_quiet_window() {
        let mut loops = RestartLoops::new(2, Duration::from_secs(60));
        assert_eq!(loops.on_start("api", at(0)), None);
        assert_eq!(loops.on_start("api", at(5)), Some(2));
        assert_eq!(loops.on_start("api", at(50)), None);
        assert_eq!(loops.on_start("api", at(200)), None, "quiet window passed");
        assert_eq!(loops.on_start("api", at(210)), Some(2));
    }
}
