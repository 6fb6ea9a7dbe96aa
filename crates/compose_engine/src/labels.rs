//! The labels a Compose service carries for the sidecars, read once here so that every
//! service names a bad one the same way (`label sidecars.health.interval="soon": ...`).
//!
//! Health (healthcheck_dashboard's discovery):
//! - `sidecars.health.enabled`: `false` leaves the service out (default `true`).
//! - `sidecars.health.url`: what to probe; without it, the container's state alone is checked.
//! - `sidecars.health.type`: `http`, `tcp` or `postgres` (default from the URL's scheme).
//! - `sidecars.health.interval`, `sidecars.health.timeout`: `30s`, `1m 30s`, `500ms` or bare
//!   seconds.
//! - `sidecars.health.expected_status`: as the config's `expected_status` (`200`, `200-299`,
//!   several separated by commas).
//! - `sidecars.health.degraded_ms`: slower answers count as degraded.
//!
//! Logs (log_watcher):
//! - `sidecars.logs.enabled`: `false` leaves the service's logs out (default `true`).
//! - `sidecars.logs.multiline_start`: the regex a new event starts with.

use std::collections::BTreeMap;
use std::time::Duration;

/// A label whose value cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("label {label}={value:?}: {message}")]
pub struct LabelError {
    /// The label's key.
    pub label: String,
    /// Its value.
    pub value: String,
    /// What is wrong with it.
    pub message: String,
}

/// How a discovered service is probed, from its `sidecars.health.*` labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthLabels {
    /// False when `sidecars.health.enabled=false`: not checked at all.
    pub enabled: bool,
    /// A probe to run beside the container's state; `None` without a `url` label.
    pub probe: Option<LabelProbe>,
}

/// Probe kinds a label may ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LabelProbeKind {
    /// An HTTP(S) request.
    Http,
    /// A TCP connect.
    Tcp,
    /// A Postgres connection and `SELECT 1`.
    Postgres,
}

impl LabelProbeKind {
    /// The word the config uses for it.
    pub fn as_str(self) -> &'static str {
        match self {
            LabelProbeKind::Http => "http",
            LabelProbeKind::Tcp => "tcp",
            LabelProbeKind::Postgres => "postgres",
        }
    }
}

/// A probe described by labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelProbe {
    /// `sidecars.health.url`.
    pub url: String,
    /// `sidecars.health.type`, else guessed from the URL's scheme.
    pub kind: LabelProbeKind,
    /// `sidecars.health.interval`.
    pub interval: Option<Duration>,
    /// `sidecars.health.timeout`.
    pub timeout: Option<Duration>,
    /// `sidecars.health.expected_status`, as written (the config's syntax).
    pub expected_status: Option<String>,
    /// `sidecars.health.degraded_ms`.
    pub degraded_ms: Option<u64>,
}

/// How log_watcher treats a service's logs, from its `sidecars.logs.*` labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogsLabels {
    /// False when `sidecars.logs.enabled=false`.
    pub enabled: bool,
    /// `sidecars.logs.multiline_start`, not compiled yet (the caller's regex engine does).
    pub multiline_start: Option<String>,
}

/// Reads the `sidecars.health.*` labels.
pub fn health_labels(labels: &BTreeMap<String, String>) -> Result<HealthLabels, LabelError> {
    let enabled = flag(labels, "sidecars.health.enabled")?;
    let Some(url) = text(labels, "sidecars.health.url") else {
        return Ok(HealthLabels {
            enabled,
            probe: None,
        });
    };
    let kind = match text(labels, "sidecars.health.type") {
        Some(kind) => match kind.to_ascii_lowercase().as_str() {
            "http" | "https" => LabelProbeKind::Http,
            "tcp" => LabelProbeKind::Tcp,
            "postgres" | "postgresql" => LabelProbeKind::Postgres,
            _ => {
                return Err(error(
                    "sidecars.health.type",
                    kind,
                    "expected http, tcp or postgres",
                ))
            }
        },
        None => kind_of_url(url),
    };
    let degraded_ms = match text(labels, "sidecars.health.degraded_ms") {
        Some(ms) => Some(ms.parse::<u64>().map_err(|_| {
            error(
                "sidecars.health.degraded_ms",
                ms,
                "expected a number of milliseconds",
            )
        })?),
        None => None,
    };
    Ok(HealthLabels {
        enabled,
        probe: Some(LabelProbe {
            url: url.to_string(),
            kind,
            interval: duration(labels, "sidecars.health.interval")?,
            timeout: duration(labels, "sidecars.health.timeout")?,
            expected_status: text(labels, "sidecars.health.expected_status").map(str::to_string),
            degraded_ms,
        }),
    })
}

/// Reads the `sidecars.logs.*` labels.
pub fn logs_labels(labels: &BTreeMap<String, String>) -> Result<LogsLabels, LabelError> {
    Ok(LogsLabels {
        enabled: flag(labels, "sidecars.logs.enabled")?,
        multiline_start: text(labels, "sidecars.logs.multiline_start").map(str::to_string),
    })
}

