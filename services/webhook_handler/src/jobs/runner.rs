//! One job from start to end: marked running, its payload written to a file only it can
//! read, its action run with the payload facts as `WEBHOOK_*` variables (retried with
//! backoff when the hook allows), its output saved as it goes, its end recorded, printed
//! and announced.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::output::LiveOutput;
use super::program::{self, Program, ProgramEnd};
use super::record::{JobRecord, JobState};
use super::JobContext;
use crate::event_log;
use crate::notify::OUTPUT_LINES;
use crate::settings::{Action, Hook};
use crate::store::Finish;

/// How often a running job's output is saved, so a crash loses at most this much of it.
const SAVE_EVERY: Duration = Duration::from_secs(1);

/// The outcome of one attempt.
struct Attempt {
    /// Why it failed; `None` when it succeeded.
    failure: Option<String>,
    /// Exit code of its last program.
    exit_code: Option<i32>,
    /// Whether the service is stopping (no further attempt).
    cancelled: bool,
}

/// Runs job `id` of `hook` to its end.
pub async fn run_job(
    context: &JobContext,
    hook: &Arc<Hook>,
    id: i64,
    output: &Arc<LiveOutput>,
    shutdown: &CancellationToken,
) {
    let store = &context.store;
    let record = match store.job(id).await {
        Ok(Some(record)) => record,
        Ok(None) => return,
        Err(err) => {
            tracing::error!(job = id, %err, "Cannot read a queued job; it stays queued.");
            return;
        }
    };
    if let Err(err) = store.mark_running(id).await {
        tracing::error!(job = id, %err, "Cannot mark a job running; it stays queued.");
        return;
    }
    let started = Instant::now();
    event_log::info(&format!("Running {}...", hook.action.program_name()));
    let payload_file = match write_payload_file(context, id).await {
        Ok(path) => path,
        Err(err) => {
            output.note(&format!("[could not write the payload file: {err}]"));
            None
        }
    };
    let env = job_env(hook, &record, payload_file.as_deref());

    let saver = spawn_saver(context, id, output.clone());
    let end = match &hook.action {
        Action::Deploy(deploy) => {
            let end = super::deploy::run(context, hook, deploy, id, env, output, shutdown).await;
            Outcome {
                state: end.state,
                reason: end.reason,
                exit_code: None,
                attempts: 1,
                evidence: end.evidence,
            }
        }
        _ => run_attempts(context, hook, env, output, shutdown).await,
    };
    saver.abort();
    if let Some(path) = &payload_file {
        let _ = tokio::fs::remove_file(path).await;
    }
    let Outcome {
        state,
        reason,
        exit_code,
        attempts,
        evidence,
    } = end;
    let finish = Finish {
        state,
        reason: reason.clone(),
        exit_code,
        attempts,
        output: output.snapshot(),
    };
    if let Err(err) = store.finish(id, finish).await {
        tracing::error!(job = id, %err, "Cannot record how a job ended.");
    }
    output.end(state);
    match state {
        JobState::Succeeded => event_log::info("Deployment completed."),
        JobState::RolledBack => event_log::warn(&format!(
            "Deployment failed and was rolled back (job {id}, hook {}): {}.",
            hook.id,
            reason.as_deref().unwrap_or("failed")
        )),
        _ => event_log::error(&format!(
            "Deployment failed (job {id}, hook {}): {}.",
            hook.id,
            reason.as_deref().unwrap_or("failed")
        )),
    }
    context
        .metrics
        .job_finished(&hook.id, state, Some(started.elapsed().as_secs_f64()));
    let ended = store.job(id).await.ok().flatten().unwrap_or(JobRecord {
        state,
        reason,
        ..record
    });
    context.notifier.announce(
        hook,
        &ended,
        output.last_lines(OUTPUT_LINES),
        evidence.as_deref(),
    );
}

/// How a job ended.
struct Outcome {
    state: JobState,
    reason: Option<String>,
    exit_code: Option<i32>,
    attempts: u32,
    /// The failing services' error lines (deploys).
    evidence: Option<String>,
}

/// Runs a plain action (command, Compose, nothing), trying again after a failure as often as
/// the hook allows, with backoff.
async fn run_attempts(
    context: &JobContext,
    hook: &Hook,
    env: Vec<(String, String)>,
    output: &Arc<LiveOutput>,
    shutdown: &CancellationToken,
) -> Outcome {
    let attempts_allowed = 1 + hook.retries;
    let mut attempts = 0;
    let last = loop {
        attempts += 1;
        if attempts > 1 {
            output.note(&format!("--- attempt {attempts} of {attempts_allowed} ---"));
        }
        let mut attempt_env = env.clone();
        attempt_env.push(("WEBHOOK_ATTEMPT".to_string(), attempts.to_string()));
        let attempt = run_action(context, hook, attempt_env, output, shutdown).await;
        if attempt.failure.is_none() || attempt.cancelled || attempts >= attempts_allowed {
            break attempt;
        }
        let wait = service_kit::backoff::exponential(
            context.limits.retry_backoff,
            Duration::from_secs(3600),
            attempts,
        );
        output.note(&format!(
            "[attempt {attempts} failed: {}; trying again in {} s]",
            attempt.failure.as_deref().unwrap_or(""),
            wait.as_secs()
        ));
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.cancelled() => break Attempt { cancelled: true, ..attempt },
        }
    };
    let state = if last.cancelled {
        JobState::Interrupted
    } else if last.failure.is_none() {
        JobState::Succeeded
    } else {
        JobState::Failed
    };
    Outcome {
        state,
        reason: if last.cancelled {
            Some("the webhook handler stopped while the job ran".to_string())
        } else {
            last.failure
        },
        exit_code: last.exit_code,
        attempts,
        evidence: None,
    }
}

