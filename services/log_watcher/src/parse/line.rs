//! Limits and small helpers for one raw log line: the maximum line length, the
//! truncation marker, cutting at a UTF-8 boundary, ANSI and line-ending removal.
//!
//! Every path that turns bytes into a line goes through these helpers, so that an
//! over-long line, a CRLF line ending or invalid UTF-8 behaves the same whether it came
//! from a Docker json-file log, a plain file or the Docker Engine API.

use std::borrow::Cow;

use memchr::memchr;

/// Default longest line kept, in bytes (256 KiB). Longer lines are cut to this many bytes
/// (at a UTF-8 character boundary) and [`TRUNCATION_MARKER`] is appended.
pub const DEFAULT_MAX_LINE_BYTES: usize = 256 * 1024;

/// Appended to a line (or a multiline event) that was cut because it was too long.
pub const TRUNCATION_MARKER: &str = " …[truncated]";

/// Removes one trailing line ending (`"\n"`, `"\r\n"` or a lone `"\r"`) from `line`.
///
/// Only the end is touched: a `'\r'` in the middle of a line is kept.
pub fn strip_line_ending(line: &str) -> &str {
    let line = line.strip_suffix('\n').unwrap_or(line);
    line.strip_suffix('\r').unwrap_or(line)
}

/// Byte-slice version of [`strip_line_ending`].
pub fn strip_line_ending_bytes(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Largest `n <= max` such that `bytes[..n]` does not end in the middle of a UTF-8
/// encoded character.
///
/// Invalid UTF-8 is tolerated: at most three trailing continuation bytes are backed over,
/// so the result is always `>= max.saturating_sub(3)` (for `max < bytes.len()`).
pub fn utf8_cut_point(bytes: &[u8], max: usize) -> usize {
    if max >= bytes.len() {
        return bytes.len();
    }
    // `bytes[max]` is the first byte that would be dropped. If it is a continuation byte
    // (0b10xx_xxxx), the character it belongs to started earlier: back up to its start.
    let mut cut = max;
    let lowest = max.saturating_sub(3);
    while cut > lowest && (bytes[cut] & 0xC0) == 0x80 {
        cut -= 1;
    }
    if (bytes[cut] & 0xC0) == 0x80 {
        // Not valid UTF-8 around here anyway: cut exactly at `max`; lossy decoding
        // turns the fragment into U+FFFD.
        max
    } else {
        cut
    }
}

/// Largest char boundary of `s` that is `<= max`.
pub fn floor_char_boundary(s: &str, max: usize) -> usize {
    if max >= s.len() {
        return s.len();
    }
    let mut cut = max;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    cut
}

/// Cuts `s` to at most `max_bytes` bytes (at a char boundary) and appends
/// [`TRUNCATION_MARKER`]. Returns `false` and leaves `s` alone when it already fits.
pub fn truncate_with_marker(s: &mut String, max_bytes: usize) -> bool {
    if s.len() <= max_bytes {
        return false;
    }
    let cut = floor_char_boundary(s, max_bytes);
    s.truncate(cut);
    s.push_str(TRUNCATION_MARKER);
    true
}

/// Appends `chunk` to `buf` without letting `buf` grow past `max_bytes` (plus the marker).
///
/// Returns `true` when the chunk did not fit: the part that fits (cut at a char boundary)
/// was appended, followed by [`TRUNCATION_MARKER`]; the caller should drop the rest of
/// the line.
pub fn push_bounded(buf: &mut String, chunk: &str, max_bytes: usize) -> bool {
    let room = max_bytes.saturating_sub(buf.len());
    if chunk.len() <= room {
        buf.push_str(chunk);
        return false;
    }
    let cut = floor_char_boundary(chunk, room);
    buf.push_str(&chunk[..cut]);
    buf.push_str(TRUNCATION_MARKER);
    true
}

/// Removes ANSI terminal escape sequences (colours and the like: `ESC [ … m`, OSC
/// titles, two-byte escapes) that programs such as Rust's `tracing` write even when their
/// output goes to Docker. Borrows when there is no `ESC` byte in `s`.
pub fn strip_ansi(s: &str) -> Cow<'_, str> {
    let b = s.as_bytes();
    let Some(first) = memchr(ESC, b) else {
        return Cow::Borrowed(s);
    };
    let mut out = String::with_capacity(s.len());
    out.push_str(&s[..first]);
    let mut i = first;
    while i < b.len() {
        if b[i] == ESC {
            i = skip_escape(b, i);
            continue;
        }
        let next = memchr(ESC, &b[i..]).map_or(b.len(), |n| i + n);
        out.push_str(&s[i..next]);
        i = next;
    }
    Cow::Owned(out)
}

