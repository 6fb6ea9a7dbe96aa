//! Command checks: run a program without a shell; exit 0 is up, anything else is down, and
//! the first line of its output is the detail. A command given as one string is split into
//! words as a POSIX shell would (quotes, backslashes) by [`shlex`], but nothing is expanded.
//! A command that outlives its time limit is killed with its whole process group
//! ([`service_kit::process`]), children included, so it can never pile up.

use std::fmt;
use std::process::Stdio;
use std::time::{Duration, Instant};

use service_kit::process::{in_own_group, kill_group};
use tokio::io::AsyncReadExt;

use super::secrets::shown_command;
use super::{one_line, FieldProblem, Outcome, Secrets};
use crate::config::{CommandSpec, EndpointConfig};

/// How much output is kept for the detail line.
const MAX_OUTPUT_BYTES: u64 = 16 * 1024;

/// A configured command check. Its `Debug` shows the arguments with secrets masked.
#[derive(Clone)]
pub struct CommandProbe {
    /// Program and arguments.
    pub argv: Vec<String>,
    /// Time limit; the process group is killed when it passes.
    pub timeout: Duration,
    /// Secret arguments (`--token=x`, `--password x`, also inside `sh -c` scripts), scrubbed
    /// from the output the check shows.
    pub secrets: Secrets,
}

impl fmt::Debug for CommandProbe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CommandProbe")
            .field("command", &self.shown())
            .field("timeout", &self.timeout)
            .field("secrets", &self.secrets)
            .finish()
    }
}

impl CommandProbe {
    /// Reads `command` (a string split into words, or a list), or else `url`.
    pub fn new(endpoint: &EndpointConfig, timeout: Duration) -> Result<CommandProbe, FieldProblem> {
        let argv = match &endpoint.command {
            Some(CommandSpec::Argv(argv)) => argv.clone(),
            Some(CommandSpec::Line(line)) => split_words(line).map_err(|e| ("command", e))?,
            None => match endpoint.url.as_deref() {
                // Allow `url = "pg_isready -h db"` as well, for users who put it there.
                Some(line) if !line.trim().is_empty() => {
                    split_words(line).map_err(|e| ("url", e))?
                }
                _ => return Err(("command", "is required for type \"command\"".to_string())),
            },
        };
        if argv.is_empty() || argv[0].trim().is_empty() {
            return Err(("command", "must name a program".to_string()));
        }
        let mut secrets = Secrets::new();
        secrets.add_args(&argv);
        Ok(CommandProbe {
            argv,
            timeout,
            secrets,
        })
    }

    /// The command as it may be shown: secret arguments masked, inside scripts too.
    pub fn shown(&self) -> String {
        shown_command(&self.argv)
    }

    /// Runs the command once.
    pub async fn run(&self) -> Outcome {
        let started = Instant::now();
        let mut command = tokio::process::Command::new(&self.argv[0]);
        command
            .args(&self.argv[1..])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        // Its own group, so that a timeout also ends what it started (`sh -c "a & b"`).
        let mut child = match in_own_group(&mut command).spawn() {
            Ok(child) => child,
            Err(err) => {
                return Outcome::down(
                    started.elapsed(),
                    format!("cannot run {:?}: {err}", self.argv[0]),
                )
            }
        };
        // From here on, however this run ends (done, timed out, or abandoned at shutdown),
        // the whole group goes with it.
        let _group = GroupGuard(child.id());
        let stdout = child.stdout.take();
        let stderr = child.stderr.take();
        let collect = async {
            let (out, err) = tokio::join!(read_limited(stdout), read_limited(stderr));
            let status = child.wait().await;
            (status, out, err)
        };
        match tokio::time::timeout(self.timeout, collect).await {
            Ok((Ok(status), out, err)) => {
                let elapsed = started.elapsed();
                let first_line = first_non_empty_line(&out).or_else(|| first_non_empty_line(&err));
                if status.success() {
                    let outcome = Outcome::up(elapsed);
                    match first_line {
                        Some(line) => outcome.with_detail(line),
                        None => outcome.with_detail("exit 0"),
                    }
                } else {
                    let code = match status.code() {
                        Some(code) => format!("exit {code}"),
                        None => "killed by a signal".to_string(),
                    };
                    let error = match first_line {
                        Some(line) => format!("{code}: {line}"),
                        None => code,
                    };
                    Outcome::down(elapsed, error)
                }
            }
            Ok((Err(err), _, _)) => Outcome::down(started.elapsed(), format!("wait failed: {err}")),
            Err(_) => {
                if let Some(pid) = child.id() {
                    // Failing means the group is gone already; the kill below reaps the child.
                    let _ = kill_group(pid);
                }
                let _ = child.kill().await;
                Outcome::down(
                    started.elapsed(),
                    format!("timed out after {} ms; killed", self.timeout.as_millis()),
                )
            }
        }
    }
}

/// Kills a command's process group when dropped, so that nothing a check started outlives
/// its run: not on a timeout, not when the run is abandoned (shutdown, the probe's outer
/// limit), not a background job left by a command that exited. The signal goes through
/// [`kill_group`] (a system call), no `kill` program is spawned.
struct GroupGuard(Option<u32>);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if let Some(pid) = self.0 {
            // Failing means the group is gone already.
            let _ = kill_group(pid);
        }
    }
}

