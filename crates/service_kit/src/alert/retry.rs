//! The delivery policy (timeouts, attempts, backoff) and the retry loop around one sink.

use std::future::Future;
use std::time::Duration;

use super::error::AlertError;

/// The longest wait between two attempts, whatever the backoff or `Retry-After` says.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// How the dispatcher delivers: cooldown per key, per-attempt timeout, retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryPolicy {
    /// After a delivery, further alerts with the same key are suppressed for this long.
    /// Default 5 minutes; zero disables the cooldown.
    pub cooldown: Duration,
    /// Longest time one attempt at one sink may take. Default 10 s.
    pub timeout: Duration,
    /// Attempts per sink, the first included; at least 1 is always made. Default 4.
    pub max_attempts: u32,
    /// Wait before the second attempt; doubles after each further failure, capped at 30 s.
    /// Default 500 ms.
    pub initial_backoff: Duration,
}

impl Default for DeliveryPolicy {
    fn default() -> Self {
        DeliveryPolicy {
            cooldown: Duration::from_secs(5 * 60),
            timeout: Duration::from_secs(10),
            max_attempts: 4,
            initial_backoff: Duration::from_millis(500),
        }
    }
}

impl DeliveryPolicy {
    /// The wait after failed attempt number `attempt` (1-based): `initial_backoff *
    /// 2^(attempt-1)`, capped at 30 s, plus up to 10 % jitter so that several sidecars
    /// hitting the same receiver do not retry in lockstep.
    pub fn backoff(&self, attempt: u32) -> Duration {
        crate::backoff::exponential(self.initial_backoff, MAX_BACKOFF, attempt)
    }

    /// The wait after `error` on attempt `attempt`: the receiver's `Retry-After` when it
    /// gave one (capped at 30 s), the backoff otherwise.
    fn delay_after(&self, error: &AlertError, attempt: u32) -> Duration {
        match error.retry_after() {
            Some(wanted) => wanted.min(MAX_BACKOFF),
            None => self.backoff(attempt),
        }
    }
}

/// Runs `attempt` until it succeeds, fails with a final error, or `max_attempts` are
/// used up; each run is cut off after the policy timeout. Returns the number of attempts
/// made on success, the last error otherwise. `on_retry(attempt, error, delay)` is told
/// about every failed attempt that will be retried.
pub(crate) async fn with_retry<F, Fut>(
    policy: &DeliveryPolicy,
    mut attempt: F,
    mut on_retry: impl FnMut(u32, &AlertError, Duration),
) -> Result<u32, AlertError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), AlertError>>,
{
    let max_attempts = policy.max_attempts.max(1);
    let mut number = 1;
    loop {
        let result = match tokio::time::timeout(policy.timeout, attempt()).await {
            Ok(result) => result,
            Err(_) => Err(AlertError::Timeout(policy.timeout)),
        };
        match result {
            Ok(()) => return Ok(number),
            Err(error) if error.is_retryable() && number < max_attempts => {
                let delay = policy.delay_after(&error, number);
                on_retry(number, &error, delay);
                tokio::time::sleep(delay).await;
                number += 1;
            }
            Err(error) => return Err(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_the_initial_delay_and_stops_at_thirty_seconds() {
        let policy = DeliveryPolicy::default();
        let within = |d: Duration, base: u64| {
            d >= Duration::from_millis(base) && d <= Duration::from_millis(base * 11 / 10)
        };
        assert!(within(policy.backoff(1), 500));
        assert!(within(policy.backoff(2), 1000));
        assert!(within(policy.backoff(3), 2000));
        assert_eq!(policy.backoff(10), MAX_BACKOFF);
        assert_eq!(policy.backoff(u32::MAX), MAX_BACKOFF);
    }

    #[test]
    fn retry_after_is_honoured_but_capped() {
        let policy = DeliveryPolicy::default();
        let asked = |secs| AlertError::Http {
            status: 429,
            body: String::new(),
            retry_after: Some(Duration::from_secs(secs)),
        };
        assert_eq!(policy.delay_after(&asked(2), 1), Duration::from_secs(2));
        assert_eq!(policy.delay_after(&asked(3600), 1), MAX_BACKOFF);
    }
}
