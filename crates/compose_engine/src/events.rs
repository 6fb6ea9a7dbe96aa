//! The one lifecycle event subscription of a process: container events of a project (or of
//! every container), typed, from one engine connection that is made again with backoff when
//! the engine goes away. No polling: between events nothing is asked.
//!
//! The consumer gets [`WatchMessage::Connected`] each time the subscription is (re)made, and
//! should list the containers then, since events during an outage may be gone; events are
//! asked for from the last one seen (or a second before the first connection), so the
//! engine replays what it still holds of the gap.

use std::collections::HashMap;
use std::time::Duration;

use bollard::models::{EventMessage, EventMessageTypeEnum};
use bollard::query_parameters::EventsOptions;
use chrono::{DateTime, TimeZone, Utc};
use futures_util::StreamExt;
use service_kit::backoff::Backoff;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::engine::Engine;
use crate::facts::HealthState;
use crate::{ONEOFF_LABEL, PROJECT_LABEL, SERVICE_LABEL};

/// The first wait before connecting again.
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
/// The longest wait before connecting again.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// What happened to a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LifecycleAction {
    /// Created (not started yet).
    Create,
    /// Its process started (also after a restart).
    Start,
    /// `docker restart` or a restart policy restarted it.
    Restart,
    /// Its process ended, with this exit code.
    Die {
        /// The exit code, when the engine said it.
        exit_code: Option<i64>,
    },
    /// The OOM killer hit a process of it.
    Oom,
    /// A signal was sent to it.
    Kill {
        /// The signal's name or number, as the engine said it.
        signal: Option<String>,
    },
    /// Stopped on request.
    Stop,
    /// Its HEALTHCHECK turned to this.
    Health(HealthState),
    /// Paused.
    Pause,
    /// Unpaused.
    Unpause,
    /// Removed.
    Destroy,
}

impl LifecycleAction {
    /// The engine's name of the action (`die`, `health_status`, ...).
    pub fn as_str(&self) -> &'static str {
        match self {
            LifecycleAction::Create => "create",
            LifecycleAction::Start => "start",
            LifecycleAction::Restart => "restart",
            LifecycleAction::Die { .. } => "die",
            LifecycleAction::Oom => "oom",
            LifecycleAction::Kill { .. } => "kill",
            LifecycleAction::Stop => "stop",
            LifecycleAction::Health(_) => "health_status",
            LifecycleAction::Pause => "pause",
            LifecycleAction::Unpause => "unpause",
            LifecycleAction::Destroy => "destroy",
        }
    }
}

/// The actions subscribed to (the engine's names).
const ACTIONS: [&str; 11] = [
    "create",
    "start",
    "restart",
    "die",
    "oom",
    "kill",
    "stop",
    "health_status",
    "pause",
    "unpause",
    "destroy",
];

/// One container event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LifecycleEvent {
    /// The container's id.
    pub container_id: String,
    /// The container's name.
    pub name: String,
    /// Its Compose project, if any.
    pub project: Option<String>,
    /// Its Compose service, if any.
    pub service: Option<String>,
    /// Whether it is a one-off (`compose run`) container.
    pub oneoff: bool,
    /// What happened.
    pub action: LifecycleAction,
    /// When, as the engine says.
    pub time: DateTime<Utc>,
}

impl LifecycleEvent {
    /// The event of an engine message; `None` for other types or actions (exec_*, ...).
    pub fn from_message(message: &EventMessage) -> Option<LifecycleEvent> {
        if message.typ != Some(EventMessageTypeEnum::CONTAINER) {
            return None;
        }
        let actor = message.actor.as_ref()?;
        let empty = HashMap::new();
        let attributes = actor.attributes.as_ref().unwrap_or(&empty);
        let action = message.action.as_deref()?;
        let action = match action {
            "create" => LifecycleAction::Create,
            "start" => LifecycleAction::Start,
            "restart" => LifecycleAction::Restart,
            "die" => LifecycleAction::Die {
                exit_code: attributes.get("exitCode").and_then(|c| c.parse().ok()),
            },
            "oom" => LifecycleAction::Oom,
            "kill" => LifecycleAction::Kill {
                signal: attributes.get("signal").cloned(),
            },
            "stop" => LifecycleAction::Stop,
            "pause" => LifecycleAction::Pause,
            "unpause" => LifecycleAction::Unpause,
            "destroy" => LifecycleAction::Destroy,
            // `health_status: healthy` (the status is in the action itself).
            other => {
                let status = other.strip_prefix("health_status:")?;
                LifecycleAction::Health(HealthState::parse(status)?)
            }
        };
        let time = match (message.time_nano, message.time) {
            (Some(nanos), _) => Utc.timestamp_nanos(nanos),
            (None, Some(secs)) => Utc.timestamp_opt(secs, 0).single()?,
            (None, None) => Utc::now(),
        };
        Some(LifecycleEvent {
            container_id: actor.id.clone()?,
            name: attributes.get("name").cloned().unwrap_or_default(),
            project: attributes.get(PROJECT_LABEL).cloned(),
            service: attributes.get(SERVICE_LABEL).cloned(),
            oneoff: attributes
                .get(ONEOFF_LABEL)
                .is_some_and(|v| v.eq_ignore_ascii_case("true")),
            action,
            time,
        })
    }

    /// The name people know it by: its Compose service, else its container name.
    pub fn display_name(&self) -> &str {
        self.service.as_deref().unwrap_or(&self.name)
    }
}

