//! Finding containers in Docker's data directory (`/var/lib/docker/containers`, bind-mounted
//! read-only as in the spec): each container has a folder `ID/` holding `ID-json.log` (the
//! json-file log driver's output) and `config.v2.json`, which names it. A line is attributed
//! to the container's Compose service (`com.docker.compose.service` label), else to the
//! container's name.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// A container found on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerLog {
    /// Full container id.
    pub id: String,
    /// Service name to attribute its lines to.
    pub service: String,
    /// Compose project, when the container belongs to one.
    pub project: Option<String>,
    /// Its json-file log.
    pub log_path: PathBuf,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ContainerConfig {
    #[serde(default)]
    name: String,
    #[serde(default)]
    config: Option<InnerConfig>,
    #[serde(default)]
    log_path: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct InnerConfig {
    #[serde(default)]
    labels: Option<std::collections::HashMap<String, String>>,
}

/// Lists the containers under `dir` that have a json-file log.
pub fn discover(dir: &Path) -> std::io::Result<Vec<ContainerLog>> {
    let mut containers = Vec::new();
    for entry in std::fs::read_dir(dir)?.flatten() {
        let Ok(id) = entry.file_name().into_string() else {
            continue;
        };
        let folder = entry.path();
        let default_log = folder.join(format!("{id}-json.log"));
        let (service, project, log_path) = match read_config(&folder.join("config.v2.json")) {
            Some(config) => {
                let labels = config.config.and_then(|c| c.labels).unwrap_or_default();
                // `sidecars.logs.enabled=false` leaves the service out.
                if !super::docker_api::selector::logs_labels(&labels).enabled {
                    continue;
                }
                let service = labels
                    .get("com.docker.compose.service")
                    .cloned()
                    .unwrap_or_else(|| container_name(&config.name, &id));
                let project = labels.get("com.docker.compose.project").cloned();
                // LogPath is the engine's own path; inside our container the folder is
                // mounted elsewhere maybe, so keep only its file name.
                let log_path = config
                    .log_path
                    .as_deref()
                    .and_then(|p| Path::new(p).file_name().map(|n| folder.join(n)))
                    .unwrap_or(default_log);
                (service, project, log_path)
            }
            None => (id.chars().take(12).collect(), None, default_log),
        };
        if log_path.exists() {
            containers.push(ContainerLog {
                id,
                service,
                project,
                log_path,
            });
        }
    }
    containers.sort_by(|a, b| a.log_path.cmp(&b.log_path));
    Ok(containers)
}

fn read_config(path: &Path) -> Option<ContainerConfig> {
    let text = std::fs::read(path).ok()?;
    serde_json::from_slice(&text).ok()
}

/// `/stack-api-1` -> `stack-api-1`; empty -> short id.
fn container_name(name: &str, id: &str) -> String {
    let name = name.trim_start_matches('/');
    if name.is_empty() {
        id.chars().take(12).collect()
    } else {
        name.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compose_service_label_names_the_container() {
        let dir = tempfile::tempdir().unwrap();
        let id = "a".repeat(64);
        let folder = dir.path().join(&id);
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::write(folder.join(format!("{id}-json.log")), "").unwrap();
        std::fs::write(
            folder.join("config.v2.json"),
            format!(
                r#"{{"ID":"{id}","Name":"/stack-api-1","Config":{{"Labels":{{"com.docker.compose.service":"api","com.docker.compose.project":"stack"}}}},"LogPath":"/var/lib/docker/containers/{id}/{id}-json.log"}}"#
            ),
        )
        .unwrap();
        let other = "b".repeat(64);
        let folder = dir.path().join(&other);
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::write(folder.join(format!("{other}-json.log")), "").unwrap();
        std::fs::write(folder.join("config.v2.json"), r#"{"Name":"/lonely"}"#).unwrap();

        let found = discover(dir.path()).unwrap();
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].service, "api");
        assert_eq!(found[0].project.as_deref(), Some("stack"));
        assert_eq!(found[1].service, "lonely");
    }

    #[test]
    fn a_service_labelled_logs_enabled_false_is_left_out() {
        let dir = tempfile::tempdir().unwrap();
        let id = "c".repeat(64);
        let folder = dir.path().join(&id);
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::write(folder.join(format!("{id}-json.log")), "").unwrap();
        std::fs::write(
            folder.join("config.v2.json"),
            r#"{"Name":"/stack-adminer-1","Config":{"Labels":{"com.docker.compose.service":"adminer","sidecars.logs.enabled":"false"}}}"#,
        )
        .unwrap();
        assert!(discover(dir.path()).unwrap().is_empty());
    }
}
