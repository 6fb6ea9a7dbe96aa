//! Joining multiline events: stack traces, tracebacks and indented continuation lines
//! become one event with the line that introduced them.
//!
//! Use one [`MultilineJoiner`] per source and stream (lines of different containers
//! must not be mixed). Feed it every parsed line with [`MultilineJoiner::push`]; it holds
//! the latest event until a line arrives that does not belong to it, and then hands the
//! finished event out. Call [`MultilineJoiner::flush`] when no line arrived for a while
//! (the caller picks the quiet period) and at the end of input.
//!
//! # Default rules (no start pattern)
//! A line *continues* the pending event when:
//! - it begins with a space or a tab (Java `\tat …` frames, Python `  File …` frames,
//!   indented details);
//! - it is `Caused by: …` (Java), `During handling of the above exception…` or
//!   `The above exception was the direct cause…` (chained Python exceptions);
//! - it is `Traceback (most recent call last):` and either follows one of those chaining
//!   lines, or the pending event is an error (or worse) that has no trace yet (as
//!   `logger.exception(…)` and uvicorn's `ERROR:    Exception in ASGI application`
//!   write it). Otherwise a traceback starts an event of its own;
//! - inside a Python traceback, it is the final exception line: a dotted identifier
//!   followed by `:` or the end of the line (`ValueError: bad`, `KeyboardInterrupt`,
//!   `psycopg2.errors.UniqueViolation: …`), not a level word such as `INFO:`;
//! - it names an exception (`java.lang.IllegalStateException: …`) and the pending event
//!   is an error (or worse) without a trace yet;
//! - after a Rust `thread '…' panicked at file:line:col:`, it is the next line (the panic
//!   message) or a `note: …` / `stack backtrace:` line;
//! - after a Go `panic: …` / `fatal error: …`, it is a `goroutine N […]:`, `[signal …`,
//!   `created by …` line or a function-call line (`main.main()`);
//! - it is a Postgres detail line for the previous statement (`DETAIL:  …`, `HINT:  …`,
//!   `STATEMENT:  …`, `CONTEXT:  …`, `QUERY:  …`, also after `[pid] `).
//!
//! # With a start pattern
//! A line matching [`MultilineConfig::start_pattern`] (tested against the whole line,
//! leading timestamp included) starts an event; any other line continues the pending one.
//!
//! # Always
//! Blank lines never start an event; inside an event they are kept only when another
//! continuation line follows them. The first line of input starts an event whatever it
//! looks like. Continuation lines are joined with `"\n"`. An event keeps at most
//! `max_lines` lines and `max_bytes` bytes of text; after that the marker is appended and
//! further continuation lines are dropped (but still counted in
//! [`JoinedEvent::line_count`]). The event's timestamp is its first line's; its level is
//! the most severe of the first line's level and of the crash lines in it (a traceback
//! header or final exception line → error, a Rust panic → critical).

use chrono::{DateTime, Utc};
use regex::Regex;

use super::level::{crash_line_level, is_exception_line, is_rust_panic, starts_with, Level};
use super::line::{push_bounded, DEFAULT_MAX_LINE_BYTES, TRUNCATION_MARKER};
use super::ParsedLine;

/// How lines are grouped into events.
#[derive(Debug, Clone)]
pub struct MultilineConfig {
    /// A line matching this starts a new event and every other line continues the
    /// current one. `None` (the default) uses the built-in rules (see module docs).
    pub start_pattern: Option<Regex>,
    /// Most lines kept in one event; default 500.
    pub max_lines: usize,
    /// Most bytes of text kept in one event (before the marker); default 256 KiB.
    pub max_bytes: usize,
}

impl Default for MultilineConfig {
    fn default() -> Self {
        MultilineConfig {
            start_pattern: None,
            max_lines: 500,
            max_bytes: DEFAULT_MAX_LINE_BYTES,
        }
    }
}

