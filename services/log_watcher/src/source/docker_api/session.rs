//! One connection to the engine: the containers to follow at the start, the `start` and
//! `destroy` events after it, and one follow request per container, restarted when it ends
//! while the container still runs. It ends when the event stream fails (the engine went
//! away) or the service stops, after every follow request has ended and reported where it
//! stopped.

use std::collections::HashMap;
use std::time::Duration;

use bollard::models::{ContainerSummaryStateEnum, EventMessage};
use bollard::query_parameters::{EventsOptions, InspectContainerOptions, ListContainersOptions};
use bollard::Docker;
use compose_engine::LifecycleEvent;
use futures_util::StreamExt;
use service_kit::backoff::Backoff;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::follower::{self, FollowEnd, FollowOutcome, FollowRequest};
use super::lifecycle;
use super::selector::{self, ContainerInfo};
use super::{ContainerStatus, DockerApiSource, SessionEnd, FIRST_BACKOFF, MAX_BACKOFF};
use crate::decode::DecodeSettings;

/// A follow request that ends sooner than this while its container runs is retried after a
/// growing delay instead of at once, so a log that cannot be read costs no busy loop.
const QUICK_END: Duration = Duration::from_secs(1);

/// How long asking whether a container still runs may take.
const QUICK_CALL: Duration = Duration::from_secs(5);

/// The work of one connection.
pub(super) struct Session<'a> {
    /// The source: configuration, checkpoints, status.
    source: &'a mut DockerApiSource,
    /// The connection.
    docker: Docker,
    /// The service stops.
    shutdown: CancellationToken,
    /// Ends every follow request of this connection.
    stop: CancellationToken,
    /// The follow requests.
    followers: JoinSet<FollowOutcome>,
    /// Containers with a follow request, and when it started (or will, after its delay).
    following: HashMap<String, Instant>,
    /// Failed or quickly ended requests in a row, per container, for the retry delay.
    retries: HashMap<String, Backoff>,
}

