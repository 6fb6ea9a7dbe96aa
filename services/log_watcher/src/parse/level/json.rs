//! Levels of JSON object lines: the first string or number under a level-named key, at any
//! depth; strings lexed with their escapes, so text inside a value is never taken for a key.

use memchr::{memchr, memchr2};

use super::names::{pack_lowercase, packed_names, Level};

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
#[inline]
pub(super) fn json_level(b: &[u8]) -> Option<Level> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::level::detect_level;
    use crate::parse::Level::*;

    fn d(line: &str) -> Option<Level> {
        detect_level(line)
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
}
