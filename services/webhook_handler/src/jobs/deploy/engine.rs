//! What a deploy asks of Docker, through the programs a Compose user has (`docker`, and
//! `docker compose` or `docker-compose`): which containers a service has and what image id
//! each runs, how they are doing, re-tagging an image id, and the Compose verbs. Compose
//! verbs print into the job's output; the questions are answered quietly.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::process::Command;
use tokio_util::sync::CancellationToken;

use crate::jobs::compose::ComposeCli;
use crate::jobs::output::LiveOutput;
use crate::jobs::program::{self, Program, ProgramEnd};
use crate::settings::DeployAction;

/// How long one question to `docker` may take.
const QUESTION_TIMEOUT: Duration = Duration::from_secs(20);

/// A container of a service, as `docker inspect` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Container {
    /// Its id.
    pub id: String,
    /// The image id it runs (`sha256:...`), which stays valid when the tag moves on.
    pub image_id: String,
    /// The image reference it was created from (`example/api:latest`).
    pub image_ref: String,
    /// `running`, `exited`, `restarting`, `created`, `dead`...
    pub status: String,
    /// Its exit code (meaningful once it exited).
    pub exit_code: i64,
    /// Whether the kernel killed it for memory.
    pub oom_killed: bool,
    /// When it last started.
    pub started_at: Option<DateTime<Utc>>,
    /// Restarts Docker made of it.
    pub restarts: u64,
}

impl Container {
    /// Why it is not running, when it is not.
    pub fn trouble(&self, service: &str) -> Option<String> {
        match self.status.as_str() {
            "running" => None,
            "restarting" => Some(format!(
                "{service} is restarting (restarted {} time(s)); last exit code {}",
                self.restarts, self.exit_code
            )),
            "exited" | "dead" => Some(if self.oom_killed {
                format!(
                    "{service} was killed for lack of memory (exit code {})",
                    self.exit_code
                )
            } else {
                format!("{service} exited with code {}", self.exit_code)
            }),
            other => Some(format!("{service} is {other}")),
        }
    }
}

/// The programs one deploy runs: Docker and Compose for a Compose deploy, its own commands
/// otherwise.
pub struct Engine<'a> {
    /// The deploy.
    pub deploy: &'a DeployAction,
    /// The Compose program and the project, for a Compose deploy.
    pub compose: Option<(&'a ComposeCli, &'a Path, &'a str)>,
    /// Variables the update command gets (the delivery's facts), and the hidden ones.
    pub env: Vec<(String, String)>,
    /// The service's own secrets, kept from commands.
    pub hidden_env: Arc<Vec<String>>,
    /// Working directory of commands.
    pub working_dir: Option<PathBuf>,
    /// Longest one Compose verb may run.
    pub timeout: Duration,
    /// The job's output.
    pub output: &'a Arc<LiveOutput>,
    /// Cancelled when the service stops.
    pub shutdown: &'a CancellationToken,
}