impl<'a> Session<'a> {
    pub(super) fn new(
        source: &'a mut DockerApiSource,
        docker: Docker,
        shutdown: &CancellationToken,
    ) -> Session<'a> {
        Session {
            source,
            docker,
            shutdown: shutdown.clone(),
            stop: shutdown.child_token(),
            followers: JoinSet::new(),
            following: HashMap::new(),
            retries: HashMap::new(),
        }
    }

    /// Follows until the engine goes away or the service stops; then stops every follow
    /// request and keeps the checkpoints they report.
    pub(super) async fn run(mut self) -> SessionEnd {
        let end = self.follow().await;
        self.stop.cancel();
        while let Some(done) = self.followers.join_next().await {
            if let Ok(outcome) = done {
                self.source
                    .checkpoints
                    .insert(outcome.container.id.clone(), outcome.checkpoint);
            }
        }
        end
    }

    async fn follow(&mut self) -> SessionEnd {
        let labels = self.source.selector.label_filters();
        // Events from a second ago on: the engine replays what happened between then and
        // the moment the stream is first read, so a container that starts while the list
        // below is fetched is not missed (one listed and started is followed once).
        let mut actions = vec!["start".to_string(), "destroy".to_string()];
        if self.source.lifecycle.is_some() {
            actions.extend(lifecycle::ACTIONS.iter().map(|a| a.to_string()));
        }
        let mut filters = HashMap::from([
            ("type".to_string(), vec!["container".to_string()]),
            ("event".to_string(), actions),
        ]);
        if !labels.is_empty() {
            filters.insert("label".to_string(), labels.clone());
        }
        let mut events = self.docker.events(Some(EventsOptions {
            since: Some((chrono::Utc::now().timestamp() - 1).to_string()),
            filters: Some(filters),
            ..Default::default()
        }));
        let list = ListContainersOptions {
            all: true,
            filters: (!labels.is_empty()).then(|| HashMap::from([("label".to_string(), labels)])),
            ..Default::default()
        };
        let listed = tokio::select! {
            listed = self.docker.list_containers(Some(list)) => match listed {
                Ok(listed) => listed,
                Err(err) => return SessionEnd::Lost(err.to_string()),
            },
            _ = self.shutdown.cancelled() => return SessionEnd::Shutdown,
        };
        for summary in listed {
            let Some(id) = summary.id.as_deref() else {
                continue;
            };
            let labels = summary.labels.clone().unwrap_or_default();
            let name = summary
                .names
                .as_ref()
                .and_then(|n| n.first())
                .map_or("", String::as_str);
            let alive = matches!(
                summary.state,
                Some(
                    ContainerSummaryStateEnum::RUNNING
                        | ContainerSummaryStateEnum::PAUSED
                        | ContainerSummaryStateEnum::RESTARTING
                )
            );
            // A stopped container only to finish reading one read before (see the module
            // documentation of `source::docker_api`).
            if alive || self.source.checkpoints.contains_key(id) {
                let info = ContainerInfo::new(id, name, &labels);
                if self.chosen(&info, &labels) {
                    self.start(info, Duration::ZERO);
                }
            }
        }
        self.source.publish();
        loop {
            tokio::select! {
                _ = self.shutdown.cancelled() => return SessionEnd::Shutdown,
                event = events.next() => match event {
                    Some(Ok(event)) => self.on_event(event),
                    Some(Err(err)) => return SessionEnd::Lost(err.to_string()),
                    None => return SessionEnd::Lost("the engine closed the event stream".to_string()),
                },
                Some(done) = self.followers.join_next(), if !self.followers.is_empty() => {
                    if let Ok(outcome) = done {
                        self.on_follow_end(outcome).await;
                    }
                }
            }
            self.source.publish();
        }
    }

    /// Follows a container that started; forgets one that was removed. (A stopped
    /// container's follow request ends by itself with its log.)
    fn on_event(&mut self, event: EventMessage) {
        self.on_lifecycle(&event);
        let Some(actor) = event.actor else { return };
        let Some(id) = actor.id else { return };
        // Container events carry the name and every label as attributes.
        let attributes = actor.attributes.unwrap_or_default();
        let name = attributes.get("name").map_or("", String::as_str);
        match event.action.as_deref() {
            Some("start") => {
                let info = ContainerInfo::new(&id, name, &attributes);
                if self.chosen(&info, &attributes) {
                    self.start(info, Duration::ZERO);
                }
            }
            Some("destroy") => {
                self.retries.remove(&id);
                if self.source.status.containers.remove(&id).is_some() {
                    tracing::info!(container = %name, "Container removed; no longer followed.");
                }
            }
            _ => {}
        }
    }

    /// Hands a chosen container's lifecycle event on (when lifecycle events are on).
    fn on_lifecycle(&mut self, message: &EventMessage) {
        let Some(lifecycle) = self.source.lifecycle.as_mut() else {
            return;
        };
        let Some(event) = LifecycleEvent::from_message(message) else {
            return;
        };
        let attributes = message
            .actor
            .as_ref()
            .and_then(|a| a.attributes.clone())
            .unwrap_or_default();
        let info = ContainerInfo::new(&event.container_id, &event.name, &attributes);
        if self.source.selector.selects(&info, &attributes) {
            lifecycle.on_event(&self.docker, event, &info.service);
        }
    }

    /// Whether `info` is to be followed here: chosen by the config, and not read by the
    /// file source.
    fn chosen(&self, info: &ContainerInfo, labels: &HashMap<String, String>) -> bool {
        if !self.source.selector.selects(info, labels) {
            return false;
        }
        if selector::read_by_file_source(self.source.docker_logs_dir.as_deref(), &info.id) {
            tracing::debug!(container = %info.name, "Its json-file log is read from docker_logs_dir; not through the API.");
            return false;
        }
        true
    }

    /// Starts a follow request for `info` after `delay`, unless one runs.
    fn start(&mut self, info: ContainerInfo, delay: Duration) {
        if self.following.contains_key(&info.id) {
            return;
        }
        let from = self.source.checkpoints.get(&info.id).cloned();
        if delay.is_zero() {
            tracing::info!(
                container = %info.name,
                service = %info.service,
                resumed = from.is_some(),
                "Following container log."
            );
        }
        let status = self
            .source
            .status
            .containers
            .entry(info.id.clone())
            .or_insert_with(|| ContainerStatus {
                info: info.clone(),
                following: false,
                error: None,
            });
        status.following = true;
        self.following
            .insert(info.id.clone(), Instant::now() + delay);
        let settings = self.decode_settings(&info);
        self.followers.spawn(follower::follow(FollowRequest {
            docker: self.docker.clone(),
            container: info,
            from,
            filter: self.source.filter.clone(),
            settings,
            batches: self.source.batches.clone(),
            stop: self.stop.clone(),
            shutdown: self.shutdown.clone(),
            delay,
        }));
    }

    /// The decoding of `info`'s log: the source's, with the start pattern of its
    /// `sidecars.logs.multiline_start` label (a bad one is said in the log and left out).
    fn decode_settings(&self, info: &ContainerInfo) -> DecodeSettings {
        let mut settings = self.source.settings.clone();
        let Some(pattern) = &info.multiline_start else {
            return settings;
        };
        match regex::Regex::new(pattern) {
            Ok(start) => {
                let mut multiline = settings.multiline.take().unwrap_or_default();
                multiline.start_pattern = Some(start);
                settings.multiline = Some(multiline);
            }
            Err(err) => tracing::warn!(
                container = %info.name,
                label = "sidecars.logs.multiline_start",
                error = %err,
                "A multiline label is not a valid regex; the default joining is used."
            ),
        }
        settings
    }

    /// A follow request ended: keep its checkpoint, and follow again if the container still
    /// runs (at once after a normal end, after a growing delay after a failure).
    async fn on_follow_end(&mut self, outcome: FollowOutcome) {
        let id = outcome.container.id.clone();
        let started = self.following.remove(&id);
        self.source
            .checkpoints
            .insert(id.clone(), outcome.checkpoint);
        if outcome.end == FollowEnd::Stopped {
            return;
        }
        // Bounded, so that a hung engine cannot hold up events or a shutdown for long.
        let inspect = self
            .docker
            .inspect_container(&id, None::<InspectContainerOptions>);
        let running = match tokio::time::timeout(QUICK_CALL, inspect).await {
            Ok(Ok(inspected)) => inspected.state.and_then(|s| s.running).unwrap_or(false),
            // Removed (404), or the engine is going away and the event stream will say so.
            Ok(Err(_)) | Err(_) => false,
        };
        let failure = match &outcome.end {
            FollowEnd::Failed(err) => Some(err.clone()),
            _ => None,
        };
        if let Some(status) = self.source.status.containers.get_mut(&id) {
            status.following = running;
            status.error = failure.clone();
        }
        if !running {
            self.retries.remove(&id);
            return;
        }
        let quick = started.is_some_and(|at| at.elapsed() < QUICK_END);
        let backoff = self
            .retries
            .entry(id)
            .or_insert_with(|| Backoff::new(FIRST_BACKOFF, MAX_BACKOFF));
        if failure.is_none() && !quick {
            backoff.reset();
            self.start(outcome.container, Duration::ZERO);
            return;
        }
        if let (Some(err), 0) = (&failure, backoff.failures()) {
            tracing::warn!(container = %outcome.container.name, error = %err, "Cannot read a container's log; retrying.");
        }
        let delay = backoff.next_delay();
        self.start(outcome.container, delay);
    }
}
