//! Why building a sink or delivering an alert failed, and whether trying again can help.

use std::time::Duration;

/// A sink could not be built from its configuration, or one delivery attempt failed.
///
/// Construction errors (`InvalidUrl`, `InvalidAddress`, `NoRecipients`, `Tls`) are meant to
/// stop a service at start-up; delivery errors say whether a retry may succeed through
/// [`AlertError::is_retryable`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AlertError {
    /// A webhook URL is not an absolute `http`/`https` URL.
    #[error("invalid webhook URL `{url}`: {reason}")]
    InvalidUrl {
        /// The URL as configured, credentials removed.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An email address (sender or recipient) cannot be parsed.
    #[error("invalid email address `{address}`: {reason}")]
    InvalidAddress {
        /// The address as configured.
        address: String,
        /// What the parser objected to.
        reason: String,
    },
    /// An email sink was configured without any recipient.
    #[error("email sink has no recipients")]
    NoRecipients,
    /// The TLS settings for an SMTP relay could not be built.
    #[error("TLS set-up for SMTP relay {host} failed: {reason}")]
    Tls {
        /// The relay host name.
        host: String,
        /// The underlying error.
        reason: String,
    },
    /// The receiver answered with a status other than 2xx.
    #[error("HTTP {status}: {body}")]
    Http {
        /// The HTTP status code.
        status: u16,
        /// The first few hundred characters of the response body, for the log.
        body: String,
        /// The delay the receiver asked for with `Retry-After` (seconds form only).
        retry_after: Option<Duration>,
    },
    /// The request never got a response: connection refused, reset, DNS failure...
    #[error("transport error: {0}")]
    Transport(String),
    /// One attempt took longer than the policy's per-attempt timeout.
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    /// The SMTP relay refused the message or the conversation failed.
    #[error("SMTP error: {message}")]
    Smtp {
        /// The reply code when the relay answered with a negative reply.
        code: Option<u16>,
        /// The error as lettre describes it, including the relay's reply text.
        message: String,
        /// True for 4xx replies and connection problems: trying later may succeed.
        transient: bool,
    },
    /// The email message could not be assembled.
    #[error("cannot build email: {0}")]
    Message(String),
}

impl AlertError {
    /// True when another attempt may succeed: HTTP 429 and 5xx, transport errors, timeouts
    /// and transient SMTP errors. Other 4xx answers and permanent SMTP errors are final.
    pub fn is_retryable(&self) -> bool {
        match self {
            AlertError::Http { status, .. } => *status == 429 || (500..600).contains(status),
            AlertError::Transport(_) | AlertError::Timeout(_) => true,
            AlertError::Smtp { transient, .. } => *transient,
            AlertError::InvalidUrl { .. }
            | AlertError::InvalidAddress { .. }
            | AlertError::NoRecipients
            | AlertError::Tls { .. }
            | AlertError::Message(_) => false,
        }
    }

    /// The wait the receiver asked for before the next attempt, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            AlertError::Http { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// Classifies a lettre SMTP error: 4xx replies, connection and network failures are
    /// transient; 5xx replies, TLS failures (a bad certificate does not heal) and client
    /// errors (no common AUTH mechanism) are permanent.
    pub(crate) fn from_smtp(err: &lettre::transport::smtp::Error) -> AlertError {
        let code = err.status().map(u16::from);
        let message = error_chain(err);
        // lettre reports a rejected certificate as a connection error; rustls says
        // "invalid peer certificate" in it. Retrying cannot fix a certificate.
        let bad_certificate = message.contains("invalid peer certificate");
        let transient = !(err.is_permanent() || err.is_client() || err.is_tls() || bad_certificate);
        AlertError::Smtp {
            code,
            message,
            transient,
        }
    }
}

/// Renders an error with all its sources, `outer: inner: innermost`, so log lines say why.
pub(crate) fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(inner) = source {
        let inner_text = inner.to_string();
        // lettre and reqwest sometimes repeat the source in their own message.
        if !text.contains(&inner_text) {
            text.push_str(": ");
            text.push_str(&inner_text);
        }
        source = inner.source();
    }
    text
}

/// Cuts `text` to at most `max` characters, marking the cut with "…".
pub(crate) fn excerpt(text: &str, max: usize) -> String {
    let trimmed = text.trim();
    if trimmed.chars().count() <= max {
        return trimmed.to_string();
    }
    let mut cut: String = trimmed.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}