/// A complete event: one line, or a line with its continuation lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinedEvent {
    /// The first line's timestamp.
    pub timestamp: DateTime<Utc>,
    /// The most severe of the first line's level and the crash lines' levels.
    pub level: Option<Level>,
    /// The lines' messages joined with `"\n"`.
    pub message: String,
    /// How many lines belonged to the event, including dropped ones.
    pub line_count: usize,
    /// True when lines or bytes were dropped because of the limits.
    pub truncated: bool,
}

impl JoinedEvent {
    fn empty() -> Self {
        JoinedEvent {
            timestamp: DateTime::<Utc>::UNIX_EPOCH,
            level: None,
            message: String::new(),
            line_count: 0,
            truncated: false,
        }
    }
}

/// Where in a crash report the pending event is, for the default rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trace {
    /// Nothing special.
    None,
    /// Inside a Python traceback, waiting for the final exception line.
    Python,
    /// Just read "During handling of the above exception…": a traceback follows.
    Chained,
    /// A Rust panic whose message is on the next line.
    PanicMessage,
    /// A Rust panic, message read: `note:` and `stack backtrace:` lines may follow.
    Panic,
    /// A Go panic: goroutine dumps follow.
    GoPanic,
}

/// Groups lines into events. See the module documentation for the rules.
#[derive(Debug)]
pub struct MultilineJoiner {
    /// The grouping rules and limits.
    config: MultilineConfig,
    /// The event being assembled (valid while `has_pending`); its buffer is reused.
    pending: JoinedEvent,
    /// Whether `pending` holds an event.
    has_pending: bool,
    /// The event handed out last; swapped with `pending` so buffers are reused.
    ready: JoinedEvent,
    /// Blank lines read after the pending event's last line, not yet added to it.
    held_blank_lines: usize,
    /// Whether the pending event already holds a traceback, exception or panic.
    has_trace: bool,
    /// Crash-report state of the pending event.
    trace: Trace,
}

impl MultilineJoiner {
    /// A joiner with the given rules.
    pub fn new(config: MultilineConfig) -> Self {
        MultilineJoiner {
            config,
            pending: JoinedEvent::empty(),
            has_pending: false,
            ready: JoinedEvent::empty(),
            held_blank_lines: 0,
            has_trace: false,
            trace: Trace::None,
        }
    }

    /// Feeds the next line. Returns the previous event when this line starts a new one
    /// (the returned reference is valid until the next call). No allocation per line
    /// once the internal buffers have grown to the usual event size.
    pub fn push(&mut self, line: &ParsedLine<'_>) -> Option<&JoinedEvent> {
        let message = line.message();
        if message.trim_start_matches([' ', '\t']).is_empty() {
            if self.has_pending {
                self.held_blank_lines += 1;
            }
            return None;
        }
        // Both questions below need it: asked once per line.
        let exception = is_exception_line(message.as_bytes());
        if self.has_pending && self.continues(line, exception) {
            self.append(message);
            return None;
        }
        let finished = self.has_pending;
        if finished {
            std::mem::swap(&mut self.pending, &mut self.ready);
        }
        self.start(line, exception);
        finished.then_some(&self.ready)
    }

    /// Ends the pending event (after a quiet period, or at the end of input) and returns
    /// it; `None` when no event is pending.
    pub fn flush(&mut self) -> Option<&JoinedEvent> {
        if !self.has_pending {
            return None;
        }
        self.has_pending = false;
        self.held_blank_lines = 0;
        self.trace = Trace::None;
        std::mem::swap(&mut self.pending, &mut self.ready);
        Some(&self.ready)
    }

    /// Whether an event is held, waiting for more lines or a [`flush`](Self::flush).
    pub fn has_pending(&self) -> bool {
        self.has_pending
    }

