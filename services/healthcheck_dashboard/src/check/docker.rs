//! `docker` checks: a Compose service's containers as the Docker Engine reports them. Up
//! when running (and healthy, if it has a HEALTHCHECK); degraded while that HEALTHCHECK is
//! starting or just after a restart; down when exited (with the exit code, and for 137
//! whether the OOM killer did it), restarting, unhealthy or missing. The detail shows
//! uptime and restart count.
//!
//! A check reads the live [`ProjectView`] of its project (one event subscription per
//! project, shared by every check of it) and never asks the engine itself: a thousand
//! checks of two hundred containers cost nothing between container events.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use compose_engine::verdict::{judge_replicas, RECENT_RESTART};
use compose_engine::{ContainerStatus, Engine, ProjectView};
use tokio_util::sync::CancellationToken;

use super::probe::FieldProblem;
use super::{HttpClients, Outcome, Probe, Status};
use crate::config::EndpointConfig;

/// A configured `docker` check.
#[derive(Debug, Clone)]
pub struct DockerProbe {
    /// The Compose service (the `service` key, else the check's name).
    pub service: String,
    /// The Compose project (the `project` key, else `[docker] project`); `None` matches the
    /// service in any project.
    pub project: Option<String>,
    /// How long to wait for the engine's first answer.
    pub timeout: Duration,
}

impl DockerProbe {
    /// The probe of `endpoint`, whose project defaults to `default_project`.
    pub fn new(
        endpoint: &EndpointConfig,
        default_project: Option<&str>,
        timeout: Duration,
    ) -> Result<DockerProbe, FieldProblem> {
        let service = endpoint.service.as_deref().unwrap_or(&endpoint.name).trim();
        if service.is_empty() {
            return Err(("service", "must not be empty".to_string()));
        }
        let project = endpoint
            .project
            .as_deref()
            .or(default_project)
            .map(str::trim)
            .filter(|p| !p.is_empty());
        Ok(DockerProbe {
            service: service.to_string(),
            project: project.map(str::to_string),
            timeout,
        })
    }

    /// `project/service`, or the service alone.
    pub fn target(&self) -> String {
        match &self.project {
            Some(project) => format!("{project}/{}", self.service),
            None => self.service.clone(),
        }
    }

    /// Judges the service's containers as the view has them now.
    pub async fn run(&self, views: &ContainerViews) -> Outcome {
        let started = Instant::now();
        let view = views.view(self.project.as_deref());
        let replicas = match view.replicas(&self.service, self.timeout).await {
            Ok(replicas) => replicas,
            Err(err) => {
                return Outcome::down(started.elapsed(), format!("Docker Engine: {err}"));
            }
        };
        let verdict = judge_replicas(&replicas, chrono::Utc::now(), RECENT_RESTART);
        let mut outcome = Outcome::up(started.elapsed()).with_detail(verdict.detail);
        outcome.status = match verdict.status {
            ContainerStatus::Up => Status::Up,
            ContainerStatus::Degraded => Status::Degraded,
            ContainerStatus::Down => Status::Down,
        };
        outcome.error = verdict.reason;
        outcome
    }
}

/// A discovered service's own probe (its `sidecars.health.url`) behind its container's
/// state: a stopped container is down with its exit reason, not a refused connection; a
/// passing probe of a container that just restarted is degraded.
#[derive(Debug, Clone)]
pub struct GuardedProbe {
    /// The container's check.
    pub container: DockerProbe,
    /// The service's own probe, run only while the container is not down.
    pub probe: Probe,
}

impl GuardedProbe {
    /// The container's verdict first; the probe's outcome when the container is not down.
    pub async fn run(&self, clients: &HttpClients, containers: &ContainerViews) -> Outcome {
        let container = self.container.run(containers).await;
        if container.status == Status::Down {
            return container;
        }
        let mut outcome = self.probe.run(clients, containers).await;
        if outcome.status == Status::Up && container.status == Status::Degraded {
            outcome.status = Status::Degraded;
            outcome.error = container.error;
        }
        outcome
    }
}

/// The live views of the projects that checks ask about, each made at the first check of
/// its project, all from one engine socket.
#[derive(Debug)]
pub struct ContainerViews {
    engine: Engine,
    shutdown: CancellationToken,
    views: Mutex<HashMap<Option<String>, ProjectView>>,
}

impl Default for ContainerViews {
    /// Views of the default socket that stop with the runtime (for tests and one-off runs).
    fn default() -> Self {
        ContainerViews::new(
            compose_engine::DEFAULT_SOCKET.into(),
            CancellationToken::new(),
        )
    }
}

impl ContainerViews {
    /// Views of the engine at `socket`, followed until `shutdown`.
    pub fn new(socket: PathBuf, shutdown: CancellationToken) -> ContainerViews {
        ContainerViews {
            engine: Engine::new(&socket),
            shutdown,
            views: Mutex::default(),
        }
    }

    /// The view of `project` (every project when `None`), started if it is not yet.
    pub fn view(&self, project: Option<&str>) -> ProjectView {
        let mut views = self.views.lock().unwrap_or_else(|e| e.into_inner());
        views
            .entry(project.map(str::to_string))
            .or_insert_with(|| {
                ProjectView::follow(
                    self.engine.clone(),
                    project.map(str::to_string),
                    self.shutdown.clone(),
                )
            })
            .clone()
    }
}
