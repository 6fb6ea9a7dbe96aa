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
    fn durations_read_like_a_person_would_say_them() {
        assert_eq!(span(-3), "0 s");
        assert_eq!(span(59), "59 s");
        assert_eq!(span(61), "1 min");
        assert_eq!(span(2700), "45 min");
        assert_eq!(span(7200), "2 h");
        assert_eq!(span(3 * 86400), "3 d");
    }
}
