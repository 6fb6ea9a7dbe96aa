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

use std::fmt;
use std::str::FromStr;

use memchr::{memchr, memchr2, memmem};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

// ---------------------------------------------------------------------------------
// Fast name comparison and byte search
// ---------------------------------------------------------------------------------

/// A name of at most 15 bytes, ASCII-lower-cased, packed with its length into one integer:
/// two names are equal ignoring ASCII case exactly when their packs are equal. The caller
/// checks the length.
#[inline]
const fn pack_lowercase(name: &[u8]) -> u128 {
    let mut bytes = [0u8; 16];
    bytes[15] = name.len() as u8;
    let mut i = 0;
    while i < name.len() {
        bytes[i] = name[i].to_ascii_lowercase();
        i += 1;
    }
    u128::from_le_bytes(bytes)
}

/// Declares `const NAME: u128 = pack_lowercase(b"name");` for each pair, for use as match
/// patterns.
macro_rules! packed_names {
    ($($name:ident = $text:literal),+ $(,)?) => {
        $(const $name: u128 = pack_lowercase($text);)+
    };
}

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

/// A normalised log level, ordered by severity (`Trace < … < Critical`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Finest detail (`trace`, `finest`, `finer`).
    Trace,
    /// Debugging output (`debug`, `dbg`, `verbose`, `fine`, Postgres `debug1`..`debug5`).
    Debug,
    /// Normal operation (`info`, `information`, `notice`).
    Info,
    /// Something unexpected that did not fail (`warn`, `warning`).
    Warning,
    /// A failure (`error`, `err`, `severe`).
    Error,
    /// A failure that stops the program or needs attention now (`critical`, `crit`,
    /// `fatal`, `panic`, `emerg`, `alert`).
    Critical,
}

impl Level {
    /// Every level, least severe first.
    pub const ALL: [Level; 6] = [
        Level::Trace,
        Level::Debug,
        Level::Info,
        Level::Warning,
        Level::Error,
        Level::Critical,
    ];

    /// Parses a level name or a common alias, case-insensitively; `None` when `name` is
    /// not one. See the variants for the aliases.
    pub fn parse(name: &str) -> Option<Level> {
        Level::parse_bytes(name.as_bytes())
    }

    /// [`Level::parse`] on bytes, without allocating. The name is packed into one integer
    /// ([`pack_lowercase`]) and compared with the packed aliases: a few integer comparisons
    /// instead of a string comparison per alias (this runs for nearly every log line).
    fn parse_bytes(name: &[u8]) -> Option<Level> {
        const LONGEST: usize = 13; // "informational"
        if name.is_empty() || name.len() > LONGEST {
            return None;
        }
        packed_names! {
            TRACE = b"trace", TRC = b"trc", FINEST = b"finest", FINER = b"finer",
            DEBUG = b"debug", DBG = b"dbg", VERBOSE = b"verbose", FINE = b"fine",
            DEBUG1 = b"debug1", DEBUG2 = b"debug2", DEBUG3 = b"debug3", DEBUG4 = b"debug4",
            DEBUG5 = b"debug5",
            INFO = b"info", INF = b"inf", INFORMATION = b"information",
            INFORMATIONAL = b"informational", NOTICE = b"notice",
            WARN = b"warn", WARNING = b"warning", WRN = b"wrn",
            ERROR = b"error", ERR = b"err", SEVERE = b"severe",
            CRITICAL = b"critical", CRIT = b"crit", FATAL = b"fatal", FTL = b"ftl",
            PANIC = b"panic", DPANIC = b"dpanic", EMERG = b"emerg", EMERGENCY = b"emergency",
            ALERT = b"alert",
        }
        Some(match pack_lowercase(name) {
            TRACE | TRC | FINEST | FINER => Level::Trace,
            DEBUG | DBG | VERBOSE | FINE | DEBUG1 | DEBUG2 | DEBUG3 | DEBUG4 | DEBUG5 => {
                Level::Debug
            }
            INFO | INF | INFORMATION | INFORMATIONAL | NOTICE => Level::Info,
            WARN | WARNING | WRN => Level::Warning,
            ERROR | ERR | SEVERE => Level::Error,
            CRITICAL | CRIT | FATAL | FTL | PANIC | DPANIC | EMERG | EMERGENCY | ALERT => {
                Level::Critical
            }
            _ => return None,
        })
    }

