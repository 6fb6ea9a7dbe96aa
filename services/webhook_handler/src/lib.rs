//! webhook_handler: receives GitHub, GitLab, Gitea/Forgejo, Standard Webhooks and generic
//! webhooks, verifies them, and runs deploy commands, Compose actions and notifications in
//! the background, with an audit trail that survives restarts.
//!
//! A delivery goes: HTTP ([`http::receive`]) → signature ([`verify`]) → payload and facts
//! ([`payload`]) → filters ([`filter`]) → job queue ([`jobs`], stored by [`store`]) → the
//! action (a program or Compose, [`jobs`]) → notification ([`notify`]).
//!
//! # Layout
//! - [`config`]: the spec's `config.toml` and `[[hooks]]` as written, env vars.
//! - [`settings`]: the runtime settings built once from it: each [`settings::Hook`] with its
//!   secret, verifier, filters, action, sinks and networks; every bad key named.
//! - [`secret`]: a secret that never shows.
//! - [`verify`]: each provider's signature scheme, constant time.
//! - [`network`]: the sender's address behind trusted proxies, allow-lists.
//! - [`payload`]: JSON and form bodies, and the [`payload::Facts`] of each provider.
//! - [`filter`]: events, repos and branches (globs) a hook acts on.
//! - [`deliveries`]: what became of each delivery, the newest of them in memory.
//! - [`audit`]: verified deliveries written to SQLite in batches.
//! - [`store`]: jobs, payloads, delivery ids and the audit trail in SQLite.
//! - [`jobs`]: per-hook queues (one running, newest waiting), running actions with their
//!   output, retries, Compose.
//! - [`notify`]: job outcomes through the shared alert sinks.
//! - [`event_log`]: the spec's stdout lines (`Received push event for repo ...`).
//! - [`metrics`]: the counters behind `/metrics`.
//! - [`http`]: the routes (receiving, jobs, hooks, admin, metrics, dashboard).

pub mod audit;
pub mod config;
pub mod deliveries;
pub mod event_log;
pub mod filter;
pub mod http;
pub mod jobs;
pub mod metrics;
pub mod network;
pub mod notify;
pub mod payload;
pub mod settings;
pub mod store;
pub mod verify;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use service_kit::auth::AuthConfig;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::audit::AuditTrail;
use crate::deliveries::RecentDeliveries;
use crate::event_log::RejectionLog;
use crate::http::receive::BodyBudget;
use crate::jobs::compose::ComposeCli;
use crate::jobs::{JobContext, Jobs};
use crate::metrics::Metrics;
use crate::notify::Notifier;
use crate::settings::{Action, Settings, DUPLICATE_WINDOW};
use crate::store::JobStore;

pub use http::router;

/// Why the service could not start or stopped with an error (shared by every service).
pub use service_kit::serve::RunError;

/// Bytes of request bodies read at once, at most (at least two of the largest allowed).
const BODY_BUDGET_BYTES: u64 = 64 * 1024 * 1024;

/// Everything the HTTP handlers need.
pub struct App {
    /// The settings.
    pub settings: Arc<Settings>,
    /// The job engine.
    pub jobs: Arc<Jobs>,
    /// The newest deliveries of each hook.
    pub recent: RecentDeliveries,
    /// Verified deliveries on their way to SQLite.
    pub audit: AuditTrail,
    /// Refused deliveries on stdout, rate-limited.
    pub rejections: RejectionLog,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// Job outcomes to people.
    pub notifier: Arc<Notifier>,
    /// The Compose program found at start-up.
    pub compose: Option<ComposeCli>,
    /// Request bodies being read, bounded.
    pub body_budget: BodyBudget,
    /// Live output streams open, bounded.
    pub streams: Arc<tokio::sync::Semaphore>,
    /// Who may read jobs, logs, the dashboard and metrics.
    pub read_auth: Arc<AuthConfig>,
}

