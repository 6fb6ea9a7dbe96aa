//! HTTP(S) checks: status code, body text, JSON fields, latency, and certificate expiry; and
//! the two pooled clients every HTTP check shares ([`HttpClients`]).

use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, Url};

use service_kit::redact::{redact_header, redact_url};

use super::{one_line, FieldProblem, Outcome, Secrets, Status};
use crate::config::{EndpointConfig, StatusSpec};

/// How much of a response body is read for `body_contains` and `json` expectations; a health
/// endpoint that answers more than this is misconfigured, and we must not buffer it all.
const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Idle keep-alive connections kept per target host (scheme, host, port).
const MAX_IDLE_PER_HOST: usize = 16;

/// The HTTP clients shared by every HTTP check, so connections are pooled per target rather
/// than opened for each request: one that verifies certificates, one for checks with
/// `tls_verify = false`.
#[derive(Debug, Clone)]
pub struct HttpClients {
    /// Verifies certificates (the default).
    verified: reqwest::Client,
    /// Accepts any certificate.
    insecure: reqwest::Client,
}

impl HttpClients {
    /// Builds both clients.
    pub fn new() -> HttpClients {
        HttpClients {
            verified: client(true),
            insecure: client(false),
        }
    }

    /// The client `probe` asks for.
    pub fn for_probe(&self, probe: &HttpProbe) -> &reqwest::Client {
        if probe.tls_verify {
            &self.verified
        } else {
            &self.insecure
        }
    }
}

impl Default for HttpClients {
    fn default() -> Self {
        HttpClients::new()
    }
}

fn client(verify_tls: bool) -> reqwest::Client {
    reqwest::Client::builder()
        .user_agent(concat!(
            "compose-sidecars-healthcheck/",
            env!("CARGO_PKG_VERSION")
        ))
        // The certificate's expiry is read from the connection's TLS info.
        .tls_info(true)
        .danger_accept_invalid_certs(!verify_tls)
        .redirect(reqwest::redirect::Policy::limited(5))
        .pool_idle_timeout(Duration::from_secs(60))
        // Probes of one host overlap little (a probe takes a millisecond or two), but the
        // first round of thousands of checks, or a round delayed by a busy moment, opens up
        // to `max_concurrent` connections at once; kept idle, each holds its buffers for the
        // idle timeout. A few per host serve the steady state.
        .pool_max_idle_per_host(MAX_IDLE_PER_HOST)
        .build()
        .expect("the TLS backend is compiled in")
}

/// A configured HTTP check. Its `Debug` shows the URL and headers masked.
#[derive(Clone)]
pub struct HttpProbe {
    /// The URL requested.
    pub url: Url,
    /// Request method.
    pub method: Method,
    /// Extra request headers.
    pub headers: HeaderMap,
    /// Accepted status ranges (inclusive).
    pub expected_status: Vec<(u16, u16)>,
    /// Required body text.
    pub body_contains: Option<String>,
    /// Required JSON fields: dotted path to expected value.
    pub json: BTreeMap<String, serde_json::Value>,
    /// Time limit.
    pub timeout: Duration,
    /// Slower than this is degraded.
    pub degraded_after: Option<Duration>,
    /// Certificate expiring within this many days is degraded.
    pub cert_warn_days: i64,
    /// Whether certificates are verified.
    pub tls_verify: bool,
    /// The URL's and headers' secret values, scrubbed from every text the check produces.
    pub secrets: Secrets,
}

impl fmt::Debug for HttpProbe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: Vec<(String, String)> = self
            .headers
            .iter()
            .map(|(name, value)| {
                let value = String::from_utf8_lossy(value.as_bytes());
                (name.to_string(), redact_header(name.as_str(), &value))
            })
            .collect();
        f.debug_struct("HttpProbe")
            .field("url", &redact_url(self.url.as_str()))
            .field("method", &self.method)
            .field("headers", &headers)
            .field("expected_status", &self.expected_status)
            .field("timeout", &self.timeout)
            .field("tls_verify", &self.tls_verify)
            .field("secrets", &self.secrets)
            .finish_non_exhaustive()
    }
}

