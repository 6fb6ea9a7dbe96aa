//! [`Probe`]: one endpoint's check, built once from its config entry and run on every tick.
//! Running never panics and never hangs: every failure, timeout included, becomes an
//! [`Outcome`] with [`Status::Down`](super::Status::Down) and an error text.

use std::time::{Duration, Instant};

use super::command::CommandProbe;
use super::docker::{ContainerViews, DockerProbe, GuardedProbe};
use super::http::{HttpClients, HttpProbe};
use super::postgres::PostgresProbe;
use super::tcp::TcpProbe;
use super::{Outcome, Secrets};
use crate::config::{CheckKind, EndpointConfig};

/// A config problem found while building a probe: the endpoint's field and what is wrong
/// with it (the caller names the endpoint, see [`crate::settings`]).
pub type FieldProblem = (&'static str, String);

/// A configured check, ready to run.
#[derive(Debug, Clone)]
pub enum Probe {
    /// HTTP(S) request with status/body/JSON expectations.
    Http(HttpProbe),
    /// TCP connect.
    Tcp(TcpProbe),
    /// Postgres connect + `SELECT 1`.
    Postgres(PostgresProbe),
    /// A local command; exit 0 is up.
    Command(CommandProbe),
    /// A Compose service's containers.
    Docker(DockerProbe),
    /// A discovered service's probe behind its container's state.
    Guarded(Box<GuardedProbe>),
}

impl Probe {
    /// Builds the probe for `endpoint` (its time limit defaulting to `default_timeout_ms`,
    /// a `docker` check's project to `default_project`), or names the field that is wrong.
    pub fn from_endpoint(
        endpoint: &EndpointConfig,
        default_timeout_ms: u64,
        default_project: Option<&str>,
    ) -> Result<Probe, FieldProblem> {
        let timeout = Duration::from_millis(endpoint.timeout_ms.unwrap_or(default_timeout_ms));
        let url = || {
            endpoint
                .url
                .as_deref()
                .map(str::trim)
                .filter(|u| !u.is_empty())
                .ok_or(("url", "is required for this type".to_string()))
        };
        Ok(match endpoint.kind {
            CheckKind::Http | CheckKind::Https => {
                Probe::Http(HttpProbe::new(endpoint, url()?, timeout)?)
            }
            CheckKind::Tcp => Probe::Tcp(TcpProbe::new(url()?, timeout)?),
            CheckKind::Postgres => Probe::Postgres(PostgresProbe::new(url()?, timeout)?),
            CheckKind::Command => Probe::Command(CommandProbe::new(endpoint, timeout)?),
            CheckKind::Docker => {
                Probe::Docker(DockerProbe::new(endpoint, default_project, timeout)?)
            }
        })
    }

    /// Runs the check once. Never panics, never outlives its timeout by more than a moment.
    /// HTTP checks use `clients`, `docker` checks read `containers`.
    pub async fn run(&self, clients: &HttpClients, containers: &ContainerViews) -> Outcome {
        let limit = self.timeout() + Duration::from_millis(500);
        let started = Instant::now();
        let run = async {
            match self {
                Probe::Http(p) => p.run(clients.for_probe(p)).await,
                Probe::Tcp(p) => p.run().await,
                Probe::Postgres(p) => p.run().await,
                Probe::Command(p) => p.run().await,
                Probe::Docker(p) => p.run(containers).await,
                // Boxed: this runs a `Probe` again, and a future cannot hold itself.
                Probe::Guarded(p) => Box::pin(p.run(clients, containers)).await,
            }
        };
        // Each probe enforces its own timeout; this outer one is the guarantee that a probe
        // with a bug cannot hold a scheduler slot forever.
        let outcome = match tokio::time::timeout(limit, run).await {
            Ok(outcome) => outcome,
            Err(_) => Outcome::down(
                started.elapsed(),
                format!("timed out after {} ms", self.timeout().as_millis()),
            ),
        };
        self.scrubbed(outcome)
    }

    /// `outcome` with the check's secrets removed from its texts: the one gate every
    /// outcome passes before state, history, alerts and logs see it.
    fn scrubbed(&self, mut outcome: Outcome) -> Outcome {
        if let Some(secrets) = self.secrets().filter(|s| !s.is_empty()) {
            outcome.error = outcome.error.map(|text| secrets.scrub(&text));
            outcome.detail = outcome.detail.map(|text| secrets.scrub(&text));
        }
        outcome
    }

    /// The secret values the check carries, if its type can carry any.
    pub fn secrets(&self) -> Option<&Secrets> {
        match self {
            Probe::Http(p) => Some(&p.secrets),
            Probe::Tcp(_) => None,
            Probe::Postgres(p) => Some(&p.secrets),
            Probe::Command(p) => Some(&p.secrets),
            Probe::Docker(_) => None,
            Probe::Guarded(p) => p.probe.secrets(),
        }
    }

    /// The Compose project of a `docker` check (or of a discovered check's container).
    pub fn project(&self) -> Option<&str> {
        match self {
            Probe::Docker(p) => p.project.as_deref(),
            Probe::Guarded(p) => p.container.project.as_deref(),
            _ => None,
        }
    }

    /// The configured time limit.
    pub fn timeout(&self) -> Duration {
        match self {
            Probe::Http(p) => p.timeout,
            Probe::Tcp(p) => p.timeout,
            Probe::Postgres(p) => p.timeout,
            Probe::Command(p) => p.timeout,
            Probe::Docker(p) => p.timeout,
            Probe::Guarded(p) => p.probe.timeout(),
        }
    }

    /// The check type name shown in views, metrics and alerts (`http` for both `http` and
    /// `https` endpoints, `tcp`, `postgres`, `command`).
    pub fn kind(&self) -> &'static str {
        match self {
            Probe::Http(_) => "http",
            Probe::Tcp(_) => "tcp",
            Probe::Postgres(_) => "postgres",
            Probe::Command(_) => "command",
            Probe::Docker(_) => "docker",
            Probe::Guarded(p) => p.probe.kind(),
        }
    }

    /// What is probed, safe to show (credentials masked).
    pub fn target(&self) -> String {
        match self {
            Probe::Http(p) => p
                .secrets
                .scrub(&service_kit::redact::redact_url(p.url.as_str())),
            Probe::Tcp(p) => p.address.clone(),
            Probe::Postgres(p) => p.secrets.scrub(&p.display),
            Probe::Command(p) => p.shown(),
            Probe::Docker(p) => p.target(),
            Probe::Guarded(p) => p.probe.target(),
        }
    }
}
