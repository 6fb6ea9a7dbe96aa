//! A secret value (a token, a password, a hook's shared secret) that never shows: its `Debug`
//! prints `***`, it has no `Display` and no `Serialize`, and only [`Secret::expose`] hands out
//! the text, for the one place that needs it (a signature check, a login, a constant-time
//! comparison). Config structs hold secrets as this type, so no `{:?}` of them leaks one.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Deserializer};
use subtle::ConstantTimeEq;

/// A secret, cheap to clone.
#[derive(Clone)]
pub struct Secret(Arc<str>);

impl Secret {
    /// Wraps `value` (trailing line breaks, as files and `echo` leave them, are dropped).
    pub fn new(value: &str) -> Secret {
        Secret(Arc::from(value.trim_end_matches(['\r', '\n'])))
    }

    /// The secret itself; only for verifying and comparing, never for showing.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether `presented` equals the secret, in time independent of where they differ.
    pub fn matches(&self, presented: &[u8]) -> bool {
        self.0.as_bytes().ct_eq(presented).into()
    }

    /// Whether the secret is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Secret {
        Secret::new(&value)
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Secret, D::Error> {
        String::deserialize(deserializer).map(|value| Secret::new(&value))
    }
}

/// Equal when the texts are, compared in constant time.
impl PartialEq for Secret {
    fn eq(&self, other: &Secret) -> bool {
        self.matches(other.expose().as_bytes())
    }
}

impl Eq for Secret {}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let secret = Secret::new("hunter2\n");
        assert_eq!(format!("{secret:?}"), "Secret(***)");
        assert_eq!(secret.expose(), "hunter2");
    }

    #[test]
    fn a_config_holding_one_never_shows_it() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Config {
            token: Secret,
        }
        let config: Config = toml::from_str("token = \"s3cr3t\"").unwrap();
        assert!(!format!("{config:?}").contains("s3cr3t"));
        assert_eq!(config.token.expose(), "s3cr3t");
    }

    #[test]
    fn comparison_needs_the_whole_value() {
        let secret = Secret::new("hunter2");
        assert!(secret.matches(b"hunter2"));
        assert!(!secret.matches(b"hunter"));
        assert!(!secret.matches(b"hunter22"));
    }
}
