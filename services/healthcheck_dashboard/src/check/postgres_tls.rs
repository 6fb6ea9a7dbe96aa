//! TLS for Postgres checks, with rustls, honouring libpq's `sslmode` (and `sslrootcert`)
//! in the DSN, keyword (`sslmode=verify-full`) or URL (`?sslmode=require`) form:
//!
//! | `sslmode` | what the check does |
//! |---|---|
//! | `disable` | plain TCP only |
//! | `allow`, `prefer` (default) | TLS when the server offers it (certificate not checked, as libpq), else plain |
//! | `require` | TLS or fail; the certificate is not checked (libpq's meaning) |
//! | `verify-ca` | TLS, the certificate chain checked against `sslrootcert` (or the webpki roots) |
//! | `verify-full` | as `verify-ca`, and the certificate must name the host |
//!
//! tokio-postgres knows only `disable`, `prefer` and `require` and no `sslrootcert`, so
//! [`TlsOptions::split`] takes both out of the DSN before it is parsed, and the connector
//! ([`MakeRustlsConnect`]) carries the verification they ask for.

use std::future::Future;
use std::io;
use std::path::Path;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect, TlsStream};

/// libpq's `sslmode` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SslMode {
    /// Never TLS.
    Disable,
    /// TLS when offered (libpq's `allow` tries plain first; here it is the same as `prefer`).
    #[default]
    Prefer,
    /// TLS or fail, any certificate.
    Require,
    /// TLS with a certificate chain that verifies.
    VerifyCa,
    /// TLS with a certificate chain that verifies and names the host.
    VerifyFull,
}

impl SslMode {
    fn parse(value: &str) -> Result<SslMode, String> {
        Ok(match value {
            "disable" => SslMode::Disable,
            "allow" | "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            other => {
                return Err(format!(
                    "sslmode {other:?} is not one of disable, allow, prefer, require, verify-ca, verify-full"
                ))
            }
        })
    }

    /// The mode tokio-postgres negotiates with (verification is the connector's part).
    pub fn negotiation(self) -> tokio_postgres::config::SslMode {
        match self {
            SslMode::Disable => tokio_postgres::config::SslMode::Disable,
            SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => {
                tokio_postgres::config::SslMode::Require
            }
        }
    }
}

/// The TLS options of a DSN.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// `sslmode` (default `prefer`).
    pub mode: SslMode,
    /// `sslrootcert`: a PEM file of the certificates to trust (`system`, or none, means the
    /// webpki roots).
    pub root_cert: Option<String>,
}

impl TlsOptions {
    /// Takes `sslmode` and `sslrootcert` out of `dsn`; returns what is left, for
    /// tokio-postgres, and the options.
    pub fn split(dsn: &str) -> Result<(String, TlsOptions), String> {
        let mut options = TlsOptions::default();
        let mut take = |name: &str, value: &str| -> Result<bool, String> {
            match name {
                "sslmode" => options.mode = SslMode::parse(value)?,
                "sslrootcert" => options.root_cert = Some(value.to_string()),
                _ => return Ok(false),
            }
            Ok(true)
        };
        let rest = if dsn.starts_with("postgres://") || dsn.starts_with("postgresql://") {
            split_url(dsn, &mut take)?
        } else {
            split_keywords(dsn, &mut take)?
        };
        Ok((rest, options))
    }

