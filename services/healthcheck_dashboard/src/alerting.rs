//! Turns check transitions into alerts: down after `failure_threshold` failures in a row,
//! recovered after `success_threshold` successes, optional reminders while down. Delivery,
//! retries and cooldown are the shared [`service_kit::alert`] dispatcher's job.
//!
//! A down alert carries the evidence when `[peers] log_watcher` is set: that service's last
//! error lines, fetched from log_watcher in the alert's own task (never in the scheduler's),
//! so a slow or absent log_watcher delays the alert by at most the peer timeout and never
//! stops it. Alerts a maintenance window holds back are logged and counted here
//! ([`Alerter::hold_back`]).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use service_kit::alert::{Alert, AlertDispatcher, DeliveryPolicy, Severity};
use service_kit::peers::log_watcher::{format_lines, recent_errors, LogEvent, ERROR_LINES};
use service_kit::peers::{Peer, PeerError, PEER_TIMEOUT};
use tokio_util::task::TaskTracker;

use crate::check::{CheckInfo, Outcome, Transition};
use crate::settings::AlertSettings;

/// The line above the error lines in a down alert's text.
pub const EVIDENCE_HEADING: &str = "Last errors from log_watcher:";

/// The `source` of every alert this service sends.
pub const SOURCE: &str = "healthcheck_dashboard";

/// Announces transitions through the configured sinks.
pub struct Alerter {
    /// Delivery, cooldown and retries; `None` when alerts are off.
    dispatcher: Option<AlertDispatcher>,
    /// Whether recoveries are announced.
    resolved: bool,
    /// How often to remind while down, if at all.
    reminder: Option<Duration>,
    /// The dashboard URL put in messages.
    link: Option<String>,
    /// log_watcher, whose error lines down alerts carry (`[peers] log_watcher`).
    log_watcher: Option<Peer>,
    /// Alerts a maintenance window held back.
    held_back: AtomicU64,
    /// Alerts waiting for their error lines, so shutdown can wait for them too.
    pending: TaskTracker,
}

impl Alerter {
    /// An alerter that sends nothing.
    pub fn disabled() -> Alerter {
        Alerter {
            dispatcher: None,
            resolved: true,
            reminder: None,
            link: None,
            log_watcher: None,
            held_back: AtomicU64::new(0),
            pending: TaskTracker::new(),
        }
    }

    /// The alerter `[alerts]` asks for; `link` is the dashboard URL put in messages, and
    /// down alerts carry error lines from `log_watcher` when it is set.
    pub fn new(
        settings: AlertSettings,
        link: Option<String>,
        log_watcher: Option<Peer>,
    ) -> Alerter {
        if !settings.enabled {
            return Alerter::disabled();
        }
        if settings.sinks.is_empty() {
            tracing::warn!("[alerts] is enabled but names no webhook, slack, discord or email; alerts go nowhere.");
        }
        let policy = DeliveryPolicy {
            cooldown: settings.cooldown,
            ..DeliveryPolicy::default()
        };
        Alerter {
            dispatcher: Some(AlertDispatcher::new(settings.sinks, policy)),
            resolved: settings.resolved,
            reminder: settings.reminder,
            link,
            log_watcher,
            held_back: AtomicU64::new(0),
            pending: TaskTracker::new(),
        }
    }

    /// How often to remind while down, if at all.
    pub fn reminder(&self) -> Option<Duration> {
        self.reminder
    }

    /// The dispatcher, for its counters.
    pub fn dispatcher(&self) -> Option<&AlertDispatcher> {
        self.dispatcher.as_ref()
    }

    /// Whether down alerts carry error lines from log_watcher.
    pub fn has_log_watcher(&self) -> bool {
        self.log_watcher.is_some()
    }

    /// Alerts a maintenance window held back so far.
    pub fn held_back(&self) -> u64 {
        self.held_back.load(Ordering::Relaxed)
    }

