//! A secret value (a hook's shared secret, a token) that never shows: its `Debug` prints
//! `***`, it has no `Display`, and only [`Secret::expose`] hands out the bytes, for the one
//! place that needs them (a signature check, a constant-time comparison).

use std::fmt;
use std::sync::Arc;

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
    fn comparison_needs_the_whole_value() {
        let secret = Secret::new("hunter2");
        assert!(secret.matches(b"hunter2"));
        assert!(!secret.matches(b"hunter"));
        assert!(!secret.matches(b"hunter22"));
    }
}
