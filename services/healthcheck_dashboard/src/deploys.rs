//! Deploy markers: with `[peers] webhook_handler` set, a task asks it for the deploys of the
//! last 24 hours ([`service_kit::peers::webhook_handler::deploys`]) every
//! [`POLL_INTERVAL`] and keeps the answer, which `GET /api/deploys` serves and the dashboard
//! draws on the sparklines of the services each deploy names (all of them when it names
//! none). Without the peer there is no task, no marker and an empty list.
//!
//! One list for the whole service, never a copy per check: the page matches deploys to
//! services as it draws them.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use serde::Serialize;
use service_kit::peers::webhook_handler::{deploys, Deploy};
use service_kit::peers::Peer;
use tokio_util::sync::CancellationToken;

/// How often webhook_handler is asked.
pub const POLL_INTERVAL: Duration = Duration::from_secs(30);
/// How far back deploys are asked for.
pub const LOOKBACK: TimeDelta = TimeDelta::hours(24);
/// Deploys kept at most (the newest).
pub const MAX_DEPLOYS: usize = 500;

/// What the last poll found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DeploysSnapshot {
    /// The deploys of the last 24 hours, oldest first.
    pub deploys: Vec<Deploy>,
    /// Why the last poll failed (the deploys are then those of the last poll that worked).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The deploys known from webhook_handler.
#[derive(Debug, Default)]
pub struct DeployMarkers {
    /// webhook_handler, when configured.
    peer: Option<Peer>,
    /// The last answer; replaced whole by each poll.
    snapshot: RwLock<Arc<DeploysSnapshot>>,
}

impl DeployMarkers {
    /// Markers from `peer`; none (and no polling) without it.
    pub fn new(peer: Option<Peer>) -> DeployMarkers {
        DeployMarkers {
            peer,
            snapshot: RwLock::default(),
        }
    }

    /// What the last poll found.
    pub fn snapshot(&self) -> Arc<DeploysSnapshot> {
        self.snapshot
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    fn store(&self, snapshot: DeploysSnapshot) {
        *self
            .snapshot
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(snapshot);
    }

    /// Asks webhook_handler once and keeps the answer (or the error beside the last list);
    /// returns whether the deploys changed.
    pub async fn poll(&self) -> bool {
        let Some(peer) = &self.peer else {
            return false;
        };
        let previous = self.snapshot();
        match deploys(peer, Utc::now() - LOOKBACK).await {
            Ok(mut found) => {
                let excess = found.len().saturating_sub(MAX_DEPLOYS);
                found.drain(..excess);
                if previous.error.is_some() {
                    tracing::info!("Deploys from webhook_handler can be fetched again.");
                }
                let changed = found != previous.deploys;
                self.store(DeploysSnapshot {
                    deploys: found,
                    error: None,
                });
                changed
            }
            Err(error) => {
                if previous.error.is_none() {
                    tracing::warn!(%error, "Cannot fetch deploys from webhook_handler.");
                }
                self.store(DeploysSnapshot {
                    deploys: previous.deploys.clone(),
                    error: Some(error.to_string()),
                });
                false
            }
        }
    }

    /// The task polling every [`POLL_INTERVAL`] (the first at once) until `shutdown`, calling
    /// `changed` when the deploys did (so open dashboards redraw); none without the peer.
    pub fn poller(
        self: Arc<Self>,
        changed: impl Fn() + Send + 'static,
        shutdown: CancellationToken,
    ) -> Option<impl std::future::Future<Output = ()> + Send + 'static> {
        self.peer.as_ref()?;
        Some(async move {
            let mut ticks = tokio::time::interval(POLL_INTERVAL);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = ticks.tick() => {}
                    _ = shutdown.cancelled() => return,
                }
                tokio::select! {
                    new = self.poll() => if new { changed() },
                    _ = shutdown.cancelled() => return,
                }
            }
        })
    }
}
