//! A health-gated deploy with automatic rollback (`[hooks.deploy]`), of Compose services or,
//! without a Compose file, of whatever its `record`, `update` and `restore` commands act on:
//!
//! 1. **recorded**: for each service, the image id (not the tag) its running container runs,
//!    so the old version can come back even when the tag has moved (or what `record` says);
//! 2. a **maintenance** window on healthcheck_dashboard, so the expected restart pages
//!    nobody;
//! 3. **updated**: `pull`, `build`, or the configured command;
//! 4. **started**: `up -d --no-deps` of those services only (a command deploy's update starts
//!    what it changed itself);
//! 5. **health**: the gate ([`gate`]);
//! 6. on any failure, **rolled back**: the recorded image ids re-tagged and `up -d` again (or
//!    `restore` with what `record` said), and the gate again: the job ends `rolled_back`, or
//!    `rollback_failed` when even that does not come back green (`failed` with
//!    `rollback = false`).
//!
//! Every step is recorded with its times and outcome ([`steps`]); the failing services' own
//! error lines, fetched from log_watcher for the deploy's window, go with the notification.
//!
//! # Layout
//! - [`steps`]: the job's step list, saved as it changes.
//! - [`engine`]: the Docker and Compose programs: containers, image ids, re-tags, verbs.
//! - [`gate`]: waiting for health, failing fast.

pub mod engine;
pub mod gate;
pub mod steps;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use service_kit::peers::{healthcheck, log_watcher};
use tokio_util::sync::CancellationToken;

use super::output::LiveOutput;
use super::record::JobState;
use super::JobContext;
use crate::settings::{DeployAction, Hook, Target, Update};
use engine::{Container, Engine};
use steps::{StepOutcome, Steps};

/// How a deploy ended.
#[derive(Debug, Clone)]
pub struct DeployEnd {
    /// `succeeded`, `failed`, `rolled_back`, `rollback_failed` or `interrupted`.
    pub state: JobState,
    /// Why it did not simply succeed.
    pub reason: Option<String>,
    /// The deployed services' error lines from log_watcher, when it failed.
    pub evidence: Option<String>,
}

/// Seconds the maintenance window outlasts the grace time (for the rollback's own gate).
const WINDOW_MARGIN_SECS: u64 = 300;

/// Runs the deploy of job `job` to its end.
pub async fn run(
    context: &JobContext,
    hook: &Hook,
    deploy: &DeployAction,
    job: i64,
    env: Vec<(String, String)>,
    output: &Arc<LiveOutput>,
    shutdown: &CancellationToken,
) -> DeployEnd {
    let steps = Steps::new(job, context.store.clone());
    let compose = match (&deploy.target, &context.compose) {
        (Target::Compose { file, project }, Some(cli)) => {
            Some((cli, file.as_path(), project.as_str()))
        }
        (Target::Compose { .. }, None) => {
            let reason =
                "no Compose program on this machine (neither docker compose nor docker-compose)";
            steps.note("recorded", StepOutcome::Failed, reason).await;
            return ended(JobState::Failed, Some(reason.to_string()), None);
        }
        (Target::Commands { .. }, _) => None,
    };
    let engine = Engine {
        deploy,
        compose,
        env,
        hidden_env: context.hidden_env.clone(),
        working_dir: hook.working_dir.clone(),
        timeout: hook.timeout,
        output,
        shutdown,
    };
    let began = Utc::now();

    // 1. What runs now.
    let step = steps.begin("recorded", "").await;
    let recorded = match record(&engine).await {
        Ok(recorded) => recorded,
        Err(reason) => {
            steps.end(step, StepOutcome::Failed, reason.clone()).await;
            return ended(JobState::Failed, Some(reason), None);
        }
    };
    steps
        .end(step, StepOutcome::Ok, describe_recorded(&recorded))
        .await;

    // 2. The maintenance window.
    let window_secs = deploy.grace.as_secs() * 2 + WINDOW_MARGIN_SECS;
    let reason = format!("deploy job {job} of hook {}", hook.id);
    let window =
        match healthcheck::open_maintenance(&deploy.health, &deploy.services, window_secs, &reason)
            .await
        {
            Ok(id) => {
                steps
                    .note(
                        "maintenance",
                        StepOutcome::Ok,
                        format!("window {id} for {window_secs} s"),
                    )
                    .await;
                Some(id)
            }
            Err(err) => {
                steps
                    .note(
                        "maintenance",
                        StepOutcome::Skipped,
                        format!("no window: {err}"),
                    )
                    .await;
                None
            }
        };

    // 3-5. The new version, started and verified.
    let failure = deploy_new_version(&engine, &steps).await.err();
    let end = match failure {
        None => ended(JobState::Succeeded, None, None),
        Some(reason) if shutdown.is_cancelled() => ended(JobState::Interrupted, Some(reason), None),
        Some(reason) => {
            let evidence = evidence(deploy, began).await;
            if let Some(lines) = &evidence {
                output.note(&format!("[error lines from log_watcher]\n{lines}"));
            }
            if !deploy.rollback {
                ended(JobState::Failed, Some(reason), evidence)
            } else {
                roll_back(&engine, &steps, &recorded, reason, evidence).await
            }
        }
    };
    if let Some(id) = window {
        if let Err(err) = healthcheck::close_maintenance(&deploy.health, &id).await {
            output.note(&format!("[could not close maintenance window {id}: {err}]"));
        }
    }
    end
}

