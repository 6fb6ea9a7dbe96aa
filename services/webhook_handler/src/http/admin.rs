//! The routes that start jobs by hand, with `Authorization: Bearer ADMIN_TOKEN` (`[server]
//! admin_token`, env `WEBHOOK_ADMIN_TOKEN`); without an admin token they are disabled (403):
//! `POST /hooks/ID/trigger` runs a hook's action now (the body, if any, is its payload: a
//! JSON object whose `ref`, `commit`, `repo`... become the job's facts), and
//! `POST /jobs/ID/retry` runs a finished job's action again with the same payload.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use service_kit::http_error::ApiError;

use crate::event_log;
use crate::jobs::record::Trigger;
use crate::payload::Facts;
use crate::store::{Enqueued, NewJob};
use crate::App;

/// Largest body of a manual trigger.
pub const MAX_TRIGGER_BODY: usize = 1024 * 1024;

/// Checks the admin bearer token.
fn authorize(app: &App, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(token) = &app.settings.admin_token else {
        return Err(ApiError::Forbidden(
            "manual triggers and retries are disabled: set [server] admin_token (WEBHOOK_ADMIN_TOKEN)"
                .to_string(),
        ));
    };
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    match presented {
        Some(presented) if token.matches(presented.as_bytes()) => Ok(()),
        _ => Err(ApiError::Unauthorized(
            "send Authorization: Bearer with the admin token".to_string(),
        )),
    }
}

/// `POST /hooks/ID/trigger`.
pub async fn trigger(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    authorize(&app, &headers)?;
    let hook = app
        .settings
        .hook(&id)
        .cloned()
        .ok_or_else(|| ApiError::NotFound(format!("no hook {id:?}")))?;
    if body.len() > MAX_TRIGGER_BODY {
        return Err(ApiError::PayloadTooLarge(format!(
            "a trigger body is at most {MAX_TRIGGER_BODY} bytes"
        )));
    }
    let payload: Value = if body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::BadRequest(format!("the body must be a JSON object: {e}")))?
    };
    if !payload.is_object() {
        return Err(ApiError::BadRequest(
            "the body must be a JSON object".to_string(),
        ));
    }
    let text = |name: &str| {
        payload
            .get(name)
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let mut facts = Facts::new(text("event").unwrap_or_else(|| "manual".to_string()));
    facts.repo = text("repo");
    facts.set_ref(text("ref"));
    if let Some(branch) = text("branch") {
        facts.branch = Some(branch);
    }
    facts.commit = text("commit");
    facts.pusher = Some("admin".to_string());
    let job = NewJob {
        hook: hook.id.clone(),
        trigger: Trigger::Manual,
        retry_of: None,
        facts,
        payload: serde_json::to_vec(&payload).unwrap_or_default(),
        content_type: Some("application/json".to_string()),
    };
    let what = format!("Manual trigger of hook {}.", hook.id);
    queue(&app, &hook.id, job, &what).await
}

/// `POST /jobs/ID/retry`.
pub async fn retry(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    authorize(&app, &headers)?;
    let job = super::jobs::find(&app, &id).await?;
    if !job.state.is_final() {
        return Err(ApiError::Conflict(format!(
            "job {} is {}; retry it when it has ended",
            job.id,
            job.state.as_str()
        )));
    }
    if app.settings.hook(&job.hook).is_none() {
        return Err(ApiError::Conflict(format!(
            "job {}'s hook {:?} is no longer configured",
            job.id, job.hook
        )));
    }
    let (payload, content_type) = app
        .jobs
        .store()
        .payload(job.id)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .ok_or_else(|| {
            ApiError::Conflict(format!(
                "job {}'s payload is no longer kept ({} jobs do not keep it)",
                job.id,
                job.state.as_str()
            ))
        })?;
    let new = NewJob {
        hook: job.hook.clone(),
        trigger: Trigger::Retry,
        retry_of: Some(job.id),
        facts: job.facts,
        payload,
        content_type,
    };
    let what = format!("Retry of job {} of hook {}.", job.id, job.hook);
    queue(&app, &job.hook, new, &what).await
}

/// Says `what` happens, queues `job` (the queue says `Queued job N`), and answers 202.
async fn queue(app: &App, hook: &str, job: NewJob, what: &str) -> Result<Response, ApiError> {
    event_log::info(what);
    match app.jobs.submit(hook, job).await {
        Ok(Enqueued::Queued(id)) => Ok((
            StatusCode::ACCEPTED,
            Json(json!({ "status": "queued", "job_id": id, "hook": hook })),
        )
            .into_response()),
        Ok(Enqueued::Duplicate) => Err(ApiError::Conflict("duplicate".to_string())),
        Err(err) => Err(ApiError::Internal(format!("cannot queue the job: {err}"))),
    }
}