    /// Begins a new pending event with `line`; `exception`: whether it is an exception line
    /// ([`is_exception_line`]).
    fn start(&mut self, line: &ParsedLine<'_>, exception: bool) {
        let message = line.message();
        let b = message.as_bytes();
        // What `crash_line_level` finds, reading the line's start once for both uses below.
        let traceback = starts_with(b, b"Traceback (most recent call last)");
        let crash_level = if traceback || exception {
            Some(Level::Error)
        } else if is_rust_panic(b) {
            Some(Level::Critical)
        } else {
            None
        };
        let ev = &mut self.pending;
        ev.timestamp = line.timestamp;
        ev.level = line.level.max(crash_level);
        ev.message.clear();
        ev.line_count = 1;
        ev.truncated = push_bounded(&mut ev.message, message, self.config.max_bytes);
        self.has_pending = true;
        self.held_blank_lines = 0;
        self.trace = if traceback {
            Trace::Python
        } else if starts_with(b, b"thread '") && message.contains("' panicked at ") {
            if message.ends_with(':') {
                Trace::PanicMessage
            } else {
                Trace::Panic
            }
        } else if starts_with(b, b"panic: ") || starts_with(b, b"fatal error: ") {
            Trace::GoPanic
        } else {
            Trace::None
        };
        self.has_trace = self.trace != Trace::None || exception;
    }

    /// Adds a continuation line to the pending event, within the limits.
    fn append(&mut self, message: &str) {
        let ev = &mut self.pending;
        ev.level = ev.level.max(crash_line_level(message));
        ev.line_count += self.held_blank_lines + 1;
        let blanks = std::mem::take(&mut self.held_blank_lines);
        if ev.truncated {
            return;
        }
        if ev.line_count > self.config.max_lines {
            ev.message.push_str(TRUNCATION_MARKER);
            ev.truncated = true;
            return;
        }
        let max = self.config.max_bytes;
        for _ in 0..=blanks {
            if push_bounded(&mut ev.message, "\n", max) {
                ev.truncated = true;
                return;
            }
        }
        ev.truncated = push_bounded(&mut ev.message, message, max);
    }

    /// Whether `line` continues the pending event; updates the crash-report state.
    /// `exception`: whether it is an exception line ([`is_exception_line`]).
    fn continues(&mut self, line: &ParsedLine<'_>, exception: bool) -> bool {
        if let Some(start) = &self.config.start_pattern {
            return !start.is_match(line.text());
        }
        let message = line.message();
        let b = message.as_bytes();
        if matches!(b[0], b' ' | b'\t') {
            return true;
        }
        let error_without_trace =
            !self.has_trace && self.pending.level.is_some_and(|l| l >= Level::Error);
        let (joins, next) = match self.trace {
            _ if starts_with(b, b"Traceback (most recent call last)") => (
                self.trace == Trace::Chained || error_without_trace,
                Trace::Python,
            ),
            _ if starts_with(b, b"During handling of the above exception")
                || starts_with(b, b"The above exception was the direct cause") =>
            {
                (true, Trace::Chained)
            }
            _ if starts_with(b, b"Caused by: ") => (true, self.trace),
            Trace::Python if is_python_exception_line(b) => (true, Trace::None),
            Trace::PanicMessage => (true, Trace::Panic),
            Trace::Panic => (
                starts_with(b, b"note: ") || starts_with(b, b"stack backtrace:"),
                Trace::Panic,
            ),
            Trace::GoPanic => (is_go_panic_line(b), Trace::GoPanic),
            _ if exception => (error_without_trace, Trace::None),
            _ => (is_postgres_detail(b), self.trace),
        };
        if joins {
            self.trace = next;
            if next != Trace::None || exception {
                self.has_trace = true;
            }
        }
        joins
    }
}

/// The last line of a Python traceback: `ValueError: x`, `KeyboardInterrupt`,
/// `a.b.CustomThing: x`. Level words (`INFO:`, `ERROR:`) are not exceptions.
fn is_python_exception_line(b: &[u8]) -> bool {
    let name_len = b
        .iter()
        .take_while(|&&c| c.is_ascii_alphanumeric() || c == b'_' || c == b'.')
        .count();
    if name_len == 0 || !(b[0].is_ascii_alphabetic() || b[0] == b'_') {
        return false;
    }
    let rest = &b[name_len..];
    if !(rest.is_empty() || rest[0] == b':') {
        return false;
    }
    std::str::from_utf8(&b[..name_len])
        .ok()
        .and_then(Level::parse)
        .is_none()
}

