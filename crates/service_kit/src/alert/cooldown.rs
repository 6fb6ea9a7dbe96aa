//! The per-key cooldown: one incident, one message.
//!
//! The first alert of a key is delivered. Alerts with the same key within the cooldown of
//! that delivery are suppressed and counted; the first one after the cooldown is delivered
//! carrying the count. When every sink failed, the delivery is rolled back so the next
//! alert of the key goes out at once, still carrying the count.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// What to do with one alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Deliver it, reporting `suppressed` earlier alerts; `stamp` identifies this delivery
    /// for a later [`Cooldown::rollback`].
    Deliver {
        /// Alerts of the key suppressed since the previous delivery.
        suppressed: u64,
        /// The instant recorded as the key's last delivery.
        stamp: Instant,
    },
    /// Drop it; `count` alerts of this key have now been suppressed since the last delivery.
    Suppress {
        /// Suppressed so far, this one included.
        count: u64,
    },
}

/// The state of one key.
#[derive(Debug, Clone, Copy)]
struct Entry {
    /// When the last delivery of this key started; `None` after a rollback.
    last_delivery: Option<Instant>,
    /// Alerts suppressed since then.
    suppressed: u64,
}

/// Cooldown bookkeeping for every key; guarded by the dispatcher's mutex.
#[derive(Debug)]
pub(crate) struct Cooldown {
    /// How long after a delivery further alerts of the key are suppressed.
    window: Duration,
    /// Keys seen recently or with a count still to report.
    entries: HashMap<String, Entry>,
}

impl Cooldown {
    /// Empty bookkeeping with the given window; a zero window never suppresses.
    pub fn new(window: Duration) -> Self {
        Cooldown {
            window,
            entries: HashMap::new(),
        }
    }

    /// Decides about one alert of `key` arriving at `now`, updating the bookkeeping.
    pub fn check(&mut self, key: &str, now: Instant) -> Decision {
        self.prune(now);
        let entry = self.entries.entry(key.to_string()).or_insert(Entry {
            last_delivery: None,
            suppressed: 0,
        });
        let cooling = entry
            .last_delivery
            .is_some_and(|last| now.saturating_duration_since(last) < self.window);
        if cooling {
            entry.suppressed += 1;
            Decision::Suppress {
                count: entry.suppressed,
            }
        } else {
            let suppressed = std::mem::take(&mut entry.suppressed);
            entry.last_delivery = Some(now);
            Decision::Deliver {
                suppressed,
                stamp: now,
            }
        }
    }

    /// Undoes the delivery `stamp` of `key` after every sink failed: the key is no longer
    /// cooling and the `suppressed` count it carried is owed again. A no-op when a newer
    /// delivery or a reset happened meanwhile.
    pub fn rollback(&mut self, key: &str, stamp: Instant, suppressed: u64) {
        if let Some(entry) = self.entries.get_mut(key) {
            if entry.last_delivery == Some(stamp) {
                entry.last_delivery = None;
                entry.suppressed += suppressed;
            }
        }
    }

    /// Forgets `key`: its next alert is delivered at once, with no count.
    pub fn reset(&mut self, key: &str) {
        self.entries.remove(key);
    }

    /// Drops keys whose cooldown is over and that owe no count, so the map stays small.
    fn prune(&mut self, now: Instant) {
        let window = self.window;
        self.entries.retain(|_, entry| {
            entry.suppressed > 0
                || entry
                    .last_delivery
                    .is_some_and(|last| now.saturating_duration_since(last) < window)
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINDOW: Duration = Duration::from_secs(60);

    #[test]
    fn alerts_inside_the_window_are_counted_and_the_next_one_after_it_carries_the_count() {
        let mut cooldown = Cooldown::new(WINDOW);
        let t0 = Instant::now();
        assert!(matches!(
            cooldown.check("k", t0),
            Decision::Deliver { suppressed: 0, .. }
        ));
        assert_eq!(
            cooldown.check("k", t0 + Duration::from_secs(1)),
            Decision::Suppress { count: 1 }
        );
        assert_eq!(
            cooldown.check("k", t0 + Duration::from_secs(2)),
            Decision::Suppress { count: 2 }
        );
        assert!(matches!(
            cooldown.check("k", t0 + WINDOW),
            Decision::Deliver { suppressed: 2, .. }
        ));
    }

    #[test]
    fn rollback_lets_the_next_alert_through_with_the_count() {
        let mut cooldown = Cooldown::new(WINDOW);
        let t0 = Instant::now();
        let Decision::Deliver { stamp, .. } = cooldown.check("k", t0) else {
            panic!("first alert must be delivered");
        };
        assert_eq!(
            cooldown.check("k", t0 + Duration::from_secs(1)),
            Decision::Suppress { count: 1 }
        );
        cooldown.rollback("k", stamp, 0);
        assert!(matches!(
            cooldown.check("k", t0 + Duration::from_secs(2)),
            Decision::Deliver { suppressed: 1, .. }
        ));
    }

    #[test]
    fn zero_window_never_suppresses() {
        let mut cooldown = Cooldown::new(Duration::ZERO);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(matches!(
                cooldown.check("k", t0),
                Decision::Deliver { suppressed: 0, .. }
            ));
        }
    }

    #[test]
    fn expired_keys_without_a_count_are_forgotten() {
        let mut cooldown = Cooldown::new(WINDOW);
        let t0 = Instant::now();
        cooldown.check("a", t0);
        cooldown.check("b", t0 + WINDOW * 2);
        assert_eq!(cooldown.entries.len(), 1);
    }
}
