//! `GET /dashboard`: the status page (placeholder while the full page is built).

use std::sync::Arc;

use axum::extract::State;
use axum::response::Html;

use super::badge::xml_escape;
use super::status::status_view;
use crate::App;

/// `GET /dashboard`.
pub async fn page(State(app): State<Arc<App>>) -> Html<String> {
    let view = status_view(&app);
    let mut rows = String::new();
    for s in &view.services {
        rows.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            xml_escape(&s.name),
            s.status.as_str(),
            xml_escape(s.error.as_deref().unwrap_or(""))
        ));
    }
    Html(format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{}</title></head><body><table>{rows}</table></body></html>",
        xml_escape(&view.title)
    ))
}