/// `http` for http(s) URLs, `postgres` for postgres DSNs, `tcp` for `tcp://` and `host:port`.
fn kind_of_url(url: &str) -> LabelProbeKind {
    let scheme = url.split_once("://").map(|(scheme, _)| scheme);
    match scheme.map(str::to_ascii_lowercase).as_deref() {
        Some("postgres" | "postgresql") => LabelProbeKind::Postgres,
        Some("tcp") | None => LabelProbeKind::Tcp,
        _ => LabelProbeKind::Http,
    }
}

fn text<'a>(labels: &'a BTreeMap<String, String>, key: &str) -> Option<&'a str> {
    labels.get(key).map(|v| v.trim()).filter(|v| !v.is_empty())
}

fn flag(labels: &BTreeMap<String, String>, key: &str) -> Result<bool, LabelError> {
    match text(labels, key).map(str::to_ascii_lowercase).as_deref() {
        None | Some("true" | "yes" | "1" | "on") => Ok(true),
        Some("false" | "no" | "0" | "off") => Ok(false),
        Some(_) => Err(error(
            key,
            text(labels, key).unwrap_or_default(),
            "expected true or false",
        )),
    }
}

fn duration(labels: &BTreeMap<String, String>, key: &str) -> Result<Option<Duration>, LabelError> {
    let Some(value) = text(labels, key) else {
        return Ok(None);
    };
    let parsed = match value.parse::<u64>() {
        Ok(secs) => Duration::from_secs(secs),
        Err(_) => humantime::parse_duration(value).map_err(|e| {
            error(
                key,
                value,
                &format!("expected a duration such as 30s or 1m ({e})"),
            )
        })?,
    };
    if parsed.is_zero() || parsed > Duration::from_secs(86_400) {
        return Err(error(key, value, "expected more than 0 and at most 24h"));
    }
    Ok(Some(parsed))
}

fn error(label: &str, value: &str, message: &str) -> LabelError {
    LabelError {
        label: label.to_string(),
        value: value.to_string(),
        message: message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_service_without_labels_is_checked_by_its_container_alone() {
        assert_eq!(
            health_labels(&labels(&[])).unwrap(),
            HealthLabels {
                enabled: true,
                probe: None
            }
        );
        assert_eq!(
            logs_labels(&labels(&[])).unwrap(),
            LogsLabels {
                enabled: true,
                multiline_start: None
            }
        );
    }

    #[test]
    fn every_health_label_is_read() {
        let health = health_labels(&labels(&[
            ("sidecars.health.url", "http://api:8000/health"),
            ("sidecars.health.interval", "15s"),
            ("sidecars.health.timeout", "2"),
            ("sidecars.health.expected_status", "200-299"),
            ("sidecars.health.degraded_ms", "800"),
        ]))
        .unwrap();
        assert_eq!(
            health.probe,
            Some(LabelProbe {
                url: "http://api:8000/health".to_string(),
                kind: LabelProbeKind::Http,
                interval: Some(Duration::from_secs(15)),
                timeout: Some(Duration::from_secs(2)),
                expected_status: Some("200-299".to_string()),
                degraded_ms: Some(800),
            })
        );
    }

    #[test]
    fn the_type_is_guessed_from_the_url_unless_given() {
        let kind =
            |pairs: &[(&str, &str)]| health_labels(&labels(pairs)).unwrap().probe.unwrap().kind;
        assert_eq!(
            kind(&[("sidecars.health.url", "postgres://db:5432/app")]),
            LabelProbeKind::Postgres
        );
        assert_eq!(
            kind(&[("sidecars.health.url", "redis:6379")]),
            LabelProbeKind::Tcp
        );
        assert_eq!(
            kind(&[("sidecars.health.url", "https://x/")]),
            LabelProbeKind::Http
        );
        assert_eq!(
            kind(&[
                ("sidecars.health.url", "db:5432"),
                ("sidecars.health.type", "postgres")
            ]),
            LabelProbeKind::Postgres
        );
    }

    #[test]
    fn disabled_services_and_logs_are_said_with_false() {
        assert!(
            !health_labels(&labels(&[("sidecars.health.enabled", "false")]))
                .unwrap()
                .enabled
        );
        let logs = logs_labels(&labels(&[
            ("sidecars.logs.enabled", "False"),
            ("sidecars.logs.multiline_start", r"^\d{4}-"),
        ]))
        .unwrap();
        assert!(!logs.enabled);
        assert_eq!(logs.multiline_start.as_deref(), Some(r"^\d{4}-"));
    }

    #[test]
    fn a_bad_label_is_an_error_naming_it_and_its_value() {
        let err = health_labels(&labels(&[
            ("sidecars.health.url", "http://api/"),
            ("sidecars.health.interval", "soon"),
        ]))
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("label sidecars.health.interval=\"soon\": expected a duration"),
            "{err}"
        );
        let err = health_labels(&labels(&[
            ("sidecars.health.url", "http://api/"),
            ("sidecars.health.type", "grpc"),
        ]))
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "label sidecars.health.type=\"grpc\": expected http, tcp or postgres"
        );
        assert!(health_labels(&labels(&[("sidecars.health.enabled", "maybe")])).is_err());
        assert!(health_labels(&labels(&[
            ("sidecars.health.url", "http://api/"),
            ("sidecars.health.timeout", "0s")
        ]))
        .is_err());
    }
}
