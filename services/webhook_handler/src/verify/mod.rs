//! Verifying that a delivery comes from whoever holds the hook's secret, before anything
//! else of it is parsed: each provider's scheme, in constant time.
//!
//! | provider | header | scheme |
//! |---|---|---|
//! | GitHub | `X-Hub-Signature-256: sha256=<hex>` (and `X-Hub-Signature: sha1=<hex>` with `allow_sha1`) | HMAC of the body |
//! | Gitea, Forgejo | `X-Gitea-Signature` / `X-Forgejo-Signature: <hex>`, or GitHub's header | HMAC-SHA256 of the body |
//! | GitLab | `X-Gitlab-Token: <secret>` | the secret itself |
//! | Standard Webhooks | `webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64> ...` | HMAC-SHA256 of `id.timestamp.body`, key `whsec_<base64>`, 5 minutes' tolerance ([`standard`]) |
//! | generic | a configured header | the secret itself, or HMAC-SHA256 of the body |

pub mod hex;
pub mod standard;

use std::time::SystemTime;

use axum::http::{HeaderMap, HeaderName};
use ring::hmac;

use service_kit::secret::Secret;

pub use standard::StandardKey;

/// How one hook's deliveries are verified.
#[derive(Debug, Clone)]
pub enum Verifier {
    /// GitHub: HMAC-SHA256 in `X-Hub-Signature-256`; SHA-1 in `X-Hub-Signature` too when
    /// the hook allows it.
    Github {
        /// The HMAC-SHA256 key.
        sha256: hmac::Key,
        /// The HMAC-SHA1 key, when `allow_sha1` is set.
        sha1: Option<hmac::Key>,
    },
    /// Gitea and Forgejo: bare hex HMAC-SHA256 in their own header or GitHub's.
    Gitea {
        /// The HMAC-SHA256 key.
        key: hmac::Key,
    },
    /// GitLab: the secret itself in `X-Gitlab-Token`.
    GitlabToken {
        /// The expected token.
        token: Secret,
    },
    /// Standard Webhooks.
    Standard {
        /// The decoded `whsec_` key.
        key: StandardKey,
    },
    /// The secret itself in a header.
    HeaderToken {
        /// The header.
        header: HeaderName,
        /// The expected token.
        token: Secret,
    },
    /// HMAC-SHA256 of the body, hex (optionally `sha256=`), in a header.
    HeaderHmac {
        /// The header.
        header: HeaderName,
        /// The HMAC-SHA256 key.
        key: hmac::Key,
    },
    /// No verification (`verify = "none"`).
    None,
}