impl HttpProbe {
    /// Validates and builds the probe.
    pub fn new(
        endpoint: &EndpointConfig,
        url: &str,
        timeout: Duration,
    ) -> Result<HttpProbe, FieldProblem> {
        let mut secrets = Secrets::new();
        secrets.add_url(url);
        let url = Url::parse(url).map_err(|e| ("url", format!("not a valid URL: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err((
                "url",
                format!(
                    "must start with http:// or https://, got {}://",
                    url.scheme()
                ),
            ));
        }
        let method = match &endpoint.method {
            Some(m) => Method::from_bytes(m.to_ascii_uppercase().as_bytes())
                .map_err(|_| ("method", format!("not an HTTP method: {m:?}")))?,
            None => Method::GET,
        };
        let mut headers = HeaderMap::new();
        for (name, value) in &endpoint.headers {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| ("headers", format!("invalid header name {name:?}")))?;
            let mut shown = HeaderValue::from_str(value)
                .map_err(|_| ("headers", format!("invalid value for header {name}")))?;
            secrets.add_header(name.as_str(), value);
            if redact_header(name.as_str(), value) != *value {
                // Kept out of the client's own debug output and logs, too.
                shown.set_sensitive(true);
            }
            headers.insert(name, shown);
        }
        let expected_status = if endpoint.expected_status.is_empty() {
            vec![(200, 399)]
        } else {
            endpoint
                .expected_status
                .iter()
                .map(parse_status_spec)
                .collect::<Result<_, _>>()?
        };
        let json = endpoint
            .json
            .iter()
            .map(|(path, value)| {
                serde_json::to_value(value)
                    .map(|v| (path.clone(), v))
                    .map_err(|e| ("json", format!("{path}: {e}")))
            })
            .collect::<Result<_, _>>()?;
        Ok(HttpProbe {
            url,
            method,
            headers,
            expected_status,
            body_contains: endpoint.body_contains.clone(),
            json,
            timeout,
            degraded_after: endpoint.degraded_ms.map(Duration::from_millis),
            cert_warn_days: i64::from(endpoint.cert_expiry_warn_days.unwrap_or(14)),
            tls_verify: endpoint.tls_verify.unwrap_or(true),
            secrets,
        })
    }

    /// Runs one request with `client` (shared, pooled).
    pub async fn run(&self, client: &reqwest::Client) -> Outcome {
        let started = Instant::now();
        let request = client
            .request(self.method.clone(), self.url.clone())
            .headers(self.headers.clone())
            .timeout(self.timeout);
        let mut response = match request.send().await {
            Ok(response) => response,
            Err(err) => return Outcome::down(started.elapsed(), self.describe_error(&err)),
        };
        let code = response.status().as_u16();
        let cert_not_after = response
            .extensions()
            .get::<reqwest::tls::TlsInfo>()
            .and_then(|info| info.peer_certificate())
            .and_then(certificate_not_after);

        let needs_body = self.body_contains.is_some() || !self.json.is_empty();
        let mut body = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if needs_body && body.len() < MAX_BODY_BYTES {
                        let room = MAX_BODY_BYTES - body.len();
                        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                    }
                }
                Ok(None) => break,
                Err(err) => return Outcome::down(started.elapsed(), self.describe_error(&err)),
            }
        }
        let elapsed = started.elapsed();

        let mut outcome = Outcome::up(elapsed).with_detail(format!("HTTP {code}"));
        outcome.http_status = Some(code);
        if let Some(not_after) = cert_not_after {
            let days = (not_after - chrono::Utc::now().timestamp()).div_euclid(86_400);
            outcome.cert_not_after = Some(not_after);
            outcome.cert_days_left = Some(days);
        }

        if !self
            .expected_status
            .iter()
            .any(|(lo, hi)| (*lo..=*hi).contains(&code))
        {
            return Outcome {
                status: Status::Down,
                error: Some(format!(
                    "unexpected HTTP status {code} (expected {})",
                    self.describe_expected()
                )),
                ..outcome
            };
        }
        if let Some(problem) = self.body_problem(&body) {
            return Outcome {
                status: Status::Down,
                error: Some(problem),
                ..outcome
            };
        }
        if let Some(days) = outcome.cert_days_left {
            if days < self.cert_warn_days {
                outcome.status = Status::Degraded;
                outcome.detail = Some(format!("TLS certificate expires in {days} days"));
            }
        }
        if let Some(limit) = self.degraded_after {
            if elapsed > limit {
                outcome.status = Status::Degraded;
                outcome.detail = Some(format!(
                    "slow: {} ms (degraded above {} ms)",
                    elapsed.as_millis(),
                    limit.as_millis()
                ));
            }
        }
        outcome
    }

    fn body_problem(&self, body: &[u8]) -> Option<String> {
        let text = String::from_utf8_lossy(body);
        if let Some(needle) = &self.body_contains {
            if !text.contains(needle.as_str()) {
                return Some(format!("response body does not contain {needle:?}"));
            }
        }
        if self.json.is_empty() {
            return None;
        }
        let document: serde_json::Value = match serde_json::from_str(&text) {
            Ok(document) => document,
            Err(e) => return Some(format!("response is not JSON: {e}")),
        };
        for (path, expected) in &self.json {
            let found = path.split('.').try_fold(&document, |node, key| match node {
                serde_json::Value::Array(items) => {
                    key.parse::<usize>().ok().and_then(|i| items.get(i))
                }
                other => other.get(key),
            });
            match found {
                Some(actual) if json_matches(actual, expected) => {}
                Some(actual) => {
                    return Some(format!(
                        "JSON field {path} is {}, expected {expected}",
                        one_line(&actual.to_string(), 80)
                    ))
                }
                None => return Some(format!("JSON field {path} is missing")),
            }
        }
        None
    }

    fn describe_expected(&self) -> String {
        self.expected_status
            .iter()
            .map(|(lo, hi)| {
                if lo == hi {
                    lo.to_string()
                } else {
                    format!("{lo}-{hi}")
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn describe_error(&self, err: &reqwest::Error) -> String {
        let text = if err.is_timeout() {
            format!("timed out after {} ms", self.timeout.as_millis())
        } else {
            let root = root_cause(err);
            if err.is_connect() {
                format!("connection failed: {root}")
            } else {
                format!("request failed: {root}")
            }
        };
        // reqwest errors may quote the URL; never let its credentials through (the probe
        // scrubs every outcome again; this keeps the cut to 300 characters honest).
        one_line(&self.secrets.scrub(&redact_url(&text)), 300)
    }
}

/// JSON equality where a configured string also matches a number or bool of the same text,
/// so `{ "status" = "1" }` and `{ "status" = 1 }` both accept `{"status": 1}`.
fn json_matches(actual: &serde_json::Value, expected: &serde_json::Value) -> bool {
    if actual == expected {
        return true;
    }
    match (actual, expected) {
        (serde_json::Value::String(_), _) => false,
        (actual, serde_json::Value::String(text)) => actual.to_string().as_str() == text,
        (serde_json::Value::Number(a), serde_json::Value::Number(b)) => a.as_f64() == b.as_f64(),
        _ => false,
    }
}

/// The innermost error text, which names the real cause (refused, reset, unknown issuer...).
fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut messages = vec![err.to_string()];
    let mut source = err.source();
    while let Some(inner) = source {
        messages.push(inner.to_string());
        source = inner.source();
    }
    // The last message is the most specific; keep one step of context if it is terse.
    let last = messages.pop().unwrap_or_default();
    match messages.pop() {
        Some(previous) if last.len() < 24 && !previous.starts_with("error sending") => {
            format!("{previous}: {last}")
        }
        _ => last,
    }
}

fn parse_status_spec(spec: &StatusSpec) -> Result<(u16, u16), FieldProblem> {
    let invalid = |text: &str| {
        (
            "expected_status",
            format!("{text:?} is not a status code or range such as \"200-299\""),
        )
    };
    let (lo, hi) = match spec {
        StatusSpec::Code(code) => (*code, *code),
        StatusSpec::Text(text) => match text.split_once('-') {
            Some((lo, hi)) => (
                lo.trim().parse().map_err(|_| invalid(text))?,
                hi.trim().parse().map_err(|_| invalid(text))?,
            ),
            None => {
                let code = text.trim().parse().map_err(|_| invalid(text))?;
                (code, code)
            }
        },
    };
    if !(100..=599).contains(&lo) || !(100..=599).contains(&hi) || lo > hi {
        return Err((
            "expected_status",
            format!("{lo}-{hi} is not a valid status range"),
        ));
    }
    Ok((lo, hi))
}

/// The `notAfter` of a DER certificate, in unix seconds.
fn certificate_not_after(der: &[u8]) -> Option<i64> {
    let (_, certificate) = x509_parser::parse_x509_certificate(der).ok()?;
    Some(certificate.validity().not_after.timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_specs_accept_codes_and_ranges() {
        assert_eq!(
            parse_status_spec(&StatusSpec::Code(204)).unwrap(),
            (204, 204)
        );
        assert_eq!(
            parse_status_spec(&StatusSpec::Text("200-299".into())).unwrap(),
            (200, 299)
        );
        assert!(parse_status_spec(&StatusSpec::Text("abc".into())).is_err());
        assert!(parse_status_spec(&StatusSpec::Text("300-200".into())).is_err());
    }

    #[test]
    fn json_expectations_compare_loosely_across_types() {
        use serde_json::json;
        assert!(json_matches(&json!(1), &json!("1")));
        assert!(json_matches(&json!(true), &json!("true")));
        assert!(json_matches(&json!("ok"), &json!("ok")));
        assert!(!json_matches(&json!("1"), &json!(1)));
    }
}
