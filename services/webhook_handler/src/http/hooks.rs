//! `GET /hooks` (every hook: where it is served, how it verifies and filters, what it runs,
//! where it notifies, its queue and newest delivery; never a secret) and `GET /deliveries`
//! (the newest deliveries, every outcome with its reason, `?hook=&limit=`).

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::Json;
use serde_json::{json, Value};
use service_kit::http_error::ApiError;

use super::query;
use crate::deliveries::RECENT_PER_HOOK;
use crate::settings::Hook;
use crate::verify::Verifier;
use crate::App;

/// `GET /hooks`.
pub async fn list(State(app): State<Arc<App>>) -> Json<Value> {
    let depths = app.jobs.depths();
    let hooks: Vec<Value> = app
        .settings
        .hooks
        .iter()
        .map(|hook| {
            let depth = depths.iter().find(|d| d.hook == hook.id);
            let last = app.recent.newest(Some(&hook.id), 1).into_iter().next();
            json!({
                "id": hook.id,
                "path": hook.path,
                "provider": hook.provider,
                "verify": verify_name(hook),
                "filters": hook.filter.describe(),
                "action": hook.action.describe(),
                "notify": hook.notify.iter().map(|s| s.describe()).collect::<Vec<_>>(),
                "timeout_secs": hook.timeout.as_secs(),
                "retries": hook.retries,
                "allowed_ips": hook.allowed_ips.iter().map(ToString::to_string).collect::<Vec<_>>(),
                "running": depth.and_then(|d| d.running),
                "waiting": depth.and_then(|d| d.waiting),
                "last_delivery": last,
            })
        })
        .collect();
    Json(json!({ "hooks": hooks }))
}

fn verify_name(hook: &Hook) -> &'static str {
    match hook.verifier {
        Verifier::Github { .. } => "github-hmac-sha256",
        Verifier::Gitea { .. } => "gitea-hmac-sha256",
        Verifier::GitlabToken { .. } => "gitlab-token",
        Verifier::Standard { .. } => "standard-webhooks",
        Verifier::HeaderToken { .. } => "token",
        Verifier::HeaderHmac { .. } => "hmac-sha256",
        Verifier::None => "none",
    }
}

/// `GET /deliveries`.
pub async fn deliveries(
    State(app): State<Arc<App>>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let hook = params.get("hook").map(String::as_str);
    if let Some(hook) = hook {
        if app.settings.hook(hook).is_none() {
            return Err(ApiError::NotFound(format!("no hook {hook:?}")));
        }
    }
    let limit = query::limit(&params, RECENT_PER_HOOK)?;
    Ok(Json(
        json!({ "deliveries": app.recent.newest(hook, limit) }),
    ))
}
