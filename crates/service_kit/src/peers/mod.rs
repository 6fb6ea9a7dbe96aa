//! The other sidecars, as one sidecar reaches them over HTTP: log_watcher's error lines (for
//! alerts and deploy notifications that carry the evidence), webhook_handler's deploys (for
//! markers on the charts), healthcheck_dashboard's checks and maintenance windows (for the
//! health gate of a deploy).
//!
//! `[peers]` ([`PeersConfig`]) says where they are, once per service; [`Peers`] holds a client
//! for each configured one. Every call has a short timeout and names the peer in its error,
//! so a sidecar that is down makes a clear reason, never a hang.
//!
//! # Layout
//! - [`PeersConfig`], [`Peers`], [`Peer`]: the section, the clients, one HTTP client.
//! - [`log_watcher`]: recent error events of a service.
//! - [`webhook_handler`]: deploys, for markers.
//! - [`healthcheck`]: one check's state, maintenance windows.

pub mod healthcheck;
pub mod log_watcher;
pub mod webhook_handler;

use std::time::Duration;

use reqwest::Url;
use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::config::{env_string, ConfigError};
use crate::secret::Secret;

/// How long one call to a peer may take.
pub const PEER_TIMEOUT: Duration = Duration::from_secs(5);

/// `[peers]`: where the other sidecars are, as this one reaches them (inside a Compose
/// network, by service name). Each is optional; what needs it is off without it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeersConfig {
    /// log_watcher's base URL, such as `http://log_watcher:9200` (env `LOG_WATCHER_URL`).
    #[serde(default)]
    pub log_watcher: Option<String>,
    /// Bearer token for it (env `LOG_WATCHER_TOKEN`, the variable log_watcher's own `[auth]`
    /// token comes from, so one value in a Compose `.env` serves both).
    #[serde(default)]
    pub log_watcher_token: Option<Secret>,
    /// webhook_handler's base URL, such as `http://webhook_handler:9000` (env
    /// `WEBHOOK_HANDLER_URL`).
    #[serde(default)]
    pub webhook_handler: Option<String>,
    /// Bearer token for it (env `WEBHOOK_TOKEN`, webhook_handler's own `[auth]` token).
    #[serde(default)]
    pub webhook_handler_token: Option<Secret>,
    /// healthcheck_dashboard's base URL, such as `http://healthcheck_dashboard:9100` (env
    /// `HEALTHCHECK_URL`).
    #[serde(default)]
    pub healthcheck_dashboard: Option<String>,
    /// Bearer token for it (env `DASHBOARD_TOKEN`, its own `[auth]` token).
    #[serde(default)]
    pub healthcheck_dashboard_token: Option<Secret>,
}

impl PeersConfig {
    /// Applies `LOG_WATCHER_URL`, `WEBHOOK_HANDLER_URL`, `HEALTHCHECK_URL` and, for peers
    /// that have a URL, their token variables.
    pub fn apply_env(&mut self) {
        let pairs: [(&mut Option<String>, &str); 3] = [
            (&mut self.log_watcher, "LOG_WATCHER_URL"),
            (&mut self.webhook_handler, "WEBHOOK_HANDLER_URL"),
            (&mut self.healthcheck_dashboard, "HEALTHCHECK_URL"),
        ];
        for (field, var) in pairs {
            if let Some(value) = env_string(var) {
                *field = Some(value);
            }
        }
        let tokens: [(&Option<String>, &mut Option<Secret>, &str); 3] = [
            (
                &self.log_watcher,
                &mut self.log_watcher_token,
                "LOG_WATCHER_TOKEN",
            ),
            (
                &self.webhook_handler,
                &mut self.webhook_handler_token,
                "WEBHOOK_TOKEN",
            ),
            (
                &self.healthcheck_dashboard,
                &mut self.healthcheck_dashboard_token,
                "DASHBOARD_TOKEN",
            ),
        ];
        for (url, token, var) in tokens {
            if url.is_some() && token.is_none() {
                *token = env_string(var).map(Secret::from);
            }
        }
    }

    /// The clients, naming the `peers.*` key of the first bad URL.
    pub fn build(&self) -> Result<Peers, ConfigError> {
        let peer = |key: &str, url: &Option<String>, token: &Option<Secret>| {
            url.as_deref()
                .filter(|u| !u.trim().is_empty())
                .map(|u| {
                    Peer::new(u, token.clone()).map_err(|problem| ConfigError::new(key, problem))
                })
                .transpose()
        };
        Ok(Peers {
            log_watcher: peer(
                "peers.log_watcher",
                &self.log_watcher,
                &self.log_watcher_token,
            )?,
            webhook_handler: peer(
                "peers.webhook_handler",
                &self.webhook_handler,
                &self.webhook_handler_token,
            )?,
            healthcheck: peer(
                "peers.healthcheck_dashboard",
                &self.healthcheck_dashboard,
                &self.healthcheck_dashboard_token,
            )?,
        })
    }
}

/// A client for each configured peer.
#[derive(Debug, Clone, Default)]
pub struct Peers {
    /// log_watcher.
    pub log_watcher: Option<Peer>,
    /// webhook_handler.
    pub webhook_handler: Option<Peer>,
    /// healthcheck_dashboard.
    pub healthcheck: Option<Peer>,
}

