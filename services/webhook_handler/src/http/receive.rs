//! `POST /` and `POST /hooks/ID`: one delivery, answered within milliseconds (nothing waits
//! for an action), in this order:
//!
//! 1. the hook exists (404), the sender's network is allowed (403);
//! 2. the body fits `max_body_bytes` (413, before reading when `Content-Length` says so) and
//!    the shared body budget (503), and arrives within `read_timeout_secs` (408);
//! 3. the signature verifies (401), before anything of the body is parsed;
//! 4. the body is a payload (415 for other content types, 400 when malformed);
//! 5. a ping is answered 200 `ping`; the filters may answer 200 `ignored` with the reason;
//! 6. the job is queued: 202 `queued` with its `job_id`, or 200 `duplicate` when the delivery
//!    id was seen in the last 7 days.
//!
//! Every answer is JSON, every delivery is counted and listed, verified ones are stored.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::body::Body;
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures_util::StreamExt;
use serde_json::json;
use service_kit::http_error::ApiError;

use crate::deliveries::{DeliveryRecord, Outcome};
use crate::event_log;
use crate::jobs::record::Trigger;
use crate::network;
use crate::payload::{self, Facts, PayloadError};
use crate::settings::{Hook, DEFAULT_HOOK_ID};
use crate::store::{now_ms, rfc3339, Enqueued, NewJob};
use crate::App;

/// `POST /`: the spec's single hook.
pub async fn receive_default(State(app): State<Arc<App>>, request: Request) -> Response {
    match app.settings.hook(DEFAULT_HOOK_ID).cloned() {
        Some(hook) => receive(&app, hook, request).await,
        None => {
            app.metrics.unknown_hook();
            ApiError::NotFound(
                "no hook at POST /: set [server] secret (WEBHOOK_SECRET), or send to /hooks/ID"
                    .to_string(),
            )
            .into_response()
        }
    }
}

/// `POST /hooks/ID`.
pub async fn receive_hook(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    request: Request,
) -> Response {
    match app
        .settings
        .hook(&id)
        .filter(|h| h.id != DEFAULT_HOOK_ID)
        .cloned()
    {
        Some(hook) => receive(&app, hook, request).await,
        None => {
            app.metrics.unknown_hook();
            ApiError::NotFound(format!("no hook {id:?}")).into_response()
        }
    }
}

/// What is known of a delivery so far, for its audit record.
struct Delivery<'a> {
    app: &'a App,
    hook: &'a Hook,
    remote: IpAddr,
    facts: Option<Facts>,
}

impl Delivery<'_> {
    /// Counts, lists and (when verified) stores the delivery's outcome.
    fn record(&self, outcome: Outcome, reason: Option<String>, job_id: Option<i64>) {
        let ms = now_ms();
        let facts = self.facts.as_ref();
        let record = DeliveryRecord {
            received_at: rfc3339(ms),
            hook: self.hook.id.clone(),
            outcome,
            reason,
            event: facts.map(|f| f.event.clone()),
            repo: facts.and_then(|f| f.repo.clone()),
            git_ref: facts.and_then(|f| f.git_ref.clone()),
            delivery: facts.and_then(|f| f.delivery.clone()),
            job_id,
            remote: self.remote.to_string(),
        };
        self.app.metrics.delivery(&self.hook.id, outcome);
        if outcome.is_verified() {
            self.app.audit.store(ms, record.clone());
        }
        self.app.recent.push(record);
    }

    /// Records a refusal and answers it.
    fn refuse(&self, outcome: Outcome, error: ApiError) -> Response {
        let reason = error.to_string();
        if outcome == Outcome::Rejected || outcome == Outcome::Forbidden {
            self.app
                .rejections
                .note(&self.hook.id, &format!("from {}: {reason}", self.remote));
        }
        self.record(outcome, Some(reason), None);
        error.into_response()
    }
}