fn ended(state: JobState, reason: Option<String>, evidence: Option<String>) -> DeployEnd {
    DeployEnd {
        state,
        reason,
        evidence,
    }
}

/// What ran before a deploy, to come back to.
enum Recorded {
    /// Each service and the container it ran (none for a service not running yet).
    Containers(Vec<(String, Option<Container>)>),
    /// What `record` printed (empty: nothing to come back to).
    Said(String),
}

async fn record(engine: &Engine<'_>) -> Result<Recorded, String> {
    if let Target::Commands { record, .. } = &engine.deploy.target {
        return engine.first_line(record, &[]).await.map(Recorded::Said);
    }
    let mut recorded = Vec::new();
    for service in &engine.deploy.services {
        let containers = engine.containers(service).await?;
        let running = containers
            .into_iter()
            .filter(|c| c.status == "running")
            .max_by_key(|c| c.started_at);
        recorded.push((service.clone(), running));
    }
    Ok(Recorded::Containers(recorded))
}

fn describe_recorded(recorded: &Recorded) -> String {
    match recorded {
        Recorded::Said(text) if text.is_empty() => "record printed nothing".to_string(),
        Recorded::Said(text) => format!("was: {text}"),
        Recorded::Containers(containers) => containers
            .iter()
            .map(|(service, container)| match container {
                Some(c) => format!("{service}: {} ({})", short_id(&c.image_id), c.image_ref),
                None => format!("{service}: not running"),
            })
            .collect::<Vec<_>>()
            .join("; "),
    }
}

fn short_id(image_id: &str) -> &str {
    let hex = image_id.strip_prefix("sha256:").unwrap_or(image_id);
    &hex[..hex.len().min(12)]
}

/// Update, start, and wait for health.
async fn deploy_new_version(engine: &Engine<'_>, steps: &Steps) -> Result<(), String> {
    let deploy = engine.deploy;
    let step = steps.begin("updated", deploy.update.describe()).await;
    let updated = match &deploy.update {
        Update::Pull => engine.compose(&["pull"]).await,
        Update::Build => engine.compose(&["build"]).await,
        Update::Command(argv) => engine.run(argv.clone()).await,
    };
    finish(
        steps,
        step,
        updated.clone().map(|_| "new version ready".to_string()),
    )
    .await;
    updated.map_err(|e| format!("update failed: {e}"))?;
    start_and_verify(engine, steps, "started", "health").await
}

/// `up -d --no-deps` (a Compose deploy), then the gate; records both steps. A command deploy
/// was started by its own command, at once: its gate counts from now.
async fn start_and_verify(
    engine: &Engine<'_>,
    steps: &Steps,
    start_name: &str,
    health_name: &str,
) -> Result<(), String> {
    let deploy = engine.deploy;
    let started = if engine.compose.is_some() {
        let step = steps.begin(start_name, "up -d --no-deps").await;
        let started = match engine.compose(&["up", "-d", "--no-deps"]).await {
            Ok(()) => started_at(engine).await,
            Err(e) => Err(format!("up failed: {e}")),
        };
        finish(
            steps,
            step,
            started
                .clone()
                .map(|t| format!("containers started at {}", t.to_rfc3339())),
        )
        .await;
        started?
    } else {
        Utc::now()
    };
    let step = steps
        .begin(
            health_name,
            format!(
                "waiting for {} green round(s) within {} s",
                deploy.healthy_rounds,
                deploy.grace.as_secs()
            ),
        )
        .await;
    let verdict = gate::wait_healthy(deploy, engine, started, engine.output, engine.shutdown).await;
    finish(steps, step, verdict.clone()).await;
    verdict.map(|_| ())
}

