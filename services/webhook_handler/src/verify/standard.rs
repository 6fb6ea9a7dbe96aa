//! Standard Webhooks (the scheme of Svix and many SaaS senders): the sender signs
//! `{webhook-id}.{webhook-timestamp}.{body}` with HMAC-SHA256 under a key written
//! `whsec_<base64>`, and sends `webhook-signature: v1,<base64>` (several, space-separated,
//! while keys rotate). A timestamp more than five minutes from now is refused, so a captured
//! delivery cannot be replayed later.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::HeaderMap;
use base64::Engine;
use ring::hmac;
use subtle::ConstantTimeEq;

use super::Rejection;

/// How far `webhook-timestamp` may be from now.
pub const TOLERANCE: Duration = Duration::from_secs(5 * 60);

/// A Standard Webhooks signing key.
#[derive(Debug, Clone)]
pub struct StandardKey(hmac::Key);

impl StandardKey {
    /// Decodes a `whsec_<base64>` secret (the prefix is optional); `None` when the rest is
    /// not base64.
    pub fn from_secret(secret: &str) -> Option<StandardKey> {
        let encoded = secret.trim();
        let encoded = encoded.strip_prefix("whsec_").unwrap_or(encoded);
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .ok()?;
        (!bytes.is_empty()).then(|| StandardKey(hmac::Key::new(hmac::HMAC_SHA256, &bytes)))
    }

    /// The `v1,<base64>` signature of a delivery (for tests and the demo's sender).
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let tag = self.tag(id, timestamp, body);
        format!(
            "v1,{}",
            base64::engine::general_purpose::STANDARD.encode(tag.as_ref())
        )
    }

    fn tag(&self, id: &str, timestamp: i64, body: &[u8]) -> hmac::Tag {
        let mut context = hmac::Context::with_key(&self.0);
        context.update(id.as_bytes());
        context.update(b".");
        context.update(timestamp.to_string().as_bytes());
        context.update(b".");
        context.update(body);
        context.sign()
    }

    /// Checks the three headers against `body` at time `now`.
    pub fn verify(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        now: SystemTime,
    ) -> Result<(), Rejection> {
        let text = |name: &'static str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .ok_or(Rejection::Missing(name))
        };
        let id = text("webhook-id")?;
        let timestamp: i64 =
            text("webhook-timestamp")?
                .parse()
                .map_err(|_| Rejection::Malformed {
                    header: "webhook-timestamp",
                    problem: "not a number of seconds",
                })?;
        let signatures = text("webhook-signature")?;
        let now_secs = now
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        let skew = now_secs.saturating_sub(timestamp);
        if skew.unsigned_abs() > TOLERANCE.as_secs() {
            return Err(Rejection::Stale(skew));
        }
        let expected = self.tag(id, timestamp, body);
        let mut any_v1 = false;
        for entry in signatures.split_whitespace() {
            let Some(encoded) = entry.strip_prefix("v1,") else {
                continue;
            };
            any_v1 = true;
            let Ok(presented) = base64::engine::general_purpose::STANDARD.decode(encoded) else {
                continue;
            };
            if bool::from(presented.ct_eq(expected.as_ref())) {
                return Ok(());
            }
        }
        if any_v1 {
            Err(Rejection::Mismatch("webhook-signature"))
        } else {
            Err(Rejection::Malformed {
                header: "webhook-signature",
                problem: "no v1,<base64> signature in it",
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The published test vector of the Standard Webhooks specification (its reference
    /// libraries test against it).
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TIMESTAMP: i64 = 1614265330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn at(secs: i64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs as u64)
    }

    fn headers(id: &str, timestamp: &str, signature: &str) -> HeaderMap {
        let mut map = HeaderMap::new();
        map.insert("webhook-id", id.parse().unwrap());
        map.insert("webhook-timestamp", timestamp.parse().unwrap());
        map.insert("webhook-signature", signature.parse().unwrap());
        map
    }

    #[test]
    fn the_published_test_vector_verifies() {
        let key = StandardKey::from_secret(SECRET).unwrap();
        assert_eq!(key.sign(ID, TIMESTAMP, BODY), SIGNATURE);
        let signed = headers(ID, &TIMESTAMP.to_string(), SIGNATURE);
        assert_eq!(key.verify(&signed, BODY, at(TIMESTAMP + 10)), Ok(()));
    }

    #[test]
    fn any_signature_of_the_list_may_match() {
        let key = StandardKey::from_secret(SECRET).unwrap();
        let list = format!("v1,Zm9v v2,abc {SIGNATURE}");
        let signed = headers(ID, &TIMESTAMP.to_string(), &list);
        assert_eq!(key.verify(&signed, BODY, at(TIMESTAMP)), Ok(()));
    }

    #[test]
    fn old_or_future_timestamps_are_refused() {
        let key = StandardKey::from_secret(SECRET).unwrap();
        let signed = headers(ID, &TIMESTAMP.to_string(), SIGNATURE);
        assert_eq!(
            key.verify(&signed, BODY, at(TIMESTAMP + 301)),
            Err(Rejection::Stale(301))
        );
        assert_eq!(
            key.verify(&signed, BODY, at(TIMESTAMP - 301)),
            Err(Rejection::Stale(-301))
        );
    }

    #[test]
    fn a_changed_id_or_body_does_not_match() {
        let key = StandardKey::from_secret(SECRET).unwrap();
        let other_id = headers("msg_other", &TIMESTAMP.to_string(), SIGNATURE);
        assert_eq!(
            key.verify(&other_id, BODY, at(TIMESTAMP)),
            Err(Rejection::Mismatch("webhook-signature"))
        );
        let signed = headers(ID, &TIMESTAMP.to_string(), SIGNATURE);
        assert!(key.verify(&signed, b"{}", at(TIMESTAMP)).is_err());
    }

    #[test]
    fn secrets_that_are_not_base64_are_refused() {
        assert!(StandardKey::from_secret("whsec_!!!").is_none());
        assert!(StandardKey::from_secret("").is_none());
    }
}
