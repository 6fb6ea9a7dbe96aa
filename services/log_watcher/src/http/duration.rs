//! Durations in query strings (`since=15m`, `window=10m`, `step=5m`): what `humantime` reads
//! (`90s`, `10m`, `2h`, `1d`, `1h30m`, `2 days`), or a plain number of seconds (`90`), in
//! whole seconds and at least one. Every route that takes a duration reads it here, so they
//! all accept the same words and refuse the same ones with the same reasons.

/// The longest duration taken (a hundred thousand years): anything longer cannot be a time
/// back from now, and every sum or difference with a unix time stays far inside `i64`.
pub const MAX_SECS: i64 = 100_000 * 31_557_600;

/// Why a text is not a duration a query may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// Neither a number of seconds nor a duration humantime reads.
    #[error("must be a duration such as 90s, 15m, 2h or 1d")]
    NotADuration,
    /// Zero, or less than a second.
    #[error("must be at least one second")]
    TooShort,
    /// Longer than [`MAX_SECS`].
    #[error("must be at most 100000 years")]
    TooLong,
}

/// The duration `text` names, in whole seconds, from 1 to [`MAX_SECS`].
pub fn parse_secs(text: &str) -> Result<i64, DurationError> {
    let text = text.trim();
    let secs: u64 = if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        // All digits: only too many of them can fail.
        text.parse::<u64>().map_err(|_| DurationError::TooLong)?
    } else {
        match humantime::parse_duration(text) {
            Ok(duration) => duration.as_secs(),
            Err(humantime::DurationError::NumberOverflow) => return Err(DurationError::TooLong),
            Err(_) => return Err(DurationError::NotADuration),
        }
    };
    if secs == 0 {
        return Err(DurationError::TooShort);
    }
    i64::try_from(secs)
        .ok()
        .filter(|secs| *secs <= MAX_SECS)
        .ok_or(DurationError::TooLong)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn durations_accept_units() {
        assert_eq!(parse_secs("10m"), Ok(600));
        assert_eq!(parse_secs("90"), Ok(90));
        assert_eq!(parse_secs("2h"), Ok(7200));
        assert_eq!(parse_secs("0m"), Err(DurationError::TooShort));
        assert_eq!(parse_secs("ten"), Err(DurationError::NotADuration));
    }

    #[test]
    fn every_unit_of_before_and_humantime_spellings_are_read() {
        assert_eq!(parse_secs("90s"), Ok(90));
        assert_eq!(parse_secs("1d"), Ok(86_400));
        assert_eq!(parse_secs(" 15m "), Ok(900));
        assert_eq!(parse_secs("1h30m"), Ok(5400));
        assert_eq!(parse_secs("2 days"), Ok(172_800));
    }

    #[test]
    fn nothing_empty_negative_sub_second_or_beyond_any_past_is_a_duration() {
        for (text, why) in [
            ("", DurationError::NotADuration),
            ("0", DurationError::TooShort),
            ("-5", DurationError::NotADuration),
            ("5x", DurationError::NotADuration),
            ("500ms", DurationError::TooShort),
            ("m", DurationError::NotADuration),
            ("999999999999999999999", DurationError::TooLong),
            ("99999999999999999", DurationError::TooLong),
            ("100000000d", DurationError::TooLong),
            ("9223372036854775807s", DurationError::TooLong),
            ("1000000y", DurationError::TooLong),
        ] {
            assert_eq!(parse_secs(text), Err(why), "{text:?}");
        }
    }

    proptest! {
        /// Whatever the text, the answer is a duration within bounds or a reason; never a
        /// panic.
        #[test]
        fn any_text_is_a_bounded_duration_or_a_reason(text in ".{0,40}") {
            if let Ok(secs) = parse_secs(&text) {
                prop_assert!((1..=MAX_SECS).contains(&secs));
            }
        }

        #[test]
        fn any_number_with_any_unit_is_a_bounded_duration_or_a_reason(
            number in any::<u64>(),
            unit in prop::sample::select(vec!["", "s", "m", "h", "d", "w", "y", "ms", " days"]),
        ) {
            if let Ok(secs) = parse_secs(&format!("{number}{unit}")) {
                prop_assert!((1..=MAX_SECS).contains(&secs));
            }
        }
    }
}
