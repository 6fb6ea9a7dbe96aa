//! Text for the services' server-rendered pages and images: escaping, and the words the
//! pages count and tell time with. The dashboards' scripts say the same words (the shared
//! `plural` and `span` in [`crate::page::SCRIPT_PRELUDE`]), so a page reads the same whether the
//! server or the script drew it.

/// Escapes text for HTML and XML (SVG) element content and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `1 error`, `2 errors`: the count and the word, with an `s` unless the count is one.
pub fn plural(n: u64, word: &str) -> String {
    if n == 1 {
        format!("{n} {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// A duration in the pages' words: `12 s`, `4 min`, `3 h`, `2 d` (negative is `0 s`).
pub fn span(seconds: i64) -> String {
    let s = seconds.max(0);
    if s < 60 {
        format!("{s} s")
    } else if s < 3600 {
        format!("{} min", s / 60)
    } else if s < 48 * 3600 {
        format!("{} h", s / 3600)
    } else {
        format!("{} d", s / 86400)
    }
}

/// Seconds from the RFC 3339 time `at` to `now`; `None` when `at` is not such a time.
pub fn seconds_since(at: &str, now: chrono::DateTime<chrono::Utc>) -> Option<i64> {
    let at = chrono::DateTime::parse_from_rfc3339(at).ok()?;
    Some((now - at.with_timezone(&chrono::Utc)).num_seconds())
}

/// Writes a `<time>` that the page's script keeps current (`data-rel`): `mode` is `ago`
/// (`3 s ago`) or `for` (`3 s`), counted from `at` (RFC 3339) to `now`.
pub fn relative_time(
    out: &mut String,
    class: &str,
    at: &str,
    mode: &str,
    now: chrono::DateTime<chrono::Utc>,
) {
    use std::fmt::Write;
    let seconds = seconds_since(at, now).unwrap_or(0);
    let text = match mode {
        "ago" => format!("{} ago", span(seconds)),
        _ => span(seconds),
    };
    let at = escape(at);
    let _ = write!(
        out,
        r#"<time class="{class}" datetime="{at}" title="{at}" data-rel="{mode}">{text}</time>"#
    );
}

/// How long something took, to the tenth of a second: `340 ms`, `12.3 s`, `4 min 5 s`,
/// `2 h 3 min` (integer arithmetic, so a script can say the very same).
pub fn duration_ms(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms < 60_000 {
        format!("{}.{} s", ms / 1000, (ms % 1000) / 100)
    } else if ms < 3_600_000 {
        format!("{} min {} s", ms / 60_000, (ms % 60_000) / 1000)
    } else {
        format!("{} h {} min", ms / 3_600_000, (ms % 3_600_000) / 60_000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_characters_are_escaped_and_the_rest_is_kept() {
        assert_eq!(
            escape(r#"<img src=x onerror="a('b')"> & ü"#),
            "&lt;img src=x onerror=&quot;a(&#39;b&#39;)&quot;&gt; &amp; ü"
        );
    }

    #[test]
    fn counts_take_the_plural_unless_they_are_one() {
        assert_eq!(plural(0, "error"), "0 errors");
        assert_eq!(plural(1, "error"), "1 error");
        assert_eq!(plural(2, "service"), "2 services");
    }

    #[test]
    fn elapsed_times_keep_a_tenth_of_a_second_and_drop_the_rest() {
        assert_eq!(duration_ms(340), "340 ms");
        assert_eq!(duration_ms(12_399), "12.3 s");
        assert_eq!(duration_ms(245_000), "4 min 5 s");
        assert_eq!(duration_ms(7_380_000), "2 h 3 min");
    }

    #[test]
    fn relative_times_say_how_long_ago_and_carry_the_exact_time() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-01-01T00:01:30Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        let mut out = String::new();
        relative_time(&mut out, "at", "2026-01-01T00:00:00Z", "ago", now);
        assert_eq!(
            out,
            r#"<time class="at" datetime="2026-01-01T00:00:00Z" title="2026-01-01T00:00:00Z" data-rel="ago">1 min ago</time>"#
        );
        assert_eq!(seconds_since("not a time", now), None);
    }

    #[test]
    fn durations_read_like_a_person_would_say_them() {
        assert_eq!(span(-3), "0 s");
        assert_eq!(span(59), "59 s");
        assert_eq!(span(61), "1 min");
        assert_eq!(span(2700), "45 min");
        assert_eq!(span(7200), "2 h");
        assert_eq!(span(3 * 86400), "3 d");
    }
}
