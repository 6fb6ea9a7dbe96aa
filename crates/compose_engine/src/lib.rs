//! A Compose project as the Docker Engine sees it, for the sidecars that watch it without
//! per-service configuration (discovery) and that see container lifecycle.
//!
//! - [`facts`]: what one container is doing now ([`ContainerFacts`], from an inspect).
//! - [`verdict`]: up, degraded or down for a container, and why, in words a person reads.
//! - [`labels`]: the `sidecars.health.*` and `sidecars.logs.*` labels a service carries.
//! - [`engine`]: the connection: a project's containers and one container's facts.
//! - [`events`]: the one lifecycle event subscription of a process, reconnecting with
//!   backoff, as typed [`LifecycleEvent`]s.
//! - [`view`]: a live view of a project's containers kept by that subscription, which checks
//!   read without asking the engine.
//! - [`restart_loop`]: N starts of one service within M minutes.

pub mod engine;
pub mod events;
pub mod facts;
pub mod labels;
pub mod restart_loop;
pub mod verdict;
pub mod view;

pub use engine::{Engine, EngineError};
pub use events::{LifecycleAction, LifecycleEvent, WatchMessage};
pub use facts::{ContainerFacts, HealthState, RunState};
pub use restart_loop::RestartLoops;
pub use verdict::{ContainerStatus, Verdict};
pub use view::{ProjectView, ViewError};

/// The label Compose puts on every container of a project, with the project's name.
pub const PROJECT_LABEL: &str = "com.docker.compose.project";

/// The label Compose puts on every container, with its service's name.
pub const SERVICE_LABEL: &str = "com.docker.compose.service";

/// The label Compose puts on `docker compose run` containers (`True`), which are no service.
pub const ONEOFF_LABEL: &str = "com.docker.compose.oneoff";

/// Where the engine listens unless told otherwise.
pub const DEFAULT_SOCKET: &str = "/var/run/docker.sock";
