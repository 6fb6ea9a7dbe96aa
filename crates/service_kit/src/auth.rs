//! Optional protection for a service's pages and API: a bearer token, HTTP basic auth, or both.
//!
//! Browsers cannot attach a bearer header to a page load or an `EventSource`, so a configured
//! token is also accepted as the basic-auth password (any user name): a person opening the
//! dashboard types the token into the browser's prompt, scripts send `Authorization: Bearer`.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde::Deserialize;
use subtle::ConstantTimeEq;

use crate::http_error::ApiError;
use crate::secret::Secret;

/// Credentials that protect a service's routes; all empty means open access.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// Bearer token accepted in `Authorization: Bearer TOKEN` (or as basic-auth password).
    #[serde(default)]
    pub token: Option<Secret>,
    /// Basic-auth user name; used together with `password`.
    #[serde(default)]
    pub username: Option<String>,
    /// Basic-auth password for `username`.
    #[serde(default)]
    pub password: Option<Secret>,
}

impl AuthConfig {
    /// Whether any credential is configured.
    pub fn is_enabled(&self) -> bool {
        self.token.as_ref().is_some_and(|t| !t.is_empty())
            || self.username.as_deref().is_some_and(|u| !u.is_empty())
    }

    /// A user name without a password (or the reverse) would lock everyone out or leave the
    /// routes open without saying so: it is a config error naming the missing key.
    pub fn validate(&self) -> Result<(), crate::config::ConfigError> {
        let user = self
            .username
            .as_deref()
            .is_some_and(|u| !u.trim().is_empty());
        let password = self.password.as_ref().is_some_and(|p| !p.is_empty());
        match (user, password) {
            (true, false) => Err(crate::config::ConfigError::new(
                "auth.password",
                "is required with auth.username",
            )),
            (false, true) => Err(crate::config::ConfigError::new(
                "auth.username",
                "is required with auth.password",
            )),
            _ => Ok(()),
        }
    }

    /// Whether the request headers carry acceptable credentials (always true when disabled).
    pub fn allows(&self, headers: &HeaderMap) -> bool {
        if !self.is_enabled() {
            return true;
        }
        let Some(value) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
        else {
            return false;
        };
        if let Some(presented) = value.strip_prefix("Bearer ") {
            return self
                .token
                .as_ref()
                .is_some_and(|token| token.matches(presented.trim().as_bytes()));
        }
        if let Some(encoded) = value.strip_prefix("Basic ") {
            let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim())
            else {
                return false;
            };
            let decoded = String::from_utf8_lossy(&decoded);
            let (user, password) = decoded.split_once(':').unwrap_or((&decoded, ""));
            let user_ok = match (&self.username, &self.password) {
                (Some(u), Some(p)) => equal(user, u) & p.matches(password.as_bytes()),
                _ => false,
            };
            let token_ok = self
                .token
                .as_ref()
                .is_some_and(|t| t.matches(password.as_bytes()));
            return user_ok | token_ok;
        }
        false
    }
}

/// Constant-time comparison, so response timing does not leak how much of a secret matched.
fn equal(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// axum middleware: answers 401 (with a basic-auth challenge for browsers) unless the request
/// carries credentials accepted by the [`AuthConfig`] in state.
pub async fn require_auth(
    State(auth): State<Arc<AuthConfig>>,
    request: Request,
    next: Next,
) -> Response {
    if auth.allows(request.headers()) {
        return next.run(request).await;
    }
    let mut response =
        ApiError::Unauthorized("missing or invalid credentials".to_string()).into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"compose-sidecars\", charset=\"UTF-8\""),
    );
    response
}

/// axum middleware for routes that show logs, job output or anything secret: with
/// credentials configured it is [`require_auth`]; with none, it answers 403 to every client
/// but the local host, so a fresh install never shows those routes to the network.
/// Requests without a known peer address (in-process tests) count as local.
pub async fn require_auth_or_local(
    State(auth): State<Arc<AuthConfig>>,
    request: Request,
    next: Next,
) -> Response {
    if auth.is_enabled() {
        return require_auth(State(auth), request, next).await;
    }
    let peer = request
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|info| info.0.ip());
    let local = peer.is_none_or(|ip| match ip {
        std::net::IpAddr::V4(v4) => v4.is_loopback(),
        std::net::IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    });
    if local {
        return next.run(request).await;
    }
    ApiError::Forbidden(
        "no credentials are configured, so this is only served to the local host; set an \
         [auth] token (or username and password) to allow others"
            .to_string(),
    )
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, value.parse().unwrap());
        h
    }

    fn basic(user: &str, pass: &str) -> String {
        let raw = format!("{user}:{pass}");
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        )
    }

    #[test]
    fn open_when_nothing_is_configured() {
        assert!(AuthConfig::default().allows(&HeaderMap::new()));
    }

    #[test]
    fn bearer_token_must_match() {
        let auth = AuthConfig {
            token: Some(Secret::new("s3cret")),
            ..Default::default()
        };
        assert!(auth.allows(&headers("Bearer s3cret")));
        assert!(!auth.allows(&headers("Bearer nope")));
        assert!(!auth.allows(&HeaderMap::new()));
    }

    #[test]
    fn token_is_accepted_as_basic_password_for_browsers() {
        let auth = AuthConfig {
            token: Some(Secret::new("s3cret")),
            ..Default::default()
        };
        assert!(auth.allows(&headers(&basic("anyone", "s3cret"))));
    }

    #[test]
    fn half_configured_credentials_name_the_missing_key() {
        let user_only = AuthConfig {
            username: Some("ops".into()),
            ..Default::default()
        };
        assert_eq!(user_only.validate().unwrap_err().key, "auth.password");
        let password_only = AuthConfig {
            password: Some(Secret::new("pw")),
            ..Default::default()
        };
        assert_eq!(password_only.validate().unwrap_err().key, "auth.username");
        assert!(AuthConfig::default().validate().is_ok());
    }

    #[test]
    fn debug_never_shows_a_credential() {
        let auth = AuthConfig {
            token: Some(Secret::new("t0ken")),
            username: Some("ops".into()),
            password: Some(Secret::new("pa55")),
        };
        let shown = format!("{auth:?}");
        assert!(
            !shown.contains("t0ken") && !shown.contains("pa55"),
            "{shown}"
        );
    }

    #[test]
    fn basic_user_and_password_must_both_match() {
        let auth = AuthConfig {
            username: Some("ops".into()),
            password: Some(Secret::new("pw")),
            ..Default::default()
        };
        assert!(auth.allows(&headers(&basic("ops", "pw"))));
        assert!(!auth.allows(&headers(&basic("ops", "nope"))));
        assert!(!auth.allows(&headers(&basic("other", "pw"))));
    }
}
