//! `GET /dashboard`: the page a person leaves open to watch the stack's logs. A live tail of
//! the events (newest at the bottom, following unless paused), filters by service, level
//! and text that live in the URL so a filtered view can be bookmarked, a per-level chart
//! of the lines read per minute over the last hour with a marker where each deploy started
//! (webhook_handler's, with `[peers] webhook_handler`; on a page filtered to one service,
//! the deploys naming it or naming none), and a header with the hour's counts, the
//! sources' state and when the data was last updated.
//!
//! The server renders the complete page ([`render`], the chart in [`chart`]), so it works without JavaScript: a
//! `<noscript>` refresh keeps it current and the filter form submits as a plain GET. The
//! inline script (`dashboard/dashboard.js`) then keeps it live from `/logs/stream`,
//! re-querying `/logs` whenever the stream (re)opens or the filters change, and polls
//! `/summary`, `/summary/series`, `/api/sources` and (with the peer) `/api/deploys` for the
//! header and the chart. The deploys come from the copy the poller keeps
//! ([`crate::deploys`]), so a page never waits for webhook_handler. The inline
//! style and script run under a per-response CSP nonce and the policy allows nothing
//! else: no other script, no external resource, no framing, forms to this origin only
//! ([`service_kit::page`]). Log text is escaped by the server and set with `textContent` by
//! the script, never parsed as HTML.
//!
//! The page sits behind the same `[auth]` layer as `/logs` (a browser gets the basic-auth
//! prompt, and then sends the credentials with the script's requests as well).

pub mod chart;
pub mod render;

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::{Redirect, Response};
use axum::routing::get;
use axum::Router;
use chrono::Utc;
use serde::Deserialize;
use service_kit::http_error::ApiError;
use service_kit::page::{self, FormAction};

use crate::event::LogEvent;
use crate::parse::Level;
use crate::store::LogQuery;

use super::App;

pub use render::{Filters, View};

/// The page's routes: `/dashboard` and `/` redirecting there, or none when
/// `[api] dashboard = false` (both then answer the JSON 404).
pub fn routes(enabled: bool) -> Router<Arc<App>> {
    if !enabled {
        return Router::new();
    }
    Router::new()
        .route("/dashboard", get(page))
        .route("/", get(|| async { Redirect::temporary("/dashboard") }))
}

/// Query of `/dashboard`: the filters. Lenient, since people edit and bookmark it: unknown
/// parameters are ignored and an unknown level is reported on the page, not as a 400.
#[derive(Debug, Default, Deserialize)]
pub struct PageParams {
    /// Only this service.
    pub service: Option<String>,
    /// This level and worse.
    pub level: Option<String>,
    /// Text the message contains.
    pub q: Option<String>,
}

impl PageParams {
    /// The filters, with empty values meaning "any".
    pub fn filters(&self) -> Filters {
        let non_empty = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        let (level, error) = match non_empty(&self.level) {
            Some(name) => match Level::parse(&name) {
                Some(level) => (Some(level), None),
                None => (
                    None,
                    Some(format!(
                        "Unknown level {name:?}: showing all levels (trace, debug, info, warning, error, critical)."
                    )),
                ),
            },
            None => (None, None),
        };
        // Over-long text is dropped (and said so) rather than searched for.
        let too_long = |v: &Option<String>| {
            v.as_ref()
                .is_some_and(|v| v.len() > super::query::MAX_TEXT_BYTES)
        };
        let error = if too_long(&self.q) || too_long(&self.service) {
            Some(format!(
                "A filter longer than {} bytes was ignored.",
                super::query::MAX_TEXT_BYTES
            ))
        } else {
            error
        };
        let bounded = |v: &Option<String>| {
            v.clone()
                .filter(|v| v.len() <= super::query::MAX_TEXT_BYTES)
        };
        Filters {
            service: non_empty(&bounded(&self.service)),
            level,
            // Text is matched as typed (spaces included), so it is not trimmed.
            q: bounded(&self.q).filter(|q| !q.is_empty()),
            error,
        }
    }
}

/// Every service seen: lines counted since start, followed sources, shown events, and the
/// one asked for (so a bookmarked filter stays selectable before its service logs again).
fn services(app: &App, view_events: &[LogEvent], filters: &Filters) -> Vec<String> {
    let mut names: std::collections::BTreeSet<String> = app
        .counter
        .totals()
        .into_iter()
        .map(|(service, _, _)| service.to_string())
        .collect();
    for source in &app.sources.snapshot() {
        // The Docker engine's own entry has no service.
        if !source.service.is_empty() {
            names.insert(source.service.to_string());
        }
    }
    names.extend(view_events.iter().map(|e| e.service.to_string()));
    names.extend(filters.service.clone());
    names.into_iter().collect()
}

/// `GET /dashboard?service=&level=&q=`.
pub async fn page(
    State(app): State<Arc<App>>,
    params: Result<Query<PageParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    // A query that does not even parse is treated as no filter at all.
    let filters = params.map(|Query(p)| p.filters()).unwrap_or_default();
    let query = LogQuery::new(
        filters.service.as_deref(),
        filters.level,
        filters.q.as_deref(),
        None,
        render::TAIL_LIMIT,
    );
    let events = app
        .store
        .query(query.with_max_bytes(app.max_response_bytes))
        .await
        .map_err(super::logs::read_error)?
        .events;
    let now = Utc::now();
    let series = super::series::series(
        &app,
        now.timestamp(),
        render::CHART_WINDOW_SECS,
        render::CHART_STEP_SECS,
        filters.service.as_deref(),
    )
    .await
    .map_err(super::logs::read_error)?;
    let deploys = app.deploys.shown(filters.service.as_deref());
    let view = View {
        now,
        deploy_markers: app.deploy_markers,
        deploys: deploys.deploys,
        deploys_error: deploys.error,
        services: services(&app, &events, &filters),
        summary: app
            .counter
            .window(now.timestamp(), render::CHART_WINDOW_SECS),
        sources: app.sources.snapshot(),
        series,
        events,
        filters,
    };
    let nonce = page::nonce();
    let html = render::page(&view, &nonce);
    // The filter form submits to this page as a plain GET.
    Ok(page::response(html, &nonce, FormAction::SameOrigin))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_filters_mean_any_and_an_unknown_level_is_reported_not_fatal() {
        let params = PageParams {
            service: Some(String::new()),
            level: Some("loud".to_string()),
            q: Some(String::new()),
        };
        let filters = params.filters();
        assert_eq!(filters.service, None);
        assert_eq!(filters.level, None);
        assert_eq!(filters.q, None);
        assert!(filters.error.unwrap().contains("Unknown level \"loud\""));
        let filters = PageParams {
            level: Some("warn".to_string()),
            ..PageParams::default()
        }
        .filters();
        assert_eq!(filters.level, Some(Level::Warning));
        let long = PageParams {
            q: Some("x".repeat(5000)),
            ..PageParams::default()
        }
        .filters();
        assert_eq!(long.q, None);
        assert!(long.error.unwrap().contains("was ignored"));
    }

    proptest::proptest! {
        /// The page's filters never fail: any values give filters, at worst with a note.
        #[test]
        fn any_page_filters_are_read_without_panicking(
            service in proptest::option::of(".{0,40}"),
            level in proptest::option::of(".{0,12}"),
            q in proptest::option::of(".{0,40}"),
        ) {
            let filters = PageParams { service, level, q }.filters();
            proptest::prop_assert!(filters.q.is_none_or(|q| q.len() <= super::super::query::MAX_TEXT_BYTES));
        }
    }
}
