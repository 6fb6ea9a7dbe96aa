//! Deploy markers: what webhook_handler deployed lately, drawn on the dashboard's chart.
//!
//! With `[peers] webhook_handler` set, [`poll`] asks that peer's `GET /deploys` for the
//! last [`LOOKBACK`] once at start and then every [`POLL_EVERY`], and keeps the answer in
//! [`DeployMarkers`]. The page and `GET /api/deploys` read that copy only, so a slow or
//! absent peer never delays them: a failed poll keeps the deploys known before and records
//! why it failed, which the page and the route show. Without the peer nothing polls and
//! there are no markers.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use service_kit::peers::webhook_handler::{self as peer_api, Deploy};
use service_kit::peers::{Peer, PeerError};
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

/// How often the peer is asked.
pub const POLL_EVERY: Duration = Duration::from_secs(30);
/// How far back deploys are asked for: a day, more than the chart's hour, so that a wider
/// chart or a late look still has them.
pub const LOOKBACK: chrono::TimeDelta = chrono::TimeDelta::hours(24);
/// Deploys kept at most (the newest); webhook_handler sends no more than this either.
pub const MAX_DEPLOYS: usize = 500;

/// One deploy as the peer sent it, with its start time read.
#[derive(Debug, Clone, PartialEq)]
pub struct Marker {
    /// The deploy as `/deploys` served it (what `/api/deploys` passes on).
    pub deploy: Deploy,
    /// When it started: where the marker stands.
    pub started: DateTime<Utc>,
}

impl Marker {
    /// Whether the marker belongs on a chart of `service`: the deploy named it, or named no
    /// service at all (a script, which may have touched anything).
    pub fn concerns(&self, service: &str) -> bool {
        self.deploy.services.is_empty() || self.deploy.services.iter().any(|s| s == service)
    }
}

/// What the last poll left: the deploys, oldest first, and why the last poll failed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Polled {
    /// The deploys of the last successful poll, oldest first.
    pub deploys: Vec<Marker>,
    /// Why the last poll failed (`None` after a successful one, and before any).
    pub error: Option<String>,
}

/// The deploys the chart shows, shared by the poller (writing) and the HTTP side (reading).
#[derive(Debug, Default)]
pub struct DeployMarkers {
    /// The last poll's outcome.
    last: RwLock<Polled>,
}

impl DeployMarkers {
    /// The deploys for a chart of `service` (all of them for `None`) and the last error.
    pub fn shown(&self, service: Option<&str>) -> Polled {
        let last = self.last.read().unwrap_or_else(|e| e.into_inner());
        Polled {
            deploys: last
                .deploys
                .iter()
                .filter(|m| service.is_none_or(|s| m.concerns(s)))
                .cloned()
                .collect(),
            error: last.error.clone(),
        }
    }

    /// Records a poll's answer; says whether the peer went from answering to failing or
    /// back (so that the log says it once, not every 30 s).
    pub fn record(&self, answer: Result<Vec<Deploy>, PeerError>) -> bool {
        let mut last = self.last.write().unwrap_or_else(|e| e.into_inner());
        let was_failing = last.error.is_some();
        match answer {
            Ok(deploys) => {
                last.deploys = markers(deploys);
                last.error = None;
            }
            // The deploys known before stay: older markers beat none.
            Err(e) => last.error = Some(e.to_string()),
        }
        was_failing != last.error.is_some()
    }
}

/// The deploys with a readable start time, oldest first, the newest [`MAX_DEPLOYS`].
fn markers(deploys: Vec<Deploy>) -> Vec<Marker> {
    let mut markers: Vec<Marker> = deploys
        .into_iter()
        .filter_map(|deploy| {
            let started = DateTime::parse_from_rfc3339(&deploy.started_at).ok()?;
            Some(Marker {
                started: started.with_timezone(&Utc),
                deploy,
            })
        })
        .collect();
    markers.sort_by_key(|m| m.started);
    let extra = markers.len().saturating_sub(MAX_DEPLOYS);
    markers.drain(..extra);
    markers
}

/// Asks `peer` for its deploys at once and then every [`POLL_EVERY`] until `shutdown`.
pub async fn poll(peer: Peer, markers: Arc<DeployMarkers>, shutdown: CancellationToken) {
    let mut every = tokio::time::interval(POLL_EVERY);
    every.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = every.tick() => {}
        }
        let answer = tokio::select! {
            _ = shutdown.cancelled() => return,
            answer = peer_api::deploys(&peer, Utc::now() - LOOKBACK) => answer,
        };
        let error = answer.as_ref().err().map(ToString::to_string);
        if markers.record(answer) {
            match error {
                Some(error) => tracing::warn!(
                    peer = %peer.name(),
                    %error,
                    "Cannot read deploys from webhook_handler; the chart keeps the ones it had."
                ),
                None => {
                    tracing::info!(peer = %peer.name(), "Reading deploys from webhook_handler again.")
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deploy(job: i64, started_at: &str, services: &[&str]) -> Deploy {
        Deploy {
            job,
            hook: "app".to_string(),
            state: "succeeded".to_string(),
            started_at: started_at.to_string(),
            finished_at: None,
            services: services.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn down() -> PeerError {
        PeerError::Unreachable {
            peer: "http://webhook_handler:9000".to_string(),
            reason: "connection refused".to_string(),
        }
    }

    #[test]
    fn a_service_sees_the_deploys_naming_it_or_naming_none() {
        let markers = DeployMarkers::default();
        markers.record(Ok(vec![
            deploy(2, "2024-06-12T16:10:00Z", &["api", "worker"]),
            deploy(1, "2024-06-12T16:00:00Z", &[]),
            deploy(3, "2024-06-12T16:20:00Z", &["web"]),
            deploy(4, "yesterday", &[]),
        ]));
        let jobs = |service: Option<&str>| -> Vec<i64> {
            let shown = markers.shown(service);
            shown.deploys.iter().map(|m| m.deploy.job).collect()
        };
        assert_eq!(
            jobs(None),
            [1, 2, 3],
            "oldest first, unreadable times left out"
        );
        assert_eq!(jobs(Some("api")), [1, 2]);
        assert_eq!(jobs(Some("web")), [1, 3]);
        assert_eq!(jobs(Some("db")), [1]);
    }

    #[test]
    fn a_failed_poll_keeps_the_deploys_and_says_why_once() {
        let markers = DeployMarkers::default();
        assert!(!markers.record(Ok(vec![deploy(1, "2024-06-12T16:00:00Z", &[])])));
        assert!(markers.record(Err(down())), "the first failure is news");
        assert!(!markers.record(Err(down())), "the next ones are not");
        let shown = markers.shown(None);
        assert_eq!(shown.deploys.len(), 1);
        assert_eq!(
            shown.error.as_deref(),
            Some("http://webhook_handler:9000 unreachable: connection refused")
        );
        assert!(markers.record(Ok(vec![])), "answering again is news");
        assert_eq!(markers.shown(None), Polled::default());
    }

    #[test]
    fn only_the_newest_deploys_are_kept() {
        let many = (0..MAX_DEPLOYS as i64 + 10)
            .map(|i| {
                let at = DateTime::<Utc>::from_timestamp(1_718_208_000 + i, 0).unwrap();
                deploy(i, &at.to_rfc3339(), &[])
            })
            .collect();
        let kept = markers(many);
        assert_eq!(kept.len(), MAX_DEPLOYS);
        assert_eq!(kept[0].deploy.job, 10);
    }
}
