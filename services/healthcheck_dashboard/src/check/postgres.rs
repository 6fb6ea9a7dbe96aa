//! Postgres checks: connect (with a time limit) and run `SELECT 1`. A wrong password, an
//! unreachable server, a TLS failure and a timeout are reported as different errors, because
//! they call for different fixes. TLS follows the DSN's `sslmode` ([`super::postgres_tls`]);
//! the detail of a passing check says whether the connection used it.

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, Instant};

use tokio_postgres::error::SqlState;

use super::postgres_tls::{MakeRustlsConnect, SslMode, TlsOptions};
use super::{one_line, FieldProblem, Outcome, Secrets};

/// A configured Postgres check. Its `Debug` shows the DSN masked.
#[derive(Clone)]
pub struct PostgresProbe {
    /// Parsed connection settings.
    pub config: tokio_postgres::Config,
    /// The DSN with its password masked, for display.
    pub display: String,
    /// The password (and any other secret of the DSN), scrubbed from error texts.
    pub secrets: Secrets,
    /// Time limit for connect plus query.
    pub timeout: Duration,
    /// `sslmode` of the DSN.
    pub ssl_mode: SslMode,
    /// The TLS connector `sslmode` and `sslrootcert` ask for.
    tls: MakeRustlsConnect,
}

impl fmt::Debug for PostgresProbe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresProbe")
            .field("dsn", &self.display)
            .field("timeout", &self.timeout)
            .field("ssl_mode", &self.ssl_mode)
            .field("secrets", &self.secrets)
            .finish_non_exhaustive()
    }
}

impl PostgresProbe {
    /// Parses the DSN (`postgres://user:pass@host:5432/db` or `host=... user=...`).
    pub fn new(dsn: &str, timeout: Duration) -> Result<PostgresProbe, FieldProblem> {
        let (rest, tls) = TlsOptions::split(dsn).map_err(|e| ("url", e))?;
        let mut config = tokio_postgres::Config::from_str(&rest).map_err(|e| {
            (
                "url",
                format!(
                    "not a valid Postgres DSN ({}): {e}",
                    service_kit::redact::redact_url(dsn)
                ),
            )
        })?;
        config.connect_timeout(timeout);
        config.ssl_mode(tls.mode.negotiation());
        let connector = tls.connector().map_err(|e| ("url", e))?;
        if config.get_application_name().is_none() {
            config.application_name("healthcheck_dashboard");
        }
        let mut secrets = Secrets::new();
        secrets.add_url(dsn);
        if let Some(password) = config.get_password() {
            secrets.add(&String::from_utf8_lossy(password));
        }
        Ok(PostgresProbe {
            config,
            display: service_kit::redact::redact_url(dsn),
            secrets,
            timeout,
            ssl_mode: tls.mode,
            tls: connector,
        })
    }

    /// Connects, runs `SELECT 1`, disconnects.
    pub async fn run(&self) -> Outcome {
        let started = Instant::now();
        let tls = self.tls.fresh();
        let attempt = async {
            let (client, connection) = self.config.connect(tls.clone()).await?;
            let driver = tokio::spawn(connection);
            let result = client.simple_query("SELECT 1").await;
            drop(client);
            let _ = driver.await;
            result.map(|_| ())
        };
        match tokio::time::timeout(self.timeout, attempt).await {
            Ok(Ok(())) => Outcome::up(started.elapsed()).with_detail(if tls.used_tls() {
                "SELECT 1 ok (TLS)"
            } else {
                "SELECT 1 ok (no TLS)"
            }),
            Ok(Err(err)) => Outcome::down(started.elapsed(), self.describe(&err)),
            Err(_) => Outcome::down(
                started.elapsed(),
                format!("timed out after {} ms", self.timeout.as_millis()),
            ),
        }
    }

    fn describe(&self, err: &tokio_postgres::Error) -> String {
        let user = self.config.get_user().unwrap_or("?");
        let text = if let Some(db) = err.as_db_error() {
            match *db.code() {
                SqlState::INVALID_PASSWORD | SqlState::INVALID_AUTHORIZATION_SPECIFICATION => {
                    format!("authentication failed for user {user:?}: {}", db.message())
                }
                SqlState::INVALID_CATALOG_NAME => format!("database missing: {}", db.message()),
                SqlState::TOO_MANY_CONNECTIONS => format!("server full: {}", db.message()),
                SqlState::CANNOT_CONNECT_NOW => {
                    format!("server starting up or shutting down: {}", db.message())
                }
                _ => format!("server error {}: {}", db.code().code(), db.message()),
            }
        } else if err
            .to_string()
            .starts_with("error performing TLS handshake")
        {
            // `server does not support TLS`, `invalid peer certificate: UnknownIssuer`, ...
            match std::error::Error::source(err) {
                Some(cause) => format!("TLS failed: {cause}"),
                None => "TLS failed".to_string(),
            }
        } else {
            let io =
                std::error::Error::source(err).and_then(|s| s.downcast_ref::<std::io::Error>());
            match io {
                Some(io) if io.kind() == std::io::ErrorKind::TimedOut => {
                    format!("timed out after {} ms", self.timeout.as_millis())
                }
                Some(io) => format!("server unreachable: {io}"),
                None if err.to_string().contains("timeout") => {
                    format!("timed out after {} ms", self.timeout.as_millis())
                }
                None => format!("connection failed: {err}"),
            }
        };
        one_line(&self.secrets.scrub(&text), 300)
    }
}
