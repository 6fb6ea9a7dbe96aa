//! An alert as it leaves the dispatcher: the alert plus what the dispatcher adds to it
//! (the moment it was sent and how many alerts of its key the cooldown swallowed).

use chrono::{DateTime, SecondsFormat, Utc};

use super::{Alert, Severity};

/// What every payload renderer works from.
#[derive(Debug, Clone)]
pub(crate) struct Outgoing {
    /// The alert as the service raised it.
    pub alert: Alert,
    /// Alerts of the same key suppressed since the previous delivery.
    pub suppressed: u64,
    /// When the dispatcher accepted it; the same for every sink and every retry.
    pub at: DateTime<Utc>,
}

impl Outgoing {
    /// The alert text, with a last line `(N more suppressed)` when N > 0.
    pub fn text(&self) -> String {
        let text = self.alert.text.trim_end();
        match (self.suppressed, text.is_empty()) {
            (0, _) => text.to_string(),
            (n, true) => format!("({n} more suppressed)"),
            (n, false) => format!("{text}\n({n} more suppressed)"),
        }
    }

    /// RFC 3339 UTC with whole seconds, such as `2024-06-12T01:23:45Z`.
    pub fn timestamp(&self) -> String {
        self.at.to_rfc3339_opts(SecondsFormat::Secs, true)
    }

    /// The title prefixed by the severity in capitals: `[CRITICAL] api is DOWN`.
    pub fn headline(&self) -> String {
        format!("[{}] {}", self.alert.severity.label(), self.alert.title)
    }
}

impl Severity {
    /// The severity in capitals, as used in email subjects: `CRITICAL`, `WARNING`,
    /// `RESOLVED`, `INFO`.
    pub fn label(self) -> &'static str {
        match self {
            Severity::Critical => "CRITICAL",
            Severity::Warning => "WARNING",
            Severity::Resolved => "RESOLVED",
            Severity::Info => "INFO",
        }
    }

    /// The colour chat sinks show, as `0xRRGGBB`: critical red `#d50200`, warning amber
    /// `#de9e31`, resolved green `#2eb886`, info blue `#439fe0`.
    pub fn colour(self) -> u32 {
        match self {
            Severity::Critical => 0xd5_02_00,
            Severity::Warning => 0xde_9e_31,
            Severity::Resolved => 0x2e_b8_86,
            Severity::Info => 0x43_9f_e0,
        }
    }
}