/// What the watch hands its consumer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchMessage {
    /// The subscription is (again) in place: list the containers now.
    Connected,
    /// A container event.
    Event(LifecycleEvent),
    /// The engine went away (or refused); the watch tries again with backoff.
    Lost(String),
}

/// Starts the watch of `project`'s containers (every container when `None`) and returns its
/// messages. It runs until `shutdown` or until the receiver is dropped.
pub fn watch(
    engine: Engine,
    project: Option<String>,
    shutdown: CancellationToken,
) -> mpsc::Receiver<WatchMessage> {
    let (messages, received) = mpsc::channel(1024);
    tokio::spawn(run(engine, project, shutdown, messages));
    received
}

async fn run(
    engine: Engine,
    project: Option<String>,
    shutdown: CancellationToken,
    messages: mpsc::Sender<WatchMessage>,
) {
    let mut backoff = Backoff::new(FIRST_BACKOFF, MAX_BACKOFF);
    // A second back, so that what happens while the consumer lists is not missed.
    let mut since = Utc::now().timestamp() - 1;
    loop {
        let lost = tokio::select! {
            _ = shutdown.cancelled() => return,
            lost = subscribe(&engine, project.as_deref(), &mut since, &messages, &mut backoff) => lost,
        };
        let Some(lost) = lost else { return };
        if messages.send(WatchMessage::Lost(lost)).await.is_err() {
            return;
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(backoff.next_delay()) => {}
        }
    }
}

/// One subscription: `Some(reason)` when it was lost, `None` when the consumer is gone.
async fn subscribe(
    engine: &Engine,
    project: Option<&str>,
    since: &mut i64,
    messages: &mpsc::Sender<WatchMessage>,
    backoff: &mut Backoff,
) -> Option<String> {
    // The event stream shows a dead engine only when read: a ping says it at once.
    let docker = match engine.docker() {
        Ok(docker) => docker,
        Err(err) => return Some(err.to_string()),
    };
    if let Err(err) = docker.ping().await {
        return Some(format!("the Docker Engine did not answer: {err}"));
    }
    let mut filters = HashMap::from([
        ("type".to_string(), vec!["container".to_string()]),
        (
            "event".to_string(),
            ACTIONS.iter().map(|a| a.to_string()).collect(),
        ),
    ]);
    if let Some(project) = project {
        filters.insert(
            "label".to_string(),
            vec![format!("{PROJECT_LABEL}={project}")],
        );
    }
    let mut events = docker.events(Some(EventsOptions {
        since: Some(since.to_string()),
        filters: Some(filters),
        ..Default::default()
    }));
    messages.send(WatchMessage::Connected).await.ok()?;
    loop {
        match events.next().await {
            Some(Ok(message)) => {
                backoff.reset();
                if let Some(time) = message.time {
                    *since = (*since).max(time);
                }
                if let Some(event) = LifecycleEvent::from_message(&message) {
                    messages.send(WatchMessage::Event(event)).await.ok()?;
                }
            }
            Some(Err(err)) => return Some(err.to_string()),
            None => return Some("the engine closed the event stream".to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use bollard::models::EventActor;

    use super::*;

    fn message(action: &str, attributes: &[(&str, &str)]) -> EventMessage {
        EventMessage {
            typ: Some(EventMessageTypeEnum::CONTAINER),
            action: Some(action.to_string()),
            actor: Some(EventActor {
                id: Some("c0ffee".to_string()),
                attributes: Some(
                    attributes
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                ),
            }),
            time: Some(1_795_000_000),
            time_nano: Some(1_795_000_000_123_000_000),
            ..Default::default()
        }
    }

    #[test]
    fn a_die_carries_its_exit_code_and_the_compose_names() {
        let event = LifecycleEvent::from_message(&message(
            "die",
            &[
                ("exitCode", "137"),
                ("name", "shop-worker-1"),
                (PROJECT_LABEL, "shop"),
                (SERVICE_LABEL, "worker"),
            ],
        ))
        .unwrap();
        assert_eq!(
            event.action,
            LifecycleAction::Die {
                exit_code: Some(137)
            }
        );
        assert_eq!(event.display_name(), "worker");
        assert_eq!(event.project.as_deref(), Some("shop"));
        assert_eq!(event.container_id, "c0ffee");
        assert_eq!(event.time.timestamp_subsec_millis(), 123);
    }

    #[test]
    fn health_status_is_read_from_the_action_itself() {
        let event =
            LifecycleEvent::from_message(&message("health_status: unhealthy", &[("name", "x")]))
                .unwrap();
        assert_eq!(
            event.action,
            LifecycleAction::Health(HealthState::Unhealthy)
        );
        assert_eq!(event.action.as_str(), "health_status");
        assert_eq!(event.display_name(), "x");
    }

    #[test]
    fn other_actions_and_types_are_not_lifecycle_events() {
        assert!(LifecycleEvent::from_message(&message("exec_start: sh", &[])).is_none());
        let mut network = message("connect", &[]);
        network.typ = Some(EventMessageTypeEnum::NETWORK);
        assert!(LifecycleEvent::from_message(&network).is_none());
    }

    #[test]
    fn every_subscribed_action_is_understood() {
        for action in ACTIONS {
            let action = if action == "health_status" {
                "health_status: healthy"
            } else {
                action
            };
            assert!(
                LifecycleEvent::from_message(&message(action, &[])).is_some(),
                "{action}"
            );
        }
    }
}
