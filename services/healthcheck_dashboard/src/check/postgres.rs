//! Postgres checks: connect (with a time limit) and run `SELECT 1`. A wrong password, an
//! unreachable server and a timeout are reported as three different errors, because they
//! call for three different fixes.

use std::str::FromStr;
use std::time::{Duration, Instant};

use tokio_postgres::error::SqlState;

use super::{one_line, FieldProblem, Outcome};

/// A configured Postgres check.
#[derive(Debug, Clone)]
pub struct PostgresProbe {
    /// Parsed connection settings.
    pub config: tokio_postgres::Config,
    /// The DSN with its password masked, for display.
    pub display: String,
    /// The password, kept only to scrub it from error texts.
    password: Option<String>,
    /// Time limit for connect plus query.
    pub timeout: Duration,
}

impl PostgresProbe {
    /// Parses the DSN (`postgres://user:pass@host:5432/db` or `host=... user=...`).
    pub fn new(dsn: &str, timeout: Duration) -> Result<PostgresProbe, FieldProblem> {
        let mut config = tokio_postgres::Config::from_str(dsn).map_err(|e| {
            (
                "url",
                format!(
                    "not a valid Postgres DSN ({}): {e}",
                    service_kit::redact::redact_url(dsn)
                ),
            )
        })?;
        config.connect_timeout(timeout);
        if config.get_application_name().is_none() {
            config.application_name("healthcheck_dashboard");
        }
        let password = config
            .get_password()
            .map(|p| String::from_utf8_lossy(p).into_owned());
        Ok(PostgresProbe {
            config,
            display: service_kit::redact::redact_url(dsn),
            password,
            timeout,
        })
    }

    /// Connects, runs `SELECT 1`, disconnects.
    pub async fn run(&self) -> Outcome {
        let started = Instant::now();
        let attempt = async {
            let (client, connection) = self.config.connect(tokio_postgres::NoTls).await?;
            let driver = tokio::spawn(connection);
            let result = client.simple_query("SELECT 1").await;
            drop(client);
            let _ = driver.await;
            result.map(|_| ())
        };
        match tokio::time::timeout(self.timeout, attempt).await {
            Ok(Ok(())) => Outcome::up(started.elapsed()).with_detail("SELECT 1 ok"),
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
        let text = match &self.password {
            Some(password) => service_kit::redact::scrub(&text, password),
            None => text,
        };
        one_line(&text, 300)
    }
}
