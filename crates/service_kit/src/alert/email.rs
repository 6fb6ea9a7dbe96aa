//! The email sink: message layout and delivery through an SMTP relay with lettre.
//!
//! The message is plain text (UTF-8):
//!
//! ```text
//! Subject: [CRITICAL] api is DOWN
//!
//! connection refused
//! (2 more suppressed)
//!
//! service: api
//! state: down
//!
//! http://localhost:9100/dashboard
//! ```
//!
//! The subject is `[SEVERITY] title`; the body is the text (with the suppressed line when
//! there is one), a blank line, one `name: value` line per field, a blank line, the link.
//! Empty parts are left out together with their blank line.

use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::error::AlertError;
use super::message::Outgoing;
use super::sink::{SmtpSecurity, SmtpSettings};

/// A validated email sink: parsed addresses and a ready transport.
#[derive(Clone)]
pub(crate) struct EmailSink {
    /// Parsed sender.
    from: Mailbox,
    /// Parsed recipients, at least one.
    to: Vec<Mailbox>,
    /// The lettre transport; without the pool feature it opens one connection per message.
    transport: AsyncSmtpTransport<Tokio1Executor>,
}

impl EmailSink {
    /// Parses the addresses and builds the transport for `settings`.
    pub fn new(settings: &SmtpSettings, from: &str, to: &[String]) -> Result<Self, AlertError> {
        let from = parse_mailbox(from)?;
        if to.is_empty() {
            return Err(AlertError::NoRecipients);
        }
        let to = to
            .iter()
            .map(|address| parse_mailbox(address))
            .collect::<Result<Vec<_>, _>>()?;
        let transport = build_transport(settings)?;
        Ok(EmailSink {
            from,
            to,
            transport,
        })
    }

    /// The recipients joined by ", ", as written in config.
    pub fn describe(&self) -> String {
        self.to
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// One delivery attempt: builds the message and hands it to the relay.
    pub async fn send(&self, out: &Outgoing) -> Result<(), AlertError> {
        let message = self.message(out)?;
        self.transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(|err| AlertError::from_smtp(&err))
    }

    /// Builds the message for `out`.
    fn message(&self, out: &Outgoing) -> Result<Message, AlertError> {
        let mut builder = Message::builder()
            .from(self.from.clone())
            .subject(out.headline())
            .header(ContentType::TEXT_PLAIN);
        for to in &self.to {
            builder = builder.to(to.clone());
        }
        builder
            .body(body(out))
            .map_err(|e| AlertError::Message(e.to_string()))
    }
}

/// The plain-text body: text, fields, link, separated by blank lines.
pub(crate) fn body(out: &Outgoing) -> String {
    let mut parts = Vec::new();
    let text = out.text();
    if !text.is_empty() {
        parts.push(text);
    }
    if !out.alert.fields.is_empty() {
        let lines: Vec<String> = out
            .alert
            .fields
            .iter()
            .map(|(name, value)| format!("{name}: {value}"))
            .collect();
        parts.push(lines.join("\n"));
    }
    if let Some(link) = &out.alert.link {
        parts.push(link.clone());
    }
    // No final newline: SMTP ends the data with CRLF anyway.
    parts.join("\n\n")
}

/// Parses `Name <user@host>` or `user@host`.
fn parse_mailbox(address: &str) -> Result<Mailbox, AlertError> {
    address
        .trim()
        .parse::<Mailbox>()
        .map_err(|e| AlertError::InvalidAddress {
            address: address.to_string(),
            reason: e.to_string(),
        })
}

/// Builds the lettre transport: plain for `None`, required STARTTLS for `StartTls`,
/// implicit TLS for `Tls`; credentials when a username is set; the socket timeout.
fn build_transport(
    settings: &SmtpSettings,
) -> Result<AsyncSmtpTransport<Tokio1Executor>, AlertError> {
    let tls_parameters = || {
        TlsParameters::builder(settings.host.clone())
            .dangerous_accept_invalid_certs(settings.accept_invalid_certs)
            .build_rustls()
            .map_err(|e| AlertError::Tls {
                host: settings.host.clone(),
                reason: e.to_string(),
            })
    };
    let tls = match settings.security {
        SmtpSecurity::None => Tls::None,
        SmtpSecurity::StartTls => Tls::Required(tls_parameters()?),
        SmtpSecurity::Tls => Tls::Wrapper(tls_parameters()?),
    };
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&settings.host)
        .port(settings.port)
        .tls(tls)
        .timeout(Some(settings.timeout));
    if let Some(username) = &settings.username {
        builder = builder.credentials(Credentials::new(
            username.clone(),
            settings.password.clone().unwrap_or_default(),
        ));
    }
    Ok(builder.build())
}