/// Lines of a Go panic's goroutine dump that are not indented.
fn is_go_panic_line(b: &[u8]) -> bool {
    b.starts_with(b"goroutine ")
        || b.starts_with(b"[signal ")
        || b.starts_with(b"created by ")
        || (b.ends_with(b")") && {
            let first_space = b.iter().position(|&c| c == b' ').unwrap_or(b.len());
            b[..first_space].contains(&b'(')
        })
}

/// Postgres' follow-up lines: `DETAIL:  …`, `HINT:  …`, `STATEMENT:  …`, `CONTEXT:  …`,
/// `QUERY:  …`, optionally after `[pid] `.
fn is_postgres_detail(b: &[u8]) -> bool {
    let mut b = b;
    if b.first() == Some(&b'[') {
        if let Some(close) = b.iter().position(|&c| c == b']') {
            if close > 1 && b[1..close].iter().all(u8::is_ascii_digit) {
                b = b[close + 1..].strip_prefix(b" ").unwrap_or(&b[close + 1..]);
            }
        }
    }
    [
        &b"DETAIL:  "[..],
        b"HINT:  ",
        b"STATEMENT:  ",
        b"CONTEXT:  ",
        b"QUERY:  ",
    ]
    .iter()
    .any(|p| starts_with(b, p))
}

