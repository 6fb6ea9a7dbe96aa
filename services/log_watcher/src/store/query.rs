//! Which events a `/logs` request (or the dashboard's tail) asks for: service, minimum
//! level, text, time, and how many of the newest, in how many bytes at most. The same test
//! ([`LogQuery::matches`]) runs on the in-memory ring, on events streamed live, and (through
//! the SQL function of [`super::readers`]) inside SQLite, so the three always agree.

use chrono::{DateTime, Utc};
use regex::{Regex, RegexBuilder};

use crate::event::LogEvent;
use crate::parse::Level;

/// A `/logs` request.
#[derive(Debug, Clone)]
pub struct LogQuery {
    /// Only this service.
    pub service: Option<String>,
    /// This level and worse.
    pub min_level: Option<Level>,
    /// Text the message must contain, in any case (as given).
    pub text: Option<String>,
    /// Only events at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// The newest this many.
    pub limit: usize,
    /// Stop adding (older) events once their messages hold this many bytes.
    pub max_bytes: usize,
    /// `text`, compiled once.
    matcher: Option<TextMatcher>,
}

impl LogQuery {
    /// The newest `limit` events of `service` (any when `None`) at `min_level` or worse
    /// whose message contains `text` in any case, written at or after `since`. Empty
    /// strings mean "any". At most `usize::MAX` bytes: see [`LogQuery::with_max_bytes`].
    pub fn new(
        service: Option<&str>,
        min_level: Option<Level>,
        text: Option<&str>,
        since: Option<DateTime<Utc>>,
        limit: usize,
    ) -> LogQuery {
        let text = text.filter(|t| !t.is_empty()).map(str::to_string);
        LogQuery {
            service: service.filter(|s| !s.is_empty()).map(str::to_string),
            min_level,
            matcher: text.as_deref().map(TextMatcher::new),
            text,
            since,
            limit,
            max_bytes: usize::MAX,
        }
    }

    /// The same query, bounded to `max_bytes` of message text.
    pub fn with_max_bytes(mut self, max_bytes: usize) -> LogQuery {
        self.max_bytes = max_bytes;
        self
    }

    /// Whether `event` passes every filter.
    pub fn matches(&self, event: &LogEvent) -> bool {
        self.service.as_deref().is_none_or(|s| &*event.service == s)
            && self.min_level.is_none_or(|l| event.level >= l)
            && self.since.is_none_or(|s| event.timestamp >= s)
            && self
                .matcher
                .as_ref()
                .is_none_or(|m| m.is_match(&event.message))
    }
}

/// "Contains this text, in any case": a literal searched case-insensitively (Unicode simple
/// case folding), without lower-casing every message it looks at.
#[derive(Debug, Clone)]
pub struct TextMatcher(Option<Regex>);

impl TextMatcher {
    /// A matcher of `text`.
    pub fn new(text: &str) -> TextMatcher {
        // A literal always compiles, unless it is too large for the size limit; the query
        // parser bounds text long before that, and a matcher that cannot be built matches
        // nothing rather than everything.
        TextMatcher(
            RegexBuilder::new(&regex::escape(text))
                .case_insensitive(true)
                .size_limit(1 << 20)
                .build()
                .ok(),
        )
    }

    /// Whether `haystack` contains the text.
    pub fn is_match(&self, haystack: &str) -> bool {
        self.0.as_ref().is_some_and(|r| r.is_match(haystack))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_matches_in_any_case_and_as_a_literal() {
        let m = TextMatcher::new("Timeout (db)");
        assert!(m.is_match("connection TIMEOUT (DB) after 5 s"));
        assert!(!m.is_match("timeout db"));
        assert!(TextMatcher::new("ÉCHEC").is_match("un échec"));
        assert!(TextMatcher::new(".*").is_match("a .* b"));
        assert!(!TextMatcher::new(".*").is_match("anything"));
    }
}
