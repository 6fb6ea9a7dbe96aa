//! The `log_watcher` binary: parses flags, loads config, binds, runs.

use anyhow::Context;
use clap::{Parser, Subcommand};
use log_watcher::config::{Config, CONFIG_ENV_VARS};
use service_kit::cli::{exit_on_config_error, CommonArgs};

/// Tails the stack's logs, filters and counts them, alerts, and serves /logs and /summary.
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
    /// Load and validate the config and exit (2 when invalid).
    CheckConfig,
    /// Exit 0 when the running service answers; for Docker HEALTHCHECK.
    Selfcheck {
        /// URL to query; defaults to /livez on 127.0.0.1 and LOG_WATCHER_PORT (9200).
        url: Option<String>,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Some(Command::Selfcheck { url }) = &cli.command {
        let port = std::env::var("LOG_WATCHER_PORT").unwrap_or_else(|_| "9200".to_string());
        let url = url.clone().unwrap_or_else(|| format!("http://127.0.0.1:{port}/livez"));
        if let Err(err) = service_kit::cli::selfcheck(&url, std::time::Duration::from_secs(3)) {
            eprintln!("unhealthy: {err}");
            std::process::exit(1);
        }
        return Ok(());
    }
    service_kit::telemetry::init();
    let path = service_kit::config::config_path(cli.common.config.clone(), &CONFIG_ENV_VARS);
    let config = Config::load(path.as_deref()).unwrap_or_else(|e| exit_on_config_error(&e));
    if let Some(Command::CheckConfig) = cli.command {
        println!("config ok: {} file pattern(s)", config.log_sources.extra_files.len());
        return Ok(());
    }
    let address = log_watcher::listen_address(&config, cli.common.listen.as_deref());
    let listener = service_kit::serve::bind(&address).await?;
    let shutdown = service_kit::serve::shutdown_on_signals();
    match log_watcher::run(config, listener, cli.common.data_dir.clone(), shutdown).await {
        Err(log_watcher::RunError::Config(err)) => exit_on_config_error(&err),
        other => other.context("log_watcher failed"),
    }
}
