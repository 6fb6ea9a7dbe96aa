//! Telling people how a job ended, through the shared alert sinks: each hook's `notify`
//! targets hear about the outcomes in its `notify_on`; the `[alerts]` targets hear about
//! every failed job of every hook (with the cooldown of `[alerts]` per hook). A message names
//! the hook, repository, ref, commit, state and duration, and carries the last lines of the
//! job's output. Each delivery prints the spec's `Notification sent to Discord.`

use std::collections::HashMap;
use std::time::Duration;

use service_kit::alert::{
    Alert, AlertDispatcher, AlertStats, DeliveryPolicy, Dispatch, Severity, SinkFlavour,
};
use tokio_util::task::TaskTracker;

use crate::event_log;
use crate::jobs::record::{JobRecord, JobState};
use crate::settings::{notifies, Hook, Settings};

/// The `source` of every message this service sends.
pub const SOURCE: &str = "webhook_handler";

/// Lines of output a message carries.
pub const OUTPUT_LINES: usize = 20;

/// Sends job outcomes.
pub struct Notifier {
    /// Each hook's own targets (no cooldown: every job is its own message).
    per_hook: HashMap<String, AlertDispatcher>,
    /// The `[alerts]` targets, for failures of every hook.
    failures: Option<AlertDispatcher>,
    /// Where a job can be looked at, without its id (`https://hooks.example.com/jobs/`).
    link_base: Option<String>,
    /// Deliveries under way, so shutdown can wait for them.
    tasks: TaskTracker,
}

impl Notifier {
    /// Builds the dispatchers from the settings.
    pub fn new(settings: &Settings) -> Notifier {
        let per_hook = settings
            .hooks
            .iter()
            .filter(|hook| !hook.notify.is_empty())
            .map(|hook| {
                let policy = DeliveryPolicy {
                    cooldown: Duration::ZERO,
                    ..DeliveryPolicy::default()
                };
                (
                    hook.id.clone(),
                    AlertDispatcher::new(hook.notify.clone(), policy),
                )
            })
            .collect();
        let failures = (!settings.failure_alerts.is_empty()).then(|| {
            AlertDispatcher::new(
                settings.failure_alerts.clone(),
                DeliveryPolicy {
                    cooldown: settings.alerts_cooldown,
                    ..DeliveryPolicy::default()
                },
            )
        });
        Notifier {
            per_hook,
            failures,
            link_base: settings
                .public_url
                .as_ref()
                .map(|url| format!("{}/jobs/", url.trim_end_matches('/'))),
            tasks: TaskTracker::new(),
        }
    }

    /// Announces how `job` of `hook` ended, in the background; `evidence` is the failing
    /// services' own error lines (deploys).
    pub fn announce(
        &self,
        hook: &Hook,
        job: &JobRecord,
        last_lines: String,
        evidence: Option<&str>,
    ) {
        let succeeded = job.state == JobState::Succeeded;
        let alert = self.alert(job, &last_lines, evidence);
        if notifies(&hook.notify_on, succeeded) {
            if let Some(dispatcher) = self.per_hook.get(&hook.id) {
                self.spawn(dispatcher.clone(), alert.clone());
            }
        }
        if !succeeded {
            if let Some(dispatcher) = &self.failures {
                let mut failure = alert;
                failure.key = format!("hook:{}:failure", hook.id);
                self.spawn(dispatcher.clone(), failure);
            }
        }
    }

    fn spawn(&self, dispatcher: AlertDispatcher, alert: Alert) {
        self.tasks.spawn(async move {
            if let Dispatch::Delivered { sinks, failed } = dispatcher.send(alert).await {
                for described in sinks {
                    event_log::info(&format!(
                        "Notification sent to {}.",
                        label(&dispatcher, &described)
                    ));
                }
                for (described, error) in failed {
                    event_log::warn(&format!(
                        "Notification to {} failed: {error}",
                        label(&dispatcher, &described)
                    ));
                }
            }
        });
    }