/// Runs the service until `shutdown`: receiving, queueing, running, notifying, serving.
/// Jobs running at shutdown are stopped (their process groups killed) and recorded
/// `interrupted`; waiting ones run after the next start.
pub async fn run(
    settings: Settings,
    listener: TcpListener,
    data_dir: PathBuf,
    shutdown: CancellationToken,
) -> Result<(), RunError> {
    let settings = Arc::new(settings);
    let (store, interrupted) = JobStore::open(&data_dir)?;
    if interrupted > 0 {
        tracing::warn!(
            jobs = interrupted,
            "Jobs that were running when the service stopped are marked interrupted."
        );
    }
    let compose = if settings
        .hooks
        .iter()
        .any(|h| matches!(h.action, Action::Compose(_) | Action::Deploy(_)))
    {
        let found = ComposeCli::detect().await;
        match &found {
            Some(cli) => tracing::info!(compose = %cli.describe(), "Compose program found."),
            None => tracing::warn!("A hook has a Compose action or deploy but neither `docker compose` nor `docker-compose` answers; its jobs will fail until one is installed."),
        }
        found
    } else {
        None
    };
    warn_about_exposure(&settings, &listener);
    let metrics = Arc::new(Metrics::new(settings.hooks.iter().map(|h| h.id.as_str())));
    let notifier = Arc::new(Notifier::new(&settings));
    let recent = RecentDeliveries::default();
    for record in store.recent_deliveries(deliveries::RECENT_PER_HOOK)? {
        recent.push(record);
    }
    let context = JobContext {
        store: store.clone(),
        payload_dir: data_dir.join("payloads"),
        limits: settings.jobs,
        hidden_env: Arc::new(settings.hidden_env.clone()),
        compose: compose.clone(),
        notifier: notifier.clone(),
        metrics: metrics.clone(),
    };
    // New jobs are stored until the last request is answered; running jobs stop at once.
    let stop_accepting = CancellationToken::new();
    let jobs = Jobs::start(
        &settings.hooks,
        context,
        shutdown.clone(),
        stop_accepting.clone(),
    )?;
    let (audit, audit_writer) = AuditTrail::start(store.clone(), shutdown.clone());
    let housekeeping = tokio::spawn(prune_regularly(
        store.clone(),
        settings.jobs.retention,
        shutdown.clone(),
    ));
    let app = Arc::new(App {
        read_auth: Arc::new(read_auth(&settings)),
        settings: settings.clone(),
        jobs: jobs.clone(),
        recent,
        audit,
        rejections: RejectionLog::default(),
        metrics,
        notifier: notifier.clone(),
        compose,
        body_budget: BodyBudget::new(BODY_BUDGET_BYTES.max(settings.max_body_bytes * 2)),
        streams: Arc::new(tokio::sync::Semaphore::new(http::jobs::MAX_STREAMS)),
    });
    tracing::info!(
        address = %listener.local_addr()?,
        hooks = settings.hooks.len(),
        "Webhook handler listening."
    );
    service_kit::serve::warn_if_open(
        "webhook_handler",
        listener.local_addr()?,
        app.read_auth.is_enabled(),
        "deliveries are still verified, but job output is served to the local host only \
         until [auth] or WEBHOOK_TOKEN is set",
    );
    let served = service_kit::serve::serve(listener, router(app), shutdown.clone()).await;
    shutdown.cancel();
    stop_accepting.cancel();
    jobs.stopped().await;
    notifier.drain(Duration::from_secs(3)).await;
    let _ = audit_writer.await;
    let _ = housekeeping.await;
    tracing::info!("Webhook handler stopped.");
    served.map_err(RunError::from)
}

/// Who may read: `[auth]`; when it names no one but an admin token is set, the admin token.
fn read_auth(settings: &Settings) -> AuthConfig {
    if settings.auth.is_enabled() {
        return settings.auth.clone();
    }
    AuthConfig {
        token: settings.admin_token.clone(),
        ..AuthConfig::default()
    }
}

/// One warning line for each way a fresh install could be more open than meant.
fn warn_about_exposure(settings: &Settings, listener: &TcpListener) {
    for hook in &settings.hooks {
        if matches!(hook.verifier, verify::Verifier::None) {
            tracing::warn!(hook = %hook.id, "Hook has verify = \"none\": anyone who reaches it can start its action.");
        }
    }
    if settings
        .hook(settings::DEFAULT_HOOK_ID)
        .is_some_and(|_| settings.default_secret_is_example)
    {
        tracing::warn!("[server] secret is the spec's example value \"your_shared_secret\": set WEBHOOK_SECRET to a strong random secret.");
    }
    let public = listener.local_addr().is_ok_and(|a| !a.ip().is_loopback());
    if public && !settings.auth.is_enabled() {
        tracing::warn!("No [auth] credentials: jobs, their output, the dashboard and metrics are served to the local host only; set an [auth] token (WEBHOOK_TOKEN) to reach them from elsewhere.");
    }
}

/// Prunes old jobs, payloads, deliveries and delivery ids every hour.
async fn prune_regularly(store: JobStore, retention: Duration, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(Duration::from_secs(3600));
    loop {
        tokio::select! {
            _ = tick.tick() => {
                if let Err(err) = store.prune(retention, DUPLICATE_WINDOW).await {
                    tracing::error!(%err, "Could not prune old jobs and deliveries.");
                }
            }
            _ = shutdown.cancelled() => return,
        }
    }
}
