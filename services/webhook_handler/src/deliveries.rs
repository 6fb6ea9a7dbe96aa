//! The audit trail of deliveries: every request to a hook and what became of it (accepted
//! with its job, ignored and why, rejected and why, duplicate, ping). Verified ones are
//! stored in SQLite with the jobs; rejected ones carry no trustworthy facts, so they are
//! counted (metrics) and the newest kept in memory for the dashboard, never written to disk
//! at the rate a flood of forgeries could dictate.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use serde::Serialize;

/// What became of a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Verified and queued as a job.
    Accepted,
    /// Verified, but the hook's filters do not act on it.
    Ignored,
    /// Verified, but its delivery id was seen before: nothing runs again.
    Duplicate,
    /// A ping (GitHub's test delivery).
    Ping,
    /// The signature or token was missing or wrong.
    Rejected,
    /// The sender's address is not allowed.
    Forbidden,
    /// The body was larger than allowed.
    TooLarge,
    /// The body was not a payload (bad JSON, wrong content type, too slow).
    Malformed,
    /// Too many large bodies were being read at once (503; the sender retries).
    Busy,
}

impl Outcome {
    /// Every outcome.
    pub const ALL: [Outcome; 9] = [
        Outcome::Accepted,
        Outcome::Ignored,
        Outcome::Duplicate,
        Outcome::Ping,
        Outcome::Rejected,
        Outcome::Forbidden,
        Outcome::TooLarge,
        Outcome::Malformed,
        Outcome::Busy,
    ];

    /// Its name, as stored, served and used as a metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Accepted => "accepted",
            Outcome::Ignored => "ignored",
            Outcome::Duplicate => "duplicate",
            Outcome::Ping => "ping",
            Outcome::Rejected => "rejected",
            Outcome::Forbidden => "forbidden",
            Outcome::TooLarge => "too_large",
            Outcome::Malformed => "malformed",
            Outcome::Busy => "busy",
        }
    }

    /// The outcome named `name`.
    pub fn parse(name: &str) -> Option<Outcome> {
        Outcome::ALL.into_iter().find(|o| o.as_str() == name)
    }

    /// Whether the delivery was verified (so its facts can be trusted and it is stored).
    pub fn is_verified(self) -> bool {
        matches!(
            self,
            Outcome::Accepted | Outcome::Ignored | Outcome::Duplicate | Outcome::Ping
        )
    }
}

/// One delivery in the audit trail.
#[derive(Debug, Clone, Serialize)]
pub struct DeliveryRecord {
    /// When it arrived (RFC 3339).
    pub received_at: String,
    /// The hook it was for.
    pub hook: String,
    /// What became of it.
    pub outcome: Outcome,
    /// Why (ignored, rejected, malformed), in words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The event, when verified.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    /// The repository, when verified.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repo: Option<String>,
    /// The ref, when verified.
    #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
    pub git_ref: Option<String>,
    /// The sender's delivery id, when verified.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivery: Option<String>,
    /// The job it made.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_id: Option<i64>,
    /// The sender's address.
    pub remote: String,
}

/// How many recent deliveries are kept in memory per hook.
pub const RECENT_PER_HOOK: usize = 50;

/// The newest deliveries of each hook, whatever their outcome.
#[derive(Debug, Default)]
pub struct RecentDeliveries {
    /// Per hook id, oldest first.
    by_hook: Mutex<HashMap<String, VecDeque<DeliveryRecord>>>,
}

impl RecentDeliveries {
    /// Remembers `record`, forgetting the oldest of its hook beyond [`RECENT_PER_HOOK`].
    pub fn push(&self, record: DeliveryRecord) {
        let mut by_hook = self.by_hook.lock().unwrap_or_else(|p| p.into_inner());
        let ring = by_hook.entry(record.hook.clone()).or_default();
        if ring.len() == RECENT_PER_HOOK {
            ring.pop_front();
        }
        ring.push_back(record);
    }

    /// The newest `limit` deliveries of `hook` (of every hook when `None`), newest first.
    pub fn newest(&self, hook: Option<&str>, limit: usize) -> Vec<DeliveryRecord> {
        let by_hook = self.by_hook.lock().unwrap_or_else(|p| p.into_inner());
        let mut all: Vec<DeliveryRecord> = by_hook
            .iter()
            .filter(|(id, _)| hook.is_none_or(|h| h == id.as_str()))
            .flat_map(|(_, ring)| ring.iter().cloned())
            .collect();
        // RFC 3339 times of one clock sort as text.
        all.sort_by(|a, b| b.received_at.cmp(&a.received_at));
        all.truncate(limit);
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(hook: &str, at: u32, outcome: Outcome) -> DeliveryRecord {
        DeliveryRecord {
            received_at: format!("2026-01-01T00:00:{at:02}.000Z"),
            hook: hook.to_string(),
            outcome,
            reason: None,
            event: None,
            repo: None,
            git_ref: None,
            delivery: None,
            job_id: None,
            remote: "127.0.0.1".to_string(),
        }
    }

    #[test]
    fn each_hook_keeps_its_newest_deliveries() {
        let recent = RecentDeliveries::default();
        for at in 0..(RECENT_PER_HOOK as u32 + 5) {
            recent.push(record("app", at % 60, Outcome::Rejected));
        }
        recent.push(record("other", 1, Outcome::Accepted));
        assert_eq!(recent.newest(Some("app"), 1000).len(), RECENT_PER_HOOK);
        assert_eq!(recent.newest(Some("other"), 10).len(), 1);
        assert_eq!(recent.newest(None, 3).len(), 3);
    }

    #[test]
    fn outcomes_round_trip_and_only_verified_ones_are_stored() {
        for outcome in Outcome::ALL {
            assert_eq!(Outcome::parse(outcome.as_str()), Some(outcome));
        }
        assert!(Outcome::Ignored.is_verified());
        assert!(!Outcome::Rejected.is_verified());
    }
}