impl Engine<'_> {
    /// The containers of `service` in the project, newest first (none outside Compose).
    pub async fn containers(&self, service: &str) -> Result<Vec<Container>, String> {
        let Some((_, _, project)) = self.compose else {
            return Ok(Vec::new());
        };
        let ids = ask(&[
            "docker",
            "ps",
            "-a",
            "--filter",
            &format!("label=com.docker.compose.project={project}"),
            "--filter",
            &format!("label=com.docker.compose.service={service}"),
            "--format",
            "{{.ID}}",
        ])
        .await?;
        let mut containers = Vec::new();
        for id in ids.lines().map(str::trim).filter(|l| !l.is_empty()) {
            containers.push(self.inspect(id).await?);
        }
        Ok(containers)
    }

    async fn inspect(&self, id: &str) -> Result<Container, String> {
        let format = "{{.Id}}|{{.Image}}|{{.Config.Image}}|{{.State.Status}}|{{.State.ExitCode}}|{{.State.OOMKilled}}|{{.State.StartedAt}}|{{.RestartCount}}";
        let line = ask(&["docker", "inspect", "--format", format, id]).await?;
        let fields: Vec<&str> = line.trim().split('|').collect();
        if fields.len() != 8 {
            return Err(format!("docker inspect {id} answered {line:?}"));
        }
        Ok(Container {
            id: fields[0].to_string(),
            image_id: fields[1].to_string(),
            image_ref: fields[2].to_string(),
            status: fields[3].to_string(),
            exit_code: fields[4].parse().unwrap_or(-1),
            oom_killed: fields[5] == "true",
            started_at: DateTime::parse_from_rfc3339(fields[6])
                .ok()
                .map(|t| t.with_timezone(&Utc))
                .filter(|t| t.timestamp() > 0),
            restarts: fields[7].parse().unwrap_or(0),
        })
    }

    /// `docker tag IMAGE_ID REF`: points the tag back at the image a service ran before.
    pub async fn retag(&self, image_id: &str, image_ref: &str) -> Result<(), String> {
        self.output
            .note(&format!("$ docker tag {image_id} {image_ref}"));
        ask(&["docker", "tag", image_id, image_ref])
            .await
            .map(|_| ())
    }

    /// Runs a Compose verb (`pull`, `build`, `up -d --no-deps`) for the deploy's services.
    pub async fn compose(&self, verb: &[&str]) -> Result<(), String> {
        let (cli, file, project) = self
            .compose
            .ok_or_else(|| "not a Compose deploy".to_string())?;
        let argv = cli.invocation(file, Some(project), verb, &self.deploy.services);
        self.run(argv).await
    }

    /// Runs `argv` quietly with the job's environment (and `extra`), and returns the first
    /// line it printed.
    pub async fn first_line(
        &self,
        argv: &[String],
        extra: &[(String, String)],
    ) -> Result<String, String> {
        let mut command = Command::new(&argv[0]);
        command.args(&argv[1..]).kill_on_drop(true);
        for name in self.hidden_env.iter() {
            command.env_remove(name);
        }
        command.envs(self.env.iter().chain(extra).map(|(k, v)| (k, v)));
        if let Some(dir) = &self.working_dir {
            command.current_dir(dir);
        }
        let output = tokio::time::timeout(self.timeout, command.output())
            .await
            .map_err(|_| {
                format!(
                    "{} did not finish within {} s",
                    argv[0],
                    self.timeout.as_secs()
                )
            })?
            .map_err(|e| format!("cannot run {}: {e}", argv[0]))?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            return Err(format!(
                "{} failed ({}): {}",
                argv[0],
                output.status,
                stderr.lines().last().unwrap_or("").trim()
            ));
        }
        Ok(String::from_utf8_lossy(&output.stdout)
            .lines()
            .next()
            .unwrap_or("")
            .trim()
            .to_string())
    }

    /// Runs `argv` into the job's output with `extra` variables besides the job's.
    pub async fn run_with(
        &self,
        argv: Vec<String>,
        extra: &[(String, String)],
    ) -> Result<(), String> {
        self.output.note(&format!("$ {}", argv.join(" ")));
        let mut env = self.env.clone();
        env.extend(extra.iter().cloned());
        let program = Program {
            argv,
            env,
            hidden_env: self.hidden_env.clone(),
            working_dir: self.working_dir.clone(),
            timeout: self.timeout,
        };
        match program::run(&program, self.output, self.shutdown).await {
            ProgramEnd::Exited(Some(0)) => Ok(()),
            other => Err(other.failure(self.timeout).unwrap_or_default()),
        }
    }

    /// Runs `argv` (the update command, a Compose verb) into the job's output.
    pub async fn run(&self, argv: Vec<String>) -> Result<(), String> {
        self.run_with(argv, &[]).await
    }
}

/// Runs `argv` and returns what it printed on stdout; its stderr is the error.
async fn ask(argv: &[&str]) -> Result<String, String> {
    let run = Command::new(argv[0])
        .args(&argv[1..])
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(QUESTION_TIMEOUT, run)
        .await
        .map_err(|_| {
            format!(
                "{} {} did not answer within {} s",
                argv[0],
                argv[1],
                QUESTION_TIMEOUT.as_secs()
            )
        })?
        .map_err(|e| format!("cannot run {}: {e}", argv[0]))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        let stderr = String::from_utf8_lossy(&output.stderr);
        Err(format!(
            "{} {} failed: {}",
            argv[0],
            argv[1],
            stderr.lines().last().unwrap_or("").trim()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn container(status: &str, exit_code: i64, oom: bool) -> Container {
        Container {
            id: "c".into(),
            image_id: "sha256:1".into(),
            image_ref: "app:latest".into(),
            status: status.into(),
            exit_code,
            oom_killed: oom,
            started_at: None,
            restarts: 3,
        }
    }

    #[test]
    fn a_container_that_is_not_running_says_why() {
        assert_eq!(container("running", 0, false).trouble("api"), None);
        assert_eq!(
            container("exited", 1, false).trouble("api").unwrap(),
            "api exited with code 1"
        );
        assert!(container("exited", 137, true)
            .trouble("api")
            .unwrap()
            .contains("lack of memory"));
        assert!(container("restarting", 2, false)
            .trouble("api")
            .unwrap()
            .contains("restarted 3 time(s)"));
    }
}
