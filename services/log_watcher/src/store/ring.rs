//! The newest events in memory, for fast `/logs` answers: bounded by count
//! (`[storage] ring_size`) and by bytes ([`RING_MAX_BYTES`]), so ten thousand events of
//! 256 KiB each cannot take gigabytes. It knows whether it still holds every stored event,
//! which tells `/logs` when SQLite must be asked instead.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::event::LogEvent;

/// Most bytes of message text the ring keeps.
pub const RING_MAX_BYTES: usize = 16 * 1024 * 1024;

/// Recent events, oldest first.
#[derive(Debug)]
pub struct RecentEvents {
    /// The events, oldest first.
    events: VecDeque<Arc<LogEvent>>,
    /// Bytes of message text held.
    bytes: usize,
    /// Most events held.
    max_events: usize,
    /// Most bytes of message text held.
    max_bytes: usize,
    /// True while the ring holds every event stored (nothing was ever dropped from it).
    complete: bool,
}

impl RecentEvents {
    /// A ring of at most `max_events` events and `max_bytes` bytes of text, starting with
    /// `newest` (oldest first); `complete` says whether those are all the events stored.
    pub fn new(
        max_events: usize,
        max_bytes: usize,
        newest: Vec<LogEvent>,
        complete: bool,
    ) -> RecentEvents {
        let mut ring = RecentEvents {
            events: VecDeque::new(),
            bytes: 0,
            max_events,
            max_bytes,
            complete,
        };
        for event in newest {
            ring.push(Arc::new(event));
        }
        ring
    }

    /// Adds the newest event, dropping the oldest ones beyond the bounds.
    pub fn push(&mut self, event: Arc<LogEvent>) {
        self.bytes += event.message.len();
        self.events.push_back(event);
        while self.events.len() > self.max_events
            || (self.bytes > self.max_bytes && self.events.len() > 1)
        {
            if let Some(oldest) = self.events.pop_front() {
                self.bytes -= oldest.message.len();
                self.complete = false;
            }
        }
    }

    /// Events, newest first.
    pub fn newest_first(&self) -> impl Iterator<Item = &Arc<LogEvent>> {
        self.events.iter().rev()
    }

    /// The oldest event held.
    pub fn oldest(&self) -> Option<&Arc<LogEvent>> {
        self.events.front()
    }

    /// Whether every stored event is here.
    pub fn is_complete(&self) -> bool {
        self.complete
    }

    /// Events held.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// Whether none is held.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::Level;

    fn event(message: &str) -> LogEvent {
        LogEvent {
            id: 0,
            timestamp: chrono::Utc::now(),
            service: Arc::from("api"),
            level: Level::Error,
            message: message.to_string(),
        }
    }

    #[test]
    fn the_ring_is_bounded_by_count_and_by_bytes_and_knows_when_it_dropped_some() {
        let mut ring = RecentEvents::new(3, 100, vec![event("a")], true);
        ring.push(Arc::new(event("b")));
        ring.push(Arc::new(event("c")));
        assert!(ring.is_complete());
        ring.push(Arc::new(event("d")));
        assert_eq!(ring.len(), 3);
        assert!(!ring.is_complete());
        assert_eq!(ring.oldest().unwrap().message, "b");

        let mut ring = RecentEvents::new(1000, 100, Vec::new(), true);
        for _ in 0..10 {
            ring.push(Arc::new(event(&"x".repeat(40))));
        }
        assert_eq!(ring.len(), 2, "80 bytes fit, 120 do not");
        ring.push(Arc::new(event(&"y".repeat(500))));
        assert_eq!(ring.len(), 1, "one oversized event is still kept");
        assert_eq!(ring.newest_first().next().unwrap().message.len(), 500);
    }
}
