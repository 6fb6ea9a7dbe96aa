//! Log levels: the normalised [`Level`] and [`detect_level`], which finds the level of a
//! raw line by scanning bytes (no regex and no allocation on the hot path).
//!
//! # What [`detect_level`] recognises
//!
//! Leading spaces and tabs are skipped first. Then, in this order:
//!
//! 1. **JSON object lines** (first byte `{`): the first string-valued or numeric member
//!    whose key is, case-insensitively, `level`, `lvl`, `severity`, `log.level`,
//!    `loglevel`, `log_level`, `levelname`, `level_name` or `@l`, at any depth (so ECS's
//!    nested `{"log":{"level":"error"}}` works). String values go through
//!    [`Level::parse`]; numbers are pino/bunyan levels when >= 10 (10 trace, 20 debug,
//!    30 info, 40 warning, 50 error, 60 critical) and syslog severities when <= 7 (as
//!    GELF writes them: 0-2 critical, 3 error, 4 warning, 5-6 info, 7 debug). Strings are
//!    lexed properly (escapes included), so `"msg":"level: error"` is not a key. A JSON
//!    line without such a member has no level: no text heuristics run on JSON.
//! 2. **Whole-line signatures**: `Traceback (most recent call last)` → error;
//!    `thread '…' panicked at …` (Rust) → critical; `Exception in thread "…"` (Java) →
//!    error; a first word that names an exception and ends in `:` (`ValueError: bad`,
//!    `java.lang.IllegalStateException: x`: a dotted identifier ending in `Error` or
//!    `Exception`) → error; glog's `E0612 01:23:45.123456 …` prefix (`I`, `W`, `E`, `F`).
//! 3. **Tokens**: the line is split at blanks. Tokens that start with a digit (or `[`/`(`
//!    and a digit, or a sign and a digit: timestamps, pids, offsets) and tokens without
//!    letters (`-`, `|`) are skipped and not counted. Quoted strings (`"GET /x"`,
//!    `msg="a b"`) are one token. Of the remaining tokens:
//!    - `key=value` tokens with key `level`, `lvl`, `severity`, `loglevel` or `log.level`
//!      (logfmt: `level=warn`, `level="error"`) give the level, anywhere in the first
//!      512 bytes / 16 tokens;
//!    - among the first 6 counted tokens, a level name in brackets, any case: `[error]`,
//!      `[ERROR]`, `<warn>`, `(Info)`, optionally followed by `:`;
//!    - among the first 6 counted tokens, an ALL-CAPS level name alone or before a colon:
//!      `ERROR`, `WARN`, `FATAL:`, `ERROR:root:msg` (Python logging), `ERROR:` (uvicorn),
//!      Postgres' `LOG:` (info) and `DEBUG1:`..`DEBUG5:`, monolog's `local.ERROR:`;
//!    - only as the very first counted token, a core level name in any case:
//!      `error: …`, `Error: ENOENT`, `warning …`, `panic: …` (Go) → critical.
//!
//! Anything else has no level (`None`). In particular words like `error` later in a
//! sentence, inside paths (`GET /api/errors`) or inside other keys (`error_count=0`) are
//! not levels.
//!
//! # Layout
//! - [`names`]: the [`Level`] enum, its aliases and spellings, [`LevelCounts`].
//! - [`json`]: rule 1, JSON object lines.
//! - [`signature`]: rule 2, whole-line signatures.
//! - [`tokens`]: rule 3, tokens (logfmt keys, bracketed and capitalised names).

pub mod json;
pub mod names;
pub mod signature;
pub mod tokens;

pub use names::{Level, LevelCounts, UnknownLevel};
pub(crate) use signature::{is_exception_line, is_rust_panic};

/// Finds the level of one raw log line (without its line ending), or `None`. See the
/// module documentation for exactly what is recognised.
pub fn detect_level(line: &str) -> Option<Level> {
    let b = line.as_bytes();
    let start = b.iter().position(|&c| !is_blank(c))?;
    let b = &b[start..];
    if b[0] == b'{' {
        return json::json_level(b);
    }
    if let Some(level) = signature::signature_level(b) {
        return Some(level);
    }
    tokens::token_level(b)
}

/// Length of a level word that starts `message` and only repeats its level, with the blanks
/// after it: `ERROR `, `WARN: `, `[error] `, `<info> `, `(Debug): `. Such a prefix is left out
/// of the event's message because the level is shown on its own
/// (`[..][api][ERROR] Database connection failed`). Bracketed names match in any case, bare
/// ones only in capitals, so `Error: ENOENT` (a message) and `ERROR:root:x` (Python's logger
/// name) are kept whole. 0 when there is no such prefix or nothing would be left.
pub fn level_prefix_len(message: &str) -> usize {
    let b = message.as_bytes();
    // Such a word starts with a bracket or, being in capitals, an uppercase letter.
    if !b
        .first()
        .is_some_and(|&c| matches!(c, b'[' | b'<' | b'(') || c.is_ascii_uppercase())
    {
        return 0;
    }
    let token_len = b.iter().position(|&c| is_blank(c)).unwrap_or(b.len());
    let token = &b[..token_len];
    let token = token.strip_suffix(b":").unwrap_or(token);
    let is_level = match token {
        [b'[', inner @ .., b']'] | [b'<', inner @ .., b'>'] | [b'(', inner @ .., b')'] => {
            Level::parse_bytes(inner).is_some()
        }
        _ => {
            token
                .iter()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
                && Level::parse_bytes(token).is_some()
        }
    };
    if !is_level {
        return 0;
    }
    let rest = b[token_len..].iter().take_while(|&&c| is_blank(c)).count();
    if token_len + rest == b.len() {
        return 0;
    }
    token_len + rest
}

/// Level implied by the start of a line that is part of a stack trace or crash report,
/// used by the multiline joiner for continuation lines: `Traceback (most recent call
/// last)` and exception lines (`ValueError: x`) → error, Rust panics → critical.
pub(crate) fn crash_line_level(line: &str) -> Option<Level> {
    let b = line.as_bytes();
    if starts_with(b, b"Traceback (most recent call last)") || is_exception_line(b) {
        Some(Level::Error)
    } else if is_rust_panic(b) {
        Some(Level::Critical)
    } else {
        None
    }
}

/// `b.starts_with(prefix)`, first ruling out the usual case of a different first byte
/// without a call to `memcmp`. This runs several times for every line.
#[inline(always)]
pub(crate) fn starts_with(b: &[u8], prefix: &[u8]) -> bool {
    b.first() == prefix.first() && b.starts_with(prefix)
}

#[inline]
fn is_blank(c: u8) -> bool {
    c == b' ' || c == b'\t'
}
