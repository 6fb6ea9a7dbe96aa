//! Levels given by the shape of a whole line: Python tracebacks, Rust panics, Java's
//! `Exception in thread`, exception lines (`ValueError: bad`) and glog's `E0612 …` prefix.
//! The multiline joiner uses the same tests for the lines inside a crash report.

use memchr::memmem;

use super::names::Level;
use super::starts_with;

#[inline]
pub(super) fn signature_level(b: &[u8]) -> Option<Level> {
    match b[0] {
        b'T' if starts_with(b, b"Traceback (most recent call last)") => Some(Level::Error),
        b't' if is_rust_panic(b) => Some(Level::Critical),
        b'E' if b.starts_with(b"Exception in thread \"") => Some(Level::Error),
        b'I' | b'W' | b'E' | b'F' if is_glog_prefix(b) => Some(match b[0] {
            b'I' => Level::Info,
            b'W' => Level::Warning,
            b'E' => Level::Error,
            _ => Level::Critical,
        }),
        _ if is_exception_line(b) => Some(Level::Error),
        _ => None,
    }
}

/// glog: `E0612 01:23:45.123456 …` (level letter, MMDD, space, digit).
fn is_glog_prefix(b: &[u8]) -> bool {
    b.len() > 6 && b[1..5].iter().all(u8::is_ascii_digit) && b[5] == b' ' && b[6].is_ascii_digit()
}

/// Bytes an exception name is made of: ASCII letters and digits, `_`, `.` and `$`.
static EXCEPTION_NAME_BYTES: [bool; 256] = {
    let mut table = [false; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        table[c] = b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'$';
        c += 1;
    }
    table
};

/// `ValueError: x`, `psycopg2.OperationalError: x`, `java.lang.NullPointerException`:
/// a first word made of identifier characters and dots, ending in `Error` or
/// `Exception`, followed by `:` or the end of the line. Bare `Error:` is left to the
/// token rules.
pub(crate) fn is_exception_line(b: &[u8]) -> bool {
    if !b.first().is_some_and(u8::is_ascii_alphabetic) {
        return false;
    }
    let mut name_len = 1;
    while name_len < b.len() && EXCEPTION_NAME_BYTES[usize::from(b[name_len])] {
        name_len += 1;
    }
    let name = &b[..name_len];
    let rest = &b[name_len..];
    if !(rest.is_empty() || rest[0] == b':') {
        return false;
    }
    (name.len() > 5 && name.ends_with(b"Error")) || (name.len() > 9 && name.ends_with(b"Exception"))
}

/// `thread 'main' panicked at …`
pub(crate) fn is_rust_panic(b: &[u8]) -> bool {
    starts_with(b, b"thread '") && memmem::find(b, b"' panicked at").is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::level::detect_level;
    use crate::parse::Level::*;

    fn d(line: &str) -> Option<Level> {
        detect_level(line)
    }

    #[test]
    fn rust_and_go_panics_are_critical() {
        assert_eq!(
            d("thread 'main' panicked at src/main.rs:1:1:"),
            Some(Critical)
        );
        assert_eq!(
            d("thread 'tokio-runtime-worker' panicked at 'boom', src/x.rs:2:3"),
            Some(Critical)
        );
        assert_eq!(
            d("panic: runtime error: index out of range [3] with length 3"),
            Some(Critical)
        );
    }

    #[test]
    fn tracebacks_and_exceptions_are_errors() {
        assert_eq!(d("Traceback (most recent call last):"), Some(Error));
        assert_eq!(d("ValueError: invalid literal for int()"), Some(Error));
        assert_eq!(
            d("psycopg2.OperationalError: could not connect"),
            Some(Error)
        );
        assert_eq!(d("java.lang.IllegalStateException: bad state"), Some(Error));
        assert_eq!(
            d("Exception in thread \"main\" java.lang.NullPointerException"),
            Some(Error)
        );
        assert_eq!(d("MyErrorHandler: registered"), None);
    }

    #[test]
    fn glog_prefix() {
        assert_eq!(
            d("E0612 01:23:45.123456       1 main.go:12] db failed"),
            Some(Error)
        );
        assert_eq!(
            d("W0612 01:23:45.123456       1 main.go:12] slow"),
            Some(Warning)
        );
        assert_eq!(
            d("I0612 01:23:45.123456       1 main.go:12] ok"),
            Some(Info)
        );
    }
}
