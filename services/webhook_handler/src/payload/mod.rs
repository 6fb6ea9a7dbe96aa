//! What a verified delivery says: its body decoded ([`decode_body`]: JSON, or GitHub's
//! `payload=` form), and the facts taken from it and its headers ([`Facts`]: event,
//! repository, ref, branch or tag, commit, pusher, delivery id), the same for every provider
//! ([`github`] also serves Gitea and Forgejo, [`gitlab`], [`standard`] and generic senders).

pub mod facts;
mod github;
mod gitlab;
pub mod sparse;

use axum::http::HeaderMap;

pub use facts::Facts;
pub use sparse::Payload;

use crate::config::Provider;

/// Why a body cannot be read as a payload.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    /// The content type is not one the provider sends (answered 415).
    #[error("unsupported content type {0:?}: send application/json or application/x-www-form-urlencoded")]
    UnsupportedType(String),
    /// The body is not what its content type says (answered 400).
    #[error("malformed payload: {0}")]
    Malformed(String),
}

/// Decodes `body` by its `content_type`: JSON (`application/json`, `...+json`), or a form
/// whose `payload` field holds the JSON (GitHub's `application/x-www-form-urlencoded`).
/// Generic hooks take any content type: a body that is not JSON then says nothing but its
/// headers (an empty [`Payload`]).
pub fn decode_body(
    provider: Provider,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<Payload, PayloadError> {
    let media_type = content_type
        .map(|t| {
            t.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    let is_json = media_type == "application/json"
        || media_type == "text/json"
        || media_type.ends_with("+json")
        || (media_type.is_empty() && looks_like_json(body));
    if is_json {
        return parse_json(body);
    }
    if media_type == "application/x-www-form-urlencoded" {
        let payload = form_urlencoded::parse(body)
            .find(|(name, _)| name == "payload")
            .map(|(_, value)| value.into_owned())
            .ok_or_else(|| PayloadError::Malformed("the form has no payload field".to_string()))?;
        return parse_json(payload.as_bytes());
    }
    if provider == Provider::Generic {
        return Ok(if looks_like_json(body) {
            parse_json(body).unwrap_or_default()
        } else {
            Payload::default()
        });
    }
    Err(PayloadError::UnsupportedType(
        content_type.unwrap_or("(none)").to_string(),
    ))
}

fn looks_like_json(body: &[u8]) -> bool {
    body.iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| *b == b'{' || *b == b'[')
}

fn parse_json(body: &[u8]) -> Result<Payload, PayloadError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(PayloadError::Malformed("the body is empty".to_string()));
    }
    Payload::parse(body).map_err(|e| PayloadError::Malformed(e.to_string()))
}

/// The facts of a delivery from `provider`, out of its headers and decoded payload.
pub fn facts(provider: Provider, headers: &HeaderMap, payload: &Payload) -> Facts {
    match provider {
        Provider::Github | Provider::Gitea => github::facts(headers, payload),
        Provider::Gitlab => gitlab::facts(headers, payload),
        Provider::Standard => standard_facts(headers, payload),
        Provider::Generic => generic_facts(headers, payload),
    }
}

/// Standard Webhooks: the event is the payload's `type`, the delivery its `webhook-id`.
fn standard_facts(headers: &HeaderMap, payload: &Payload) -> Facts {
    let mut facts = Facts::new(
        payload
            .kind
            .clone()
            .unwrap_or_else(|| "webhook".to_string()),
    );
    facts.delivery = facts::header(headers, "webhook-id");
    facts
}

/// A generic sender: the first event header of the kinds senders use, else the payload's
/// `event` or `type`; the repository, ref and commit where GitHub-like payloads keep them.
fn generic_facts(headers: &HeaderMap, payload: &Payload) -> Facts {
    let event = [
        "x-webhook-event",
        "x-event-key",
        "x-github-event",
        "x-gitea-event",
    ]
    .iter()
    .find_map(|name| facts::header(headers, name))
    .or_else(|| payload.event.clone())
    .or_else(|| payload.kind.clone())
    .unwrap_or_else(|| "webhook".to_string());
    let mut facts = github::payload_facts(Facts::new(event), payload);
    facts.delivery = [
        "x-webhook-id",
        "x-delivery-id",
        "x-github-delivery",
        "idempotency-key",
        "x-request-id",
    ]
    .iter()
    .find_map(|name| facts::header(headers, name));
    facts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_and_form_bodies_decode_to_the_same_payload() {
        let json = decode_body(
            Provider::Github,
            Some("application/json"),
            br#"{"after":1}"#,
        );
        let form = decode_body(
            Provider::Github,
            Some("application/x-www-form-urlencoded"),
            b"payload=%7B%22after%22%3A1%7D",
        );
        assert_eq!(json, form);
        assert_eq!(json.unwrap().after.as_deref(), Some("1"));
    }

    #[test]
    fn truncated_json_is_malformed() {
        let err = decode_body(Provider::Github, Some("application/json"), br#"{"a":"#);
        assert!(matches!(err, Err(PayloadError::Malformed(_))));
    }

    #[test]
    fn a_form_without_payload_is_malformed() {
        let err = decode_body(
            Provider::Github,
            Some("application/x-www-form-urlencoded"),
            b"other=1",
        );
        assert!(matches!(err, Err(PayloadError::Malformed(_))));
    }

    #[test]
    fn other_content_types_are_refused_except_for_generic_hooks() {
        let err = decode_body(Provider::Gitlab, Some("text/plain"), b"hello");
        assert!(matches!(err, Err(PayloadError::UnsupportedType(_))));
        assert_eq!(
            decode_body(Provider::Generic, Some("text/plain"), b"hello"),
            Ok(Payload::default())
        );
    }

    #[test]
    fn standard_webhooks_events_are_the_payload_type() {
        let mut headers = HeaderMap::new();
        headers.insert("webhook-id", "msg_1".parse().unwrap());
        let payload = Payload::parse(br#"{"type": "invoice.paid", "data": {}}"#).unwrap();
        let facts = facts(Provider::Standard, &headers, &payload);
        assert_eq!(facts.event, "invoice.paid");
        assert_eq!(facts.delivery.as_deref(), Some("msg_1"));
    }
}
