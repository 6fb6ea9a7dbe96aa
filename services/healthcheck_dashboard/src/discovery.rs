//! Discovery (`[discovery] docker = true`): every service of the Compose project gets a check
//! named after it, with no per-service configuration. A service whose container carries a
//! `sidecars.health.url` label gets that probe (HTTP, TCP or Postgres, with the
//! `sidecars.health.*` settings) behind its container's state; any other gets the `docker`
//! check alone; `sidecars.health.enabled=false` leaves it out, and a configured endpoint of
//! the same name wins. Services that appear, change their labels or disappear are picked up
//! from the project's live view (one event subscription) within moments, without a restart.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use compose_engine::labels::{health_labels, HealthLabels, LabelProbe};
use compose_engine::{ContainerFacts, ProjectView};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::check::{DockerProbe, GuardedProbe, Probe};
use crate::config::{CheckKind, EndpointConfig, StatusSpec};
use crate::history::RestoredHistory;
use crate::scheduler::Scheduler;
use crate::settings::{check, DiscoverySettings};
use crate::state::HealthState;

/// The discovery task's parts.
pub struct Discovery {
    /// The project, defaults and configured names.
    pub settings: DiscoverySettings,
    /// The project's live view (shared with `docker` checks).
    pub view: ProjectView,
    /// Where checks are added and removed.
    pub state: Arc<HealthState>,
    /// Runs the discovered checks.
    pub scheduler: Arc<Scheduler>,
    /// History read at start of checks not configured: a discovered check takes its own.
    pub restored: HashMap<String, RestoredHistory>,
}

/// A discovered check that runs.
struct Running {
    /// Its labels as they were when it was made: a change makes it again.
    fingerprint: String,
    /// Stops its task.
    stop: CancellationToken,
}

impl Discovery {
    /// Keeps the discovered checks in step with the project until `shutdown`. A check task
    /// that panics is passed on (the supervisor then stops the service).
    pub async fn run(mut self, shutdown: CancellationToken) {
        let mut changes = self.view.changes();
        let mut running: BTreeMap<String, Running> = BTreeMap::new();
        let mut tasks = JoinSet::new();
        let mut warned = HashSet::new();
        loop {
            if let Ok(services) = self.view.services() {
                self.reconcile(&services, &mut running, &mut tasks, &mut warned, &shutdown);
            }
            tokio::select! {
                _ = shutdown.cancelled() => break,
                changed = changes.changed() => if changed.is_err() { break },
                Some(done) = tasks.join_next(), if !tasks.is_empty() => {
                    if let Err(err) = done {
                        if err.is_panic() {
                            std::panic::resume_unwind(err.into_panic());
                        }
                    }
                }
            }
        }
        while tasks.join_next().await.is_some() {}
    }

    /// Adds the checks of new services, remakes those whose labels changed, removes those of
    /// services gone.
    fn reconcile(
        &mut self,
        services: &BTreeMap<String, Vec<ContainerFacts>>,
        running: &mut BTreeMap<String, Running>,
        tasks: &mut JoinSet<()>,
        warned: &mut HashSet<String>,
        shutdown: &CancellationToken,
    ) {
        let wanted: BTreeMap<&str, String> = services
            .iter()
            .filter(|(service, _)| !self.settings.configured.contains(*service))
            .filter_map(|(service, replicas)| {
                let labels = &replicas.first()?.labels;
                let enabled = health_labels(labels).map_or(true, |h| h.enabled);
                enabled.then(|| (service.as_str(), fingerprint(labels)))
            })
            .collect();
        let stale: Vec<String> = running
            .iter()
            .filter(|(name, check)| wanted.get(name.as_str()) != Some(&check.fingerprint))
            .map(|(name, _)| name.clone())
            .collect();
        for name in stale {
            if let Some(check) = running.remove(&name) {
                check.stop.cancel();
            }
            self.state.remove(&name);
            if !wanted.contains_key(name.as_str()) {
                tracing::info!(
                    check = %name,
                    project = %self.settings.project,
                    "Service gone from the project; its check is removed."
                );
            }
        }
        for (service, fingerprint) in wanted {
            if running.contains_key(service) {
                continue;
            }
            let labels = &services[service][0].labels;
            let Some(made) = self.make_check(service, labels, warned) else {
                continue;
            };
            let Some(made) = self.state.add(made) else {
                continue;
            };
            tracing::info!(
                check = service,
                project = %self.settings.project,
                kind = made.info.kind,
                target = %made.info.target,
                "Service discovered; checking it."
            );
            let stop = shutdown.child_token();
            let (scheduler, task_stop) = (self.scheduler.clone(), stop.clone());
            tasks.spawn(async move { scheduler.run_check(made, task_stop).await });
            running.insert(service.to_string(), Running { fingerprint, stop });
        }
    }

