//! Parsing: turning raw log bytes into records with a timestamp, a normalised level and
//! a message, fast enough to keep up with a busy stack (byte scanning on the hot path, no
//! regex for levels, borrowed text wherever possible).
//!
//! # Layout
//! - [`line`](mod@line): the line-length limit, the truncation marker, CR/ANSI stripping, lossy
//!   UTF-8 decoding.
//! - [`docker`]: one Docker json-file line → [`DockerLine`]; [`PartialMerger`] joins the
//!   16 KiB chunks of long lines.
//! - [`timestamp`]: [`leading_timestamp`] (RFC 3339 / ISO 8601 at the start of a line).
//! - [`level`]: [`Level`] and [`detect_level`] (what is recognised is listed there),
//!   by rule: JSON, whole-line signatures, tokens.
//! - [`multiline`]: [`MultilineJoiner`], continuation lines and tracebacks → one event.
//!
//! # Pipeline
//! Docker source: `DockerLine::parse` → `PartialMerger::push` → [`parse_line`] with the
//! Docker time. File source (framed into lines by `source::files`) → [`parse_line`] without
//! one. Either way, optionally `MultilineJoiner::push` per source and stream (see
//! `crate::decode`). Every stage borrows from the previous one when it can.
//!
//! # Timestamp and message
//! The timestamp is Docker's `time` when there is one, else a timestamp at the start of
//! the line, else the time the line was read. A leading timestamp is always removed from
//! the message (whichever time was used), and so is a level word right after it that only
//! repeats the level ([`level_prefix_len`]), because event lines print both separately:
//! `2024-06-12T01:23:45Z ERROR Database connection failed: timeout` becomes
//! `[2024-06-12T01:23:45Z][api][ERROR] Database connection failed: timeout`. Nothing else
//! is removed.

pub mod docker;
pub mod level;
pub mod line;
pub mod multiline;
pub mod timestamp;

use std::borrow::Cow;

use chrono::{DateTime, Utc};

pub use docker::{DockerLine, DockerLineError, PartialMerger, Stream};
pub use level::{detect_level, level_prefix_len, Level, LevelCounts, UnknownLevel};
pub use line::{strip_ansi, DEFAULT_MAX_LINE_BYTES, TRUNCATION_MARKER};
pub use multiline::{JoinedEvent, MultilineConfig, MultilineJoiner};
pub use timestamp::{leading_timestamp, parse_timestamp};

/// One parsed line: when, how severe, and what it says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedLine<'a> {
    /// When the line was written: Docker's time, else the line's leading timestamp, else
    /// the time it was read.
    pub timestamp: DateTime<Utc>,
    /// The level found by [`detect_level`], if any.
    pub level: Option<Level>,
    /// The whole line: line ending and ANSI escapes removed, otherwise as written.
    text: Cow<'a, str>,
    /// Byte offset in `text` where the message starts (past a leading timestamp and level
    /// word).
    message_start: usize,
}

impl<'a> ParsedLine<'a> {
    /// The message: the line without its leading timestamp and level word.
    pub fn message(&self) -> &str {
        &self.text[self.message_start..]
    }

    /// The whole line including a leading timestamp (line ending and ANSI escapes
    /// removed). Multiline start patterns are matched against this.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Whether the line started with a timestamp (which [`message`](Self::message) omits).
    pub fn has_leading_timestamp(&self) -> bool {
        self.message_start > 0
    }

    /// What parsing found, without the text: to be put together again with
    /// [`LineParts::with_text`] where the text is at hand (the line was parsed on another
    /// thread). Only for lines parsed with [`parse_line_without_escapes`], whose text is a
    /// prefix of the raw line.
    pub fn parts(&self) -> LineParts {
        LineParts {
            timestamp: self.timestamp,
            level: self.level,
            text_len: self.text.len(),
            message_start: self.message_start,
        }
    }

    /// Detaches the line from the buffer it was parsed from.
    pub fn into_owned(self) -> ParsedLine<'static> {
        ParsedLine {
            timestamp: self.timestamp,
            level: self.level,
            text: Cow::Owned(self.text.into_owned()),
            message_start: self.message_start,
        }
    }
}

/// A [`ParsedLine`] without its text ([`ParsedLine::parts`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineParts {
    timestamp: DateTime<Utc>,
    level: Option<Level>,
    text_len: usize,
    message_start: usize,
}

impl LineParts {
    /// The parsed line again, over `raw`: the raw line these parts were parsed from with
    /// [`parse_line_without_escapes`].
    pub fn with_text(self, raw: &str) -> ParsedLine<'_> {
        ParsedLine {
            timestamp: self.timestamp,
            level: self.level,
            text: Cow::Borrowed(&raw[..self.text_len]),
            message_start: self.message_start,
        }
    }
}

/// Parses one line of a plain log file: leading timestamp (else `read_time`) and level.
/// Same as [`parse_line`] without a source time.
pub fn parse_text_line(raw: &str, read_time: DateTime<Utc>) -> ParsedLine<'_> {
    parse_line(raw, None, read_time)
}

/// Parses one line (a trailing `"\n"` / `"\r\n"` is ignored). `source_time` (Docker's
/// `time`) wins over a leading timestamp in the text, which wins over `read_time`; the
/// leading timestamp is removed from the message either way.
///
/// Allocation-free unless the line contains ANSI escape sequences.
pub fn parse_line(
    raw: &str,
    source_time: Option<DateTime<Utc>>,
    read_time: DateTime<Utc>,
) -> ParsedLine<'_> {
    parse_text(
        strip_ansi(line::strip_line_ending(raw)),
        source_time,
        read_time,
    )
}