/// Runs the hook's action once.
async fn run_action(
    context: &JobContext,
    hook: &Hook,
    env: Vec<(String, String)>,
    output: &Arc<LiveOutput>,
    shutdown: &CancellationToken,
) -> Attempt {
    let commands = match &hook.action {
        // Deploys have their own way (`deploy::run`), never an attempt.
        Action::None | Action::Deploy(_) => {
            return Attempt {
                failure: None,
                exit_code: None,
                cancelled: false,
            }
        }
        Action::Command(argv) => vec![argv.clone()],
        Action::Compose(compose) => match &context.compose {
            Some(cli) => cli.commands(compose),
            None => {
                return Attempt {
                    failure: Some(
                        "no Compose program on this machine (neither docker compose nor docker-compose)"
                            .to_string(),
                    ),
                    exit_code: None,
                    cancelled: false,
                }
            }
        },
    };
    let many = commands.len() > 1;
    let mut exit_code = None;
    for argv in commands {
        if many {
            output.note(&format!("$ {}", argv.join(" ")));
        }
        let program = Program {
            argv,
            env: env.clone(),
            hidden_env: context.hidden_env.clone(),
            working_dir: hook.working_dir.clone(),
            timeout: hook.timeout,
        };
        let end = program::run(&program, output, shutdown).await;
        exit_code = end.exit_code();
        if !end.succeeded() {
            return Attempt {
                failure: end.failure(hook.timeout),
                exit_code,
                cancelled: end == ProgramEnd::Cancelled,
            };
        }
    }
    Attempt {
        failure: None,
        exit_code,
        cancelled: false,
    }
}

/// The job's variables: `WEBHOOK_HOOK`, `WEBHOOK_JOB_ID`, the facts (`WEBHOOK_EVENT`,
/// `WEBHOOK_REPO`, `WEBHOOK_REF`, `WEBHOOK_BRANCH`, `WEBHOOK_TAG`, `WEBHOOK_COMMIT`,
/// `WEBHOOK_PUSHER`, `WEBHOOK_DELIVERY`; empty when unknown, so `set -u` scripts work),
/// `WEBHOOK_PAYLOAD_FILE`, then the hook's own `env`. Values go into the environment as
/// they are: no shell ever reads them.
fn job_env(hook: &Hook, job: &JobRecord, payload_file: Option<&Path>) -> Vec<(String, String)> {
    let facts = &job.facts;
    let text = |value: &Option<String>| value.clone().unwrap_or_default();
    let mut env = vec![
        ("WEBHOOK_HOOK".to_string(), hook.id.clone()),
        ("WEBHOOK_JOB_ID".to_string(), job.id.to_string()),
        ("WEBHOOK_EVENT".to_string(), facts.event.clone()),
        ("WEBHOOK_ACTION".to_string(), text(&facts.action)),
        ("WEBHOOK_REPO".to_string(), text(&facts.repo)),
        ("WEBHOOK_REF".to_string(), text(&facts.git_ref)),
        ("WEBHOOK_BRANCH".to_string(), text(&facts.branch)),
        ("WEBHOOK_TAG".to_string(), text(&facts.tag)),
        ("WEBHOOK_COMMIT".to_string(), text(&facts.commit)),
        ("WEBHOOK_PUSHER".to_string(), text(&facts.pusher)),
        ("WEBHOOK_DELIVERY".to_string(), text(&facts.delivery)),
        (
            "WEBHOOK_PAYLOAD_FILE".to_string(),
            payload_file
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default(),
        ),
    ];
    env.extend(hook.env.iter().cloned());
    env
}

/// Writes the job's stored payload to `payloads/job-ID.json`, readable by the owner only.
async fn write_payload_file(context: &JobContext, id: i64) -> std::io::Result<Option<PathBuf>> {
    let Some((body, _content_type)) = context
        .store
        .payload(id)
        .await
        .map_err(std::io::Error::other)?
    else {
        return Ok(None);
    };
    let dir = context.payload_dir.clone();
    let path = dir.join(format!("job-{id}.json"));
    let written = path.clone();
    tokio::task::spawn_blocking(move || {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::create_dir_all(&dir)?;
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .mode(0o600)
            .open(&written)?;
        file.write_all(&body)
    })
    .await
    .map_err(std::io::Error::other)??;
    Ok(Some(path))
}

/// Saves the output of a running job every [`SAVE_EVERY`] until aborted.
fn spawn_saver(
    context: &JobContext,
    id: i64,
    output: Arc<LiveOutput>,
) -> tokio::task::JoinHandle<()> {
    let store = context.store.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(SAVE_EVERY);
        tick.tick().await;
        let mut saved_len = 0;
        loop {
            tick.tick().await;
            let text = output.snapshot();
            if text.len() == saved_len {
                continue;
            }
            saved_len = text.len();
            if let Err(err) = store.save_output(id, text).await {
                tracing::warn!(job = id, %err, "Cannot save a running job's output.");
            }
        }
    })
}
