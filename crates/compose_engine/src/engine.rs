//! The connection to the Docker Engine (its unix socket only): a Compose project's service
//! containers with their facts, and one container's facts.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use bollard::errors::Error as DockerError;
use bollard::query_parameters::{InspectContainerOptions, ListContainersOptions};
use bollard::Docker;

use crate::facts::ContainerFacts;
use crate::{PROJECT_LABEL, SERVICE_LABEL};

/// How long one request to the engine may take, in seconds.
const REQUEST_TIMEOUT_SECS: u64 = 10;

/// Why the engine could not answer.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// No connection could be set up (a bad socket path).
    #[error("cannot use the Docker socket {socket}: {source}")]
    Connect {
        /// The socket's path.
        socket: PathBuf,
        /// What went wrong.
        source: DockerError,
    },
    /// A request failed (the engine is down, or refused it).
    #[error("the Docker Engine did not answer: {0}")]
    Request(#[from] DockerError),
}

/// A connection to one engine, made at the first request that finds its socket (an engine
/// not started yet, or restarting, is an error of that request, not of the service's start).
#[derive(Debug, Clone)]
pub struct Engine {
    socket: PathBuf,
    client: Arc<Mutex<Option<Docker>>>,
}

impl Engine {
    /// A client of the engine listening on `socket`. Nothing is sent yet.
    pub fn new(socket: &Path) -> Engine {
        Engine {
            socket: socket.to_path_buf(),
            client: Arc::default(),
        }
    }

    /// The socket it talks to.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// The bollard client, for what this crate does not wrap (the event stream).
    pub fn docker(&self) -> Result<Docker, EngineError> {
        let mut client = self.client.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(docker) = client.as_ref() {
            return Ok(docker.clone());
        }
        let docker = Docker::connect_with_unix(
            &self.socket.to_string_lossy(),
            REQUEST_TIMEOUT_SECS,
            bollard::API_DEFAULT_VERSION,
        )
        .map_err(|source| EngineError::Connect {
            socket: self.socket.clone(),
            source,
        })?;
        *client = Some(docker.clone());
        Ok(docker)
    }

    /// Every service container of `project` (of every Compose project when `None`), running
    /// or not, by Compose service name (each service's replicas sorted by name). One-off
    /// (`compose run`) containers are left out.
    pub async fn project_services(
        &self,
        project: Option<&str>,
    ) -> Result<BTreeMap<String, Vec<ContainerFacts>>, EngineError> {
        let label = match project {
            Some(project) => format!("{PROJECT_LABEL}={project}"),
            None => SERVICE_LABEL.to_string(),
        };
        let filters = HashMap::from([("label".to_string(), vec![label])]);
        let listed = self
            .docker()?
            .list_containers(Some(ListContainersOptions {
                all: true,
                filters: Some(filters),
                ..Default::default()
            }))
            .await?;
        let mut services: BTreeMap<String, Vec<ContainerFacts>> = BTreeMap::new();
        for summary in listed {
            let Some(id) = summary.id else { continue };
            // Gone between the list and the inspect: simply not there.
            let Some(facts) = self.container(&id).await? else {
                continue;
            };
            if facts.oneoff {
                continue;
            }
            if let Some(service) = facts.service.clone() {
                services.entry(service).or_default().push(facts);
            }
        }
        for replicas in services.values_mut() {
            replicas.sort_by(|a, b| a.name.cmp(&b.name));
        }
        Ok(services)
    }

    /// One container's facts; `None` when it does not exist (any more).
    pub async fn container(&self, id: &str) -> Result<Option<ContainerFacts>, EngineError> {
        match self
            .docker()?
            .inspect_container(id, None::<InspectContainerOptions>)
            .await
        {
            Ok(inspect) => Ok(ContainerFacts::from_inspect(inspect)),
            Err(DockerError::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(None),
            Err(err) => Err(err.into()),
        }
    }
}