async fn receive(app: &App, hook: Arc<Hook>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::LOCALHOST), |c| c.0.ip());
    let remote = network::client_address(peer, &parts.headers, &app.settings.trusted_proxies);
    let mut delivery = Delivery {
        app,
        hook: &hook,
        remote,
        facts: None,
    };
    if !hook.allowed_ips.is_empty() && !network::contains(&hook.allowed_ips, remote) {
        return delivery.refuse(
            Outcome::Forbidden,
            ApiError::Forbidden(format!("sender {remote} is not in the hook's allowed_ips")),
        );
    }
    let body = match read_body(app, &parts.headers, body).await {
        Ok(body) => body,
        Err((outcome, error)) => return delivery.refuse(outcome, error),
    };
    if let Err(rejection) = hook
        .verifier
        .verify(&parts.headers, &body, SystemTime::now())
    {
        return delivery.refuse(
            Outcome::Rejected,
            ApiError::Unauthorized(rejection.to_string()),
        );
    }
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let payload = match payload::decode_body(hook.provider, content_type, &body) {
        Ok(payload) => payload,
        Err(err @ PayloadError::UnsupportedType(_)) => {
            return delivery.refuse(
                Outcome::Malformed,
                ApiError::UnsupportedMediaType(err.to_string()),
            )
        }
        Err(err) => {
            return delivery.refuse(Outcome::Malformed, ApiError::BadRequest(err.to_string()))
        }
    };
    let facts = payload::facts(hook.provider, &parts.headers, &payload);
    let mut lines = event_log::Lines::default();
    announce_received(&mut lines, &hook, &facts);
    delivery.facts = Some(facts.clone());

    if facts.event == "ping" {
        delivery.record(Outcome::Ping, None, None);
        return (
            StatusCode::OK,
            Json(json!({ "status": "ping", "hook": hook.id })),
        )
            .into_response();
    }
    if let Err(reason) = hook.filter.check(&facts) {
        lines.info(&format!("Ignored {} event: {reason}.", facts.event));
        delivery.record(Outcome::Ignored, Some(reason.clone()), None);
        return (
            StatusCode::OK,
            Json(json!({ "status": "ignored", "reason": reason })),
        )
            .into_response();
    }
    // Said before the job can start, so the lines come in the order things happen.
    lines.flush();
    let job = NewJob {
        hook: hook.id.clone(),
        trigger: Trigger::Webhook,
        retry_of: None,
        facts: facts.clone(),
        payload: body.to_vec(),
        content_type: content_type.map(str::to_string),
    };
    match app.jobs.submit(&hook.id, job).await {
        Ok(Enqueued::Queued(id)) => {
            delivery.record(Outcome::Accepted, None, Some(id));
            (
                StatusCode::ACCEPTED,
                Json(json!({ "status": "queued", "job_id": id, "hook": hook.id })),
            )
                .into_response()
        }
        Ok(Enqueued::Duplicate) => {
            let id = facts.delivery.clone().unwrap_or_default();
            lines.info(&format!(
                "Delivery {id} to hook {} was received before; nothing runs again.",
                hook.id
            ));
            delivery.record(
                Outcome::Duplicate,
                Some("delivery id seen before".to_string()),
                None,
            );
            (
                StatusCode::OK,
                Json(json!({ "status": "duplicate", "delivery": id })),
            )
                .into_response()
        }
        Err(err) => ApiError::Internal(format!("cannot queue the job: {err}")).into_response(),
    }
}

/// The spec's first two lines of a delivery.
fn announce_received(lines: &mut event_log::Lines, hook: &Hook, facts: &Facts) {
    match &facts.repo {
        Some(repo) => lines.info(&format!("Received {} event for repo {repo}.", facts.event)),
        None => lines.info(&format!("Received {} event.", facts.event)),
    }
    if !matches!(hook.verifier, crate::verify::Verifier::None) {
        lines.info("Signature validated.");
    }
}

/// Reads the body within the size limit, the shared budget and the read timeout.
async fn read_body(
    app: &App,
    headers: &HeaderMap,
    body: Body,
) -> Result<Vec<u8>, (Outcome, ApiError)> {
    let limit = app.settings.max_body_bytes;
    let too_large = || {
        (
            Outcome::TooLarge,
            ApiError::PayloadTooLarge(format!("the body is larger than {limit} bytes")),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    let timeout = app.settings.read_timeout;
    let _reservation = app
        .body_budget
        .reserve(declared.unwrap_or(limit), timeout)
        .await
        .ok_or_else(|| {
            (
                Outcome::Busy,
                ApiError::Unavailable("too many large deliveries at once; try again".to_string()),
            )
        })?;
    let read = async {
        let mut collected = Vec::with_capacity(declared.unwrap_or(0).min(limit) as usize);
        let mut stream = body.into_data_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| {
                (
                    Outcome::Malformed,
                    ApiError::BadRequest(format!("cannot read the body: {e}")),
                )
            })?;
            if collected.len() as u64 + chunk.len() as u64 > limit {
                return Err(too_large());
            }
            collected.extend_from_slice(&chunk);
        }
        Ok(collected)
    };
    match tokio::time::timeout(timeout, read).await {
        Ok(result) => result,
        Err(_) => Err((
            Outcome::Malformed,
            ApiError::RequestTimeout(format!(
                "the body did not arrive within {} s",
                timeout.as_secs()
            )),
        )),
    }
}

/// The bytes of request bodies being read at once, bounded, so that many large deliveries
/// cannot make the process hold more than this.
pub struct BodyBudget {
    /// One permit per KiB.
    kib: Arc<tokio::sync::Semaphore>,
    /// The budget in KiB.
    total_kib: u32,
}

impl BodyBudget {
    /// A budget of `bytes`.
    pub fn new(bytes: u64) -> BodyBudget {
        let total_kib = u32::try_from(bytes.div_ceil(1024))
            .unwrap_or(u32::MAX)
            .max(1);
        BodyBudget {
            kib: Arc::new(tokio::sync::Semaphore::new(total_kib as usize)),
            total_kib,
        }
    }

    /// Reserves room for a body of `bytes` (at most the whole budget), waiting up to `wait`.
    pub async fn reserve(
        &self,
        bytes: u64,
        wait: Duration,
    ) -> Option<tokio::sync::OwnedSemaphorePermit> {
        let kib = u32::try_from(bytes.div_ceil(1024))
            .unwrap_or(u32::MAX)
            .clamp(1, self.total_kib);
        tokio::time::timeout(wait, self.kib.clone().acquire_many_owned(kib))
            .await
            .ok()?
            .ok()
    }
}
