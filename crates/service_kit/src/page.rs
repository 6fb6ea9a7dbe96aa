//! The plumbing every service's server-rendered page shares: a fresh nonce per response,
//! the strict Content-Security-Policy built on it and the other response headers, the
//! document's head with the stylesheet inlined under the nonce, and the one inline script
//! (the shared [`SCRIPT_PRELUDE`], then the page's own code) under the nonce too.
//!
//! A page is one self-contained response: the policy lets nothing run or load that the
//! server did not write into it with the nonce (no other script, stylesheet, font or image
//! but the `data:` favicon), lets the script talk to this origin only, and forbids framing.
//! Each page renders its own body; text in it goes through [`crate::html::escape`].

use std::fmt::Write;

use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use base64::Engine;

/// The script code every page's script starts with: element builders (`el`, `svgEl`), the
/// pages' words (`plural`, `span`, as [`crate::html`] says them) and `fetchJson`, all
/// members of one global `pagePrelude`, which the page's own code takes them from.
pub const SCRIPT_PRELUDE: &str = include_str!("page/prelude.js");

/// A fresh nonce for one response: 128 bits from the operating system's random source
/// (a guessable nonce would let injected script run), base64.
pub fn nonce() -> String {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 16];
    // The OS source fails only on a broken kernel; a page is then better refused than
    // served with a predictable nonce.
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .expect("the operating system's random source answers");
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Where a page's forms may submit to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormAction {
    /// Nowhere: the page has no form.
    None,
    /// This origin only (a filter form that submits as a plain GET).
    SameOrigin,
}

/// The Content-Security-Policy of a page: only the inline style and script carrying `nonce`
/// run, the script may talk to this origin only, images are this origin's or `data:` (the
/// favicon), forms submit as `form_action` says, and the page may not be framed.
pub fn content_security_policy(nonce: &str, form_action: FormAction) -> String {
    let form_action = match form_action {
        FormAction::None => "'none'",
        FormAction::SameOrigin => "'self'",
    };
    format!(
        "default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; \
         connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action {form_action}; \
         frame-ancestors 'none'"
    )
}

/// The rendered page `html` as a response: the policy for `nonce` and `form_action`, no
/// content sniffing, no caching (every response has its own nonce), no referrer.
pub fn response(html: String, nonce: &str, form_action: FormAction) -> Response {
    (
        [
            (
                header::CONTENT_SECURITY_POLICY,
                content_security_policy(nonce, form_action),
            ),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
            (header::CACHE_CONTROL, "no-store".to_string()),
            (header::REFERRER_POLICY, "no-referrer".to_string()),
        ],
        Html(html),
    )
        .into_response()
}

/// What a page's `<head>` holds besides what every page's does.
#[derive(Debug, Clone, Copy)]
pub struct Head<'a> {
    /// The document title, plain text (escaped here).
    pub title: &'a str,
    /// The favicon, a `data:` URL written as is; its `<link>` has the id `favicon`, so the
    /// script can recolour it.
    pub favicon: &'a str,
    /// Without JavaScript the page reloads itself this often (a `<noscript>` refresh), in
    /// seconds.
    pub refresh_secs: u64,
    /// The stylesheet, inlined under the nonce.
    pub css: &'a str,
}

/// Writes the document's start up to and including `</head>`: doctype, language, charset,
/// viewport, dark colour scheme, no referrer, `head`'s title, favicon and refresh, and its
/// stylesheet under `nonce`.
pub fn write_head(out: &mut String, head: &Head<'_>, nonce: &str) {
    let Head {
        title,
        favicon,
        refresh_secs,
        css,
    } = *head;
    let _ = write!(
        out,
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="dark">
<meta name="referrer" content="no-referrer">
<title>{title}</title>
<link id="favicon" rel="icon" href="{favicon}">
<noscript><meta http-equiv="refresh" content="{refresh_secs}"></noscript>
<style nonce="{nonce}">{css}</style>
</head>
"#,
        title = crate::html::escape(title),
    );
}

/// Writes the page's one inline script under `nonce` ([`SCRIPT_PRELUDE`], then `script`)
/// and ends the document.
pub fn write_script_and_end(out: &mut String, script: &str, nonce: &str) {
    let _ = write!(
        out,
        "<script nonce=\"{nonce}\">{SCRIPT_PRELUDE}{script}</script>\n</body>\n</html>\n"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_response_gets_its_own_nonce() {
        let (a, b) = (nonce(), nonce());
        assert_ne!(a, b);
        assert_eq!(a.len(), 24);
    }

    #[test]
    fn the_policy_allows_only_the_nonce_and_this_origin() {
        for form_action in [FormAction::None, FormAction::SameOrigin] {
            let csp = content_security_policy("abc", form_action);
            assert!(csp.starts_with("default-src 'none';"));
            assert!(csp.contains("script-src 'nonce-abc';"));
            assert!(csp.contains("style-src 'nonce-abc';"));
            assert!(csp.contains("connect-src 'self';"));
            assert!(csp.contains("frame-ancestors 'none'"));
            assert!(!csp.contains("unsafe"));
        }
        let csp = content_security_policy("abc", FormAction::SameOrigin);
        assert!(csp.contains("form-action 'self';"));
        let csp = content_security_policy("abc", FormAction::None);
        assert!(csp.contains("form-action 'none';"));
    }

    #[test]
    fn the_head_escapes_the_title_and_nonces_the_style() {
        let mut out = String::new();
        let head = Head {
            title: "<b>Stack</b>",
            favicon: "data:image/svg+xml,x",
            refresh_secs: 7,
            css: "body{}",
        };
        write_head(&mut out, &head, "n0nce");
        assert!(out.starts_with("<!doctype html>\n"));
        assert!(out.contains("<title>&lt;b&gt;Stack&lt;/b&gt;</title>"));
        assert!(out.contains(r#"<noscript><meta http-equiv="refresh" content="7"></noscript>"#));
        assert!(out.ends_with("<style nonce=\"n0nce\">body{}</style>\n</head>\n"));
    }

    #[test]
    fn the_script_is_the_prelude_and_the_pages_own_under_the_nonce() {
        let mut out = String::new();
        write_script_and_end(&mut out, "run();", "n0nce");
        assert!(out.starts_with("<script nonce=\"n0nce\">// The part every dashboard"));
        assert!(out.ends_with("run();</script>\n</body>\n</html>\n"));
        assert_eq!(out.matches("<script").count(), 1);
        for loaded in [" src=", "url(", "@import", "innerHTML ="] {
            assert!(!SCRIPT_PRELUDE.contains(loaded), "{loaded}");
        }
    }
}