/// When the services' newest containers started (the latest of them).
async fn started_at(engine: &Engine<'_>) -> Result<DateTime<Utc>, String> {
    let mut latest: Option<DateTime<Utc>> = None;
    for service in &engine.deploy.services {
        let containers = engine.containers(service).await?;
        let newest = containers
            .iter()
            .filter_map(|c| c.started_at)
            .max()
            .ok_or_else(|| format!("{service} has no started container"))?;
        latest = Some(latest.map_or(newest, |l| l.max(newest)));
    }
    Ok(latest.unwrap_or_else(Utc::now))
}

/// Ends step `step` as `result` says: its detail, or why it failed.
async fn finish(steps: &Steps, step: usize, result: Result<String, String>) {
    match result {
        Ok(detail) => steps.end(step, StepOutcome::Ok, detail).await,
        Err(reason) => steps.end(step, StepOutcome::Failed, reason).await,
    }
}

/// Brings back what ran before and verifies it.
async fn roll_back(
    engine: &Engine<'_>,
    steps: &Steps,
    recorded: &Recorded,
    reason: String,
    evidence: Option<String>,
) -> DeployEnd {
    let restored = match recorded {
        Recorded::Containers(containers) => {
            restore_images(engine, steps, recorded, containers).await
        }
        Recorded::Said(previous) => restore_by_command(engine, steps, previous).await,
    };
    match restored {
        None => ended(
            JobState::Failed,
            Some(format!("{reason}; nothing to roll back to")),
            evidence,
        ),
        Some(Ok(())) => ended(
            JobState::RolledBack,
            Some(format!("{reason}; rolled back to what ran before")),
            evidence,
        ),
        Some(Err(again)) => ended(
            JobState::RollbackFailed,
            Some(format!("{reason}; ROLLBACK FAILED: {again}")),
            evidence,
        ),
    }
}

/// `restore` with what `record` said, then the gate; `None` when record said nothing.
async fn restore_by_command(
    engine: &Engine<'_>,
    steps: &Steps,
    previous: &str,
) -> Option<Result<(), String>> {
    let Target::Commands { restore, .. } = &engine.deploy.target else {
        return Some(Err("not a command deploy".to_string()));
    };
    if previous.is_empty() {
        steps
            .note(
                "rolled back",
                StepOutcome::Skipped,
                "nothing to roll back to: record printed nothing",
            )
            .await;
        return None;
    }
    let step = steps
        .begin("rolled back", format!("restore {previous}"))
        .await;
    let extra = [("WEBHOOK_PREVIOUS".to_string(), previous.to_string())];
    let restored = engine.run_with(restore.clone(), &extra).await;
    finish(
        steps,
        step,
        restored.clone().map(|_| format!("back to {previous}")),
    )
    .await;
    if let Err(e) = restored {
        return Some(Err(format!("restore failed: {e}")));
    }
    Some(start_and_verify(engine, steps, "restarted", "health after rollback").await)
}

/// The recorded image ids re-tagged and started, then the gate; `None` when no container
/// ran before.
async fn restore_images(
    engine: &Engine<'_>,
    steps: &Steps,
    recorded: &Recorded,
    containers: &[(String, Option<Container>)],
) -> Option<Result<(), String>> {
    let previous: Vec<&Container> = containers.iter().filter_map(|(_, c)| c.as_ref()).collect();
    if previous.is_empty() {
        steps
            .note(
                "rolled back",
                StepOutcome::Skipped,
                "nothing to roll back to: no container ran before",
            )
            .await;
        return None;
    }
    let step = steps.begin("re-tagged", "the recorded image ids").await;
    let mut retagged = Ok(());
    for container in &previous {
        if let Err(e) = engine
            .retag(&container.image_id, &container.image_ref)
            .await
        {
            retagged = Err(e);
            break;
        }
    }
    let detail = retagged.clone().map(|_| describe_recorded(recorded));
    finish(steps, step, detail).await;
    Some(match retagged {
        Ok(()) => start_and_verify(engine, steps, "rolled back", "health after rollback").await,
        Err(e) => Err(e),
    })
}

/// The deployed services' error lines since `began`, from log_watcher, for the notification.
async fn evidence(deploy: &DeployAction, began: DateTime<Utc>) -> Option<String> {
    let logs = deploy.logs.as_ref()?;
    let mut parts = Vec::new();
    for service in &deploy.services {
        match log_watcher::recent_errors(logs, service, began, log_watcher::ERROR_LINES).await {
            Ok(events) if events.is_empty() => {}
            Ok(events) => parts.push(format!(
                "{service}:\n{}",
                log_watcher::format_lines(&events)
            )),
            Err(err) => parts.push(format!("{service}: {err}")),
        }
    }
    (!parts.is_empty()).then(|| parts.join("\n"))
}