/// Why a call to a peer failed, in words that name the peer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeerError {
    /// Nothing answered in time, or the connection failed.
    #[error("{peer} unreachable: {reason}")]
    Unreachable {
        /// The peer's base URL.
        peer: String,
        /// What failed.
        reason: String,
    },
    /// It answered with an error status.
    #[error("{peer} answered {status} to {path}: {body}")]
    Status {
        /// The peer's base URL.
        peer: String,
        /// The path asked.
        path: String,
        /// The status.
        status: u16,
        /// The start of its answer.
        body: String,
    },
    /// It answered something that is not what was expected.
    #[error("{peer} answered {path} with something unexpected: {reason}")]
    Unexpected {
        /// The peer's base URL.
        peer: String,
        /// The path asked.
        path: String,
        /// What was wrong with it.
        reason: String,
    },
}

impl PeerError {
    /// The HTTP status the peer answered, if it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            PeerError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// One peer: its base URL, token and an HTTP client.
#[derive(Clone)]
pub struct Peer {
    base: Url,
    token: Option<Secret>,
    client: reqwest::Client,
}

impl std::fmt::Debug for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token never reaches a log line.
        f.debug_struct("Peer")
            .field("base", &self.name())
            .field("token", &self.token.as_ref().map(|_| "***"))
            .finish()
    }
}

impl Peer {
    /// A client for the peer at `base` (an `http(s)://` URL).
    pub fn new(base: &str, token: Option<Secret>) -> Result<Peer, String> {
        let base = Url::parse(base.trim()).map_err(|e| format!("{base:?} is not a URL: {e}"))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(format!("{base} is not an http(s) URL"));
        }
        let client = reqwest::Client::builder()
            .timeout(PEER_TIMEOUT)
            .connect_timeout(PEER_TIMEOUT)
            .build()
            .map_err(|e| format!("cannot build an HTTP client: {e}"))?;
        Ok(Peer {
            base,
            token: token.filter(|t| !t.expose().trim().is_empty()),
            client,
        })
    }

    /// The base URL as shown in messages (without credentials).
    pub fn name(&self) -> String {
        crate::redact::redact_url(self.base.as_str().trim_end_matches('/'))
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base.as_str().trim_end_matches('/'))
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let request = self
            .client
            .request(method, self.url(path))
            .header(reqwest::header::ACCEPT, "application/json");
        match &self.token {
            Some(token) => request.bearer_auth(token.expose()),
            None => request,
        }
    }

    /// GET `path` (with its query), answered as JSON `T`.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, PeerError> {
        self.call(self.request(reqwest::Method::GET, path), path)
            .await
    }

    /// GET `path`, answered as JSON `T` whatever the status (for routes whose status is
    /// part of the answer, such as `/health/NAME`'s 503 when down); `T` must fit the body.
    pub async fn get_with_status<T: DeserializeOwned>(
        &self,
        path: &str,
    ) -> Result<(u16, T), PeerError> {
        let response = self.send(self.request(reqwest::Method::GET, path)).await?;
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        match serde_json::from_str::<T>(&text) {
            Ok(value) => Ok((status, value)),
            Err(_) if !(200..300).contains(&status) => Err(PeerError::Status {
                peer: self.name(),
                path: path.to_string(),
                status,
                body: text.chars().take(200).collect(),
            }),
            Err(e) => Err(PeerError::Unexpected {
                peer: self.name(),
                path: path.to_string(),
                reason: e.to_string(),
            }),
        }
    }

    /// POST `body` as JSON to `path`, answered as JSON `T`.
    pub async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &serde_json::Value,
    ) -> Result<T, PeerError> {
        self.call(self.request(reqwest::Method::POST, path).json(body), path)
            .await
    }

    /// DELETE `path`; any 2xx is fine.
    pub async fn delete(&self, path: &str) -> Result<(), PeerError> {
        let response = self
            .send(self.request(reqwest::Method::DELETE, path))
            .await?;
        self.check_status(response, path).await.map(|_| ())
    }

    async fn call<T: DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
        path: &str,
    ) -> Result<T, PeerError> {
        let response = self.send(request).await?;
        let response = self.check_status(response, path).await?;
        response
            .json::<T>()
            .await
            .map_err(|e| PeerError::Unexpected {
                peer: self.name(),
                path: path.to_string(),
                reason: e.to_string(),
            })
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Result<reqwest::Response, PeerError> {
        request.send().await.map_err(|e| PeerError::Unreachable {
            peer: self.name(),
            reason: if e.is_timeout() {
                format!("no answer within {} s", PEER_TIMEOUT.as_secs())
            } else {
                crate::redact::redact_url(&e.to_string())
            },
        })
    }

    async fn check_status(
        &self,
        response: reqwest::Response,
        path: &str,
    ) -> Result<reqwest::Response, PeerError> {
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let body = response.text().await.unwrap_or_default();
        Err(PeerError::Status {
            peer: self.name(),
            path: path.to_string(),
            status: status.as_u16(),
            body: body.chars().take(200).collect(),
        })
    }
}

/// Percent-encodes a query value.
pub(crate) fn query_value(value: &str) -> String {
    url_escape(value)
}

fn url_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_urls_name_their_key() {
        let config = PeersConfig {
            log_watcher: Some("ftp://logs".into()),
            ..PeersConfig::default()
        };
        assert_eq!(config.build().unwrap_err().key, "peers.log_watcher");
        let config = PeersConfig {
            webhook_handler: Some("not a url".into()),
            ..PeersConfig::default()
        };
        assert_eq!(config.build().unwrap_err().key, "peers.webhook_handler");
    }

    #[test]
    fn a_peers_token_never_shows_in_debug() {
        let peer = Peer::new("http://user:pw@logs:9200", Some(Secret::new("tok3n"))).unwrap();
        let shown = format!("{peer:?}");
        assert!(!shown.contains("tok3n") && !shown.contains("pw"), "{shown}");
    }

    #[test]
    fn query_values_are_escaped() {
        assert_eq!(query_value("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
    }
}