    /// The canonical lowercase name: `trace`, `debug`, `info`, `warning`, `error`,
    /// `critical` (as used in JSON and config).
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Trace => "trace",
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warning => "warning",
            Level::Error => "error",
            Level::Critical => "critical",
        }
    }

    /// The uppercase name printed in event lines (`[..][api][ERROR] ...`): `TRACE`,
    /// `DEBUG`, `INFO`, `WARNING`, `ERROR`, `CRITICAL`.
    pub fn label(self) -> &'static str {
        match self {
            Level::Trace => "TRACE",
            Level::Debug => "DEBUG",
            Level::Info => "INFO",
            Level::Warning => "WARNING",
            Level::Error => "ERROR",
            Level::Critical => "CRITICAL",
        }
    }

    /// Level from a numeric JSON level: pino/bunyan (>= 10) or syslog severity (0-7).
    fn from_number(n: u64) -> Option<Level> {
        Some(match n {
            0..=2 => Level::Critical,
            3 => Level::Error,
            4 => Level::Warning,
            5 | 6 => Level::Info,
            7 => Level::Debug,
            8 | 9 => return None,
            10..=19 => Level::Trace,
            20..=29 => Level::Debug,
            30..=39 => Level::Info,
            40..=49 => Level::Warning,
            50..=59 => Level::Error,
            _ => Level::Critical,
        })
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error of parsing a string that names no level.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown log level {0:?} (expected one of trace, debug, info, warning, error, critical)")]
pub struct UnknownLevel(pub String);

impl FromStr for Level {
    type Err = UnknownLevel;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Level::parse(s).ok_or_else(|| UnknownLevel(s.to_owned()))
    }
}

