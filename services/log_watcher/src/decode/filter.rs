//! Which lines are events: a level listed in `[filters] levels` (or `LOG_FILTER`), or a match
//! of any `[filters] regexes`. The regexes are matched as one alternation, so three patterns
//! cost one pass.
//!
//! `error` includes `critical`: the spec's levels are info, warning and error, and a FATAL or
//! panic line (normalised to critical) is an error to anyone who asked for errors.

use std::cell::Cell;

use regex::{Regex, RegexSet};

use crate::parse::Level;

/// The compiled filter.
#[derive(Debug, Clone)]
pub struct EventFilter {
    /// Whether each level (indexed by `Level as usize`) makes a line an event.
    levels: [bool; 6],
    /// The regexes, if any.
    regexes: Option<Matcher>,
    /// Every regex is a plain word: no regex syntax, not empty, no line break (the usual
    /// `panic`, `unauthorized`). Then a message matches exactly when one of the words occurs
    /// in it, and a whole run of lines can be searched at once ([`Self::find_words`]).
    words_only: bool,
}

/// Where the words of a words-only filter occur in a run of text: the matches of the
/// alternation, left to right, as byte ranges. Answers for a message that is a slice of
/// that text whether it holds a word ([`WordHits::in_range`]).
#[derive(Debug, Default)]
pub struct WordHits {
    /// Start and end of each match, in order, not overlapping.
    hits: Vec<(usize, usize)>,
    /// The first match that ended after the start of the message asked about last. Messages
    /// are asked about in the order of the text, so the next answer starts looking here:
    /// a step or two per line instead of a binary search over the run's matches.
    cursor: Cell<usize>,
}

impl WordHits {
    /// Whether the message at `start..end` of the searched text holds one of the words:
    /// `Some(answer)`, or `None` when a match overlaps its start (the search went past a
    /// word that may begin inside it; ask the regex).
    pub fn in_range(&self, start: usize, end: usize) -> Option<bool> {
        // The first match that ends inside or after the message.
        let mut first = self.cursor.get().min(self.hits.len());
        if first > 0 && self.hits[first - 1].1 > start {
            // Asked about an earlier message than last time: search from the beginning.
            first = self.hits.partition_point(|&(_, e)| e <= start);
        }
        while self.hits.get(first).is_some_and(|&(_, e)| e <= start) {
            first += 1;
        }
        self.cursor.set(first);
        match self.hits.get(first) {
            None => Some(false),
            Some(&(s, _)) if s >= end => Some(false),
            Some(&(s, e)) if s >= start && e <= end => Some(true),
            Some(_) => None,
        }
    }

    /// Adds the matches `more` found in the text that follows the text searched for these,
    /// starting `offset` bytes into it (at a line boundary).
    pub fn append_moved(&mut self, more: &WordHits, offset: usize) {
        self.hits
            .extend(more.hits.iter().map(|&(s, e)| (s + offset, e + offset)));
    }

    /// Forgets the matches.
    pub fn clear(&mut self) {
        self.hits.clear();
        self.cursor.set(0);
    }
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
        let regexes_matcher = if regexes.is_empty() {
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
        let words_only = !regexes.is_empty()
            && regexes.iter().all(|r| {
                let p = r.as_str();
                !p.is_empty() && !p.contains(['\n', '\r']) && regex::escape(p) == p
            })
            && matches!(regexes_matcher, Some(Matcher::Alternation(_)));
        Ok(EventFilter {
            levels: wanted,
            regexes: regexes_matcher,
            words_only,
        })
    }

    /// Whether events are picked by level alone, so a message never needs looking at.
    pub fn has_regexes(&self) -> bool {
        self.regexes.is_some()
    }

    /// Whether a line of `level` is an event whatever its message says.
    #[inline]
    pub fn is_event_level(&self, level: Level) -> bool {
        self.levels[level as usize]
    }

    /// For a words-only filter (every regex a plain word), finds where the words occur in
    /// `text` (a run of lines), into `hits`; `false`, leaving `hits` empty, for any other
    /// filter. A message that is a slice of `text` then matches exactly when
    /// [`WordHits::in_range`] says so, as a line never holds part of a match that starts on
    /// another line: the words hold no line break.
    pub fn find_words(&self, text: &str, hits: &mut WordHits) -> bool {
        hits.clear();
        match &self.regexes {
            Some(Matcher::Alternation(regex)) if self.words_only => {
                hits.hits
                    .extend(regex.find_iter(text).map(|m| (m.start(), m.end())));
                true
            }
            _ => false,
        }
    }

    /// Whether a line of `level` with `message` is an event.
    pub fn is_event(&self, level: Level, message: &str) -> bool {
        self.is_event_knowing(level, message, None)
    }

    /// [`is_event`](Self::is_event) when whether the regexes match `message` may be known
    /// already (`words`, from [`WordHits::in_range`]).
    #[inline]
    pub fn is_event_knowing(&self, level: Level, message: &str, words: Option<bool>) -> bool {
        self.levels[level as usize]
            || match (&self.regexes, words) {
                (None, _) => false,
                (Some(_), Some(known)) => known,
                (Some(Matcher::Alternation(regex)), None) => regex.is_match(message),
                (Some(Matcher::Set(set)), None) => set.is_match(message),
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

    #[test]
    fn word_hits_answer_for_each_line_in_any_order() {
        let filter = EventFilter::new(&[], &compiled(&["panic", "unauthorized"])).unwrap();
        let text = "ok\nthread panicked\nfine\n401 unauthorized panic\nlast\n";
        let mut hits = WordHits::default();
        assert!(filter.find_words(text, &mut hits));
        let mut lines = Vec::new();
        let mut start = 0;
        for line in text.split_inclusive('\n') {
            lines.push((start, start + line.len() - 1));
            start += line.len();
        }
        let expected = [false, true, false, true, false];
        let ask = |order: &[usize]| {
            for &i in order {
                let (s, e) = lines[i];
                assert_eq!(hits.in_range(s, e), Some(expected[i]), "line {i}");
            }
        };
        ask(&[0, 1, 2, 3, 4]);
        ask(&[4, 3, 1, 2, 0]);
        ask(&[2, 2, 0, 4, 1]);
        // A message starting inside a match cannot be answered from the hits.
        assert_eq!(hits.in_range(lines[1].0 + 9, lines[1].1), None);
    }
}