    /// The connector for these options; reads `sslrootcert` (a problem names it).
    pub fn connector(&self) -> Result<MakeRustlsConnect, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS set-up failed: {e}"))?;
        let verifier: Arc<dyn ServerCertVerifier> = match self.mode {
            SslMode::Disable | SslMode::Prefer | SslMode::Require => {
                Arc::new(AnyCertificate(provider))
            }
            SslMode::VerifyCa | SslMode::VerifyFull => {
                let roots = self.roots()?;
                let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
                    .build()
                    .map_err(|e| format!("sslrootcert: {e}"))?;
                if self.mode == SslMode::VerifyFull {
                    webpki
                } else {
                    Arc::new(AnyName(webpki))
                }
            }
        };
        let config = builder
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        Ok(MakeRustlsConnect {
            config: Arc::new(config),
            used_tls: Arc::new(AtomicBool::new(false)),
        })
    }

    fn roots(&self) -> Result<RootCertStore, String> {
        let mut roots = RootCertStore::empty();
        match self.root_cert.as_deref() {
            None | Some("system") => {
                roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            }
            Some(path) => {
                let certificates = CertificateDer::pem_file_iter(Path::new(path))
                    .map_err(|e| format!("sslrootcert {path:?}: {e}"))?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| format!("sslrootcert {path:?}: {e}"))?;
                let (added, _) = roots.add_parsable_certificates(certificates);
                if added == 0 {
                    return Err(format!("sslrootcert {path:?} holds no usable certificate"));
                }
            }
        }
        Ok(roots)
    }
}

/// `postgres://...?a=1&sslmode=x`: the query's pairs that `take` does not want are kept as
/// written.
fn split_url(
    dsn: &str,
    take: &mut impl FnMut(&str, &str) -> Result<bool, String>,
) -> Result<String, String> {
    let Some((base, query)) = dsn.split_once('?') else {
        return Ok(dsn.to_string());
    };
    let mut kept = Vec::new();
    for pair in query.split('&') {
        let decoded = form_urlencoded::parse(pair.as_bytes()).next();
        let taken = match &decoded {
            Some((name, value)) => take(name, value)?,
            None => false,
        };
        if !taken && !pair.is_empty() {
            kept.push(pair);
        }
    }
    Ok(if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    })
}

/// `host=db sslmode=x password='a b'`: the pairs that `take` does not want are kept as
/// written. Values may be quoted with `'` and escape with `\`, as libpq allows.
fn split_keywords(
    dsn: &str,
    take: &mut impl FnMut(&str, &str) -> Result<bool, String>,
) -> Result<String, String> {
    let bytes = dsn.as_bytes();
    let mut kept = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        while at < bytes.len() && bytes[at].is_ascii_whitespace() {
            at += 1;
        }
        if at == bytes.len() {
            break;
        }
        let start = at;
        while at < bytes.len() && bytes[at] != b'=' && !bytes[at].is_ascii_whitespace() {
            at += 1;
        }
        let name = &dsn[start..at];
        while at < bytes.len() && bytes[at].is_ascii_whitespace() {
            at += 1;
        }
        if at == bytes.len() || bytes[at] != b'=' {
            // Not `key=value`: leave it for tokio-postgres to refuse.
            kept.push(&dsn[start..at]);
            continue;
        }
        at += 1;
        while at < bytes.len() && bytes[at].is_ascii_whitespace() {
            at += 1;
        }
        let mut value = String::new();
        if at < bytes.len() && bytes[at] == b'\'' {
            at += 1;
            while at < bytes.len() && bytes[at] != b'\'' {
                if bytes[at] == b'\\' && at + 1 < bytes.len() {
                    at += 1;
                }
                let c = dsn[at..].chars().next().unwrap_or('\0');
                value.push(c);
                at += c.len_utf8();
            }
            at = (at + 1).min(bytes.len());
        } else {
            let end = dsn[at..]
                .find(|c: char| c.is_ascii_whitespace())
                .map_or(dsn.len(), |i| at + i);
            value.push_str(&dsn[at..end]);
            at = end;
        }
        if !take(name, &value)? {
            kept.push(&dsn[start..at]);
        }
    }
    Ok(kept.join(" "))
}

