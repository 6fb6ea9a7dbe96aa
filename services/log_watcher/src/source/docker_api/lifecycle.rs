//! Container lifecycle as log events of their own (service = the Compose service), from the
//! same event subscription the source follows containers with:
//! - `die`: `container exited with code N` (error when N is not 0, info otherwise), worded as
//!   the dashboard's `docker` check words it (`(OOM-killed)` after an `oom`, `(killed)` for
//!   another 137, `(terminated)` for 143), with the container's last lines before it died
//!   attached, so one alert shows why it died;
//! - `oom`: critical;
//! - a restart loop: critical once a service started `restart_loop_starts` times within
//!   `restart_loop_window`;
//! - `health_status`: `unhealthy` (error, with the HEALTHCHECK's last output), `healthy`
//!   (info; "healthy again" after unhealthy).
//!
//! They reach `/logs`, the stream, the dashboard and the alert rules like any event. Each is
//! sent from a task of its own (the last lines and the HEALTHCHECK output are asked of the
//! engine first), so the event loop never waits.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use bollard::container::LogOutput;
use bollard::query_parameters::{InspectContainerOptions, LogsOptions};
use bollard::Docker;
use compose_engine::verdict::ended_how;
use compose_engine::{HealthState, LifecycleAction, LifecycleEvent, RestartLoops};
use futures_util::StreamExt;
use tokio::sync::mpsc;

use crate::batch::Batch;
use crate::event::LogEvent;
use crate::parse::Level;

/// How long asking for a dead container's last lines may take.
const ASK_TIMEOUT: Duration = Duration::from_secs(5);

/// `[log_sources.docker_api]`'s lifecycle settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LifecycleSettings {
    /// Lines before a death attached to its `die` event (`last_lines`, default 20; 0: none).
    pub last_lines: usize,
    /// Starts within [`restart_loop_window`](Self::restart_loop_window) that make a loop.
    pub restart_loop_starts: u32,
    /// The window of a restart loop.
    pub restart_loop_window: Duration,
}

impl Default for LifecycleSettings {
    fn default() -> Self {
        LifecycleSettings {
            last_lines: 20,
            restart_loop_starts: 3,
            restart_loop_window: Duration::from_secs(300),
        }
    }
}

/// The events' names for the engine's event filter.
pub const ACTIONS: [&str; 3] = ["die", "oom", "health_status"];

/// Turns lifecycle events into log events.
#[derive(Debug)]
pub struct Lifecycle {
    settings: LifecycleSettings,
    loops: RestartLoops,
    /// Containers whose last `oom` was not followed by their `die` yet.
    oom_killed: HashSet<String>,
    /// The last HEALTHCHECK verdict per container.
    health: HashMap<String, HealthState>,
    /// The writer.
    batches: mpsc::Sender<Batch>,
}

impl Lifecycle {
    /// Lifecycle events sent to `batches`.
    pub fn new(settings: LifecycleSettings, batches: mpsc::Sender<Batch>) -> Lifecycle {
        Lifecycle {
            loops: RestartLoops::new(settings.restart_loop_starts, settings.restart_loop_window),
            settings,
            oom_killed: HashSet::new(),
            health: HashMap::new(),
            batches,
        }
    }

