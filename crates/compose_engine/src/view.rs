//! A live view of a Compose project's service containers, kept by the one event subscription
//! ([`crate::events::watch`]): listed in full when the subscription is (re)made, and one
//! container inspected again on each of its events. Checks read it without asking the engine,
//! so 200 containers cost nothing between events; and who else wants the events (a log of
//! lifecycle events, discovery) subscribes to them here rather than opening a second stream.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;

use crate::engine::Engine;
use crate::events::{self, LifecycleAction, LifecycleEvent, WatchMessage};
use crate::facts::ContainerFacts;

/// How long after a `die` the container is inspected again, each time: the engine may set
/// `OOMKilled` a moment after the exit code, later still on a busy machine.
const LOOK_AGAIN_AFTER: [Duration; 3] = [
    Duration::from_secs(1),
    Duration::from_secs(3),
    Duration::from_secs(8),
];

/// What the view holds.
#[derive(Debug, Default)]
struct ViewState {
    /// Service containers by Compose service name.
    services: BTreeMap<String, Vec<ContainerFacts>>,
    /// Why the engine cannot be seen now; `None` while it answers.
    unreachable: Option<String>,
    /// Whether the containers were listed at least once.
    synced: bool,
}

/// The live view; cheap to clone.
#[derive(Debug, Clone)]
pub struct ProjectView {
    project: Option<String>,
    state: Arc<Mutex<ViewState>>,
    changes: watch::Receiver<u64>,
    events: broadcast::Sender<LifecycleEvent>,
}

/// Why the view cannot say what a service's containers are doing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ViewError {
    /// The engine did not answer (its reason).
    #[error("{0}")]
    Unreachable(String),
    /// The first listing has not come yet.
    #[error("waiting for the Docker Engine's first answer")]
    NotYet,
}

impl ProjectView {
    /// Starts following `project` (every Compose project when `None`) until `shutdown`.
    pub fn follow(
        engine: Engine,
        project: Option<String>,
        shutdown: CancellationToken,
    ) -> ProjectView {
        let (changed, changes) = watch::channel(0);
        let (events, _) = broadcast::channel(1024);
        let view = ProjectView {
            project: project.clone(),
            state: Arc::default(),
            changes,
            events,
        };
        let messages = events::watch(engine.clone(), project, shutdown);
        tokio::spawn(view.clone().keep(engine, messages, changed));
        view
    }

    /// The project followed (`None`: every project).
    pub fn project(&self) -> Option<&str> {
        self.project.as_deref()
    }

    /// Every service and its containers, once the engine answered.
    pub fn services(&self) -> Result<BTreeMap<String, Vec<ContainerFacts>>, ViewError> {
        let state = self.lock();
        match (&state.unreachable, state.synced) {
            (Some(reason), _) => Err(ViewError::Unreachable(reason.clone())),
            (None, false) => Err(ViewError::NotYet),
            (None, true) => Ok(state.services.clone()),
        }
    }

    /// One service's containers (none when it has none), waiting up to `within` for the
    /// engine's first answer.
    pub async fn replicas(
        &self,
        service: &str,
        within: Duration,
    ) -> Result<Vec<ContainerFacts>, ViewError> {
        let mut changes = self.changes.clone();
        let deadline = tokio::time::Instant::now() + within;
        loop {
            {
                let state = self.lock();
                if let Some(reason) = &state.unreachable {
                    return Err(ViewError::Unreachable(reason.clone()));
                }
                if state.synced {
                    return Ok(state.services.get(service).cloned().unwrap_or_default());
                }
            }
            match tokio::time::timeout_at(deadline, changes.changed()).await {
                Ok(Ok(())) => {}
                _ => return Err(ViewError::NotYet),
            }
        }
    }

    /// A receiver that sees a new value after every change (a container added, gone or
    /// changed state; the engine lost or back).
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.changes.clone()
    }

    /// The lifecycle events from now on (one-off containers' included).
    pub fn events(&self) -> broadcast::Receiver<LifecycleEvent> {
        self.events.subscribe()
    }

    fn lock(&self) -> MutexGuard<'_, ViewState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn keep(
        self,
        engine: Engine,
        mut messages: tokio::sync::mpsc::Receiver<WatchMessage>,
        changed: watch::Sender<u64>,
    ) {
        let bump = || changed.send_modify(|n| *n = n.wrapping_add(1));
        // A container that died is inspected again a few times ([`LOOK_AGAIN_AFTER`]): the
        // engine may set some of its facts (OOMKilled) after the `die` event, with no event
        // of their own.
        let (again, mut looked_again) = tokio::sync::mpsc::unbounded_channel::<String>();
        loop {
            let message = tokio::select! {
                message = messages.recv() => match message {
                    Some(message) => message,
                    None => return,
                },
                Some(id) = looked_again.recv() => {
                    if let Ok(facts) = engine.container(&id).await {
                        self.replace(&id, facts);
                        bump();
                    }
                    continue;
                }
            };
            match message {
                WatchMessage::Connected => {
                    let listed = engine.project_services(self.project.as_deref()).await;
                    let mut state = self.lock();
                    match listed {
                        Ok(services) => {
                            state.services = services;
                            state.unreachable = None;
                            state.synced = true;
                        }
                        Err(err) => state.unreachable = Some(err.to_string()),
                    }
                }
                WatchMessage::Event(event) => {
                    if !event.oneoff {
                        // A failed inspect leaves the last facts: the next event or
                        // reconnection sets them right.
                        if let Ok(facts) = engine.container(&event.container_id).await {
                            self.replace(&event.container_id, facts);
                        }
                        if matches!(event.action, LifecycleAction::Die { .. }) {
                            let (again, id) = (again.clone(), event.container_id.clone());
                            tokio::spawn(async move {
                                let mut waited = Duration::ZERO;
                                for after in LOOK_AGAIN_AFTER {
                                    tokio::time::sleep(after - waited).await;
                                    waited = after;
                                    if again.send(id.clone()).is_err() {
                                        return;
                                    }
                                }
                            });
                        }
                    }
                    let _ = self.events.send(event);
                }
                WatchMessage::Lost(reason) => self.lock().unreachable = Some(reason),
            }
            bump();
        }
    }

    /// Puts a container's new facts in place of its old ones (removes it when `None`).
    fn replace(&self, id: &str, facts: Option<ContainerFacts>) {
        let mut state = self.lock();
        for replicas in state.services.values_mut() {
            replicas.retain(|f| f.id != id);
        }
        if let Some(facts) = facts.filter(|f| !f.oneoff) {
            if let Some(service) = facts.service.clone() {
                let replicas = state.services.entry(service).or_default();
                replicas.push(facts);
                replicas.sort_by(|a, b| a.name.cmp(&b.name));
            }
        }
        state.services.retain(|_, replicas| !replicas.is_empty());
    }
}