/// Accepts any certificate (libpq's `prefer` and `require`), still checking that the server
/// holds its key.
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Verifies the chain but not the name (libpq's `verify-ca`).
#[derive(Debug)]
struct AnyName(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for AnyName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// tokio-postgres's TLS hook, on rustls. Each check run takes a [`fresh`](Self::fresh) copy,
/// which then tells whether that connection used TLS.
#[derive(Clone)]
pub struct MakeRustlsConnect {
    config: Arc<ClientConfig>,
    used_tls: Arc<AtomicBool>,
}

impl MakeRustlsConnect {
    /// A copy with the same configuration and its own "used TLS" flag.
    pub fn fresh(&self) -> MakeRustlsConnect {
        MakeRustlsConnect {
            config: self.config.clone(),
            used_tls: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Whether a TLS handshake of this copy succeeded.
    pub fn used_tls(&self) -> bool {
        self.used_tls.load(Ordering::Acquire)
    }
}

impl<S> MakeTlsConnect<S> for MakeRustlsConnect
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = RustlsStream<S>;
    type TlsConnect = RustlsConnect;
    type Error = rustls::pki_types::InvalidDnsNameError;

    fn make_tls_connect(&mut self, domain: &str) -> Result<RustlsConnect, Self::Error> {
        Ok(RustlsConnect {
            config: self.config.clone(),
            name: ServerName::try_from(domain.to_string())?,
            used_tls: self.used_tls.clone(),
        })
    }
}

/// One TLS handshake to one server.
pub struct RustlsConnect {
    config: Arc<ClientConfig>,
    name: ServerName<'static>,
    used_tls: Arc<AtomicBool>,
}

impl<S> TlsConnect<S> for RustlsConnect
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = RustlsStream<S>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<RustlsStream<S>>> + Send>>;

    fn connect(self, stream: S) -> Self::Future {
        Box::pin(async move {
            let connector = tokio_rustls::TlsConnector::from(self.config);
            let tls = connector.connect(self.name, stream).await?;
            self.used_tls.store(true, Ordering::Release);
            Ok(RustlsStream(tls))
        })
    }
}

/// A TLS connection to a Postgres server.
pub struct RustlsStream<S>(tokio_rustls::client::TlsStream<S>);

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for RustlsStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for RustlsStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> TlsStream for RustlsStream<S> {
    fn channel_binding(&self) -> ChannelBinding {
        // SCRAM then runs without channel binding, as with libpq's default `prefer`.
        ChannelBinding::none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(dsn: &str) -> (String, TlsOptions) {
        TlsOptions::split(dsn).unwrap()
    }

    #[test]
    fn url_dsns_lose_only_the_tls_options() {
        let (rest, options) = split(
            "postgres://u:p@db/app?connect_timeout=3&sslmode=verify-full&sslrootcert=%2Fca.pem",
        );
        assert_eq!(rest, "postgres://u:p@db/app?connect_timeout=3");
        assert_eq!(options.mode, SslMode::VerifyFull);
        assert_eq!(options.root_cert.as_deref(), Some("/ca.pem"));
        let (rest, options) = split("postgresql://db/app?sslmode=require");
        assert_eq!(
            (rest.as_str(), options.mode),
            ("postgresql://db/app", SslMode::Require)
        );
        assert_eq!(split("postgres://db/app").1.mode, SslMode::Prefer);
    }

    #[test]
    fn keyword_dsns_lose_only_the_tls_options_quotes_included() {
        let (rest, options) = split(
            "host=db sslmode = verify-ca password='a b\\'c' sslrootcert='/my certs/ca.pem' user=u",
        );
        assert_eq!(rest, "host=db password='a b\\'c' user=u");
        assert_eq!(options.mode, SslMode::VerifyCa);
        assert_eq!(options.root_cert.as_deref(), Some("/my certs/ca.pem"));
    }

    #[test]
    fn an_unknown_sslmode_is_refused_and_negotiation_maps_to_what_tokio_postgres_knows() {
        assert!(TlsOptions::split("host=db sslmode=sometimes")
            .unwrap_err()
            .contains("verify-full"));
        assert_eq!(
            SslMode::VerifyFull.negotiation(),
            tokio_postgres::config::SslMode::Require
        );
        assert_eq!(
            SslMode::Disable.negotiation(),
            tokio_postgres::config::SslMode::Disable
        );
    }

    #[test]
    fn a_missing_root_certificate_file_is_a_clear_error() {
        let options = TlsOptions {
            mode: SslMode::VerifyFull,
            root_cert: Some("/nonexistent/ca.pem".into()),
        };
        let error = options.connector().err().unwrap();
        assert!(
            error.starts_with("sslrootcert \"/nonexistent/ca.pem\""),
            "{error}"
        );
    }
}
