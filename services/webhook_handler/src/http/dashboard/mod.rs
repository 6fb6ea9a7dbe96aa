//! `GET /dashboard`: the page a person leaves open beside a deploy. Every hook (where it is
//! served, how it verifies and filters, what it runs, whom it tells, its running and waiting
//! job, its newest delivery), the newest jobs of all hooks with their state colours,
//! durations, exit codes and reasons, the output of one job (the newest running one, else
//! the newest, or the one a link asked for with `?job=ID`), and the newest deliveries of
//! all hooks with what became of each (accepted, ignored and why, rejected and why, ...).
//!
//! The server renders the complete page ([`render`]), so it works without JavaScript: a
//! `<noscript>` refresh keeps it current and a job's link shows its output on the page. The
//! inline script (`dashboard/dashboard.js`) then keeps it current without reloading: it
//! polls `/hooks`, `/deliveries` and `/jobs` every 2 s, follows the shown job's output live
//! over `/jobs/ID/stream` while it runs and loads `/jobs/ID/log` once it ended. The inline
//! style and script run under a per-response CSP nonce and the policy allows nothing else
//! ([`service_kit::page`]). Text from payloads and commands is escaped by the server and
//! set with `textContent` by the script, never parsed as HTML.
//!
//! The page sits behind the same `[auth]` layer as `/jobs` (served to the local host only
//! when no credentials are configured); a browser sends the credentials it answered the
//! prompt with on the script's same-origin requests as well.

pub mod render;

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::Response;
use chrono::Utc;
use service_kit::http_error::ApiError;
use service_kit::page::{self, FormAction};

use super::{hooks, jobs, query};
use crate::store::JobQuery;
use crate::App;

pub use render::{Shown, View};

/// `GET /dashboard?job=ID`. The query is lenient, since people edit and bookmark it: a
/// `job` that is not a job id is ignored, one that names no job is said so on the page.
pub async fn page(
    State(app): State<Arc<App>>,
    params: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let pinned = params
        .ok()
        .and_then(|Query(p)| p.get("job").and_then(|id| query::job_id(id.trim()).ok()));
    let listed = hooks::list(State(app.clone())).await.0;
    let hooks = listed["hooks"].as_array().cloned().unwrap_or_default();
    let deliveries = app.recent.newest(None, render::DELIVERY_LIMIT);
    let job_list = app
        .jobs
        .store()
        .jobs(JobQuery {
            hook: None,
            state: None,
            limit: render::JOB_LIMIT,
        })
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let shown = match pinned.or_else(|| render::default_job(&job_list)) {
        None => Shown::Nothing,
        Some(id) => match jobs::find(&app, &id.to_string()).await {
            Ok(job) => Shown::Job {
                job: Box::new(job),
                pinned: pinned.is_some(),
            },
            Err(ApiError::NotFound(_)) => Shown::Missing(id),
            Err(other) => return Err(other),
        },
    };
    let view = View {
        now: Utc::now(),
        hooks,
        deliveries,
        jobs: job_list,
        shown,
    };
    let nonce = page::nonce();
    let html = render::page(&view, &nonce);
    // No form: job links are plain GETs.
    Ok(page::response(html, &nonce, FormAction::None))
}