    /// Sends the alert a transition calls for, in the background. A down alert with
    /// `[peers] log_watcher` set first fetches the service's error lines since
    /// `evidence_since`, in its own task.
    pub fn handle(
        &self,
        info: &CheckInfo,
        transition: &Transition,
        outcome: &Outcome,
        evidence_since: DateTime<Utc>,
    ) {
        let Some(dispatcher) = &self.dispatcher else {
            return;
        };
        let Some(mut alert) = self.alert_for(info, transition, outcome, Utc::now()) else {
            return;
        };
        let down = matches!(
            transition,
            Transition::WentDown { .. } | Transition::StillDown { .. }
        );
        match &self.log_watcher {
            Some(peer) if down => {
                let peer = peer.clone();
                let dispatcher = dispatcher.clone();
                let service = info.name.clone();
                self.pending.spawn(async move {
                    let errors = fetch_errors(&peer, &service, evidence_since).await;
                    alert.text = with_evidence(&alert.text, &errors);
                    dispatcher.send(alert).await;
                });
            }
            _ => dispatcher.send_in_background(alert),
        }
    }

    /// Logs and counts the alert a transition would have sent, had a maintenance window not
    /// covered the service.
    pub fn hold_back(&self, info: &CheckInfo, transition: &Transition, outcome: &Outcome) {
        if self.dispatcher.is_none() {
            return;
        }
        if let Some(alert) = self.alert_for(info, transition, outcome, Utc::now()) {
            self.held_back.fetch_add(1, Ordering::Relaxed);
            tracing::info!(
                check = &*info.name,
                alert = %alert.title,
                "Alert held back: a maintenance window covers the service."
            );
        }
    }

    /// Waits, for at most `within`, until every alert on its way (fetching error lines or
    /// being delivered) has gone out.
    pub async fn drain(&self, within: Duration) {
        let deadline = tokio::time::Instant::now() + within;
        self.pending.close();
        if tokio::time::timeout_at(deadline, self.pending.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                pending = self.pending.len(),
                "Alerts still fetching their error lines at shutdown."
            );
        }
        self.pending.reopen();
        if let Some(dispatcher) = &self.dispatcher {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            dispatcher.drain(left).await;
        }
    }

    /// The alert for a transition, if it calls for one.
    pub fn alert_for(
        &self,
        info: &CheckInfo,
        transition: &Transition,
        outcome: &Outcome,
        now: DateTime<Utc>,
    ) -> Option<Alert> {
        let name = &*info.name;
        let link = self.link.clone();
        let base_fields = |state: &str| {
            vec![
                ("service".to_string(), name.to_string()),
                ("state".to_string(), state.to_string()),
                (
                    "check".to_string(),
                    format!("{} {}", info.kind, info.target),
                ),
            ]
        };
        match transition {
            Transition::None => None,
            Transition::WentDown { since, error } | Transition::StillDown { since, error } => {
                let reminder = matches!(transition, Transition::StillDown { .. });
                let mut fields = base_fields("down");
                fields.push(("error".to_string(), error.clone()));
                fields.push((
                    "since".to_string(),
                    since.to_rfc3339_opts(SecondsFormat::Secs, true),
                ));
                fields.push((
                    "response_time_ms".to_string(),
                    outcome.elapsed.as_millis().to_string(),
                ));
                Some(Alert {
                    // One key per incident: a new outage is never hidden by an old one's cooldown;
                    // reminders share a key so the cooldown limits them.
                    key: if reminder {
                        format!("health:{name}:reminder")
                    } else {
                        format!("health:{name}:down:{}", since.timestamp())
                    },
                    source: SOURCE.to_string(),
                    title: if reminder {
                        format!("{name} is still DOWN")
                    } else {
                        format!("{name} is DOWN")
                    },
                    text: format!(
                        "{name} has been failing since {} ({}): {error}",
                        since.to_rfc3339_opts(SecondsFormat::Secs, true),
                        human_duration(now - *since)
                    ),
                    severity: Severity::Critical,
                    fields,
                    link,
                })
            }
            Transition::Recovered { down_since } => {
                if !self.resolved {
                    return None;
                }
                let downtime = human_duration(now - *down_since);
                let mut fields = base_fields("up");
                fields.push((
                    "down_since".to_string(),
                    down_since.to_rfc3339_opts(SecondsFormat::Secs, true),
                ));
                fields.push(("downtime".to_string(), downtime.clone()));
                Some(Alert {
                    key: format!("health:{name}:recovered:{}", down_since.timestamp()),
                    source: SOURCE.to_string(),
                    title: format!("{name} recovered"),
                    text: format!("{name} is up again after {downtime} down."),
                    severity: Severity::Resolved,
                    fields,
                    link,
                })
            }
        }
    }
}