    /// Handles one event of a chosen container named `service`.
    pub fn on_event(&mut self, docker: &Docker, event: LifecycleEvent, service: &str) {
        let service: Arc<str> = Arc::from(service);
        let id = event.container_id.clone();
        match &event.action {
            LifecycleAction::Start => {
                if let Some(starts) = self.loops.on_start(&service, event.time) {
                    let window = humantime::format_duration(self.settings.restart_loop_window);
                    self.send_now(LogEvent {
                        id: 0,
                        timestamp: event.time,
                        service,
                        level: Level::Critical,
                        message: format!(
                            "restart loop: the container started {starts} times within {window}"
                        ),
                    });
                }
            }
            LifecycleAction::Oom => {
                self.oom_killed.insert(id);
                self.send_now(LogEvent {
                    id: 0,
                    timestamp: event.time,
                    service,
                    level: Level::Critical,
                    message: "container ran out of memory (OOM killer)".to_string(),
                });
            }
            LifecycleAction::Die { exit_code } => {
                let oom_seen = self.oom_killed.remove(&id);
                let exit_code = *exit_code;
                let (docker, batches, lines) = (
                    docker.clone(),
                    self.batches.clone(),
                    self.settings.last_lines,
                );
                let time = event.time;
                tokio::spawn(async move {
                    // The engine's `oom` event may come after the `die`: its OOMKilled flag
                    // is asked too, for a 137.
                    let oom = oom_seen
                        || (exit_code == Some(137)
                            && facts(&docker, &id).await.is_some_and(|f| f.oom_killed));
                    let (level, ended) = match exit_code {
                        Some(0) if !oom => (Level::Info, ended_how(0, false)),
                        Some(code) => (Level::Error, ended_how(code, oom)),
                        None => (Level::Error, "exited".to_string()),
                    };
                    let event = LogEvent {
                        id: 0,
                        timestamp: time,
                        service,
                        level,
                        message: format!("container {ended}"),
                    };
                    let event = with_last_lines(event, &docker, &id, lines).await;
                    send(&batches, event).await;
                });
            }
            LifecycleAction::Health(state) => {
                let before = self.health.insert(id.clone(), *state);
                let (level, message) = match state {
                    HealthState::Unhealthy => (Level::Error, "HEALTHCHECK unhealthy".to_string()),
                    HealthState::Healthy if before == Some(HealthState::Unhealthy) => {
                        (Level::Info, "HEALTHCHECK healthy again".to_string())
                    }
                    HealthState::Healthy => (Level::Info, "HEALTHCHECK healthy".to_string()),
                    HealthState::Starting => return,
                };
                let event = LogEvent {
                    id: 0,
                    timestamp: event.time,
                    service,
                    level,
                    message,
                };
                let (docker, batches) = (docker.clone(), self.batches.clone());
                let unhealthy = *state == HealthState::Unhealthy;
                tokio::spawn(async move {
                    let event = if unhealthy {
                        with_health_output(event, &docker, &id).await
                    } else {
                        event
                    };
                    send(&batches, event).await;
                });
            }
            LifecycleAction::Destroy => {
                self.oom_killed.remove(&id);
                self.health.remove(&id);
            }
            _ => {}
        }
    }

    fn send_now(&self, event: LogEvent) {
        let batches = self.batches.clone();
        tokio::spawn(async move { send(&batches, event).await });
    }
}

async fn send(batches: &mpsc::Sender<Batch>, event: LogEvent) {
    let _ = batches
        .send(Batch {
            events: vec![event],
            ..Batch::default()
        })
        .await;
}

/// `event` with the container's last `lines` lines (stdout and stderr) appended.
async fn with_last_lines(mut event: LogEvent, docker: &Docker, id: &str, lines: usize) -> LogEvent {
    if lines == 0 {
        return event;
    }
    let mut stream = docker.logs(
        id,
        Some(LogsOptions {
            stdout: true,
            stderr: true,
            tail: lines.to_string(),
            ..Default::default()
        }),
    );
    let mut text = Vec::new();
    let collected = tokio::time::timeout(ASK_TIMEOUT, async {
        while let Some(Ok(frame)) = stream.next().await {
            if let LogOutput::StdOut { message } | LogOutput::StdErr { message } = frame {
                text.extend_from_slice(&message);
            }
        }
    })
    .await;
    let text = String::from_utf8_lossy(&text);
    let last: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let last = &last[last.len().saturating_sub(lines)..];
    if last.is_empty() {
        if collected.is_err() {
            event
                .message
                .push_str(" (its last lines could not be read in time)");
        }
        return event;
    }
    event.message.push_str(&format!(
        "; its last {} before it died:",
        if last.len() == 1 {
            "line".to_string()
        } else {
            format!("{} lines", last.len())
        }
    ));
    for line in last {
        event.message.push_str("\n    ");
        event.message.push_str(line);
    }
    event
}

/// The container's facts as the engine tells them now; `None` when it does not answer in time.
async fn facts(docker: &Docker, id: &str) -> Option<compose_engine::ContainerFacts> {
    let inspect = docker.inspect_container(id, None::<InspectContainerOptions>);
    match tokio::time::timeout(ASK_TIMEOUT, inspect).await {
        Ok(Ok(inspect)) => compose_engine::ContainerFacts::from_inspect(inspect),
        _ => None,
    }
}

/// `event` with the HEALTHCHECK's last output appended (`HEALTHCHECK unhealthy: ...`).
async fn with_health_output(mut event: LogEvent, docker: &Docker, id: &str) -> LogEvent {
    if let Some(output) = facts(docker, id).await.and_then(|f| f.health_output) {
        event.message.push_str(": ");
        event.message.push_str(&output);
    }
    event
}