/// Why a delivery was refused; answered as 401 with this text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// The header that carries the proof is missing.
    #[error("missing {0} header")]
    Missing(&'static str),
    /// The header is there but not in the expected form.
    #[error("malformed {header} header: {problem}")]
    Malformed {
        /// Which header.
        header: &'static str,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// The proof does not match the secret.
    #[error("{0} does not match")]
    Mismatch(&'static str),
    /// A Standard Webhooks timestamp too far from now (a replay, or a clock far off).
    #[error("webhook-timestamp is {0} s away from now (more than 5 minutes)")]
    Stale(i64),
}

/// The custom header of a generic hook, named in rejections (rejections name headers with
/// `'static` text; a configured name is known at start-up only).
const CUSTOM_HEADER: &str = "the configured";

impl Verifier {
    /// HMAC-SHA256 key for `secret`.
    pub fn sha256_key(secret: &Secret) -> hmac::Key {
        hmac::Key::new(hmac::HMAC_SHA256, secret.expose().as_bytes())
    }

    /// HMAC-SHA1 key for `secret` (GitHub's legacy signature).
    pub fn sha1_key(secret: &Secret) -> hmac::Key {
        hmac::Key::new(
            hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
            secret.expose().as_bytes(),
        )
    }

    /// Checks `body` and `headers` against the secret; `now` for timestamped schemes.
    pub fn verify(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        now: SystemTime,
    ) -> Result<(), Rejection> {
        match self {
            Verifier::Github { sha256, sha1 } => {
                const SHA256: &str = "X-Hub-Signature-256";
                const SHA1: &str = "X-Hub-Signature";
                if let Some(value) = header(headers, SHA256) {
                    return check_prefixed_hex(sha256, body, value, "sha256=", SHA256);
                }
                match (sha1, header(headers, SHA1)) {
                    (Some(key), Some(value)) => check_prefixed_hex(key, body, value, "sha1=", SHA1),
                    _ => Err(Rejection::Missing(SHA256)),
                }
            }
            Verifier::Gitea { key } => {
                for name in ["X-Gitea-Signature", "X-Forgejo-Signature"] {
                    if let Some(value) = header(headers, name) {
                        return check_hex(key, body, value, name);
                    }
                }
                const GITHUB: &str = "X-Hub-Signature-256";
                match header(headers, GITHUB) {
                    Some(value) => check_prefixed_hex(key, body, value, "sha256=", GITHUB),
                    None => Err(Rejection::Missing("X-Gitea-Signature")),
                }
            }
            Verifier::GitlabToken { token } => {
                const TOKEN: &str = "X-Gitlab-Token";
                match header(headers, TOKEN) {
                    Some(value) if token.matches(value.as_bytes()) => Ok(()),
                    Some(_) => Err(Rejection::Mismatch(TOKEN)),
                    None => Err(Rejection::Missing(TOKEN)),
                }
            }
            Verifier::Standard { key } => key.verify(headers, body, now),
            Verifier::HeaderToken {
                header: name,
                token,
            } => match headers.get(name).map(|v| v.as_bytes()) {
                Some(value) if token.matches(strip_bearer(value)) => Ok(()),
                Some(_) => Err(Rejection::Mismatch(CUSTOM_HEADER)),
                None => Err(Rejection::Missing(CUSTOM_HEADER)),
            },
            Verifier::HeaderHmac { header: name, key } => {
                match headers.get(name).and_then(|v| v.to_str().ok()) {
                    Some(value) => {
                        let hex = value.trim();
                        let hex = hex.strip_prefix("sha256=").unwrap_or(hex);
                        check_hex(key, body, hex, CUSTOM_HEADER)
                    }
                    None => Err(Rejection::Missing(CUSTOM_HEADER)),
                }
            }
            Verifier::None => Ok(()),
        }
    }
}

/// The `X-Hub-Signature-256` value GitHub would send for `body` under `secret`
/// (`sha256=<hex>`): for senders of our own (the demo's ready-to-paste `curl`) and tests.
pub fn github_signature(secret: &str, body: &[u8]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    format!("sha256={}", hex::encode(hmac::sign(&key, body).as_ref()))
}

/// A header's value as text, if present and visible ASCII.
fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// `Authorization: Bearer TOKEN` carries the token after the scheme.
fn strip_bearer(value: &[u8]) -> &[u8] {
    value.strip_prefix(b"Bearer ").unwrap_or(value)
}

/// `value` is `prefix` then the hex HMAC of `body`.
fn check_prefixed_hex(
    key: &hmac::Key,
    body: &[u8],
    value: &str,
    prefix: &str,
    name: &'static str,
) -> Result<(), Rejection> {
    let hex = value
        .trim()
        .strip_prefix(prefix)
        .ok_or(Rejection::Malformed {
            header: name,
            problem: "the value does not start with the algorithm (sha256=)",
        })?;
    check_hex(key, body, hex, name)
}

/// `hex` (either case) is the HMAC of `body`; ring compares in constant time.
fn check_hex(key: &hmac::Key, body: &[u8], hex: &str, name: &'static str) -> Result<(), Rejection> {
    let tag = hex::decode(hex.trim()).ok_or(Rejection::Malformed {
        header: name,
        problem: "not hexadecimal",
    })?;
    hmac::verify(key, body, &tag).map_err(|_| Rejection::Mismatch(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, value.parse().unwrap());
        }
        map
    }

    fn github(secret: &str, sha1: bool) -> Verifier {
        let secret = Secret::new(secret);
        Verifier::Github {
            sha256: Verifier::sha256_key(&secret),
            sha1: sha1.then(|| Verifier::sha1_key(&secret)),
        }
    }

    /// The example in GitHub's documentation on validating webhook deliveries.
    const GITHUB_SECRET: &str = "It's a Secret to Everybody";
    const GITHUB_BODY: &[u8] = b"Hello, World!";
    const GITHUB_SIGNATURE: &str =
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

    #[test]
    fn githubs_published_test_vector_verifies() {
        let verifier = github(GITHUB_SECRET, false);
        let ok = headers(&[("x-hub-signature-256", GITHUB_SIGNATURE)]);
        assert_eq!(verifier.verify(&ok, GITHUB_BODY, SystemTime::now()), Ok(()));
    }

    #[test]
    fn github_hex_may_be_upper_case() {
        let verifier = github(GITHUB_SECRET, false);
        let upper = format!("sha256={}", GITHUB_SIGNATURE[7..].to_uppercase());
        let ok = headers(&[("x-hub-signature-256", &upper)]);
        assert_eq!(verifier.verify(&ok, GITHUB_BODY, SystemTime::now()), Ok(()));
    }

    #[test]
    fn a_changed_body_or_secret_is_refused() {
        let now = SystemTime::now();
        let signed = headers(&[("x-hub-signature-256", GITHUB_SIGNATURE)]);
        assert_eq!(
            github(GITHUB_SECRET, false).verify(&signed, b"Hello, World?", now),
            Err(Rejection::Mismatch("X-Hub-Signature-256"))
        );
        assert_eq!(
            github("another secret", false).verify(&signed, GITHUB_BODY, now),
            Err(Rejection::Mismatch("X-Hub-Signature-256"))
        );
    }

    #[test]
    fn a_missing_or_malformed_signature_is_refused_with_the_reason() {
        let now = SystemTime::now();
        let verifier = github(GITHUB_SECRET, false);
        assert_eq!(
            verifier.verify(&HeaderMap::new(), GITHUB_BODY, now),
            Err(Rejection::Missing("X-Hub-Signature-256"))
        );
        let bare = headers(&[("x-hub-signature-256", &GITHUB_SIGNATURE[7..])]);
        assert!(matches!(
            verifier.verify(&bare, GITHUB_BODY, now),
            Err(Rejection::Malformed { .. })
        ));
        let not_hex = headers(&[("x-hub-signature-256", "sha256=zz")]);
        assert!(matches!(
            verifier.verify(&not_hex, GITHUB_BODY, now),
            Err(Rejection::Malformed { .. })
        ));
    }

    #[test]
    fn sha1_is_accepted_only_when_the_hook_allows_it() {
        let secret = Secret::new(GITHUB_SECRET);
        let tag = hmac::sign(&Verifier::sha1_key(&secret), GITHUB_BODY);
        let value = format!("sha1={}", hex::encode(tag.as_ref()));
        let signed = headers(&[("x-hub-signature", &value)]);
        let now = SystemTime::now();
        assert_eq!(
            github(GITHUB_SECRET, false).verify(&signed, GITHUB_BODY, now),
            Err(Rejection::Missing("X-Hub-Signature-256"))
        );
        assert_eq!(
            github(GITHUB_SECRET, true).verify(&signed, GITHUB_BODY, now),
            Ok(())
        );
    }

    #[test]
    fn gitea_and_forgejo_send_bare_hex_and_githubs_header_too() {
        let secret = Secret::new("gitea secret");
        let verifier = Verifier::Gitea {
            key: Verifier::sha256_key(&secret),
        };
        let tag = hex::encode(hmac::sign(&Verifier::sha256_key(&secret), b"{}").as_ref());
        let now = SystemTime::now();
        for name in ["x-gitea-signature", "x-forgejo-signature"] {
            assert_eq!(
                verifier.verify(&headers(&[(name, &tag)]), b"{}", now),
                Ok(())
            );
        }
        let github_style = format!("sha256={tag}");
        let only_github = headers(&[("x-hub-signature-256", &github_style)]);
        assert_eq!(verifier.verify(&only_github, b"{}", now), Ok(()));
        assert_eq!(
            verifier.verify(&headers(&[("x-gitea-signature", &tag)]), b"{ }", now),
            Err(Rejection::Mismatch("X-Gitea-Signature"))
        );
    }

    #[test]
    fn gitlab_sends_the_token_itself() {
        let verifier = Verifier::GitlabToken {
            token: Secret::new("glpat"),
        };
        let now = SystemTime::now();
        assert_eq!(
            verifier.verify(&headers(&[("x-gitlab-token", "glpat")]), b"", now),
            Ok(())
        );
        assert_eq!(
            verifier.verify(&headers(&[("x-gitlab-token", "nope")]), b"", now),
            Err(Rejection::Mismatch("X-Gitlab-Token"))
        );
    }

    #[test]
    fn generic_hooks_take_a_token_or_an_hmac_in_their_header() {
        let secret = Secret::new("s3");
        let name = HeaderName::from_static("x-deploy-token");
        let token = Verifier::HeaderToken {
            header: name.clone(),
            token: secret.clone(),
        };
        let now = SystemTime::now();
        assert_eq!(
            token.verify(&headers(&[("x-deploy-token", "s3")]), b"", now),
            Ok(())
        );
        assert!(token
            .verify(&headers(&[("x-deploy-token", "s4")]), b"", now)
            .is_err());
        let hmac_verifier = Verifier::HeaderHmac {
            header: name,
            key: Verifier::sha256_key(&secret),
        };
        let tag = hex::encode(hmac::sign(&Verifier::sha256_key(&secret), b"x").as_ref());
        for value in [tag.clone(), format!("sha256={tag}")] {
            assert_eq!(
                hmac_verifier.verify(&headers(&[("x-deploy-token", &value)]), b"x", now),
                Ok(())
            );
        }
    }
}
