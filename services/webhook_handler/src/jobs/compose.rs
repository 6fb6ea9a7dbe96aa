//! Compose actions: `pull` then `up -d` for a hook's services, through `docker compose`
//! (the CLI plugin) or, where only the standalone v1 program exists, `docker-compose`. Which
//! one is found once at start-up ([`ComposeCli::detect`]) and shown on `/livez`.

use std::path::Path;
use std::time::Duration;

use tokio::process::Command;

use crate::settings::ComposeAction;

/// The Compose program this machine has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ComposeCli {
    /// `docker compose` (v2, the CLI plugin).
    Plugin {
        /// What `docker compose version --short` printed.
        version: String,
    },
    /// `docker-compose` (the standalone program, v1 or v2).
    Standalone {
        /// What `docker-compose version --short` printed.
        version: String,
    },
}

impl ComposeCli {
    /// Looks for `docker compose`, then `docker-compose`; `None` when neither answers.
    pub async fn detect() -> Option<ComposeCli> {
        if let Some(version) = version_of(&["docker", "compose", "version", "--short"]).await {
            return Some(ComposeCli::Plugin { version });
        }
        version_of(&["docker-compose", "version", "--short"])
            .await
            .map(|version| ComposeCli::Standalone { version })
    }

    /// How `/livez` and the logs name it: `docker compose 2.24.0`.
    pub fn describe(&self) -> String {
        match self {
            ComposeCli::Plugin { version } => format!("docker compose {version}"),
            ComposeCli::Standalone { version } => format!("docker-compose {version}"),
        }
    }

    /// The program and its first arguments.
    fn base(&self) -> Vec<String> {
        match self {
            ComposeCli::Plugin { .. } => vec!["docker".into(), "compose".into()],
            ComposeCli::Standalone { .. } => vec!["docker-compose".into()],
        }
    }

    /// The commands of `action`, in order: `pull` (unless turned off), then `up -d`.
    pub fn commands(&self, action: &ComposeAction) -> Vec<Vec<String>> {
        let project = action.project.as_deref();
        let mut commands = Vec::new();
        if action.pull {
            commands.push(self.invocation(&action.file, project, &["pull"], &action.services));
        }
        commands.push(self.invocation(&action.file, project, &["up", "-d"], &action.services));
        commands
    }

    /// `compose -f FILE [-p PROJECT] VERB... SERVICES...`.
    pub fn invocation(
        &self,
        file: &Path,
        project: Option<&str>,
        verb: &[&str],
        services: &[String],
    ) -> Vec<String> {
        let mut argv = self.base();
        argv.push("-f".into());
        argv.push(file.to_string_lossy().into_owned());
        if let Some(project) = project {
            argv.push("-p".into());
            argv.push(project.to_string());
        }
        argv.extend(verb.iter().map(|s| s.to_string()));
        argv.extend(services.iter().cloned());
        argv
    }
}

/// The first line `argv` prints when it exits 0 within a few seconds.
async fn version_of(argv: &[&str]) -> Option<String> {
    let run = Command::new(argv[0])
        .args(&argv[1..])
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(10), run)
        .await
        .ok()?
        .ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&output.stdout);
    Some(text.lines().next().unwrap_or("").trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn action(pull: bool) -> ComposeAction {
        ComposeAction {
            file: "/srv/app/docker-compose.yml".into(),
            project: Some("app".into()),
            services: vec!["api".into(), "worker".into()],
            pull,
        }
    }

    #[test]
    fn the_plugin_pulls_then_recreates_only_the_named_services() {
        let cli = ComposeCli::Plugin {
            version: "2.24.0".into(),
        };
        let commands = cli.commands(&action(true));
        assert_eq!(
            commands,
            [
                "docker compose -f /srv/app/docker-compose.yml -p app pull api worker",
                "docker compose -f /srv/app/docker-compose.yml -p app up -d api worker",
            ]
            .map(|c| c.split(' ').map(String::from).collect::<Vec<_>>())
        );
    }

    #[test]
    fn the_standalone_program_takes_the_same_arguments_and_pull_can_be_skipped() {
        let cli = ComposeCli::Standalone {
            version: "1.29.2".into(),
        };
        let commands = cli.commands(&action(false));
        assert_eq!(commands.len(), 1);
        assert_eq!(commands[0][0], "docker-compose");
        assert_eq!(commands[0][5..], ["up", "-d", "api", "worker"]);
        assert_eq!(cli.describe(), "docker-compose 1.29.2");
    }
}
