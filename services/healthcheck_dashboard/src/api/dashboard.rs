//! `GET /dashboard`: the status page a team leaves open on a wall screen.
//!
//! The server renders the complete page from [`status_view`] (see [`render`]), so it is
//! correct without JavaScript, where a `<noscript>` refresh keeps it current. The inline
//! script (`dashboard/dashboard.js`) then keeps it live from `GET /events`, falling back to
//! polling `GET /api/status`. The inline style and script run under a per-response CSP
//! nonce, and the policy allows nothing else: no other script, no external resource, no
//! framing. All text from config, targets or commands is escaped on both sides.

mod render;

use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::{Html, IntoResponse};
use base64::Engine;

use super::status::status_view;
use crate::App;

/// A fresh nonce for one response: 128 random bits, base64.
fn nonce() -> String {
    let bytes: [u8; 16] = std::array::from_fn(|_| fastrand::u8(..));
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The Content-Security-Policy of the page: only the nonce'd inline style and script run,
/// the script may talk to this origin only (`events`, `api/status`), images are the
/// `data:` favicon, and the page may not be framed.
pub fn content_security_policy(nonce: &str) -> String {
    format!(
        "default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; \
         connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; \
         frame-ancestors 'none'"
    )
}

/// `GET /dashboard`.
pub async fn page(State(app): State<Arc<App>>) -> impl IntoResponse {
    let view = status_view(&app);
    let nonce = nonce();
    let html = render::page(&view, &nonce, chrono::Utc::now());
    (
        [
            (
                header::CONTENT_SECURITY_POLICY,
                content_security_policy(&nonce),
            ),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
            (header::CACHE_CONTROL, "no-store".to_string()),
            (header::REFERRER_POLICY, "no-referrer".to_string()),
        ],
        Html(html),
    )
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
        let csp = content_security_policy("abc");
        assert!(csp.starts_with("default-src 'none';"));
        assert!(csp.contains("script-src 'nonce-abc';"));
        assert!(csp.contains("style-src 'nonce-abc';"));
        assert!(csp.contains("connect-src 'self';"));
        assert!(!csp.contains("unsafe"));
    }
}