const ESC: u8 = 0x1b;

/// Index just past the escape sequence that starts at `b[i] == ESC`. Every index
/// returned is at an ASCII byte or the end, so it is a char boundary.
fn skip_escape(b: &[u8], i: usize) -> usize {
    match b.get(i + 1) {
        // CSI: parameter and intermediate bytes, then one final byte.
        Some(b'[') => {
            let mut j = i + 2;
            while let Some(&c) = b.get(j) {
                if (0x40..=0x7e).contains(&c) {
                    return j + 1;
                }
                if !(0x20..=0x3f).contains(&c) {
                    return j; // malformed: keep what follows
                }
                j += 1;
            }
            j
        }
        // OSC: up to BEL or ESC \.
        Some(b']') => {
            let mut j = i + 2;
            while let Some(&c) = b.get(j) {
                match c {
                    0x07 => return j + 1,
                    ESC if b.get(j + 1) == Some(&b'\\') => return j + 2,
                    ESC => return j,
                    _ => j += 1,
                }
            }
            j
        }
        Some(c) if (0x40..=0x5f).contains(c) => i + 2,
        _ => i + 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_endings_lf_crlf_and_lone_cr_are_removed_once() {
        assert_eq!(strip_line_ending("a\n"), "a");
        assert_eq!(strip_line_ending("a\r\n"), "a");
        assert_eq!(strip_line_ending("a\r"), "a");
        assert_eq!(strip_line_ending("a"), "a");
        assert_eq!(strip_line_ending("a\n\n"), "a\n");
        assert_eq!(strip_line_ending("a\rb"), "a\rb");
        assert_eq!(strip_line_ending_bytes(b"x\r\n"), b"x");
    }

    #[test]
    fn cut_point_never_splits_a_multibyte_character() {
        let s = "aé€😀"; // 1 + 2 + 3 + 4 bytes
        let b = s.as_bytes();
        for max in 0..=b.len() {
            let cut = utf8_cut_point(b, max);
            assert!(cut <= max);
            assert!(
                std::str::from_utf8(&b[..cut]).is_ok(),
                "cut {cut} for max {max}"
            );
        }
        assert_eq!(utf8_cut_point(b, 2), 1);
        assert_eq!(utf8_cut_point(b, 3), 3);
        assert_eq!(utf8_cut_point(b, 100), b.len());
    }

    #[test]
    fn cut_point_in_invalid_utf8_backs_off_at_most_three_bytes() {
        let b = [b'a', 0x80, 0x80, 0x80, 0x80, 0x80, b'b'];
        assert_eq!(utf8_cut_point(&b, 5), 5);
    }

    #[test]
    fn truncate_with_marker_only_touches_long_strings() {
        let mut s = String::from("short");
        assert!(!truncate_with_marker(&mut s, 5));
        assert_eq!(s, "short");
        let mut s = String::from("a€b");
        assert!(truncate_with_marker(&mut s, 2));
        assert_eq!(s, format!("a{TRUNCATION_MARKER}"));
    }

    #[test]
    fn push_bounded_stops_at_the_limit() {
        let mut buf = String::new();
        assert!(!push_bounded(&mut buf, "abc", 5));
        assert!(push_bounded(&mut buf, "def", 5));
        assert_eq!(buf, format!("abcde{TRUNCATION_MARKER}"));
    }

    #[test]
    fn ansi_colours_are_removed() {
        let coloured = "\x1b[2m2024-06-12T01:23:45Z\x1b[0m \x1b[31mERROR\x1b[0m api: failed";
        assert_eq!(
            strip_ansi(coloured),
            "2024-06-12T01:23:45Z ERROR api: failed"
        );
        assert!(matches!(strip_ansi("plain"), Cow::Borrowed("plain")));
        assert_eq!(strip_ansi("\x1b]0;title\x07text"), "text");
        assert_eq!(strip_ansi("é\x1b[1;32mvert\x1b[mé"), "éverté");
        assert_eq!(strip_ansi("dangling \x1b"), "dangling ");
        assert_eq!(strip_ansi("bad \x1b[12é"), "bad é");
    }
}
