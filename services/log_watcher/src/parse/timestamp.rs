//! Timestamps: a hand-written scanner for the RFC 3339 / ISO 8601 forms that log lines
//! start with, and for the `time` field of Docker's json-file logs.
//!
//! Recognised at the very start of a line (see [`leading_timestamp`]):
//!
//! - `2024-06-12T01:23:45Z`, `2024-06-12t01:23:45z`
//! - fractional seconds with `.` or `,` (`01:23:45.123456789`, Python's `01:23:45,123`);
//!   digits past nanoseconds are read and ignored
//! - a space instead of the `T` (`2024-06-12 01:23:45`)
//! - `/` instead of `-` in the date (`2024/06/12 01:23:45`, as nginx writes it)
//! - a zone: `Z`, `+02:00`, `+0200`, `+02`, the same after one space
//!   (`01:23:45 +0000`, as gunicorn writes it), or ` UTC` / ` GMT`
//! - no zone at all, which is read as UTC (containers run in UTC unless told otherwise)
//! - all of the above in square brackets: `[2024-06-12 01:23:45,123]`
//!
//! The timestamp must end at the end of the line or at a space or tab; the bytes
//! consumed include the blanks that follow it. A line that starts with neither a digit
//! nor `[` is rejected after looking at one byte, which keeps the hot path cheap.

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};

/// Reads a timestamp at the very start of `line`.
///
/// Returns the instant (in UTC) and the number of bytes consumed, including the
/// brackets around it (if any) and the spaces and tabs after it, so that
/// `&line[consumed..]` is the rest of the message.
pub fn leading_timestamp(line: &str) -> Option<(DateTime<Utc>, usize)> {
    let b = line.as_bytes();
    let bracketed = match *b.first()? {
        b'0'..=b'9' => false,
        b'[' => true,
        _ => return None,
    };
    let start = usize::from(bracketed);
    let (instant, mut end) = scan(b, start)?;
    if bracketed {
        if b.get(end) != Some(&b']') {
            return None;
        }
        end += 1;
    }
    if !at_boundary(b, end) {
        return None;
    }
    while matches!(b.get(end), Some(b' ' | b'\t')) {
        end += 1;
    }
    Some((instant, end))
}

/// Parses a whole string as a timestamp, e.g. Docker's
/// `2024-06-12T01:23:45.123456789Z`. Accepts the forms listed in the module docs
/// (without brackets) and anything else RFC 3339 allows.
pub fn parse_timestamp(s: &str) -> Option<DateTime<Utc>> {
    match scan(s.as_bytes(), 0) {
        Some((instant, end)) if end == s.len() => Some(instant),
        _ => DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|t| t.with_timezone(&Utc)),
    }
}

/// True at the end of input or before a space or tab.
fn at_boundary(b: &[u8], i: usize) -> bool {
    matches!(b.get(i), None | Some(b' ' | b'\t'))
}

/// Reads `n` ASCII digits at `*i` as a number and advances `*i`.
fn digits(b: &[u8], i: &mut usize, n: usize) -> Option<u32> {
    let s = b.get(*i..*i + n)?;
    let mut v = 0u32;
    for &c in s {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u32::from(c - b'0');
    }
    *i += n;
    Some(v)
}

/// Expects byte `c` at `*i` and advances past it.
fn expect(b: &[u8], i: &mut usize, c: u8) -> Option<()> {
    if b.get(*i) == Some(&c) {
        *i += 1;
        Some(())
    } else {
        None
    }
}