/// [`parse_line`] for a line known to hold no escape byte (`\x1b`), so there is no ANSI
/// sequence to strip: the same result, without looking for one.
pub fn parse_line_without_escapes(
    raw: &str,
    source_time: Option<DateTime<Utc>>,
    read_time: DateTime<Utc>,
) -> ParsedLine<'_> {
    debug_assert!(!raw.contains('\x1b'));
    parse_text(
        Cow::Borrowed(line::strip_line_ending(raw)),
        source_time,
        read_time,
    )
}

/// Parses a line whose line ending and ANSI sequences are gone.
#[inline]
fn parse_text<'a>(
    text: Cow<'a, str>,
    source_time: Option<DateTime<Utc>>,
    read_time: DateTime<Utc>,
) -> ParsedLine<'a> {
    let (line_time, message_start) = match leading_timestamp(&text) {
        Some((time, consumed)) => (Some(time), consumed),
        None => (None, 0),
    };
    let level = detect_level(&text[message_start..]);
    let message_start = match level {
        Some(_) => message_start + level_prefix_len(&text[message_start..]),
        None => message_start,
    };
    ParsedLine {
        timestamp: source_time.or(line_time).unwrap_or(read_time),
        level,
        text,
        message_start,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn read_time() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).unwrap()
    }

    fn line_time() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 6, 12, 1, 23, 45).unwrap()
    }

    #[test]
    fn leading_timestamp_is_used_and_stripped_from_the_message() {
        let p = parse_text_line("2024-06-12T01:23:45Z ERROR db failed\n", read_time());
        assert_eq!(p.timestamp, line_time());
        assert_eq!(p.level, Some(Level::Error));
        assert_eq!(p.message(), "db failed");
        assert_eq!(p.text(), "2024-06-12T01:23:45Z ERROR db failed");
        assert!(p.has_leading_timestamp());
    }

    #[test]
    fn without_a_timestamp_the_read_time_is_used() {
        let p = parse_text_line("WARNING:root:disk low", read_time());
        assert_eq!(p.timestamp, read_time());
        assert_eq!(p.level, Some(Level::Warning));
        assert_eq!(p.message(), "WARNING:root:disk low");
        assert!(!p.has_leading_timestamp());
    }

    #[test]
    fn docker_time_wins_but_the_text_timestamp_is_still_stripped() {
        let docker = Utc.with_ymd_and_hms(2024, 6, 12, 1, 23, 46).unwrap();
        let p = parse_line("2024-06-12T01:23:45Z INFO ok", Some(docker), read_time());
        assert_eq!(p.timestamp, docker);
        assert_eq!(p.message(), "ok");
    }

    #[test]
    fn parts_put_together_again_give_the_same_line() {
        for raw in [
            "2024-06-12T01:23:45Z ERROR db failed",
            "INFO:     127.0.0.1 - \"GET / HTTP/1.1\" 200",
            "plain text\r",
            "",
        ] {
            let parsed = parse_line_without_escapes(raw, None, read_time());
            assert_eq!(parsed.parts().with_text(raw), parsed, "{raw:?}");
        }
    }

    #[test]
    fn crlf_is_removed_and_no_copy_is_made() {
        let p = parse_text_line("INFO ready\r\n", read_time());
        assert_eq!(p.message(), "ready");
        assert!(matches!(p.text, Cow::Borrowed(_)));
    }

    #[test]
    fn ansi_coloured_rust_tracing_line() {
        let raw = "\x1b[2m2024-06-12T01:23:45.000Z\x1b[0m \x1b[31mERROR\x1b[0m api: db failed";
        let p = parse_text_line(raw, read_time());
        assert_eq!(p.timestamp, line_time());
        assert_eq!(p.level, Some(Level::Error));
        assert_eq!(p.message(), "api: db failed");
    }

    #[test]
    fn only_a_level_word_that_repeats_the_level_is_left_out() {
        let message = |line: &str| parse_text_line(line, read_time()).message().to_string();
        assert_eq!(
            message("ERROR:    Exception in ASGI application"),
            "Exception in ASGI application"
        );
        assert_eq!(message("[warn] disk at 91%"), "disk at 91%");
        assert_eq!(
            message("ERROR:root:Database connection failed"),
            "ERROR:root:Database connection failed"
        );
        assert_eq!(
            message("Error: ENOENT: no such file"),
            "Error: ENOENT: no such file"
        );
        assert_eq!(message("ERROR"), "ERROR");
        assert_eq!(message("level=error msg=boom"), "level=error msg=boom");
    }

    #[test]
    fn a_line_without_level_keeps_its_text() {
        let p = parse_text_line("GET /errors 200", read_time());
        assert_eq!(p.level, None);
        assert_eq!(p.message(), "GET /errors 200");
        let owned = p.clone().into_owned();
        assert_eq!(owned, p);
    }

    #[test]
    fn docker_file_line_to_parsed_line() {
        let raw = br#"{"log":"2024-06-12 01:23:45.123 UTC [1] ERROR:  relation \"x\" does not exist\n","stream":"stderr","time":"2024-06-12T01:23:45.2Z"}"#;
        let docker = DockerLine::parse(raw).unwrap();
        let p = parse_line(&docker.log, docker.time, read_time());
        assert_eq!(p.timestamp, docker.time.unwrap());
        assert_eq!(p.level, Some(Level::Error));
        assert_eq!(p.message(), "[1] ERROR:  relation \"x\" does not exist");
    }
}
