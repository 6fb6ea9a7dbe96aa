//! Command checks: run a program without a shell; exit 0 is up, anything else is down, and
//! the first line of its output is the detail. A command that outlives its time limit is
//! killed (its whole process group), so it can never pile up.

use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt;

use super::{one_line, FieldProblem, Outcome};
use crate::config::{CommandSpec, EndpointConfig};

/// How much output is kept for the detail line.
const MAX_OUTPUT_BYTES: u64 = 16 * 1024;

/// A configured command check.
#[derive(Debug, Clone)]
pub struct CommandProbe {
    /// Program and arguments.
    pub argv: Vec<String>,
    /// Time limit; the process is killed when it passes.
    pub timeout: Duration,
}

impl CommandProbe {
    /// Reads `command` (a string split into words, or a list).
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
        Ok(CommandProbe { argv, timeout })
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
        #[cfg(unix)]
        command.process_group(0);
        let mut child = match command.spawn() {
            Ok(child) => child,
            Err(err) => {
                return Outcome::down(
                    started.elapsed(),
                    format!("cannot run {:?}: {err}", self.argv[0]),
                )
            }
        };
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
                kill_group(&mut child).await;
                Outcome::down(
                    started.elapsed(),
                    format!("timed out after {} ms; killed", self.timeout.as_millis()),
                )
            }
        }
    }
}

async fn kill_group(child: &mut tokio::process::Child) {
    #[cfg(unix)]
    if let Some(pid) = child.id() {
        // The command may have started children of its own (sh -c "..."): kill the group.
        let _ = std::process::Command::new("kill")
            .args(["-KILL", "--", &format!("-{pid}")])
            .stderr(Stdio::null())
            .status();
    }
    let _ = child.kill().await;
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

/// Splits a command line into words like a shell would for plain words and quotes, without
/// expanding anything: `pg_isready -h "db host"` -> `["pg_isready", "-h", "db host"]`.
pub fn split_words(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some('"'), '\\') => match chars.next() {
                Some(next) => current.push(next),
                None => return Err("ends with a backslash".to_string()),
            },
            (Some(_), c) => current.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (None, '\\') => match chars.next() {
                Some(next) => {
                    current.push(next);
                    in_word = true;
                }
                None => return Err("ends with a backslash".to_string()),
            },
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut current));
                    in_word = false;
                }
            }
            (None, c) => {
                current.push(c);
                in_word = true;
            }
        }
    }
    if quote.is_some() {
        return Err(format!("unclosed quote in {line:?}"));
    }
    if in_word {
        words.push(current);
    }
    Ok(words)
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
}
