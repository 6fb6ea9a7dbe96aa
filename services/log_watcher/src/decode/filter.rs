//! Which lines are events: a level listed in `[filters] levels` (or `LOG_FILTER`), or a match
//! of any `[filters] regexes`. The regexes are matched as one alternation, so three patterns
//! cost one pass.
//!
//! `error` includes `critical`: the spec's levels are info, warning and error, and a FATAL or
//! panic line (normalised to critical) is an error to anyone who asked for errors.

use regex::{Regex, RegexSet};

use crate::parse::Level;

/// The compiled filter.
#[derive(Debug, Clone)]
pub struct EventFilter {
    /// Whether each level (indexed by `Level as usize`) makes a line an event.
    levels: [bool; 6],
    /// The regexes, if any.
    regexes: Option<Matcher>,
}

/// "Does any of the regexes match": one regex `(?:a)|(?:b)|...` when it can be built, else
/// the `RegexSet`. Both answer alike; the single regex is faster, because the regex crate
/// searches an alternation of plain words (the usual filter) with its literal searcher alone,
/// while a set also runs its automaton.
#[derive(Debug, Clone)]
enum Matcher {
    /// All patterns as one alternation.
    Alternation(Regex),
    /// The patterns as a set (should the alternation exceed the regex size limit).
    Set(RegexSet),
}

impl EventFilter {
    /// The filter passing lines of `levels` (`error` bringing `critical` along) and lines
    /// that any of `regexes` matches. Fails only when even the set of the patterns exceeds
    /// the regex size limit.
    pub fn new(levels: &[Level], regexes: &[Regex]) -> Result<EventFilter, regex::Error> {
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
            let patterns: Vec<&str> = regexes.iter().map(Regex::as_str).collect();
            // A `#` could start a comment (`(?x)`) that would swallow the group around its
            // pattern; then, or past the size limit, the set answers.
            let alternation = if patterns.iter().any(|p| p.contains('#')) {
                None
            } else {
                let groups: Vec<String> = patterns.iter().map(|p| format!("(?:{p})")).collect();
                Regex::new(&groups.join("|")).ok()
            };
            Some(match alternation {
                Some(regex) => Matcher::Alternation(regex),
                None => Matcher::Set(RegexSet::new(&patterns)?),
            })
        };
        Ok(EventFilter {
            levels: wanted,
            regexes,
        })
    }

    /// Whether a line of `level` with `message` is an event.
    pub fn is_event(&self, level: Level, message: &str) -> bool {
        self.levels[level as usize]
            || match &self.regexes {
                None => false,
                Some(Matcher::Alternation(regex)) => regex.is_match(message),
                Some(Matcher::Set(set)) => set.is_match(message),
            }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compiled(patterns: &[&str]) -> Vec<Regex> {
        patterns.iter().map(|p| Regex::new(p).unwrap()).collect()
    }

    #[test]
    fn listed_levels_and_regex_matches_are_events() {
        let filter = EventFilter::new(
            &[Level::Error, Level::Warning],
            &compiled(&["panic", "unauthorized"]),
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

    #[test]
    fn the_regexes_match_as_one_alternation_exactly_as_the_set_would() {
        let cases: [&[&str]; 5] = [
            &["panic", "unauthorized", "exception"],
            &["(?i)TIMEOUT", r"^GET /admin", r"\d{3} ms$"],
            &["a|b", "(c)"],
            &["(?x) disk \\s full # a comment", "quota"],
            &[""],
        ];
        let messages = [
            "thread panicked",
            "401 unauthorized",
            "Timeout after 3s",
            "GET /admin 200",
            "took 250 ms",
            "disk full",
            "quota exceeded",
            "a",
            "c",
            "nothing here",
            "",
        ];
        for patterns in cases {
            let filter = EventFilter::new(&[], &compiled(patterns)).unwrap();
            let set = RegexSet::new(patterns).unwrap();
            for message in messages {
                assert_eq!(
                    filter.is_event(Level::Info, message),
                    set.is_match(message),
                    "{patterns:?} {message:?}"
                );
            }
        }
        assert!(matches!(
            EventFilter::new(&[], &compiled(&["(?x) a # b"]))
                .unwrap()
                .regexes,
            Some(Matcher::Set(_))
        ));
    }
}
