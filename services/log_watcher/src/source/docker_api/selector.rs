//! Which containers the Engine API source follows, and the service their lines belong to:
//! the Compose project filter (applied by the engine, through label filters), `include` and
//! `exclude` by container or Compose service name (globs: `web-*`, `api-?`), and never
//! log_watcher's own container, whose stdout carries the events it prints (reading them back
//! would print them again, forever).

use std::collections::{BTreeMap, HashMap};

use compose_engine::labels::LogsLabels;
use std::path::Path;

use globset::{Glob, GlobSet, GlobSetBuilder};

/// The labels Compose puts on a container with its service and project names.
pub use compose_engine::{PROJECT_LABEL, SERVICE_LABEL};

/// A container as the engine describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerInfo {
    /// Full id.
    pub id: String,
    /// Name without the leading `/`.
    pub name: String,
    /// The service its lines belong to: the Compose service label, else the name.
    pub service: String,
    /// Its `sidecars.logs.multiline_start` label: the regex its events start with.
    pub multiline_start: Option<String>,
}

impl ContainerInfo {
    /// From the engine's id, name (with or without the leading `/`) and labels.
    pub fn new(id: &str, name: &str, labels: &HashMap<String, String>) -> ContainerInfo {
        let name = name.trim_start_matches('/');
        let name = if name.is_empty() {
            id.chars().take(12).collect()
        } else {
            name.to_string()
        };
        let service = labels
            .get(SERVICE_LABEL)
            .filter(|s| !s.is_empty())
            .cloned()
            .unwrap_or_else(|| name.clone());
        ContainerInfo {
            id: id.to_string(),
            name,
            service,
            multiline_start: logs_labels(labels).multiline_start,
        }
    }
}

/// The configured choice of containers (`project`, `include`, `exclude`).
#[derive(Debug, Clone, Default)]
pub struct ContainerChoice {
    /// Only this Compose project.
    pub project: Option<String>,
    /// Only containers one of these names (all when `None`).
    include: Option<GlobSet>,
    /// Never containers one of these names.
    exclude: GlobSet,
}

impl ContainerChoice {
    /// Containers of `project` (any when `None`) named by one of `include` (any when empty)
    /// and by none of `exclude`. On a bad glob, fails with the list (`"include"` or
    /// `"exclude"`), its index and the error.
    pub fn new(
        project: Option<String>,
        include: &[String],
        exclude: &[String],
    ) -> Result<ContainerChoice, (&'static str, usize, globset::Error)> {
        let set = |list: &'static str, patterns: &[String]| {
            let mut set = GlobSetBuilder::new();
            for (index, pattern) in patterns.iter().enumerate() {
                set.add(Glob::new(pattern).map_err(|e| (list, index, e))?);
            }
            set.build().map_err(|e| (list, 0, e))
        };
        Ok(ContainerChoice {
            project,
            include: if include.is_empty() {
                None
            } else {
                Some(set("include", include)?)
            },
            exclude: set("exclude", exclude)?,
        })
    }
}

/// The choice of containers, and the container never to follow.
#[derive(Debug, Clone, Default)]
pub struct Selector {
    /// What the config chose.
    choice: ContainerChoice,
    /// log_watcher's own container, when it runs in one.
    own_id: Option<String>,
}

impl Selector {
    /// The configured `choice`; `own_id` is never followed.
    pub fn new(choice: ContainerChoice, own_id: Option<String>) -> Selector {
        Selector { choice, own_id }
    }

    /// Filters for the engine's container list and event stream (`label=...`).
    pub fn label_filters(&self) -> Vec<String> {
        self.choice
            .project
            .iter()
            .map(|p| format!("{PROJECT_LABEL}={p}"))
            .collect()
    }

    /// Whether a container with `labels` is followed (`project` is checked here too, for
    /// engines that ignore a filter).
    pub fn selects(&self, container: &ContainerInfo, labels: &HashMap<String, String>) -> bool {
        // `sidecars.logs.enabled=false` leaves the service out.
        if !logs_labels(labels).enabled {
            return false;
        }
        if self
            .own_id
            .as_deref()
            .is_some_and(|own| own == container.id)
        {
            return false;
        }
        if let Some(project) = &self.choice.project {
            if labels.get(PROJECT_LABEL) != Some(project) {
                return false;
            }
        }
        let named =
            |set: &GlobSet| set.is_match(&container.name) || set.is_match(&container.service);
        self.choice.include.as_ref().is_none_or(named) && !named(&self.choice.exclude)
    }
}

/// The container's `sidecars.logs.*` labels; one that cannot be read counts as not set.
pub(crate) fn logs_labels(labels: &HashMap<String, String>) -> LogsLabels {
    let labels: BTreeMap<String, String> = labels
        .iter()
        .filter(|(key, _)| key.starts_with("sidecars.logs."))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    compose_engine::labels::logs_labels(&labels).unwrap_or(LogsLabels {
        enabled: true,
        multiline_start: labels.get("sidecars.logs.multiline_start").cloned(),
    })
}

/// Whether the container's json-file log is visible under `docker_logs_dir`, where the
/// file source reads it (see the module documentation of `source::docker_api`).
pub fn read_by_file_source(docker_logs_dir: Option<&Path>, id: &str) -> bool {
    docker_logs_dir.is_some_and(|dir| dir.join(id).join(format!("{id}-json.log")).exists())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// The selector a `[log_sources.docker_api]` section makes.
    fn selector(section: &str) -> Selector {
        let settings =
            crate::settings::Settings::from_toml(&format!("[log_sources.docker_api]\n{section}"))
                .unwrap();
        let choice = settings.sources.docker_api.unwrap().choice;
        Selector::new(choice, Some("f".repeat(64)))
    }

    #[test]
    fn the_compose_service_label_names_the_container_else_its_name() {
        let api = ContainerInfo::new("a1", "/stack-api-1", &labels(&[(SERVICE_LABEL, "api")]));
        assert_eq!(
            (api.name.as_str(), api.service.as_str()),
            ("stack-api-1", "api")
        );
        let lonely = ContainerInfo::new("b2", "/lonely", &HashMap::new());
        assert_eq!(lonely.service, "lonely");
    }

    #[test]
    fn project_include_and_exclude_choose_containers_by_name_or_service() {
        let in_stack = labels(&[(PROJECT_LABEL, "stack"), (SERVICE_LABEL, "api")]);
        let api = ContainerInfo::new("a", "/stack-api-1", &in_stack);
        let worker =
            ContainerInfo::new("b", "/stack-worker-1", &labels(&[(PROJECT_LABEL, "stack")]));

        let all = selector("");
        assert!(all.selects(&api, &in_stack) && all.selects(&worker, &HashMap::new()));

        let project = selector("project = \"stack\"");
        assert_eq!(
            project.label_filters(),
            vec![format!("{PROJECT_LABEL}=stack")]
        );
        assert!(project.selects(&api, &in_stack));
        assert!(!project.selects(&worker, &labels(&[(PROJECT_LABEL, "other")])));

        let include = selector("include = [\"api\"]");
        assert!(include.selects(&api, &in_stack));
        assert!(!include.selects(&worker, &HashMap::new()));

        let exclude = selector("include = [\"stack-*\"]\nexclude = [\"*worker*\"]");
        assert!(exclude.selects(&api, &in_stack));
        assert!(!exclude.selects(&worker, &HashMap::new()));
    }

    #[test]
    fn its_own_container_is_never_followed() {
        let own = ContainerInfo::new(&"f".repeat(64), "/log_watcher", &HashMap::new());
        assert!(!selector("").selects(&own, &HashMap::new()));
    }
}