/// The core scanner: a date-time starting at `i`. Returns the instant and the index just
/// past it (past the zone, if one was read).
fn scan(b: &[u8], mut i: usize) -> Option<(DateTime<Utc>, usize)> {
    let year = digits(b, &mut i, 4)?;
    let sep = *b.get(i)?;
    if sep != b'-' && sep != b'/' {
        return None;
    }
    i += 1;
    let month = digits(b, &mut i, 2)?;
    expect(b, &mut i, sep)?;
    let day = digits(b, &mut i, 2)?;
    match b.get(i) {
        Some(b'T' | b't' | b' ') => i += 1,
        _ => return None,
    }
    let hour = digits(b, &mut i, 2)?;
    expect(b, &mut i, b':')?;
    let minute = digits(b, &mut i, 2)?;
    expect(b, &mut i, b':')?;
    let mut second = digits(b, &mut i, 2)?;

    let mut nanos = 0u32;
    if matches!(b.get(i), Some(b'.' | b',')) && b.get(i + 1).is_some_and(u8::is_ascii_digit) {
        i += 1;
        let mut scale = 100_000_000u32;
        while let Some(&c) = b.get(i) {
            if !c.is_ascii_digit() {
                break;
            }
            nanos += u32::from(c - b'0') * scale;
            scale /= 10;
            i += 1;
        }
    }
    if second == 60 {
        // A leap second: chrono represents it as second 59 with nanoseconds >= 1e9.
        second = 59;
        nanos += 1_000_000_000;
    }

    let (offset_secs, end) = zone(b, i);
    let naive = NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)?
        .and_hms_nano_opt(hour, minute, second, nanos)?;
    let utc = naive.checked_sub_signed(TimeDelta::seconds(i64::from(offset_secs)))?;
    Some((utc.and_utc(), end))
}

/// Reads an optional zone at `i`: returns its offset east of UTC in seconds and the index
/// past it (`i` itself when there is no zone, which means UTC).
fn zone(b: &[u8], i: usize) -> (i32, usize) {
    match b.get(i) {
        Some(b'Z' | b'z') => (0, i + 1),
        Some(b'+' | b'-') => numeric_offset(b, i).unwrap_or((0, i)),
        Some(b' ') => {
            if let Some(found) = numeric_offset(b, i + 1) {
                if at_boundary(b, found.1) || b.get(found.1) == Some(&b']') {
                    return found;
                }
            }
            let name = b.get(i + 1..i + 4);
            if matches!(name, Some(b"UTC" | b"GMT"))
                && (at_boundary(b, i + 4) || b.get(i + 4) == Some(&b']'))
            {
                return (0, i + 4);
            }
            (0, i)
        }
        _ => (0, i),
    }
}

