//! healthcheck_dashboard as a peer: one check's state (`/health/NAME`), and maintenance
//! windows (`/api/maintenance`) that keep an expected restart from paging anyone.

use serde::Deserialize;
use serde_json::json;

use super::{query_value, Peer, PeerError};

/// One check as `/health/NAME` serves it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CheckState {
    /// `up`, `degraded`, `down` or `unknown`.
    pub status: String,
    /// When it was last checked (RFC 3339).
    #[serde(default)]
    pub last_checked: Option<String>,
    /// Failures in a row.
    #[serde(default)]
    pub consecutive_failures: u32,
    /// Failures in a row after which the check is announced down.
    #[serde(default)]
    pub failure_threshold: Option<u32>,
    /// Why it failed.
    #[serde(default)]
    pub error: Option<String>,
}

/// The state of check `name`; a `404` error when there is no such check.
pub async fn check(peer: &Peer, name: &str) -> Result<CheckState, PeerError> {
    let path = format!("/health/{}", query_value(name));
    let (_, state) = peer.get_with_status::<CheckState>(&path).await?;
    Ok(state)
}

#[derive(Deserialize)]
struct Opened {
    id: String,
}

/// Opens a maintenance window over `services` for `duration_secs`; returns its id.
pub async fn open_maintenance(
    peer: &Peer,
    services: &[String],
    duration_secs: u64,
    reason: &str,
) -> Result<String, PeerError> {
    let body = json!({ "services": services, "duration_secs": duration_secs, "reason": reason });
    let opened: Opened = peer.post("/api/maintenance", &body).await?;
    Ok(opened.id)
}

/// Closes maintenance window `id` before its time.
pub async fn close_maintenance(peer: &Peer, id: &str) -> Result<(), PeerError> {
    peer.delete(&format!("/api/maintenance/{}", query_value(id)))
        .await
}
