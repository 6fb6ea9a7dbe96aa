//! `[log_sources]` checked and built: the file patterns compiled (each with the service
//! `file_services` names), the poll interval, and the Docker Engine API source with its
//! socket resolved and its container globs compiled.

use std::path::{Path, PathBuf};
use std::time::Duration;

use service_kit::config::{env_string, ConfigError};

use crate::config::{DockerApiConfig, SourcesConfig};
use crate::source::docker_api::{
    ContainerChoice, DockerApiSettings, LifecycleSettings, DEFAULT_DOCKER_SOCKET,
};
use crate::source::files::patterns::FilePattern;

use super::at_least;

/// `[log_sources]`, checked.
#[derive(Debug, Clone)]
pub struct SourceSettings {
    /// `extra_files`, compiled, each with its service from `file_services`.
    pub files: Vec<FilePattern>,
    /// Docker's container directory (json-file logs).
    pub docker_logs_dir: Option<PathBuf>,
    /// How often files are polled (inotify wakes the reader sooner where it works).
    pub poll_interval: Duration,
    /// The Docker Engine API source, when its section is present and enabled.
    pub docker_api: Option<DockerApiSettings>,
}

/// Checks and builds `[log_sources]`.
pub(super) fn build(config: SourcesConfig) -> Result<SourceSettings, ConfigError> {
    at_least(config.poll_interval_ms, 1, "log_sources.poll_interval_ms")?;
    let docker_api = match &config.docker_api {
        Some(section) => docker_api(section)?,
        None => None,
    };
    let files = config
        .extra_files
        .iter()
        .enumerate()
        .map(|(i, pattern)| {
            let service = config.file_services.get(pattern).cloned();
            FilePattern::new(pattern, service).map_err(|e| {
                ConfigError::new(format!("log_sources.extra_files[{i}]"), e.to_string())
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(SourceSettings {
        files,
        docker_logs_dir: config.docker_logs_dir,
        poll_interval: Duration::from_millis(config.poll_interval_ms),
        docker_api,
    })
}

/// `[log_sources.docker_api]` checked: `None` when `enabled = false`.
fn docker_api(section: &DockerApiConfig) -> Result<Option<DockerApiSettings>, ConfigError> {
    let key = |field: &str| format!("log_sources.docker_api.{field}");
    if let Some(socket) = &section.socket {
        let text = socket.to_string_lossy();
        if text.starts_with("tcp://") || text.starts_with("http") || text.starts_with("ssh://") {
            return Err(ConfigError::new(
                key("socket"),
                "only unix sockets are supported (a path)",
            ));
        }
        if text.strip_prefix("unix://").unwrap_or(&text).is_empty() {
            return Err(ConfigError::new(key("socket"), "must not be empty"));
        }
    }
    if section
        .project
        .as_deref()
        .is_some_and(|p| p.trim().is_empty())
    {
        return Err(ConfigError::new(
            key("project"),
            "must not be empty (leave it out for every project)",
        ));
    }
    for (name, list) in [("include", &section.include), ("exclude", &section.exclude)] {
        if let Some(i) = list.iter().position(|n| n.trim().is_empty()) {
            return Err(ConfigError::new(
                format!("{}[{i}]", key(name)),
                "must not be empty",
            ));
        }
    }
    let choice = ContainerChoice::new(section.project.clone(), &section.include, &section.exclude)
        .map_err(|(list, i, e)| ConfigError::new(format!("{}[{i}]", key(list)), e.to_string()))?;
    if !section.enabled {
        return Ok(None);
    }
    if section.last_lines > 1000 {
        return Err(ConfigError::new(key("last_lines"), "must be at most 1000"));
    }
    if !(2..=1000).contains(&section.restart_loop_starts) {
        return Err(ConfigError::new(
            key("restart_loop_starts"),
            "must be between 2 and 1000",
        ));
    }
    if !(1..=1440).contains(&section.restart_loop_minutes) {
        return Err(ConfigError::new(
            key("restart_loop_minutes"),
            "must be between 1 and 1440",
        ));
    }
    let lifecycle = section.lifecycle.then(|| LifecycleSettings {
        last_lines: section.last_lines,
        restart_loop_starts: section.restart_loop_starts,
        restart_loop_window: Duration::from_secs(section.restart_loop_minutes * 60),
    });
    Ok(Some(DockerApiSettings {
        socket: docker_socket(section.socket.as_deref())?,
        choice,
        lifecycle,
    }))
}

/// The socket to connect to: `socket`, else `DOCKER_HOST` (`unix://` only), else
/// [`DEFAULT_DOCKER_SOCKET`]. An explicit `socket` wins over `DOCKER_HOST` because the
/// latter is the Docker CLI's general default, not a setting of this service.
fn docker_socket(socket: Option<&Path>) -> Result<PathBuf, ConfigError> {
    if let Some(socket) = socket {
        // `unix:///run/docker.sock`, as DOCKER_HOST spells it, is accepted too.
        let text = socket.to_string_lossy();
        return Ok(text
            .strip_prefix("unix://")
            .map_or_else(|| socket.to_path_buf(), PathBuf::from));
    }
    match env_string("DOCKER_HOST") {
        Some(host) => match host.strip_prefix("unix://") {
            Some(path) if path.starts_with('/') => Ok(PathBuf::from(path)),
            _ => Err(ConfigError::new(
                "DOCKER_HOST",
                format!(
                    "{host:?} is not a unix socket (unix:///path); log_watcher reads the Docker \
                     Engine API over its unix socket only: set log_sources.docker_api.socket"
                ),
            )),
        },
        None => Ok(PathBuf::from(DEFAULT_DOCKER_SOCKET)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::settings::tests::error;
    use crate::settings::Settings;
    use service_kit::config::ServiceSettings;

    #[test]
    fn the_docker_api_section_is_off_unless_present_and_enabled_by_default_when_present() {
        assert!(Settings::from_toml("")
            .unwrap()
            .sources
            .docker_api
            .is_none());
        let section = "[log_sources.docker_api]\nproject = \"stack\"\ninclude = [\"api\", \"web-*\"]\nexclude = [\"db\"]";
        let config: Config = service_kit::config::parse_toml(section).unwrap();
        let docker_api = config.log_sources.docker_api.unwrap();
        assert!(docker_api.enabled);
        assert_eq!(docker_api.project.as_deref(), Some("stack"));
        assert_eq!(docker_api.include, vec!["api", "web-*"]);
        let settings = Settings::from_toml(section).unwrap();
        assert_eq!(
            settings
                .sources
                .docker_api
                .unwrap()
                .choice
                .project
                .as_deref(),
            Some("stack")
        );
        assert!(
            Settings::from_toml("[log_sources.docker_api]\nenabled = false")
                .unwrap()
                .sources
                .docker_api
                .is_none()
        );
        let explicit =
            Settings::from_toml("[log_sources.docker_api]\nsocket = \"unix:///run/docker.sock\"")
                .unwrap();
        let socket = explicit.sources.docker_api.unwrap().socket;
        assert_eq!(socket, Path::new("/run/docker.sock"));
        assert_ne!(socket, Path::new(DEFAULT_DOCKER_SOCKET));
    }

    #[test]
    fn bad_docker_api_settings_name_their_key() {
        assert!(error("[log_sources.docker_api]\nsokcet = \"/x\"").contains("sokcet"));
        assert!(
            error("[log_sources.docker_api]\nsocket = \"tcp://1.2.3.4:2375\"")
                .contains("log_sources.docker_api.socket")
        );
        assert!(error("[log_sources.docker_api]\nexclude = [\"db\", \"\"]")
            .contains("log_sources.docker_api.exclude[1]"));
        assert!(error("[log_sources.docker_api]\nproject = \" \"")
            .contains("log_sources.docker_api.project"));
        assert!(
            error("[log_sources.docker_api]\ninclude = [\"api\", \"web-[\"]")
                .contains("log_sources.docker_api.include[1]")
        );
    }

    #[test]
    fn file_patterns_are_compiled_with_their_services_and_a_bad_glob_names_its_key() {
        let settings = Settings::from_toml(
            "[log_sources]\nextra_files = [\"/logs/*.log\", \"/srv/app/out.txt\"]\n[log_sources.file_services]\n\"/srv/app/out.txt\" = \"app\"",
        )
        .unwrap();
        let files = &settings.sources.files;
        assert_eq!(files.len(), 2);
        assert_eq!(files[0].service_of(Path::new("/logs/web.log")), "web");
        assert_eq!(files[1].service_of(Path::new("/srv/app/out.txt")), "app");
        assert_eq!(settings.summary(), "2 file pattern(s)");
        assert!(
            error("[log_sources]\nextra_files = [\"/logs/*.log\", \"/logs/[x\"]")
                .contains("log_sources.extra_files[1]: ")
        );
        assert!(
            error("[log_sources]\npoll_interval_ms = 0").contains("log_sources.poll_interval_ms")
        );
    }
}
