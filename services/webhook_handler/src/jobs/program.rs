//! Running one program of a job: without a shell, in a process group of its own, with the
//! job's environment, its stdout and stderr into the job's output as they come, and a time
//! limit after which the whole group (grandchildren too) is stopped: SIGTERM, then SIGKILL
//! after a short grace.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;
use tokio_util::sync::CancellationToken;

use super::output::LiveOutput;
use service_kit::process::{in_own_group, kill_group, terminate_group};

/// How long a stopped group gets between SIGTERM and SIGKILL.
pub const KILL_GRACE: Duration = Duration::from_secs(3);

/// After the program exits, how long output still held open by something it left running
/// is read before the job moves on.
const DRAIN_AFTER_EXIT: Duration = Duration::from_secs(1);

/// What to run.
#[derive(Debug, Clone)]
pub struct Program {
    /// Program and arguments.
    pub argv: Vec<String>,
    /// Variables added to the inherited environment.
    pub env: Vec<(String, String)>,
    /// Variables removed from it (the service's own secrets).
    pub hidden_env: Arc<Vec<String>>,
    /// Working directory, if not the service's.
    pub working_dir: Option<PathBuf>,
    /// Longest it may run.
    pub timeout: Duration,
}

/// How a program ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProgramEnd {
    /// It exited with this code (`None` when a signal ended it).
    Exited(Option<i32>),
    /// It ran past its time limit and its group was killed.
    TimedOut,
    /// The service is stopping; its group was killed.
    Cancelled,
    /// It could not be started.
    NotStarted(String),
}

impl ProgramEnd {
    /// Whether it exited with 0.
    pub fn succeeded(&self) -> bool {
        *self == ProgramEnd::Exited(Some(0))
    }

    /// The exit code, when it exited.
    pub fn exit_code(&self) -> Option<i32> {
        match self {
            ProgramEnd::Exited(code) => *code,
            _ => None,
        }
    }

    /// Why it failed, in words (`None` when it succeeded).
    pub fn failure(&self, timeout: Duration) -> Option<String> {
        match self {
            ProgramEnd::Exited(Some(0)) => None,
            ProgramEnd::Exited(Some(code)) => Some(format!("exit code {code}")),
            ProgramEnd::Exited(None) => Some("killed by a signal".to_string()),
            ProgramEnd::TimedOut => Some(format!(
                "timed out after {} s; its process group was killed",
                timeout.as_secs()
            )),
            ProgramEnd::Cancelled => Some("the webhook handler stopped while it ran".to_string()),
            ProgramEnd::NotStarted(why) => Some(format!("could not start: {why}")),
        }
    }
}

/// Runs `program`, feeding its output to `output`, until it exits, times out, or `cancel`.
pub async fn run(
    program: &Program,
    output: &Arc<LiveOutput>,
    cancel: &CancellationToken,
) -> ProgramEnd {
    let mut command = Command::new(&program.argv[0]);
    command
        .args(&program.argv[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for name in program.hidden_env.iter() {
        command.env_remove(name);
    }
    command.envs(program.env.iter().map(|(k, v)| (k, v)));
    if let Some(dir) = &program.working_dir {
        command.current_dir(dir);
    }
    in_own_group(&mut command);
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(err) => return ProgramEnd::NotStarted(format!("{}: {err}", program.argv[0])),
    };
    let pid = child.id();
    let readers = [
        child
            .stdout
            .take()
            .map(|s| tokio::spawn(copy_into(s, output.clone()))),
        child
            .stderr
            .take()
            .map(|s| tokio::spawn(copy_into(s, output.clone()))),
    ];
    let end = tokio::select! {
        status = child.wait() => ProgramEnd::Exited(status.ok().and_then(|s| s.code())),
        _ = tokio::time::sleep(program.timeout) => ProgramEnd::TimedOut,
        _ = cancel.cancelled() => ProgramEnd::Cancelled,
    };
    if matches!(end, ProgramEnd::TimedOut | ProgramEnd::Cancelled) {
        if let Some(pid) = pid {
            stop_group(pid, &mut child).await;
        }
    }
    for reader in readers.into_iter().flatten() {
        // Output held open by something the program left running is not waited for long.
        if tokio::time::timeout(DRAIN_AFTER_EXIT, reader)
            .await
            .is_err()
        {
            output.note("[output still open after the program ended; no longer read]");
        }
    }
    end
}

/// SIGTERM to the group, then SIGKILL if its leader has not gone within [`KILL_GRACE`];
/// the rest of the group gets SIGKILL either way, so nothing it started lives on.
async fn stop_group(pid: u32, child: &mut tokio::process::Child) {
    if let Err(err) = terminate_group(pid) {
        tracing::warn!(pid, %err, "Could not signal a job's process group.");
    }
    let _ = tokio::time::timeout(KILL_GRACE, child.wait()).await;
    if let Err(err) = kill_group(pid) {
        tracing::warn!(pid, %err, "Could not kill a job's process group.");
    }
    let _ = child.wait().await;
}

async fn copy_into(mut stream: impl AsyncRead + Unpin, output: Arc<LiveOutput>) {
    let mut buffer = vec![0u8; 8192];
    // Bytes of a UTF-8 character split between two reads wait for the rest.
    let mut pending: Vec<u8> = Vec::new();
    loop {
        let n = match stream.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        pending.extend_from_slice(&buffer[..n]);
        let valid_up_to = match std::str::from_utf8(&pending) {
            Ok(_) => pending.len(),
            Err(e) if e.error_len().is_none() => e.valid_up_to(),
            Err(_) => pending.len(),
        };
        let ready: Vec<u8> = pending.drain(..valid_up_to).collect();
        output.push(&String::from_utf8_lossy(&ready));
    }
    if !pending.is_empty() {
        output.push(&String::from_utf8_lossy(&pending));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn program(argv: &[&str], timeout: Duration) -> Program {
        Program {
            argv: argv.iter().map(|s| s.to_string()).collect(),
            env: vec![("GREETING".to_string(), "hello".to_string())],
            hidden_env: Arc::new(vec!["PATH_TO_NOWHERE_SECRET".to_string()]),
            working_dir: None,
            timeout,
        }
    }

    #[tokio::test]
    async fn output_and_exit_code_are_kept() {
        let output = LiveOutput::new(4096);
        let end = run(
            &program(
                &["sh", "-c", "echo $GREETING; echo oops >&2; exit 3"],
                Duration::from_secs(10),
            ),
            &output,
            &CancellationToken::new(),
        )
        .await;
        assert_eq!(end, ProgramEnd::Exited(Some(3)));
        let text = output.snapshot();
        assert!(
            text.contains("hello\n") && text.contains("oops\n"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn a_missing_program_is_reported_not_panicked() {
        let output = LiveOutput::new(4096);
        let end = run(
            &program(&["/nonexistent/deploy.sh"], Duration::from_secs(1)),
            &output,
            &CancellationToken::new(),
        )
        .await;
        assert!(matches!(end, ProgramEnd::NotStarted(_)), "{end:?}");
    }

    #[tokio::test]
    async fn secrets_of_the_service_are_not_in_the_environment() {
        std::env::set_var("PATH_TO_NOWHERE_SECRET", "hunter2");
        let output = LiveOutput::new(4096);
        run(
            &program(&["sh", "-c", "env"], Duration::from_secs(10)),
            &output,
            &CancellationToken::new(),
        )
        .await;
        assert!(!output.snapshot().contains("hunter2"));
    }
}
