//! `GET /dashboard`: the status page a team leaves open on a wall screen.
//!
//! The server renders the complete page from [`status_view`] (see [`render`]), so it is
//! correct without JavaScript, where a `<noscript>` refresh keeps it current. The inline
//! script (`dashboard/dashboard.js`) then keeps it live from `GET /events`, falling back to
//! polling `GET /api/status`. The inline style and script run under a per-response CSP
//! nonce, and the policy allows nothing else: no other script, no external resource, no
//! form, no framing ([`service_kit::page`]). All text from config, targets or commands is
//! escaped on both sides.

mod render;

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use service_kit::page::{self, FormAction};

use super::status::status_view;
use super::App;

/// `GET /dashboard`.
pub async fn page(State(app): State<Arc<App>>) -> Response {
    let view = status_view(&app);
    let nonce = page::nonce();
    let html = render::page(&view, &nonce, chrono::Utc::now());
    // The page has no form.
    page::response(html, &nonce, FormAction::None)
}
