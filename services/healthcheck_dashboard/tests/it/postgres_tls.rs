//! Postgres checks over TLS against a real PostgreSQL server (`ssl = on` with a certificate
//! from a test authority), following the DSN's `sslmode` as libpq does: `require` encrypts
//! without checking the certificate, `verify-full` checks chain and host name, `verify-ca`
//! the chain only, `prefer` falls back to plain when the server has no TLS.

use healthcheck_dashboard::check::{ContainerViews, HttpClients, Outcome, Status};
use healthcheck_dashboard::settings::Settings;

use crate::support::{certificates_for, PostgresServer, TestCertificates, PG_PASSWORD, PG_USER};

/// Runs one check of a `postgres` endpoint with `dsn` once.
async fn check(dsn: &str) -> Outcome {
    let settings = Settings::from_toml(&format!(
        "[checks]\nendpoints = [ {{ name = \"db\", url = {dsn:?}, type = \"postgres\", timeout_ms = 5000 }} ]"
    ))
    .unwrap_or_else(|e| panic!("{dsn}: {e}"));
    settings.checks[0]
        .probe
        .run(&HttpClients::new(), &ContainerViews::default())
        .await
}

fn dsn(host: &str, port: u16, options: &str) -> String {
    format!("postgres://{PG_USER}:{PG_PASSWORD}@{host}:{port}/postgres?{options}")
}

/// Writes `pem` to a file in `dir`, for `sslrootcert`.
fn root_file(dir: &tempfile::TempDir, name: &str, pem: &str) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, pem).unwrap();
    path.display().to_string()
}

async fn start(tls: Option<TestCertificates>) -> Option<PostgresServer> {
    tokio::task::spawn_blocking(move || match &tls {
        Some(certificates) => PostgresServer::start_with_tls(certificates),
        None => PostgresServer::start(),
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn sslmode_require_and_verify_follow_libpq_against_a_tls_server() {
    // The certificate names `localhost` only, so `127.0.0.1` is a wrong host name for it.
    let certificates = certificates_for(&["localhost"]);
    let ca = certificates.ca_pem.clone();
    let Some(server) = start(Some(certificates)).await else {
        return;
    };
    let files = tempfile::tempdir().unwrap();
    let right_root = root_file(&files, "ca.pem", &ca);
    let other_root = root_file(&files, "other.pem", &certificates_for(&["x"]).ca_pem);
    let port = server.port;

    let required = check(&dsn("127.0.0.1", port, "sslmode=require")).await;
    assert_eq!(required.status, Status::Up, "{required:?}");
    assert_eq!(required.detail.as_deref(), Some("SELECT 1 ok (TLS)"));
    let log = server.log();
    assert!(
        log.contains("SSL enabled"),
        "the server saw no TLS connection: {log}"
    );

    let prefer = check(&dsn("127.0.0.1", port, "")).await;
    assert_eq!(
        prefer.detail.as_deref(),
        Some("SELECT 1 ok (TLS)"),
        "{prefer:?}"
    );

    let full = check(&dsn(
        "localhost",
        port,
        &format!("sslmode=verify-full&sslrootcert={right_root}"),
    ))
    .await;
    assert_eq!(full.status, Status::Up, "{full:?}");

    let wrong_name = check(&dsn(
        "127.0.0.1",
        port,
        &format!("sslmode=verify-full&sslrootcert={right_root}"),
    ))
    .await;
    assert_eq!(wrong_name.status, Status::Down);
    let error = wrong_name.error.unwrap();
    assert!(
        error.starts_with("TLS failed: invalid peer certificate: certificate not valid for name"),
        "{error}"
    );

    let chain_only = check(&format!(
        "host=127.0.0.1 port={port} user={PG_USER} password={PG_PASSWORD} dbname=postgres sslmode=verify-ca sslrootcert='{right_root}'"
    ))
    .await;
    assert_eq!(chain_only.status, Status::Up, "{chain_only:?}");

    let wrong_root = check(&dsn(
        "localhost",
        port,
        &format!("sslmode=verify-full&sslrootcert={other_root}"),
    ))
    .await;
    assert_eq!(wrong_root.status, Status::Down);
    let error = wrong_root.error.unwrap();
    assert!(
        error.starts_with("TLS failed: invalid peer certificate: UnknownIssuer"),
        "{error}"
    );

    let system_roots = check(&dsn("localhost", port, "sslmode=verify-full")).await;
    assert!(
        system_roots
            .error
            .as_deref()
            .is_some_and(|e| e.contains("UnknownIssuer")),
        "a test authority is no public one: {system_roots:?}"
    );
}

#[tokio::test]
async fn prefer_falls_back_to_plain_and_require_fails_clearly_without_server_tls() {
    let Some(server) = start(None).await else {
        return;
    };
    let port = server.port;
    let prefer = check(&dsn("127.0.0.1", port, "sslmode=prefer")).await;
    assert_eq!(prefer.status, Status::Up, "{prefer:?}");
    assert_eq!(prefer.detail.as_deref(), Some("SELECT 1 ok (no TLS)"));
    let disabled = check(&dsn("127.0.0.1", port, "sslmode=disable")).await;
    assert_eq!(disabled.status, Status::Up, "{disabled:?}");

    let required = check(&dsn("127.0.0.1", port, "sslmode=require")).await;
    assert_eq!(required.status, Status::Down);
    assert_eq!(
        required.error.as_deref(),
        Some("TLS failed: server does not support TLS")
    );
}

#[test]
fn a_bad_sslmode_or_missing_root_file_stops_start_up_naming_the_url() {
    let error = Settings::from_toml(
        "[checks]\nendpoints = [ { name = \"db\", url = \"postgres://db/app?sslmode=maybe\", type = \"postgres\" } ]",
    )
    .unwrap_err();
    assert_eq!(error.key, "checks.endpoints[0] (\"db\").url");
    assert!(
        error.problem.contains("sslmode \"maybe\""),
        "{}",
        error.problem
    );
    let error = Settings::from_toml(
        "[checks]\nendpoints = [ { name = \"db\", url = \"host=db sslmode=verify-full sslrootcert=/no/ca.pem\", type = \"postgres\" } ]",
    )
    .unwrap_err();
    assert!(
        error.problem.starts_with("sslrootcert \"/no/ca.pem\""),
        "{}",
        error.problem
    );
}
