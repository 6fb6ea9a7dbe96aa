//! The health gate: after `up -d` (or a command deploy's update), each deployed service must
//! be `up` in healthcheck_dashboard for `healthy_rounds` rounds in a row, counting only
//! results checked after its new container started, within `grace_secs` of that start. It
//! fails at once,
//! without waiting out the grace time, when a container exits or restarts, when a check is
//! down past its failure threshold, or when log_watcher counts more error events than the
//! budget; and it fails with the reason when Docker, healthcheck_dashboard or log_watcher
//! cannot be reached.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use service_kit::peers::{healthcheck, log_watcher};
use tokio_util::sync::CancellationToken;

use super::engine::Engine;
use crate::jobs::output::LiveOutput;
use crate::settings::DeployAction;

/// How often the gate looks.
const TICK: Duration = Duration::from_secs(1);

/// Failed calls in a row to a peer before the gate gives up on it.
const PEER_PATIENCE: u32 = 3;

/// What the gate watches for one service.
#[derive(Debug, Default, Clone)]
struct Watch {
    /// Green rounds in a row.
    streak: u32,
    /// The `last_checked` of the round counted last.
    counted: Option<String>,
    /// The last state seen, for the reason of a timeout.
    last: Option<String>,
}

/// Waits until every service of `deploy` is healthy; `Ok` says how it went, `Err` why not.
/// `started` is when the new containers started (results checked earlier do not count).
pub async fn wait_healthy(
    deploy: &DeployAction,
    engine: &Engine<'_>,
    started: DateTime<Utc>,
    output: &LiveOutput,
    shutdown: &CancellationToken,
) -> Result<String, String> {
    let deadline = started + chrono::Duration::from_std(deploy.grace).unwrap_or_default();
    let mut watches: HashMap<&str, Watch> = deploy
        .services
        .iter()
        .map(|s| (s.as_str(), Watch::default()))
        .collect();
    let mut peer_failures = 0u32;
    loop {
        if shutdown.is_cancelled() {
            return Err("the webhook handler stopped during the health gate".to_string());
        }
        // A command deploy has no containers to look at; its health speaks for it.
        let services = if engine.compose.is_some() {
            deploy.services.as_slice()
        } else {
            &[]
        };
        for service in services {
            let containers = engine.containers(service).await?;
            let newest = containers
                .iter()
                .max_by_key(|c| c.started_at)
                .ok_or_else(|| format!("{service} has no container"))?;
            if let Some(trouble) = newest.trouble(service) {
                return Err(trouble);
            }
        }
        let mut unreachable = None;
        for service in &deploy.services {
            let watch = watches
                .get_mut(service.as_str())
                .expect("one watch per service");
            match healthcheck::check(&deploy.health, service).await {
                Err(err) if err.status() == Some(404) => {
                    return Err(format!(
                        "healthcheck_dashboard at {} has no check named {service}",
                        deploy.health.name()
                    ))
                }
                Err(err) => unreachable = Some(err.to_string()),
                Ok(state) => {
                    let checked = state
                        .last_checked
                        .as_deref()
                        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                        .map(|t| t.with_timezone(&Utc));
                    let fresh = checked.is_some_and(|t| t > started);
                    if !fresh || watch.counted == state.last_checked {
                        continue;
                    }
                    watch.counted = state.last_checked.clone();
                    let error = state.error.clone().unwrap_or_default();
                    watch.last = Some(if error.is_empty() {
                        state.status.clone()
                    } else {
                        format!("{}: {error}", state.status)
                    });
                    if state.status == "up" {
                        watch.streak += 1;
                    } else {
                        watch.streak = 0;
                    }
                    output.note(&format!(
                        "[health] {service} is {} ({}/{} green rounds)",
                        watch.last.as_deref().unwrap_or(""),
                        watch.streak,
                        deploy.healthy_rounds
                    ));
                    let threshold = state.failure_threshold.unwrap_or(3);
                    if state.status == "down" && state.consecutive_failures >= threshold {
                        return Err(format!(
                            "health check {service} is down after {} failures: {}",
                            state.consecutive_failures,
                            if error.is_empty() {
                                "no detail"
                            } else {
                                &error
                            }
                        ));
                    }
                }
            }
        }
        match unreachable {
            Some(reason) => {
                peer_failures += 1;
                if peer_failures >= PEER_PATIENCE {
                    return Err(reason);
                }
            }
            None => peer_failures = 0,
        }
        if let (Some(logs), Some(max)) = (&deploy.logs, deploy.max_error_events) {
            for service in &deploy.services {
                let limit = usize::try_from(max.saturating_add(1))
                    .unwrap_or(usize::MAX)
                    .min(1000);
                let errors = log_watcher::recent_errors(logs, service, started, limit)
                    .await
                    .map_err(|e| e.to_string())?;
                if errors.len() as u64 > max {
                    return Err(format!(
                        "{service} logged {} error event(s) since it started (at most {max} allowed)",
                        errors.len()
                    ));
                }
            }
        }
        if watches.values().all(|w| w.streak >= deploy.healthy_rounds) {
            return Ok(format!(
                "{} up for {} round(s) in a row",
                deploy.services.join(", "),
                deploy.healthy_rounds
            ));
        }
        if Utc::now() >= deadline {
            let lagging: Vec<String> = deploy
                .services
                .iter()
                .filter_map(|s| {
                    let watch = &watches[s.as_str()];
                    (watch.streak < deploy.healthy_rounds).then(|| {
                        format!(
                            "{s} (last: {})",
                            watch
                                .last
                                .as_deref()
                                .unwrap_or("not checked since it started")
                        )
                    })
                })
                .collect();
            return Err(format!(
                "not healthy within {} s of starting: {}",
                deploy.grace.as_secs(),
                lagging.join(", ")
            ));
        }
        tokio::select! {
            _ = tokio::time::sleep(TICK) => {}
            _ = shutdown.cancelled() => {}
        }
    }
}
