//! One frame of `GET /containers/ID/logs?timestamps=1`: `RFC3339NANO-time SP text`, where
//! the text ends in `"\n"` unless the frame is one chunk of a line longer than the log
//! driver's 16 KiB buffer (a *partial* frame, continued by the next frame of its stream).
//!
//! Docker cuts long lines at byte offsets, so a chunk can end in the middle of a UTF-8
//! character; [`Utf8Carry`] moves those bytes to the next chunk instead of turning the
//! character into two replacement characters.

use std::borrow::Cow;

use chrono::{DateTime, Utc};

use crate::parse::parse_timestamp;

/// The longest time prefix Docker writes (`2024-06-12T01:23:45.123456789+00:00`) and then some.
const MAX_TIME_PREFIX: usize = 40;

/// A frame split into its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame<'a> {
    /// Docker's time of the line; `None` when the frame did not start with one.
    pub time: Option<DateTime<Utc>>,
    /// The text, without its `"\n"` (or `"\r\n"`) when complete; untouched when partial.
    pub text: &'a [u8],
    /// True for a chunk that is not the end of its line.
    pub partial: bool,
}

impl<'a> Frame<'a> {
    /// Splits a frame's payload.
    pub fn parse(payload: &'a [u8]) -> Frame<'a> {
        let space = payload
            .iter()
            .take(MAX_TIME_PREFIX)
            .position(|b| *b == b' ');
        let parsed = space.and_then(|at| {
            let prefix = std::str::from_utf8(&payload[..at]).ok()?;
            Some((parse_timestamp(prefix)?, &payload[at + 1..]))
        });
        let (time, text) = match parsed {
            Some((time, text)) => (Some(time), text),
            None => (None, payload),
        };
        match text.strip_suffix(b"\n") {
            Some(line) => Frame {
                time,
                text: line.strip_suffix(b"\r").unwrap_or(line),
                partial: false,
            },
            None => Frame {
                time,
                text,
                partial: true,
            },
        }
    }
}

/// Decodes the chunks of one stream as UTF-8, carrying a character cut in two by a chunk
/// boundary over to the next chunk. Invalid bytes become U+FFFD.
#[derive(Debug, Default)]
pub struct Utf8Carry {
    /// The first bytes of a character whose rest is in the next chunk.
    tail: Vec<u8>,
}

impl Utf8Carry {
    /// The text of one frame; `partial` when the line continues in the next frame.
    pub fn decode<'a>(&mut self, text: &'a [u8], partial: bool) -> Cow<'a, str> {
        if self.tail.is_empty() && !partial {
            return String::from_utf8_lossy(text);
        }
        let mut bytes = std::mem::take(&mut self.tail);
        bytes.extend_from_slice(text);
        if partial {
            let cut = bytes.len() - incomplete_suffix(&bytes);
            self.tail = bytes.split_off(cut);
        }
        match String::from_utf8(bytes) {
            Ok(text) => Cow::Owned(text),
            Err(err) => Cow::Owned(String::from_utf8_lossy(err.as_bytes()).into_owned()),
        }
    }
}

/// How many bytes at the end of `bytes` are the start of a character that is not complete.
fn incomplete_suffix(bytes: &[u8]) -> usize {
    for back in 1..=3.min(bytes.len()) {
        let byte = bytes[bytes.len() - back];
        if byte & 0xC0 == 0x80 {
            continue; // a continuation byte: look further back for the lead byte
        }
        let needed = match byte {
            0xC0..=0xDF => 2,
            0xE0..=0xEF => 3,
            0xF0..=0xF7 => 4,
            _ => return 0,
        };
        return if needed > back { back } else { 0 };
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_frame_is_split_into_time_and_text() {
        let frame = Frame::parse(b"2024-06-12T01:23:45.123456789Z ERROR boom\r\n");
        let expected = Utc.with_ymd_and_hms(2024, 6, 12, 1, 23, 45).unwrap()
            + chrono::TimeDelta::nanoseconds(123_456_789);
        assert_eq!(frame.time, Some(expected));
        assert_eq!(frame.text, b"ERROR boom");
        assert!(!frame.partial);
    }

    #[test]
    fn a_frame_without_newline_is_a_partial_chunk_kept_whole() {
        let frame = Frame::parse(b"2024-06-12T01:23:45.000000000Z xxxx\r");
        assert!(frame.partial);
        assert_eq!(frame.text, b"xxxx\r");
    }

    #[test]
    fn a_frame_without_time_keeps_its_text() {
        let frame = Frame::parse(b"no time here\n");
        assert_eq!(frame.time, None);
        assert_eq!(frame.text, b"no time here");
    }

    #[test]
    fn a_character_cut_by_a_chunk_boundary_is_joined_again() {
        let text = "aé€😀b".as_bytes();
        for cut in 0..text.len() {
            let mut carry = Utf8Carry::default();
            let first = carry.decode(&text[..cut], true).into_owned();
            let second = carry.decode(&text[cut..], false).into_owned();
            assert_eq!(first + &second, "aé€😀b", "cut at {cut}");
        }
    }

    #[test]
    fn invalid_bytes_become_replacement_characters() {
        let mut carry = Utf8Carry::default();
        assert_eq!(carry.decode(b"bad \xff byte", false), "bad \u{FFFD} byte");
        assert_eq!(carry.decode(b"\xff", true), "\u{FFFD}");
        assert!(carry.tail.is_empty());
    }
}