async fn read_limited<R: tokio::io::AsyncRead + Unpin>(reader: Option<R>) -> String {
    let Some(reader) = reader else {
        return String::new();
    };
    let mut buffer = Vec::new();
    let mut limited = reader.take(MAX_OUTPUT_BYTES);
    let _ = limited.read_to_end(&mut buffer).await;
    // Drain the rest so the command never blocks on a full pipe.
    let mut rest = limited.into_inner();
    let _ = tokio::io::copy(&mut rest, &mut tokio::io::sink()).await;
    String::from_utf8_lossy(&buffer).into_owned()
}

fn first_non_empty_line(text: &str) -> Option<String> {
    let line = one_line(text, 200);
    (!line.is_empty()).then_some(line)
}

/// Splits a command line into words like a POSIX shell would for plain words, quotes and
/// backslashes, without expanding anything: `pg_isready -h "db host"` ->
/// `["pg_isready", "-h", "db host"]`.
pub fn split_words(line: &str) -> Result<Vec<String>, String> {
    shlex::split(line).ok_or_else(|| {
        format!(
            "cannot split {:?} into words: unclosed quote or trailing backslash",
            service_kit::redact::redact_url(line)
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_split_with_quotes_and_no_expansion() {
        assert_eq!(
            split_words(r#"pg_isready -h "db host" '$HOME' a\ b"#).unwrap(),
            vec!["pg_isready", "-h", "db host", "$HOME", "a b"]
        );
        assert!(split_words("echo \"open").is_err());
        assert_eq!(split_words("  ").unwrap(), Vec::<String>::new());
    }

    #[tokio::test]
    async fn a_timed_out_command_leaves_no_process_behind() {
        // One sleep in the background and one in the foreground of the shell; a length unique
        // to this run finds them in `ps`.
        let seconds = 4000 + std::process::id() % 1000;
        let probe = CommandProbe {
            argv: vec![
                "sh".to_string(),
                "-c".to_string(),
                format!("sleep {seconds} & sleep {seconds}"),
            ],
            timeout: Duration::from_millis(300),
            secrets: Secrets::new(),
        };
        let outcome = probe.run().await;
        assert_eq!(
            outcome.error.as_deref(),
            Some("timed out after 300 ms; killed")
        );
        let marker = format!("sleep {seconds}");
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let ps = std::process::Command::new("ps")
                .args(["-eo", "args"])
                .output()
                .unwrap();
            // A killed process waiting to be reaped shows as `[sleep] <defunct>`: gone too.
            let left = String::from_utf8_lossy(&ps.stdout)
                .lines()
                .any(|line| line.contains(&marker));
            if !left {
                break;
            }
            assert!(Instant::now() < deadline, "{marker} still runs");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Starts `sh -c "sleep 100 & echo $! > FILE; sleep 100"` under `run` and returns the
    /// background sleep's pid once the shell wrote it.
    async fn grandchild_of(
        run: impl std::future::Future<Output = ()>,
        marker: &std::path::Path,
    ) -> i32 {
        run.await;
        let text = std::fs::read_to_string(marker).expect("the shell wrote the pid");
        text.trim().parse().unwrap()
    }

    fn assert_gone(pid: i32) {
        let proc_dir = std::path::PathBuf::from(format!("/proc/{pid}"));
        let deadline = Instant::now() + Duration::from_secs(5);
        // Gone, or a zombie waiting for init to reap it.
        while proc_dir.exists()
            && !std::fs::read_to_string(proc_dir.join("stat")).is_ok_and(|s| s.contains(") Z"))
        {
            assert!(Instant::now() < deadline, "grandchild {pid} still runs");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn backgrounding_probe(marker: &std::path::Path, timeout: Duration) -> CommandProbe {
        CommandProbe {
            argv: vec![
                "sh".to_string(),
                "-c".to_string(),
                format!("sleep 100 & echo $! > {}; sleep 100", marker.display()),
            ],
            timeout,
            secrets: Secrets::new(),
        }
    }

    #[tokio::test]
    async fn a_timed_out_shell_takes_its_grandchildren_with_it() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("grandchild.pid");
        let probe = backgrounding_probe(&marker, Duration::from_millis(500));
        let pid = grandchild_of(
            async {
                let outcome = probe.run().await;
                assert_eq!(
                    outcome.error.as_deref(),
                    Some("timed out after 500 ms; killed")
                );
            },
            &marker,
        )
        .await;
        assert_gone(pid);
    }

    #[tokio::test]
    async fn an_abandoned_run_takes_its_grandchildren_with_it() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("grandchild.pid");
        let probe = backgrounding_probe(&marker, Duration::from_secs(60));
        let pid = grandchild_of(
            async {
                // As at shutdown: the run is dropped long before its own time limit.
                let abandoned = tokio::time::timeout(Duration::from_millis(500), probe.run()).await;
                assert!(abandoned.is_err());
            },
            &marker,
        )
        .await;
        assert_gone(pid);
    }
}