#[cfg(test)]
mod tests {
    use super::super::parse_text_line;
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 6, 12, 0, 0, 0).unwrap()
    }

    /// Runs `lines` through a joiner, flushing at the end; returns the events.
    fn join_with(config: MultilineConfig, lines: &[&str]) -> Vec<JoinedEvent> {
        let mut joiner = MultilineJoiner::new(config);
        let mut events = Vec::new();
        for raw in lines {
            let line = parse_text_line(raw, now());
            if let Some(ev) = joiner.push(&line) {
                events.push(ev.clone());
            }
        }
        events.extend(joiner.flush().cloned());
        events
    }

    fn join(lines: &[&str]) -> Vec<JoinedEvent> {
        join_with(MultilineConfig::default(), lines)
    }

    fn messages(events: &[JoinedEvent]) -> Vec<&str> {
        events.iter().map(|e| e.message.as_str()).collect()
    }

    #[test]
    fn single_lines_are_separate_events() {
        let events = join(&["INFO one", "WARN two", "three"]);
        assert_eq!(messages(&events), ["one", "two", "three"]);
        assert_eq!(events[1].level, Some(Level::Warning));
        assert_eq!(events[2].line_count, 1);
    }

    #[test]
    fn python_traceback_after_uvicorn_error_is_one_error_event() {
        let events = join(&[
            "INFO:     127.0.0.1:5000 - \"GET /items HTTP/1.1\" 500 Internal Server Error",
            "ERROR:    Exception in ASGI application",
            "Traceback (most recent call last):",
            "  File \"/app/main.py\", line 12, in read_items",
            "    return db.query()",
            "psycopg2.OperationalError: could not connect to server",
            "INFO:     127.0.0.1:5001 - \"GET /health HTTP/1.1\" 200 OK",
        ]);
        assert_eq!(events.len(), 3);
        let ev = &events[1];
        assert_eq!(ev.level, Some(Level::Error));
        assert_eq!(ev.line_count, 5);
        assert!(ev
            .message
            .starts_with("Exception in ASGI application\nTraceback"));
        assert!(ev
            .message
            .ends_with("\npsycopg2.OperationalError: could not connect to server"));
        assert_eq!(events[2].level, Some(Level::Info));
    }

    #[test]
    fn bare_traceback_is_its_own_error_event() {
        let events = join(&[
            "Starting worker",
            "Traceback (most recent call last):",
            "  File \"w.py\", line 3, in <module>",
            "KeyError: 'x'",
            "Starting worker",
        ]);
        assert_eq!(events.len(), 3);
        assert_eq!(events[0].message, "Starting worker");
        assert_eq!(events[1].level, Some(Level::Error));
        assert_eq!(events[1].line_count, 3);
        assert!(events[1].message.ends_with("KeyError: 'x'"));
    }

    #[test]
    fn tracebacks_join_only_error_lines_and_indented_ones_join_anything() {
        // Indented lines always continue; an indented "ValueError:" is not read as a
        // traceback's final line, so the event keeps its first line's level.
        let events = join(&[
            "INFO handling request",
            "  Traceback (most recent call last):",
            "    File \"x.py\", line 1",
            "  ValueError: bad",
        ]);
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].level, Some(Level::Info));
        let events = join(&[
            "WARNING:root:retrying",
            "Traceback (most recent call last):",
            "  File \"x.py\", line 1",
            "ValueError: bad",
        ]);
        assert_eq!(events.len(), 2);
        assert_eq!(events[1].level, Some(Level::Error));
    }

    #[test]
    fn chained_python_exceptions_stay_together_with_blank_lines() {
        let events = join(&[
            "ERROR:root:failed",
            "Traceback (most recent call last):",
            "  File \"a.py\", line 2, in <module>",
            "KeyError: 'x'",
            "",
            "During handling of the above exception, another exception occurred:",
            "",
            "Traceback (most recent call last):",
            "  File \"a.py\", line 4, in <module>",
            "ValueError: y",
            "",
            "INFO:root:next",
        ]);
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].line_count, 10);
        assert!(events[0]
            .message
            .contains("KeyError: 'x'\n\nDuring handling"));
        assert!(events[0].message.ends_with("ValueError: y"));
        assert_eq!(events[1].message, "INFO:root:next");
    }

    #[test]
    fn a_second_unrelated_traceback_starts_a_new_event() {
        let tb = [
            "Traceback (most recent call last):",
            "  File \"a.py\", line 2, in <module>",
            "KeyError: 'x'",
        ];
        let lines: Vec<&str> = tb.iter().chain(tb.iter()).copied().collect();
        assert_eq!(join(&lines).len(), 2);
    }

    #[test]
    fn java_stack_trace_with_indented_frames_and_cause() {
        let events = join(&[
            "2024-06-12 01:23:45.123 ERROR [main] c.e.Api - Request failed",
            "java.lang.IllegalStateException: boom",
            "\tat com.example.Api.handle(Api.java:42)",
            "\tat java.base/java.lang.Thread.run(Thread.java:833)",
            "Caused by: java.io.IOException: broken pipe",
            "\t... 2 more",
            "2024-06-12 01:23:46.000 INFO [main] c.e.Api - ok",
        ]);
        assert_eq!(messages(&events)[1], "[main] c.e.Api - ok");
        let ev = &events[0];
        assert_eq!(ev.level, Some(Level::Error));
        assert_eq!(ev.line_count, 6);
        assert_eq!(
            ev.timestamp,
            Utc.with_ymd_and_hms(2024, 6, 12, 1, 23, 45).unwrap()
                + chrono::TimeDelta::milliseconds(123)
        );
        assert!(ev
            .message
            .contains("\n\tat com.example.Api.handle(Api.java:42)\n"));
    }

    #[test]
    fn rust_panic_with_message_on_the_next_line() {
        let events = join(&[
            "thread 'main' panicked at src/main.rs:2:5:",
            "attempt to divide by zero",
            "note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace",
            "starting again",
        ]);
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].level, Some(Level::Critical));
        assert_eq!(events[0].line_count, 3);
    }

    #[test]
    fn go_panic_goroutine_dump() {
        let events = join(&[
            "panic: runtime error: index out of range [3] with length 3",
            "",
            "goroutine 1 [running]:",
            "main.main()",
            "\t/app/main.go:5 +0x1d",
            "exit status 2",
        ]);
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].level, Some(Level::Critical));
        assert_eq!(events[0].line_count, 5);
        assert_eq!(events[1].message, "exit status 2");
    }

    #[test]
    fn postgres_statement_follows_its_error() {
        let events = join(&[
            "2024-06-12 01:23:45.123 UTC [1] ERROR:  relation \"x\" does not exist at character 15",
            "2024-06-12 01:23:45.123 UTC [1] STATEMENT:  select * from x",
            "2024-06-12 01:23:46.000 UTC [1] LOG:  checkpoint starting",
        ]);
        assert_eq!(events.len(), 2);
        assert!(events[0]
            .message
            .ends_with("\n[1] STATEMENT:  select * from x"));
    }

    #[test]
    fn start_pattern_mode_joins_everything_until_the_next_match() {
        let config = MultilineConfig {
            start_pattern: Some(Regex::new(r"^\d{4}-\d{2}-\d{2}").unwrap()),
            ..MultilineConfig::default()
        };
        let events = join_with(
            config,
            &[
                "2024-06-12 01:23:45 ERROR failed:",
                "not indented detail",
                "",
                "more detail",
                "2024-06-12 01:23:46 INFO next",
            ],
        );
        assert_eq!(
            messages(&events),
            ["failed:\nnot indented detail\n\nmore detail", "next"]
        );
        assert_eq!(events[0].level, Some(Level::Error));
    }

    #[test]
    fn blank_lines_never_start_events_and_trailing_ones_are_dropped() {
        let events = join(&["", "INFO a", "", "", "INFO b", ""]);
        assert_eq!(messages(&events), ["a", "b"]);
    }

    #[test]
    fn an_indented_first_line_starts_an_event() {
        let events = join(&["  orphan frame", "  another"]);
        assert_eq!(messages(&events), ["  orphan frame\n  another"]);
    }

    #[test]
    fn flush_ends_the_pending_event_after_a_quiet_period() {
        let mut joiner = MultilineJoiner::new(MultilineConfig::default());
        assert!(joiner.flush().is_none());
        assert!(joiner.push(&parse_text_line("ERROR boom", now())).is_none());
        assert!(joiner.push(&parse_text_line("  detail", now())).is_none());
        assert!(joiner.has_pending());
        let ev = joiner.flush().unwrap();
        assert_eq!(ev.message, "boom\n  detail");
        assert!(!joiner.has_pending());
        // An indented line after the flush no longer belongs to the old event.
        assert!(joiner.push(&parse_text_line("  late", now())).is_none());
        assert_eq!(joiner.flush().unwrap().message, "  late");
    }

    #[test]
    fn max_lines_truncates_and_keeps_counting() {
        let config = MultilineConfig {
            max_lines: 3,
            ..MultilineConfig::default()
        };
        let mut lines = vec!["ERROR head"];
        lines.extend(std::iter::repeat_n("  frame", 10));
        lines.push("INFO next");
        let events = join_with(config, &lines);
        assert_eq!(events.len(), 2);
        assert_eq!(
            events[0].message,
            format!("head\n  frame\n  frame{TRUNCATION_MARKER}")
        );
        assert_eq!(events[0].line_count, 11);
        assert!(events[0].truncated);
    }

    #[test]
    fn max_bytes_bounds_the_event_text() {
        let config = MultilineConfig {
            max_bytes: 64,
            ..MultilineConfig::default()
        };
        let frame = format!("  {}", "x".repeat(30));
        let mut lines = vec!["ERROR head".to_owned()];
        lines.extend(std::iter::repeat_n(frame, 1000));
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        let events = join_with(config, &refs);
        assert_eq!(events.len(), 1);
        assert!(events[0].truncated);
        assert_eq!(events[0].message.len(), 64 + TRUNCATION_MARKER.len());
    }

    #[test]
    fn a_final_exception_line_after_truncation_still_sets_the_level() {
        let config = MultilineConfig {
            max_lines: 2,
            ..MultilineConfig::default()
        };
        let events = join_with(
            config,
            &[
                "Traceback (most recent call last):",
                "  File \"a.py\", line 1",
                "  File \"a.py\", line 2",
                "SystemExit: 1",
            ],
        );
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].level, Some(Level::Error));
        assert_eq!(events[0].line_count, 4);
    }
}
