//! Turns check transitions into alerts: down after `failure_threshold` failures in a row,
//! recovered after `success_threshold` successes, optional reminders while down. Delivery,
//! retries and cooldown are the shared [`service_kit::alert`] dispatcher's job.

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use service_kit::alert::{Alert, AlertDispatcher, DeliveryPolicy, Severity};

use crate::check::{CheckInfo, Outcome, Transition};
use crate::settings::AlertSettings;

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
}

impl Alerter {
    /// An alerter that sends nothing.
    pub fn disabled() -> Alerter {
        Alerter {
            dispatcher: None,
            resolved: true,
            reminder: None,
            link: None,
        }
    }

    /// The alerter `[alerts]` asks for; `link` is the dashboard URL put in messages.
    pub fn new(settings: AlertSettings, link: Option<String>) -> Alerter {
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

    /// Sends the alert a transition calls for, in the background.
    pub fn handle(&self, info: &CheckInfo, transition: &Transition, outcome: &Outcome) {
        let Some(dispatcher) = &self.dispatcher else {
            return;
        };
        if let Some(alert) = self.alert_for(info, transition, outcome, Utc::now()) {
            dispatcher.send_in_background(alert);
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
    fn durations_read_like_a_person_would_say_them() {
        assert_eq!(human_duration(chrono::Duration::seconds(45)), "45s");
        assert_eq!(human_duration(chrono::Duration::seconds(200)), "3m 20s");
        assert_eq!(human_duration(chrono::Duration::seconds(7500)), "2h 5m");
    }
}
