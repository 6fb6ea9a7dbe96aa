//! Durations in query strings (`since=15m`, `window=10m`, `step=5m`): what `humantime` reads
//! (`90s`, `10m`, `2h`, `1d`, `1h30m`, `2 days`), or a plain number of seconds (`90`), in
//! whole seconds and at least one. Every route that takes a duration reads it here, so they
//! all accept the same words.

/// The longest duration taken (a hundred thousand years): anything longer cannot be a time
/// back from now.
const MAX_SECS: u64 = 100_000 * 31_557_600;

/// The duration `text` names, in whole seconds; `None` when it names none, is shorter than a
/// second, or is longer than any time back from now.
pub fn parse_secs(text: &str) -> Option<i64> {
    let text = text.trim();
    let secs = if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        text.parse::<u64>().ok()?
    } else {
        humantime::parse_duration(text).ok()?.as_secs()
    };
    if secs == 0 || secs > MAX_SECS {
        return None;
    }
    i64::try_from(secs).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_accept_units() {
        assert_eq!(parse_secs("10m"), Some(600));
        assert_eq!(parse_secs("90"), Some(90));
        assert_eq!(parse_secs("2h"), Some(7200));
        assert_eq!(parse_secs("0m"), None);
        assert_eq!(parse_secs("ten"), None);
    }

    #[test]
    fn every_unit_of_before_and_humantime_spellings_are_read() {
        assert_eq!(parse_secs("90s"), Some(90));
        assert_eq!(parse_secs("1d"), Some(86_400));
        assert_eq!(parse_secs(" 15m "), Some(900));
        assert_eq!(parse_secs("1h30m"), Some(5400));
        assert_eq!(parse_secs("2 days"), Some(172_800));
    }

    #[test]
    fn nothing_empty_negative_sub_second_or_beyond_any_past_is_a_duration() {
        for text in [
            "",
            "0",
            "-5",
            "5x",
            "500ms",
            "m",
            "999999999999999999999",
            "1000000y",
        ] {
            assert_eq!(parse_secs(text), None, "{text:?}");
        }
    }
}
