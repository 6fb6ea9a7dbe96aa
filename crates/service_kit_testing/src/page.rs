//! Checks every dashboard's tests make of a page built with `service_kit::page`, on the served
//! response itself (the browser-side checks are [`super::browser::Browser`]'s): the headers
//! and strict Content-Security-Policy with the nonce on the inline style and script, nothing
//! loaded from anywhere, and hostile text escaped.

use axum::http::HeaderMap;

/// Asserts what every page response carries and returns its Content-Security-Policy (whose
/// nonce a second response must not repeat): HTML in UTF-8, no sniffing, no caching; a policy
/// that starts from `default-src 'none'`, lets the script talk to this origin only and allows
/// nothing `unsafe`; its script nonce, also its style nonce, on the `<script>` and `<style>` of
/// `html`; and no element of `html` that loads a source, no external link, no CSS import.
pub fn assert_strict_page(headers: &HeaderMap, html: &str) -> String {
    let header = |name: &str| {
        headers
            .get(name)
            .map(|v| v.to_str().expect("a text header").to_string())
            .unwrap_or_default()
    };
    assert_eq!(header("content-type"), "text/html; charset=utf-8");
    assert_eq!(header("x-content-type-options"), "nosniff");
    assert_eq!(header("cache-control"), "no-store");
    let csp = header("content-security-policy");
    assert!(csp.starts_with("default-src 'none';"), "{csp}");
    assert!(csp.contains("connect-src 'self'"), "{csp}");
    assert!(!csp.contains("unsafe"), "{csp}");
    let nonce = csp
        .split("script-src 'nonce-")
        .nth(1)
        .and_then(|rest| rest.split_once('\''))
        .map(|(nonce, _)| nonce.to_string())
        .unwrap_or_else(|| panic!("no script nonce in {csp}"));
    assert!(csp.contains(&format!("style-src 'nonce-{nonce}'")), "{csp}");
    assert!(html.contains(&format!(r#"<script nonce="{nonce}">"#)));
    assert!(html.contains(&format!(r#"<style nonce="{nonce}">"#)));
    // Nothing is fetched from anywhere: no src attributes, no external links, no CSS imports.
    assert!(!html.contains(" src="), "no element loads a source");
    for external in [r#"href="http"#, r#"href="//"#, "@import", "url("] {
        assert!(!html.contains(external), "found {external:?}");
    }
    csp
}

/// Fetches the page at `url` twice: asserts the first answer is 200 and
/// [`assert_strict_page`], and that the second carries a fresh nonce. Returns the first
/// answer's HTML.
pub async fn assert_strict_page_at(url: &str) -> String {
    let fetch = || async {
        let response = reqwest::get(url)
            .await
            .unwrap_or_else(|e| panic!("GET {url}: {e}"));
        let status = response.status();
        let headers = response.headers().clone();
        let html = response.text().await.expect("a text body");
        (status, headers, html)
    };
    let (status, headers, html) = fetch().await;
    assert_eq!(status, reqwest::StatusCode::OK, "GET {url}: {html}");
    let csp = assert_strict_page(&headers, &html);
    let (_, second, _) = fetch().await;
    assert_ne!(
        second
            .get("content-security-policy")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default(),
        csp,
        "a fresh nonce for every response"
    );
    html
}

/// Asserts that none of the `raw` markup snippets reached `html` unescaped, and that its only
/// script element is the page's own.
pub fn assert_markup_escaped(html: &str, raw: &[&str]) {
    for raw in raw {
        assert!(!html.contains(raw), "{raw:?} reached the page unescaped");
    }
    assert_eq!(
        html.matches("<script").count(),
        1,
        "only the page's own script"
    );
}