    fn alert(&self, job: &JobRecord, last_lines: &str, evidence: Option<&str>) -> Alert {
        let facts = &job.facts;
        let (severity, verb) = match job.state {
            JobState::Succeeded => (Severity::Info, "succeeded"),
            JobState::RolledBack => (Severity::Warning, "failed and was rolled back"),
            JobState::RollbackFailed => (Severity::Critical, "failed and its rollback failed"),
            JobState::Interrupted => (Severity::Critical, "was interrupted"),
            _ => (Severity::Critical, "failed"),
        };
        let mut text = job.reason.clone().unwrap_or_default();
        if let Some(lines) = evidence.filter(|l| !l.trim().is_empty()) {
            if !text.is_empty() {
                text.push_str("\n\n");
            }
            text.push_str("Error lines from log_watcher:\n");
            text.push_str(lines);
        }
        if !last_lines.trim().is_empty() {
            if !text.is_empty() {
                text.push_str("\n\n");
            }
            text.push_str("Last lines of output:\n");
            text.push_str(last_lines);
        }
        let mut fields = vec![("hook".to_string(), job.hook.clone())];
        let optional = [
            ("repo", facts.repo.clone()),
            ("ref", facts.git_ref.clone()),
            ("commit", facts.commit.clone()),
        ];
        fields.extend(
            optional
                .into_iter()
                .filter_map(|(name, value)| value.map(|v| (name.to_string(), v))),
        );
        fields.push(("state".to_string(), job.state.as_str().to_string()));
        if let Some(ms) = job.duration_ms {
            fields.push(("duration".to_string(), service_kit::html::duration_ms(ms)));
        }
        fields.push(("job".to_string(), job.id.to_string()));
        Alert {
            key: format!("job:{}", job.id),
            source: SOURCE.to_string(),
            title: format!(
                "Job {} of hook {} {verb}: {}",
                job.id,
                job.hook,
                facts.describe()
            ),
            text,
            severity,
            fields,
            link: self
                .link_base
                .as_ref()
                .map(|base| format!("{base}{}", job.id)),
        }
    }

    /// Waits up to `within` for deliveries under way.
    pub async fn drain(&self, within: Duration) {
        self.tasks.close();
        let _ = tokio::time::timeout(within, self.tasks.wait()).await;
    }

    /// Delivery counters of every dispatcher, summed.
    pub fn stats(&self) -> AlertStats {
        self.per_hook
            .values()
            .chain(self.failures.as_ref())
            .map(AlertDispatcher::stats)
            .fold(AlertStats::default(), |a, b| AlertStats {
                sent: a.sent + b.sent,
                failed: a.failed + b.failed,
                suppressed: a.suppressed + b.suppressed,
            })
    }
}

/// How the log line names a sink: `Discord`, `Slack`, else its safe description (the
/// webhook URL without secrets, the email addresses).
fn label(dispatcher: &AlertDispatcher, described: &str) -> String {
    let flavour = dispatcher
        .sinks()
        .iter()
        .find(|sink| sink.describe() == described)
        .map(|sink| sink.flavour());
    match flavour {
        Some(SinkFlavour::Discord) => "Discord".to_string(),
        Some(SinkFlavour::Slack) => "Slack".to_string(),
        _ => described.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_lines_name_chat_services_by_name_and_other_sinks_by_their_safe_description() {
        use service_kit::alert::{Sink, SmtpSettings};
        let sinks = vec![
            Sink::discord("http://127.0.0.1:1/api/webhooks/1/tok").unwrap(),
            Sink::slack("http://127.0.0.1:1/services/T/B/secret").unwrap(),
            Sink::webhook("https://hooks.example.com/deploys?token=abc").unwrap(),
            Sink::email(
                SmtpSettings::default(),
                "from@example.com",
                &["ops@example.com".to_string()],
            )
            .unwrap(),
        ];
        let dispatcher = AlertDispatcher::new(sinks.clone(), DeliveryPolicy::default());
        let labels: Vec<String> = sinks
            .iter()
            .map(|s| label(&dispatcher, s.describe()))
            .collect();
        assert_eq!(labels[..2], ["Discord", "Slack"]);
        assert_eq!(labels[2], "https://hooks.example.com/deploys");
        assert_eq!(labels[3], "ops@example.com");
    }
}
