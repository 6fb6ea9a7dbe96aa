//! webhook_handler as a peer: the deploys it ran (its `/deploys` route), for markers on the
//! other sidecars' charts.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use super::{query_value, Peer, PeerError};

/// One deploy as `/deploys` serves it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Deploy {
    /// The job.
    pub job: i64,
    /// Its hook.
    pub hook: String,
    /// `running`, `succeeded`, `rolled_back`...
    pub state: String,
    /// When it started (RFC 3339).
    pub started_at: String,
    /// When it ended.
    #[serde(default)]
    pub finished_at: Option<String>,
    /// The Compose services it touched.
    #[serde(default)]
    pub services: Vec<String>,
}

#[derive(Deserialize)]
struct DeploysAnswer {
    deploys: Vec<Deploy>,
}

/// The deploys that started since `since`, oldest first.
pub async fn deploys(peer: &Peer, since: DateTime<Utc>) -> Result<Vec<Deploy>, PeerError> {
    let path = format!(
        "/deploys?since={}",
        query_value(&since.to_rfc3339_opts(SecondsFormat::Secs, true))
    );
    let answer: DeploysAnswer = peer.get(&path).await?;
    Ok(answer.deploys)
}
