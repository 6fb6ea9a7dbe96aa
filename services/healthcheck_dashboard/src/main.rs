//! The `healthcheck_dashboard` binary: parses flags, loads config, binds, runs.

use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use healthcheck_dashboard::config::{Config, CONFIG_ENV_VARS};
use service_kit::cli::{exit_on_config_error, CommonArgs};

/// Probes every service of the stack and serves /health, a live dashboard and metrics.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(flatten)]
    common: CommonArgs,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Load and validate the config, print a summary, and exit (2 when invalid).
    CheckConfig,
    /// Exit 0 when the running service answers; for Docker HEALTHCHECK.
    Selfcheck {
        /// URL to query; defaults to /livez on 127.0.0.1 and DASHBOARD_PORT (9100).
        url: Option<String>,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Some(Command::Selfcheck { url }) = &cli.command {
        let port = std::env::var("DASHBOARD_PORT").unwrap_or_else(|_| "9100".to_string());
        let url = url
            .clone()
            .unwrap_or_else(|| format!("http://127.0.0.1:{port}/livez"));
        if let Err(err) = service_kit::cli::selfcheck(&url, Duration::from_secs(3)) {
            eprintln!("unhealthy: {err}");
            std::process::exit(1);
        }
        return Ok(());
    }
    service_kit::telemetry::init();
    let path = service_kit::config::config_path(cli.common.config.clone(), &CONFIG_ENV_VARS);
    let config = Config::load(path.as_deref()).unwrap_or_else(|e| exit_on_config_error(&e));
    if let Some(Command::CheckConfig) = cli.command {
        println!(
            "config ok: {} endpoint(s), port {}",
            config.checks.endpoints.len(),
            config.dashboard.port
        );
        return Ok(());
    }
    let address = healthcheck_dashboard::listen_address(&config, cli.common.listen.as_deref());
    let listener = service_kit::serve::bind(&address).await?;
    let shutdown = service_kit::serve::shutdown_on_signals();
    match healthcheck_dashboard::run(config, listener, cli.common.data_dir.clone(), shutdown).await
    {
        Err(healthcheck_dashboard::RunError::Config(err)) => exit_on_config_error(&err),
        other => other.context("healthcheck_dashboard failed"),
    }
}
