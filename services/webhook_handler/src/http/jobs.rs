//! The job routes: `GET /jobs` (newest first, `?hook=&state=&limit=`), `GET /jobs/ID` (the
//! fields DESIGN.md lists, with the output tail), `GET /jobs/ID/log` (the output as text), and
//! `GET /jobs/ID/stream` (the output live, as server-sent events, until the job ends).

use std::collections::HashMap;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures_util::stream::{self, Stream, StreamExt};
use serde_json::json;
use service_kit::http_error::ApiError;
use tokio::sync::broadcast::error::RecvError;

use super::query;
use crate::jobs::output::OutputEvent;
use crate::jobs::record::{JobRecord, JobState};
use crate::store::JobQuery;
use crate::App;

/// Live output streams open at once, at most; more get 503.
pub const MAX_STREAMS: usize = 64;

/// `GET /jobs`.
pub async fn list(
    State(app): State<Arc<App>>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let state = match params.get("state") {
        None => None,
        Some(name) => Some(JobState::parse(name).ok_or_else(|| {
            ApiError::BadRequest(format!(
                "unknown state {name:?}; one of {}",
                JobState::ALL.map(JobState::as_str).join(", ")
            ))
        })?),
    };
    let hook = params.get("hook").cloned();
    if let Some(hook) = &hook {
        if app.settings.hook(hook).is_none() {
            return Err(ApiError::NotFound(format!("no hook {hook:?}")));
        }
    }
    let query = JobQuery {
        hook,
        state,
        limit: query::limit(&params, 50)?,
    };
    let jobs = app
        .jobs
        .store()
        .jobs(query)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(Json(json!({ "jobs": jobs })))
}

/// The job `id` with its output (live when it runs), or 404.
pub async fn find(app: &App, id: &str) -> Result<JobRecord, ApiError> {
    let id = query::job_id(id)?;
    let mut job = app
        .jobs
        .store()
        .job(id)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .ok_or_else(|| ApiError::NotFound(format!("no job {id}")))?;
    if let Some(live) = app.jobs.live(id) {
        job.output = Some(live.snapshot());
    }
    Ok(job)
}

/// `GET /jobs/ID`.
pub async fn one(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
) -> Result<Json<JobRecord>, ApiError> {
    Ok(Json(find(&app, &id).await?))
}

/// `GET /jobs/ID/log`.
pub async fn log(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let job = find(&app, &id).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        job.output.unwrap_or_default(),
    )
        .into_response())
}

/// `GET /jobs/ID/stream`: event `output` (data: JSON `{"text": ...}`) for the output so far
/// and each later chunk, then event `end` (data: JSON `{"state": ...}`). A job that is not
/// running gets its stored output and its end at once.
pub async fn stream(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let job = find(&app, &id).await?;
    let Ok(slot) = app.streams.clone().try_acquire_owned() else {
        return Err(ApiError::Unavailable(format!(
            "{MAX_STREAMS} live streams are open already"
        )));
    };
    let events: Pin<Box<dyn Stream<Item = Result<Event, Infallible>> + Send>> =
        match app.jobs.live(job.id) {
            Some(live) => {
                let (tail, feed) = live.subscribe();
                // The slot lives in the stream's state: it is given back when the stream ends.
                let rest = stream::unfold(Some((feed, slot)), |state| async move {
                    let (mut feed, slot) = state?;
                    let event = match feed.recv().await {
                        Ok(OutputEvent::Chunk(text)) => output_event(&text),
                        Ok(OutputEvent::End(state)) => return Some((end_event(state), None)),
                        // Fell behind: say so rather than pretend nothing was missed.
                        Err(RecvError::Lagged(_)) => {
                            output_event("[... output skipped: this reader fell behind ...]\n")
                        }
                        Err(RecvError::Closed) => return None,
                    };
                    Some((event, Some((feed, slot))))
                });
                Box::pin(stream::iter([output_event(&tail)]).chain(rest))
            }
            None => Box::pin(stream::iter([
                output_event(job.output.as_deref().unwrap_or("")),
                end_event(job.state),
            ])),
        };
    Ok(Sse::new(events)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response())
}

fn output_event(text: &str) -> Result<Event, Infallible> {
    Ok(Event::default()
        .event("output")
        .data(json!({ "text": text }).to_string()))
}

fn end_event(state: JobState) -> Result<Event, Infallible> {
    Ok(Event::default()
        .event("end")
        .data(json!({ "state": state }).to_string()))
}
