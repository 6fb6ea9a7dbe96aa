//! Which lines are events: a level listed in `[filters] levels` (or `LOG_FILTER`), or a match
//! of any `[filters] regexes`. The regexes are one `RegexSet`, so three patterns cost one pass.
//!
//! `error` includes `critical`: the spec's levels are info, warning and error, and a FATAL or
//! panic line (normalised to critical) is an error to anyone who asked for errors.

use regex::RegexSet;

use crate::parse::Level;

/// The compiled filter.
#[derive(Debug, Clone)]
pub struct EventFilter {
    levels: [bool; 6],
    regexes: Option<RegexSet>,
}

impl EventFilter {
    /// Compiles the filter; patterns were validated with the config.
    pub fn new(levels: &[Level], regexes: &[String]) -> Result<EventFilter, regex::Error> {
        let mut wanted = [false; 6];
        for level in levels {
            wanted[*level as usize] = true;
        }
        if wanted[Level::Error as usize] {
            wanted[Level::Critical as usize] = true;
        }
        let regexes = if regexes.is_empty() {
            None
        } else {
            Some(RegexSet::new(regexes)?)
        };
        Ok(EventFilter {
            levels: wanted,
            regexes,
        })
    }

    /// Whether a line of `level` with `message` is an event.
    pub fn is_event(&self, level: Level, message: &str) -> bool {
        self.levels[level as usize] || self.regexes.as_ref().is_some_and(|set| set.is_match(message))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listed_levels_and_regex_matches_are_events() {
        let filter = EventFilter::new(
            &[Level::Error, Level::Warning],
            &["panic".to_string(), "unauthorized".to_string()],
        )
        .unwrap();
        assert!(filter.is_event(Level::Error, "db down"));
        assert!(filter.is_event(Level::Info, "401 unauthorized for /admin"));
        assert!(!filter.is_event(Level::Info, "GET / 200"));
        assert!(filter.is_event(Level::Critical, "error includes critical"));
        assert!(!filter.is_event(Level::Debug, "not listed"));
        let warnings_only = EventFilter::new(&[Level::Warning], &[]).unwrap();
        assert!(!warnings_only.is_event(Level::Critical, "not listed"));
    }
}