/// The error events of `service` since `since` from log_watcher, within the peer timeout.
async fn fetch_errors(
    peer: &Peer,
    service: &str,
    since: DateTime<Utc>,
) -> Result<Vec<LogEvent>, PeerError> {
    // The client has this timeout too; this one also bounds anything around the request.
    tokio::time::timeout(
        PEER_TIMEOUT,
        recent_errors(peer, service, since, ERROR_LINES),
    )
    .await
    .unwrap_or_else(|_| {
        Err(PeerError::Unreachable {
            peer: peer.name(),
            reason: format!("no answer within {} s", PEER_TIMEOUT.as_secs()),
        })
    })
}

/// A down alert's text with the evidence below it: the error lines under
/// [`EVIDENCE_HEADING`], or one line saying there were none or why they are missing.
pub fn with_evidence(text: &str, errors: &Result<Vec<LogEvent>, PeerError>) -> String {
    match errors {
        Ok(events) if events.is_empty() => {
            format!(
                "{text}\n\nNo error lines from log_watcher for this service since it was last up."
            )
        }
        Ok(events) => format!("{text}\n\n{EVIDENCE_HEADING}\n{}", format_lines(events)),
        Err(error) => {
            format!("{text}\n\nNo error lines: log_watcher could not be asked ({error}).")
        }
    }
}

/// `3m 20s`, `2h 5m`, `45s`.
pub fn human_duration(duration: chrono::Duration) -> String {
    let secs = duration.num_seconds().max(0);
    match secs {
        0..=59 => format!("{secs}s"),
        60..=3599 => format!("{}m {}s", secs / 60, secs % 60),
        _ => format!("{}h {}m", secs / 3600, (secs % 3600) / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evidence_goes_under_its_heading_or_says_in_one_line_why_it_is_missing() {
        let event = LogEvent {
            timestamp: "2024-06-12T01:23:45Z".into(),
            service: "api".into(),
            level: "error".into(),
            message: "Database connection failed".into(),
        };
        assert_eq!(
            with_evidence("api is down", &Ok(vec![event])),
            "api is down\n\nLast errors from log_watcher:\n01:23:45Z [error] Database connection failed"
        );
        let unreachable = Err(PeerError::Unreachable {
            peer: "http://log_watcher:9200".into(),
            reason: "connection refused".into(),
        });
        let text = with_evidence("api is down", &unreachable);
        assert_eq!(text.lines().count(), 3, "{text}");
        assert!(text.ends_with(
            "log_watcher could not be asked (http://log_watcher:9200 unreachable: connection refused)."
        ));
        assert_eq!(with_evidence("x", &Ok(vec![])).lines().count(), 3);
    }

    #[test]
    fn durations_read_like_a_person_would_say_them() {
        assert_eq!(human_duration(chrono::Duration::seconds(45)), "45s");
        assert_eq!(human_duration(chrono::Duration::seconds(200)), "3m 20s");
        assert_eq!(human_duration(chrono::Duration::seconds(7500)), "2h 5m");
    }
}
