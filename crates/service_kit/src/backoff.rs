//! Exponential backoff with jitter, the one retry rhythm of every loop that tries again:
//! alert deliveries, reconnecting to the Docker Engine, storing a batch, retrying a job.

use std::time::Duration;

/// The wait after failed attempt number `attempt` (1-based): `initial * 2^(attempt-1)`,
/// capped at `max`, plus up to 10 % jitter (still within `max`) so that several processes
/// retrying against the same peer do not do so in lockstep.
pub fn exponential(initial: Duration, max: Duration, attempt: u32) -> Duration {
    let exponent = attempt.saturating_sub(1).min(20);
    let base = initial.saturating_mul(1 << exponent).min(max);
    let jitter = base.mul_f64(fastrand::f64() * 0.1);
    (base + jitter).min(max)
}

/// A backoff that remembers how many attempts have failed in a row.
#[derive(Debug, Clone)]
pub struct Backoff {
    /// The first wait.
    initial: Duration,
    /// The longest wait.
    max: Duration,
    /// Failed attempts since the last [`reset`](Self::reset).
    failures: u32,
}

impl Backoff {
    /// Starts at `initial`, doubling after every failure up to `max`.
    pub fn new(initial: Duration, max: Duration) -> Backoff {
        Backoff {
            initial,
            max,
            failures: 0,
        }
    }

    /// Counts one more failure and returns how long to wait before the next attempt.
    pub fn next_delay(&mut self) -> Duration {
        self.failures = self.failures.saturating_add(1);
        exponential(self.initial, self.max, self.failures)
    }

    /// Failed attempts since the last success.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// After a success: the next failure waits `initial` again.
    pub fn reset(&mut self) {
        self.failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn within(d: Duration, millis: u64) -> bool {
        d >= Duration::from_millis(millis) && d <= Duration::from_millis(millis * 11 / 10)
    }

    #[test]
    fn waits_double_from_the_first_and_stop_at_the_longest() {
        let mut backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(30));
        assert!(within(backoff.next_delay(), 500));
        assert!(within(backoff.next_delay(), 1000));
        assert!(within(backoff.next_delay(), 2000));
        for _ in 0..100 {
            assert!(backoff.next_delay() <= Duration::from_secs(30));
        }
        assert_eq!(backoff.next_delay(), Duration::from_secs(30));
    }

    #[test]
    fn a_success_starts_over() {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
        backoff.next_delay();
        backoff.next_delay();
        backoff.reset();
        assert!(within(backoff.next_delay(), 100));
        assert_eq!(backoff.failures(), 1);
    }

    #[test]
    fn huge_attempt_numbers_do_not_overflow() {
        let max = Duration::from_secs(30);
        assert_eq!(exponential(Duration::from_millis(500), max, u32::MAX), max);
    }
}
