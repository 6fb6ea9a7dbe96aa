//! `GET /badge/NAME.svg`: a flat status badge for READMEs and wikis, in the familiar
//! two-part style (`api | up`), coloured like the dashboard.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::IntoResponse;
use service_kit::html::escape;
use service_kit::http_error::ApiError;

use super::App;
use crate::check::Status;

/// Colour of a status: green, yellow, red, grey.
pub fn colour(status: Status) -> &'static str {
    match status {
        Status::Up => "#2e9e44",
        Status::Degraded => "#d4a017",
        Status::Down => "#d0312d",
        Status::Unknown => "#8a8f98",
    }
}

/// Renders the badge SVG.
pub fn render(label: &str, status: Status) -> String {
    let value = status.as_str();
    // Verdana 11px averages about 7 px a character; good enough without font metrics.
    let text_width = |s: &str| s.chars().count() as u32 * 7 + 10;
    let (left, right) = (text_width(label), text_width(value));
    let total = left + right;
    let label = escape(label);
    let fill = colour(status);
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{total}" height="20" role="img" aria-label="{label}: {value}"><title>{label}: {value}</title><rect width="{left}" height="20" fill="#555"/><rect x="{left}" width="{right}" height="20" fill="{fill}"/><g fill="#fff" text-anchor="middle" font-family="Verdana,DejaVu Sans,sans-serif" font-size="11"><text x="{lx}" y="14">{label}</text><text x="{rx}" y="14">{value}</text></g></svg>"##,
        lx = left / 2,
        rx = left + right / 2,
    )
}

/// `GET /badge/NAME.svg`.
pub async fn badge(
    State(app): State<Arc<App>>,
    Path(file): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let name = file.strip_suffix(".svg").unwrap_or(&file);
    let check = app
        .state
        .check_named(name)
        .ok_or_else(|| ApiError::NotFound(format!("no service named {name:?}")))?;
    let status = check.lock().status;
    Ok((
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "no-cache, max-age=0"),
        ],
        render(name, status),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn badge_escapes_the_name_and_shows_the_status() {
        let svg = render("<api>", Status::Down);
        assert!(svg.contains("&lt;api&gt;: down"));
        assert!(svg.contains("#d0312d"));
        assert!(!svg.contains("<api>"));
    }
}
