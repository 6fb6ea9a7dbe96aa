//! `[hooks.deploy]` as the service runs it ([`DeployAction`]): the Compose file checked to
//! exist and to have every named service, the project name resolved as Compose resolves it,
//! the update chosen, healthcheck_dashboard and log_watcher as clients.

use std::path::{Path, PathBuf};
use std::time::Duration;

use service_kit::config::{env_string, ConfigError};
use service_kit::peers::Peer;
use service_kit::secret::Secret;

use crate::config::{DeployConfig, UpdateConfig};

/// A health-gated deploy that rolls back by itself.
#[derive(Debug, Clone)]
pub struct DeployAction {
    /// What is deployed: Compose services, or whatever the commands act on.
    pub target: Target,
    /// The services touched (in the Compose file; the names of their health checks).
    pub services: Vec<String>,
    /// How the new version is made.
    pub update: Update,
    /// healthcheck_dashboard, whose checks are named like the services.
    pub health: Peer,
    /// Consecutive green rounds each service needs.
    pub healthy_rounds: u32,
    /// Time to reach them, from the new containers' start.
    pub grace: Duration,
    /// log_watcher, for error lines and the error budget.
    pub logs: Option<Peer>,
    /// More error events than this since the start fail the deploy.
    pub max_error_events: Option<u64>,
    /// Roll back a failed deploy.
    pub rollback: bool,
}

/// What a deploy acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Services of a Compose project: their image ids are recorded, `up -d` starts them.
    Compose {
        /// The Compose file.
        file: PathBuf,
        /// The project name: given, else `COMPOSE_PROJECT_NAME`, else Compose's folder rule.
        project: String,
    },
    /// Anything else, through commands: `record` says what runs now, `update` changes it,
    /// `restore` brings back what `record` said.
    Commands {
        /// Prints what runs now (its first line is kept).
        record: Vec<String>,
        /// Brings it back (given in `WEBHOOK_PREVIOUS`).
        restore: Vec<String>,
    },
}

impl Target {
    /// In a few words: the Compose file, or `commands`.
    pub fn describe(&self) -> String {
        match self {
            Target::Compose { file, .. } => file.display().to_string(),
            Target::Commands { .. } => "commands".to_string(),
        }
    }
}

/// How the new version of the services is made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Update {
    /// `compose pull SERVICES`.
    Pull,
    /// `compose build SERVICES`.
    Build,
    /// A program that produces the new image (for instance by tagging one).
    Command(Vec<String>),
}

impl Update {
    /// In a few words, for the job's steps.
    pub fn describe(&self) -> String {
        match self {
            Update::Pull => "pull".to_string(),
            Update::Build => "build".to_string(),
            Update::Command(argv) => argv.join(" "),
        }
    }
}

/// Checks and builds `[hooks.deploy]`; `key` names its fields (`hooks[0] ("app").deploy.x`).
pub fn build(
    raw: &DeployConfig,
    key: &dyn Fn(&str) -> String,
) -> Result<DeployAction, ConfigError> {
    let field = |name: &str| key(&format!("deploy.{name}"));
    if raw.services.is_empty() {
        return Err(ConfigError::new(
            field("services"),
            "must name at least one service",
        ));
    }
    let argv =
        |name: &str, value: &Option<Vec<String>>| -> Result<Option<Vec<String>>, ConfigError> {
            match value {
                Some(argv) if argv.first().is_none_or(|p| p.trim().is_empty()) => {
                    Err(ConfigError::new(field(name), "must name a program"))
                }
                other => Ok(other.clone()),
            }
        };
    let record = argv("record", &raw.record)?;
    let restore = argv("restore", &raw.restore)?;
    let target = match &raw.compose_file {
        Some(compose_file) => {
            if let Some(name) = [("record", &record), ("restore", &restore)]
                .iter()
                .find_map(|(name, v)| v.is_some().then_some(*name))
            {
                return Err(ConfigError::new(
                    field(name),
                    "is for deploys without compose_file (a Compose deploy records image ids)",
                ));
            }
            compose_target(raw, compose_file, &field)?
        }
        None => {
            let record = record.ok_or_else(|| {
                ConfigError::new(
                    field("compose_file"),
                    "is required, unless record, update and restore say how to deploy",
                )
            })?;
            let restore = restore.ok_or_else(|| {
                ConfigError::new(
                    field("restore"),
                    "is required with record (it undoes the update)",
                )
            })?;
            if !matches!(raw.update, Some(UpdateConfig::Argv(_))) {
                return Err(ConfigError::new(
                    field("update"),
                    "must be a command (an argv list) in a deploy without compose_file",
                ));
            }
            Target::Commands { record, restore }
        }
    };
    let update = match &raw.update {
        None => Update::Pull,
        Some(UpdateConfig::Word(word)) => match word.as_str() {
            "pull" => Update::Pull,
            "build" => Update::Build,
            other => {
                return Err(ConfigError::new(
                    field("update"),
                    format!("{other:?} is neither \"pull\", \"build\" nor an argv list"),
                ))
            }
        },
        Some(UpdateConfig::Argv(argv)) => {
            if argv.first().is_none_or(|p| p.trim().is_empty()) {
                return Err(ConfigError::new(field("update"), "must name a program"));
            }
            Update::Command(argv.clone())
        }
    };
    let health_token = raw
        .health_token
        .clone()
        .or_else(|| env_string("DASHBOARD_TOKEN").map(Secret::from));
    let health = Peer::new(&raw.health_url, health_token)
        .map_err(|problem| ConfigError::new(field("health_url"), problem))?;
    let logs = match &raw.logs_url {
        Some(url) => {
            let token = raw
                .logs_token
                .clone()
                .or_else(|| env_string("LOG_WATCHER_TOKEN").map(Secret::from));
            Some(
                Peer::new(url, token)
                    .map_err(|problem| ConfigError::new(field("logs_url"), problem))?,
            )
        }
        None => None,
    };
    if raw.max_error_events.is_some() && logs.is_none() {
        return Err(ConfigError::new(
            field("max_error_events"),
            "needs logs_url: the error events are counted by log_watcher",
        ));
    }
    if raw.healthy_rounds == 0 {
        return Err(ConfigError::new(
            field("healthy_rounds"),
            "must be at least 1",
        ));
    }
    if raw.grace_secs == 0 {
        return Err(ConfigError::new(field("grace_secs"), "must be at least 1"));
    }
    Ok(DeployAction {
        target,
        services: raw.services.clone(),
        update,
        health,
        healthy_rounds: raw.healthy_rounds,
        grace: Duration::from_secs(raw.grace_secs),
        logs,
        max_error_events: raw.max_error_events,
        rollback: raw.rollback,
    })
}

