//! Levels of text lines, token by token: logfmt `level=` keys, bracketed names (`[error]`),
//! capitalised names (`ERROR:`, `local.ERROR:`) and a leading core name in any case
//! (`error: …`), with the limits that keep ordinary words in a sentence from counting.
//! Tokens are found eight bytes at a time (`find_token_stop`).

use memchr::{memchr, memchr2};

use super::is_blank;
use super::names::{pack_lowercase, packed_names, Level};

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// The high bit set in each byte of `word` that equals `byte`. Only the lowest set bit is
/// exact (a borrow may set bits above a true match), which is all [`find_token_stop`] uses.
#[inline(always)]
fn bytes_equal(word: u64, byte: u8) -> u64 {
    let x = word ^ (ONES * u64::from(byte));
    x.wrapping_sub(ONES) & !x & HIGHS
}

/// Index of the first blank, `"` or `=` in `b[i..end]`, or `end`: where the token rules
/// must look again. Eight bytes at a time (SWAR), as most of a line is plain text.
#[inline]
fn find_token_stop(b: &[u8], mut i: usize, end: usize) -> usize {
    while i + 8 <= end {
        let mut chunk = [0u8; 8];
        chunk.copy_from_slice(&b[i..i + 8]);
        let word = u64::from_le_bytes(chunk);
        let hits = bytes_equal(word, b' ')
            | bytes_equal(word, b'\t')
            | bytes_equal(word, b'"')
            | bytes_equal(word, b'=');
        if hits != 0 {
            return i + (hits.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < end && !matches!(b[i], b' ' | b'\t' | b'"' | b'=') {
        i += 1;
    }
    i
}

/// Bytes of a line looked at by the token rules.
const MAX_SCAN_BYTES: usize = 512;
/// Tokens looked at for `key=value` levels.
const MAX_TOKENS: usize = 16;
/// Counted tokens (see module docs) that may hold a level word.
const WORD_TOKENS: usize = 6;

fn is_logfmt_level_key(key: &[u8]) -> bool {
    packed_names! {
        LEVEL = b"level", LVL = b"lvl", SEVERITY = b"severity", LOGLEVEL = b"loglevel",
        LOG_DOT_LEVEL = b"log.level",
    }
    key.len() <= 9
        && matches!(key.first().map(u8::to_ascii_lowercase), Some(b'l' | b's'))
        && matches!(
            pack_lowercase(key),
            LEVEL | LVL | SEVERITY | LOGLEVEL | LOG_DOT_LEVEL
        )
}

/// Index just past the closing quote of a quoted string whose opening quote is at
/// `open`, or `end` when it is not closed before `end`. A backslash escapes the byte after it.
fn skip_quoted(b: &[u8], open: usize, end: usize) -> usize {
    let mut i = open + 1;
    while i < end {
        let Some(at) = memchr2(b'"', b'\\', &b[i..end]) else {
            return end;
        };
        i += at;
        if b[i] == b'"' {
            return i + 1;
        }
        i += 2;
    }
    end
}

fn strip_quotes(v: &[u8]) -> &[u8] {
    match v {
        [b'"', inner @ .., b'"'] => inner,
        _ => v,
    }
}

#[inline]
pub(super) fn token_level(b: &[u8]) -> Option<Level> {
    let end = b.len().min(MAX_SCAN_BYTES);
    let mut i = 0;
    let mut counted = 0;
    let mut tokens = 0;
    let mut saw_key_value = false;
    while tokens < MAX_TOKENS {
        while i < end && is_blank(b[i]) {
            i += 1;
        }
        if i >= end {
            return None;
        }
        let start = i;
        let mut eq = None;
        // Only blanks, a quote opening the token and the first `=` matter: jump between them.
        loop {
            i = find_token_stop(b, i, end);
            if i >= end || is_blank(b[i]) {
                break;
            }
            match b[i] {
                b'"' if i == start => i = skip_quoted(b, i, end),
                b'=' if eq.is_none() => {
                    eq = Some(i);
                    i = if b.get(i + 1) == Some(&b'"') {
                        skip_quoted(b, i + 1, end)
                    } else {
                        i + 1
                    };
                }
                _ => i += 1,
            }
        }
        let token = &b[start..i];
        tokens += 1;
        if let Some(eq) = eq {
            saw_key_value = true;
            if is_logfmt_level_key(&b[start..eq]) {
                if let Some(level) = Level::parse_bytes(strip_quotes(&b[eq + 1..i])) {
                    return Some(level);
                }
            }
        } else if is_uncounted(token) {
            continue;
        } else if counted < WORD_TOKENS {
            if let Some(level) = word_level(token, counted == 0) {
                return Some(level);
            }
        }
        counted += 1;
        if counted >= WORD_TOKENS && !saw_key_value {
            return None;
        }
    }
    None
}

/// Tokens that are not words: numbers, timestamps, `[1]`, `+0000`, `-`, `|`.
fn is_uncounted(token: &[u8]) -> bool {
    let digit_at = |i: usize| token.get(i).is_some_and(u8::is_ascii_digit);
    match token[0] {
        b'0'..=b'9' => true,
        b'[' | b'(' | b'+' | b'-' if digit_at(1) => true,
        _ => !token.iter().any(u8::is_ascii_alphabetic),
    }
}

/// A level written as a word token: `[error]`, `ERROR`, `ERROR:root:x`, `local.ERROR:`,
/// or (when `first`) `error:` / `Error` / `warning`.
fn word_level(token: &[u8], first: bool) -> Option<Level> {
    if let Some(close) = match token[0] {
        b'[' => Some(b']'),
        b'<' => Some(b'>'),
        b'(' => Some(b')'),
        _ => None,
    } {
        let inner_end = memchr(close, token)?;
        let after = &token[inner_end + 1..];
        if !(after.is_empty() || after == b":") {
            return None;
        }
        return Level::parse_bytes(&token[1..inner_end]);
    }

    let word_len = token
        .iter()
        .take_while(|c| c.is_ascii_alphanumeric() || **c == b'.' || **c == b'_')
        .count();
    let (word, rest) = token.split_at(word_len);
    let colon = rest.first() == Some(&b':');
    if !(rest.is_empty() || colon) {
        return None;
    }
    // monolog: `local.ERROR:`; the part after the last dot, only before a colon.
    // Words are short: a plain loop beats a call into memchr here.
    let word = match word.iter().rposition(|&c| c == b'.') {
        Some(dot) if colon => &word[dot + 1..],
        Some(_) => return None,
        None => word,
    };
    if word.is_empty() {
        return None;
    }
    if is_all_caps(word) {
        if word == b"LOG" {
            return Some(Level::Info); // Postgres
        }
        return Level::parse_bytes(word);
    }
    if first && is_core_level_word(word) {
        return Level::parse_bytes(word);
    }
    None
}

fn is_all_caps(word: &[u8]) -> bool {
    word[0].is_ascii_uppercase()
        && word
            .iter()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

/// Level names trusted in any case at the start of a message (not `notice`, `alert`,
/// ... which start ordinary sentences too often).
fn is_core_level_word(word: &[u8]) -> bool {
    packed_names! {
        TRACE = b"trace", DEBUG = b"debug", INFO = b"info", WARN = b"warn", WARNING = b"warning",
        ERROR = b"error", ERR = b"err", FATAL = b"fatal", CRITICAL = b"critical", CRIT = b"crit",
        PANIC = b"panic",
    }
    word.len() <= 8
        && matches!(
            pack_lowercase(word),
            TRACE | DEBUG | INFO | WARN | WARNING | ERROR | ERR | FATAL | CRITICAL | CRIT | PANIC
        )
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
    fn logfmt_level_keys() {
        assert_eq!(
            d(r#"time="2024-06-12T01:23:45Z" level=error msg="db""#),
            Some(Error)
        );
        assert_eq!(d("level=warn msg=hello"), Some(Warning));
        assert_eq!(
            d(r#"ts=1 caller=main.go:12 level="error" msg=x"#),
            Some(Error)
        );
        assert_eq!(
            d(r#"msg="level=error inside a quoted value" level=info"#),
            Some(Info)
        );
        assert_eq!(d("user error_count=0 info"), None);
    }

    #[test]
    fn uvicorn_and_python_logging() {
        assert_eq!(d("ERROR:    Exception in ASGI application"), Some(Error));
        assert_eq!(d("WARNING:root:disk low"), Some(Warning));
        assert_eq!(d("ERROR:root:boom"), Some(Error));
        assert_eq!(
            d(r#"INFO:     172.18.0.1:5000 - "GET /errors HTTP/1.1" 200 OK"#),
            Some(Info)
        );
        assert_eq!(
            d("2024-06-12 01:23:45,123 - app.db - ERROR - boom"),
            Some(Error)
        );
    }

    #[test]
    fn nginx_error_log_bracketed_level() {
        assert_eq!(
            d("2024/06/12 01:23:45 [error] 12#12: *1 connect() failed (111: Connection refused)"),
            Some(Error)
        );
        assert_eq!(
            d("2024/06/12 01:23:45 [warn] 1#1: conflicting server name"),
            Some(Warning)
        );
        assert_eq!(
            d("2024/06/12 01:23:45 [notice] 1#1: start worker processes"),
            Some(Info)
        );
        assert_eq!(
            d("2024/06/12 01:23:45 [emerg] 1#1: bind() failed"),
            Some(Critical)
        );
    }

    #[test]
    fn rust_tracing_default_format() {
        assert_eq!(
            d("2024-06-12T01:23:45.123Z ERROR api: db failed"),
            Some(Error)
        );
        assert_eq!(
            d("2024-06-12T01:23:45.123456Z  WARN api::db: slow query"),
            Some(Warning)
        );
        assert_eq!(
            d("2024-06-12T01:23:45.123Z  INFO api: listening"),
            Some(Info)
        );
    }

    #[test]
    fn postgres_levels() {
        assert_eq!(
            d(r#"2024-06-12 01:23:45.123 UTC [1] ERROR:  relation "x" does not exist"#),
            Some(Error)
        );
        assert_eq!(
            d("FATAL:  password authentication failed for user \"app\""),
            Some(Critical)
        );
        assert_eq!(
            d("2024-06-12 01:23:45.123 UTC [1] FATAL:  password authentication failed"),
            Some(Critical)
        );
        assert_eq!(
            d("2024-06-12 01:23:45.123 UTC [1] LOG:  database system is ready"),
            Some(Info)
        );
        assert_eq!(
            d("2024-06-12 01:23:45.123 UTC [1] PANIC:  could not write"),
            Some(Critical)
        );
    }

    #[test]
    fn bare_words_in_caps_brackets_and_leading_position() {
        assert_eq!(d("WARN disk almost full"), Some(Warning));
        assert_eq!(d("FATAL could not start"), Some(Critical));
        assert_eq!(d("[ERROR] failed"), Some(Error));
        assert_eq!(d("[error] failed"), Some(Error));
        assert_eq!(d("<warn> x"), Some(Warning));
        assert_eq!(
            d("[2024-06-12 01:23:45 +0000] [7] [ERROR] Worker failed"),
            Some(Error)
        );
        assert_eq!(d("[2024-06-12 01:23:45] local.ERROR: Boom"), Some(Error));
        assert_eq!(
            d("2024-06-12 01:23:45.123 [main] ERROR com.example.Api - failed"),
            Some(Error)
        );
        assert_eq!(
            d("2024-06-12 01:23:45.123 | WARNING  | app:run:12 - slow"),
            Some(Warning)
        );
        assert_eq!(d("error: could not compile"), Some(Error));
        assert_eq!(d("Error: ENOENT: no such file"), Some(Error));
        assert_eq!(
            d("2024-06-12T01:23:45.123Z\terror\tmain.go:12\tdb failed"),
            Some(Error)
        );
        assert_eq!(d("    ERROR indented"), Some(Error));
    }

    #[test]
    fn the_word_error_in_an_ordinary_message_is_not_a_level() {
        assert_eq!(d("INFO GET /api/errors 200"), Some(Info));
        assert_eq!(d("GET /errors 200"), None);
        assert_eq!(d("user error_count=0 info"), None);
        assert_eq!(d("request finished without error"), None);
        assert_eq!(d("Retrying after Error from upstream"), None);
        assert_eq!(d("Alert sent to: alerts@example.com"), None);
        assert_eq!(d("Database connection failed: timeout"), None);
        assert_eq!(
            d(r#"172.18.0.1 - - [12/Jun/2024:01:23:45 +0000] "GET /error HTTP/1.1" 500 12"#),
            None
        );
        assert_eq!(d("one two three four five six ERROR seven"), None);
        assert_eq!(d(""), None);
        assert_eq!(d("   "), None);
    }

    #[test]
    fn token_stops_are_found_wherever_they_are() {
        let naive = |b: &[u8], i: usize, end: usize| {
            (i..end)
                .find(|&j| matches!(b[j], b' ' | b'\t' | b'"' | b'='))
                .unwrap_or(end)
        };
        let line = b"abcdefghijklmnop qrstuvw\txyz=0123456789\"quoted\" \xc3\xa9\xff end";
        for i in 0..line.len() {
            for end in i..=line.len() {
                assert_eq!(
                    find_token_stop(line, i, end),
                    naive(line, i, end),
                    "{i}..{end}"
                );
            }
        }
    }

    #[test]
    fn quoted_tokens_end_at_their_quote_or_at_the_scan_limit() {
        assert_eq!(skip_quoted(br#""a\"b" c"#, 0, 8), 6);
        assert_eq!(skip_quoted(br#""abc\"#, 0, 5), 5);
        assert_eq!(skip_quoted(br#""ab\"#, 0, 4), 4);
        assert_eq!(d(r#"msg="a \" b" level=warn"#), Some(Warning));
        assert_eq!(d(r#"msg="unterminated \"#), None);
        // A quoted value that runs past the 512 bytes looked at.
        let long = format!(r#"msg="{}" level=error"#, "x".repeat(600));
        assert_eq!(d(&long), None);
        let near = format!(r#"{} level="error""#, "x".repeat(490));
        assert_eq!(d(&near), Some(Error));
    }
}