    /// The check of `service` from its labels; a bad label is said once in the log, and the
    /// service is then checked by its container alone.
    fn make_check(
        &mut self,
        service: &str,
        labels: &BTreeMap<String, String>,
        warned: &mut HashSet<String>,
    ) -> Option<crate::check::Check> {
        let project = self.settings.project.clone();
        let health = health_labels(labels).unwrap_or_else(|err| {
            if warned.insert(format!("{service}: {err}")) {
                tracing::warn!(service, error = %err, "A health label is invalid; the service is checked by its container alone.");
            }
            HealthLabels {
                enabled: true,
                probe: None,
            }
        });
        let key = |field: &str| format!("service {service} (project {project}): {field}");
        let endpoint = endpoint_for(service, &project, health.probe.as_ref());
        let mut made = match check(&endpoint, &self.settings.defaults, key) {
            Ok(made) => made,
            Err(err) => {
                if warned.insert(format!("{service}: {err}")) {
                    tracing::warn!(service, error = %err, "A health label cannot be used; the service is checked by its container alone.");
                }
                check(
                    &endpoint_for(service, &project, None),
                    &self.settings.defaults,
                    key,
                )
                .ok()?
            }
        };
        if !matches!(made.probe, Probe::Docker(_)) {
            let container = DockerProbe {
                service: service.to_string(),
                project: Some(project.clone()),
                timeout: Duration::from_millis(self.settings.defaults.timeout_ms),
            };
            let probe = std::mem::replace(&mut made.probe, Probe::Docker(container.clone()));
            made.probe = Probe::Guarded(Box::new(GuardedProbe { container, probe }));
        }
        made.info.discovered = true;
        made.info.project = Some(project);
        if let Some(past) = self.restored.remove(service) {
            made.lock()
                .restore(past.hourly, past.recent, past.last_error);
        }
        Some(made)
    }
}

/// The endpoint a discovered service stands for: its label probe, or its container alone.
fn endpoint_for(service: &str, project: &str, probe: Option<&LabelProbe>) -> EndpointConfig {
    let mut endpoint = EndpointConfig {
        name: service.to_string(),
        url: None,
        kind: CheckKind::Docker,
        timeout_ms: None,
        interval_secs: None,
        method: None,
        headers: BTreeMap::new(),
        expected_status: Vec::new(),
        body_contains: None,
        json: BTreeMap::new(),
        degraded_ms: None,
        failure_threshold: None,
        success_threshold: None,
        cert_expiry_warn_days: None,
        tls_verify: None,
        command: None,
        service: Some(service.to_string()),
        project: Some(project.to_string()),
    };
    if let Some(probe) = probe {
        endpoint.url = Some(probe.url.clone());
        endpoint.kind = match probe.kind.as_str() {
            "tcp" => CheckKind::Tcp,
            "postgres" => CheckKind::Postgres,
            _ => CheckKind::Http,
        };
        endpoint.interval_secs = probe.interval.map(|i| i.as_secs().max(1));
        endpoint.timeout_ms = probe
            .timeout
            .map(|t| u64::try_from(t.as_millis()).unwrap_or(u64::MAX).max(1));
        endpoint.expected_status = probe
            .expected_status
            .iter()
            .flat_map(|codes| codes.split(','))
            .map(|code| StatusSpec::Text(code.trim().to_string()))
            .collect();
        endpoint.degraded_ms = probe.degraded_ms;
    }
    endpoint
}

/// The labels that make a discovered check, in one string: equal when nothing changed.
fn fingerprint(labels: &BTreeMap<String, String>) -> String {
    labels
        .iter()
        .filter(|(key, _)| key.starts_with("sidecars.health."))
        .map(|(key, value)| format!("{key}={value}\n"))
        .collect()
}