impl Serialize for Level {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// Deserializes from a level name, accepting the same aliases as [`Level::parse`]
/// (so a config may say `"warn"`).
impl<'de> Deserialize<'de> for Level {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Level;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a log level (trace, debug, info, warning, error, critical)")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Level, E> {
                v.parse().map_err(E::custom)
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

/// Finds the level of one raw log line (without its line ending), or `None`. See the
/// module documentation for exactly what is recognised.
pub fn detect_level(line: &str) -> Option<Level> {
    let b = line.as_bytes();
    let start = b.iter().position(|&c| !is_blank(c))?;
    let b = &b[start..];
    if b[0] == b'{' {
        return json_level(b);
    }
    if let Some(level) = signature_level(b) {
        return Some(level);
    }
    token_level(b)
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

/// `thread 'main' panicked at …`
pub(crate) fn is_rust_panic(b: &[u8]) -> bool {
    starts_with(b, b"thread '") && memmem::find(b, b"' panicked at").is_some()
}

/// `b.starts_with(prefix)`, first ruling out the usual case of a different first byte
/// without a call to `memcmp`. This runs several times for every line.
#[inline(always)]
pub(crate) fn starts_with(b: &[u8], prefix: &[u8]) -> bool {
    b.first() == prefix.first() && b.starts_with(prefix)
}

fn is_blank(c: u8) -> bool {
    c == b' ' || c == b'\t'
}

// ---------------------------------------------------------------------------------
// JSON
// ---------------------------------------------------------------------------------

/// Returns the index of the closing quote of the JSON string whose content starts at
/// `from`, skipping escapes.
fn json_string_end(b: &[u8], mut from: usize) -> Option<usize> {
    loop {
        let at = from + memchr2(b'"', b'\\', b.get(from..)?)?;
        if b[at] == b'"' {
            return Some(at);
        }
        from = at + 2; // skip the escaped byte
    }
}

fn is_level_json_key(key: &[u8]) -> bool {
    packed_names! {
        LEVEL = b"level", LVL = b"lvl", SEVERITY = b"severity", LOG_DOT_LEVEL = b"log.level",
        LOGLEVEL = b"loglevel", LOG_LEVEL = b"log_level", LEVELNAME = b"levelname",
        LEVEL_NAME = b"level_name", AT_L = b"@l",
    }
    // Every such key is 2 to 10 bytes long and starts with `l`, `s` or `@`: most keys are
    // told apart by those two facts alone.
    key.len() <= 10
        && matches!(
            key.first().map(u8::to_ascii_lowercase),
            Some(b'l' | b's' | b'@')
        )
        && matches!(
            pack_lowercase(key),
            LEVEL
                | LVL
                | SEVERITY
                | LOG_DOT_LEVEL
                | LOGLEVEL
                | LOG_LEVEL
                | LEVELNAME
                | LEVEL_NAME
                | AT_L
        )
}

fn skip_json_ws(b: &[u8], mut i: usize) -> usize {
    while matches!(b.get(i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        i += 1;
    }
    i
}

/// Scans the strings of a JSON object line; the first level-named key with a usable
/// value decides.
fn json_level(b: &[u8]) -> Option<Level> {
    let mut i = 1;
    loop {
        let open = i + memchr(b'"', b.get(i..)?)?;
        let close = json_string_end(b, open + 1)?;
        i = close + 1;
        let key = &b[open + 1..close];
        if !is_level_json_key(key) {
            continue;
        }
        let colon = skip_json_ws(b, i);
        if b.get(colon) != Some(&b':') {
            continue; // a string value that happens to read "level"
        }
        let v = skip_json_ws(b, colon + 1);
        match b.get(v) {
            Some(b'"') => {
                let end = json_string_end(b, v + 1)?;
                i = end + 1;
                if let Some(level) = Level::parse_bytes(&b[v + 1..end]) {
                    return Some(level);
                }
            }
            Some(c) if c.is_ascii_digit() => {
                let digits = b[v..].iter().take_while(|c| c.is_ascii_digit()).count();
                let number = std::str::from_utf8(&b[v..v + digits])
                    .ok()
                    .and_then(|n| n.parse().ok());
                if let Some(level) = number.and_then(Level::from_number) {
                    return Some(level);
                }
                i = v + digits;
            }
            _ => i = v,
        }
    }
}

// ---------------------------------------------------------------------------------
// Whole-line signatures
// ---------------------------------------------------------------------------------

fn signature_level(b: &[u8]) -> Option<Level> {
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

// ---------------------------------------------------------------------------------
// Tokens
// ---------------------------------------------------------------------------------

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

fn token_level(b: &[u8]) -> Option<Level> {
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
    use Level::*;

    fn d(line: &str) -> Option<Level> {
        detect_level(line)
    }

    #[test]
    fn levels_are_ordered_by_severity() {
        assert!(Trace < Debug && Debug < Info && Info < Warning);
        assert!(Warning < Error && Error < Critical);
        assert_eq!(Level::ALL.iter().max(), Some(&Critical));
    }

    #[test]
    fn parse_accepts_aliases_in_any_case() {
        for (name, level) in [
            ("warn", Warning),
            ("WARNING", Warning),
            ("Err", Error),
            ("error", Error),
            ("fatal", Critical),
            ("CRIT", Critical),
            ("critical", Critical),
            ("emerg", Critical),
            ("alert", Critical),
            ("panic", Critical),
            ("notice", Info),
            ("verbose", Debug),
            ("trace", Trace),
            ("information", Info),
        ] {
            assert_eq!(Level::parse(name), Some(level), "{name}");
        }
        assert_eq!(Level::parse("loud"), None);
        assert_eq!(Level::parse(""), None);
        assert_eq!(Level::parse("informationally"), None);
    }

    #[test]
    fn names_and_labels() {
        assert_eq!(Warning.as_str(), "warning");
        assert_eq!(Warning.label(), "WARNING");
        assert_eq!(Critical.label(), "CRITICAL");
        assert_eq!(Error.to_string(), "error");
        assert_eq!("warn".parse::<Level>(), Ok(Warning));
        assert!("loud".parse::<Level>().is_err());
    }

    #[test]
    fn serde_uses_lowercase_names_and_accepts_aliases() {
        assert_eq!(serde_json::to_string(&Warning).unwrap(), "\"warning\"");
        let v: Vec<Level> = serde_json::from_str(r#"["error","warn","CRITICAL"]"#).unwrap();
        assert_eq!(v, [Error, Warning, Critical]);
        assert!(serde_json::from_str::<Level>("\"loud\"").is_err());
    }

    #[test]
    fn json_level_severity_and_lvl_fields() {
        assert_eq!(d(r#"{"level":"warn","msg":"x"}"#), Some(Warning));
        assert_eq!(d(r#"{"severity":"ERROR"}"#), Some(Error));
        assert_eq!(d(r#"{"lvl":"crit"}"#), Some(Critical));
        assert_eq!(d(r#"{"msg":"x", "level" : "info"}"#), Some(Info));
        assert_eq!(
            d(r#"{"@timestamp":"2024","log.level":"error"}"#),
            Some(Error)
        );
        assert_eq!(d(r#"{"log":{"level":"debug"}}"#), Some(Debug));
        assert_eq!(d(r#"{"message":"m","levelname":"WARNING"}"#), Some(Warning));
    }

    #[test]
    fn json_numeric_levels_pino_and_syslog() {
        assert_eq!(d(r#"{"level":30,"msg":"x"}"#), Some(Info));
        assert_eq!(d(r#"{"level":50,"msg":"x"}"#), Some(Error));
        assert_eq!(d(r#"{"level":60}"#), Some(Critical));
        assert_eq!(d(r#"{"version":"1.1","level":3}"#), Some(Error));
    }

    #[test]
    fn json_without_a_level_field_has_no_level() {
        assert_eq!(d(r#"{"msg":"error: level error"}"#), None);
        assert_eq!(d(r#"{"msg":"the \"level\": \"error\" text"}"#), None);
        assert_eq!(d(r#"{"tags":["level"],"msg":"x"}"#), None);
        assert_eq!(d(r#"{"level":"#), None);
        assert_eq!(d("{"), None);
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
    fn packed_names_are_equal_exactly_when_the_names_are_equal_ignoring_case() {
        assert_eq!(pack_lowercase(b"INFO"), pack_lowercase(b"info"));
        assert_eq!(pack_lowercase(b"Log.Level"), pack_lowercase(b"log.level"));
        assert_ne!(pack_lowercase(b"info"), pack_lowercase(b"inf"));
        assert_ne!(pack_lowercase(b"info"), pack_lowercase(b"info\0"));
        assert_ne!(pack_lowercase(b"@l"), pack_lowercase(b"`l"));
        assert_eq!(Level::parse("INFORMATIONAL"), Some(Info));
        assert_eq!(Level::parse("Debug3"), Some(Debug));
        assert_eq!(Level::parse("debug6"), None);
        assert_eq!(Level::parse("inf\0"), None);
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