/// `+HH:MM`, `+HHMM` or `+HH` (or with `-`) at `i`.
fn numeric_offset(b: &[u8], i: usize) -> Option<(i32, usize)> {
    let sign = match b.get(i)? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let mut j = i + 1;
    let hours = digits(b, &mut j, 2)?;
    let minutes = if b.get(j) == Some(&b':') {
        j += 1;
        digits(b, &mut j, 2)?
    } else {
        let mut k = j;
        match digits(b, &mut k, 2) {
            Some(m) => {
                j = k;
                m
            }
            None => 0,
        }
    };
    if hours > 23 || minutes > 59 {
        return None;
    }
    let secs = i32::try_from(hours * 3600 + minutes * 60).ok()?;
    Some((sign * secs, j))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32, m: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 6, 12, h, m, s).unwrap()
    }

    fn ms(t: DateTime<Utc>, millis: i64) -> DateTime<Utc> {
        t + TimeDelta::milliseconds(millis)
    }

    #[test]
    fn rfc3339_utc_with_z_consumes_the_following_space() {
        let line = "2024-06-12T01:23:45Z ERROR db failed";
        let (t, n) = leading_timestamp(line).unwrap();
        assert_eq!(t, at(1, 23, 45));
        assert_eq!(&line[n..], "ERROR db failed");
    }

    #[test]
    fn fractional_seconds_up_to_nanoseconds() {
        let (t, _) = leading_timestamp("2024-06-12T01:23:45.123Z x").unwrap();
        assert_eq!(t, ms(at(1, 23, 45), 123));
        let (t, _) = leading_timestamp("2024-06-12T01:23:45.123456789Z x").unwrap();
        assert_eq!(t.timestamp_subsec_nanos(), 123_456_789);
        let (t, _) = leading_timestamp("2024-06-12T01:23:45.1234567891234Z x").unwrap();
        assert_eq!(t.timestamp_subsec_nanos(), 123_456_789);
    }

    #[test]
    fn offsets_are_converted_to_utc() {
        let (t, _) = leading_timestamp("2024-06-12T03:23:45+02:00 x").unwrap();
        assert_eq!(t, at(1, 23, 45));
        let (t, _) = leading_timestamp("2024-06-12T03:23:45+0200 x").unwrap();
        assert_eq!(t, at(1, 23, 45));
        let (t, _) = leading_timestamp("2024-06-11T22:23:45-03 x").unwrap();
        assert_eq!(t, at(1, 23, 45));
    }

    #[test]
    fn space_instead_of_t_and_no_zone_means_utc() {
        let line = "2024-06-12 01:23:45 starting";
        let (t, n) = leading_timestamp(line).unwrap();
        assert_eq!(t, at(1, 23, 45));
        assert_eq!(&line[n..], "starting");
    }

    #[test]
    fn python_logging_comma_milliseconds() {
        let line = "2024-06-12 01:23:45,123 - app - ERROR - boom";
        let (t, n) = leading_timestamp(line).unwrap();
        assert_eq!(t, ms(at(1, 23, 45), 123));
        assert_eq!(&line[n..], "- app - ERROR - boom");
    }

    #[test]
    fn bracketed_timestamp_is_consumed_with_its_brackets() {
        let line = "[2024-06-12 01:23:45,123] ERROR in app";
        let (t, n) = leading_timestamp(line).unwrap();
        assert_eq!(t, ms(at(1, 23, 45), 123));
        assert_eq!(&line[n..], "ERROR in app");
    }

    #[test]
    fn gunicorn_bracketed_with_spaced_offset() {
        let line = "[2024-06-12 03:23:45 +0200] [7] [INFO] Booting worker";
        let (t, n) = leading_timestamp(line).unwrap();
        assert_eq!(t, at(1, 23, 45));
        assert_eq!(&line[n..], "[7] [INFO] Booting worker");
    }

    #[test]
    fn postgres_utc_suffix_is_consumed() {
        let line = "2024-06-12 01:23:45.123 UTC [1] ERROR:  relation \"x\" does not exist";
        let (t, n) = leading_timestamp(line).unwrap();
        assert_eq!(t, ms(at(1, 23, 45), 123));
        assert_eq!(&line[n..], "[1] ERROR:  relation \"x\" does not exist");
    }

    #[test]
    fn nginx_slash_dates() {
        let line = "2024/06/12 01:23:45 [error] 12#12: *1 open() failed";
        let (t, n) = leading_timestamp(line).unwrap();
        assert_eq!(t, at(1, 23, 45));
        assert_eq!(&line[n..], "[error] 12#12: *1 open() failed");
    }

    #[test]
    fn timestamp_alone_on_a_line() {
        let (t, n) = leading_timestamp("2024-06-12T01:23:45Z").unwrap();
        assert_eq!((t, n), (at(1, 23, 45), 20));
    }

    #[test]
    fn a_minus_after_a_space_is_not_taken_for_an_offset() {
        let line = "2024-06-12 01:23:45 - worker started";
        let (t, n) = leading_timestamp(line).unwrap();
        assert_eq!(t, at(1, 23, 45));
        assert_eq!(&line[n..], "- worker started");
    }

    #[test]
    fn rejects_lines_that_do_not_start_with_a_timestamp() {
        for line in [
            "",
            "ERROR db failed",
            "12:00:01 started",
            "2024-06-12 started",
            "20240612T012345Z compact",
            "2024-13-12T01:23:45Z bad month",
            "2024-06-31T01:23:45Z bad day",
            "2024-06-12T25:23:45Z bad hour",
            "2024-06-12T01:23:45Zfoo glued",
            "2024-06-12T01:23:45.Z dot without digits",
            "[2024-06-12 01:23:45 no closing bracket",
            "[error] nginx",
            "127.0.0.1 - - [12/Jun/2024:01:23:45 +0000] \"GET /\"",
        ] {
            assert_eq!(leading_timestamp(line), None, "{line:?}");
        }
    }

    #[test]
    fn leap_second_is_accepted() {
        assert!(leading_timestamp("2016-12-31T23:59:60Z x").is_some());
    }

    #[test]
    fn docker_time_field_parses_whole() {
        let t = parse_timestamp("2024-06-12T01:23:45.123456789Z").unwrap();
        assert_eq!(t.timestamp_subsec_nanos(), 123_456_789);
        assert_eq!(parse_timestamp("2024-06-12T01:23:45Z trailing"), None);
        assert_eq!(parse_timestamp("yesterday"), None);
    }
}