/// The Compose file checked to have every service, and the project named.
fn compose_target(
    raw: &DeployConfig,
    compose_file: &str,
    field: &dyn Fn(&str) -> String,
) -> Result<Target, ConfigError> {
    let file = PathBuf::from(compose_file);
    let text = std::fs::read_to_string(&file).map_err(|e| {
        ConfigError::new(
            field("compose_file"),
            format!("cannot read {}: {e}", file.display()),
        )
    })?;
    let known = compose_services(&text);
    for (i, service) in raw.services.iter().enumerate() {
        if !known.iter().any(|k| k == service) {
            return Err(ConfigError::new(
                field(&format!("services[{i}]")),
                format!(
                    "{} has no service {service:?} (it has: {})",
                    file.display(),
                    known.join(", ")
                ),
            ));
        }
    }
    // As Compose itself: the configured name, else COMPOSE_PROJECT_NAME, else the folder's.
    let project = match raw.project.as_deref().filter(|p| !p.trim().is_empty()) {
        Some(project) => project.to_string(),
        None => env_string("COMPOSE_PROJECT_NAME").unwrap_or_else(|| default_project(&file)),
    };
    Ok(Target::Compose { file, project })
}

/// Compose's own project name for `file`: its folder's name, lower case, keeping letters,
/// digits, `-` and `_` (as both `docker compose` and `docker-compose` 1.x do).
pub fn default_project(file: &Path) -> String {
    let folder = std::fs::canonicalize(file)
        .ok()
        .and_then(|f| {
            f.parent()
                .and_then(Path::file_name)
                .map(|n| n.to_string_lossy().into_owned())
        })
        .unwrap_or_default();
    folder
        .to_lowercase()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

/// The service names of a Compose file: the keys of its top-level `services` mapping. A
/// line scanner rather than a YAML parser: Compose files write services as block mappings,
/// and this is all that is needed of them.
pub fn compose_services(text: &str) -> Vec<String> {
    let mut services = Vec::new();
    let mut inside = false;
    let mut indent: Option<usize> = None;
    for line in text.lines() {
        let content = line.split(" #").next().unwrap_or("").trim_end();
        if content.trim().is_empty() || content.trim_start().starts_with('#') {
            continue;
        }
        let depth = content.len() - content.trim_start().len();
        if depth == 0 {
            inside = content.trim_end() == "services:";
            indent = None;
            continue;
        }
        if !inside {
            continue;
        }
        let depth_here = *indent.get_or_insert(depth);
        if depth == depth_here {
            if let Some(name) = content.trim().strip_suffix(':') {
                services.push(name.trim_matches(['"', '\'']).to_string());
            }
        }
    }
    services
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_names_are_the_keys_under_services() {
        let text = "version: \"3.8\"\n\n# the app\nservices:\n  api:\n    image: a\n    environment:\n      - X=1\n  \"web\":\n    image: b\n  worker: # background\n    image: c\nvolumes:\n  data:\n";
        assert_eq!(compose_services(text), ["api", "web", "worker"]);
    }

    #[test]
    fn the_default_project_is_the_folders_name_as_compose_writes_it() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("My App_2");
        std::fs::create_dir(&folder).unwrap();
        let file = folder.join("docker-compose.yml");
        std::fs::write(&file, "services: {}\n").unwrap();
        assert_eq!(default_project(&file), "myapp_2");
    }
}
