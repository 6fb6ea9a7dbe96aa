//! `sidecars`: runs the Compose Sidecars services in one process (`sidecars run`) or a
//! self-contained demo with built-in targets on 127.0.0.1 (`sidecars demo`).

mod demo;
mod together;

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use healthcheck_dashboard::config::{Config as HealthConfig, CONFIG_ENV_VARS};
use log_watcher::config::Config as LogsConfig;
use service_kit::cli::exit_on_config_error;

/// Compose Sidecars: health checks, log watching and webhooks beside a Compose stack.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start the demo: built-in demo targets and every service on 127.0.0.1, URLs printed.
    Demo {
        /// Port of the healthcheck dashboard.
        #[arg(long, default_value_t = 9100)]
        health_port: u16,
        /// Port of the log watcher.
        #[arg(long, default_value_t = 9200)]
        logs_port: u16,
        /// Where the demo keeps its state.
        #[arg(long, default_value = "./data/demo")]
        data_dir: PathBuf,
    },
    /// Run the services from their config files in one process.
    Run {
        /// healthcheck_dashboard config (defaults to HEALTHCHECK_CONFIG, CONFIG_PATH, ./config.toml).
        #[arg(long, value_name = "PATH")]
        health_config: Option<PathBuf>,
        /// log_watcher config; the log watcher runs too when it is given.
        #[arg(long, value_name = "PATH")]
        logs_config: Option<PathBuf>,
        /// Where the services keep their state.
        #[arg(long, env = "DATA_DIR", default_value = "./data")]
        data_dir: PathBuf,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    service_kit::telemetry::init();
    let shutdown = service_kit::serve::shutdown_on_signals();
    match cli.command {
        Command::Demo {
            health_port,
            logs_port,
            data_dir,
        } => demo::run(health_port, logs_port, &data_dir, shutdown).await,
        Command::Run {
            health_config,
            logs_config,
            data_dir,
        } => run(health_config, logs_config, data_dir, shutdown).await,
    }
}

/// `sidecars run`: the healthcheck dashboard, and the log watcher when it has a config; each
/// keeps its state in its own folder under `data_dir`. One stopping stops the other.
async fn run(
    health_config: Option<PathBuf>,
    logs_config: Option<PathBuf>,
    data_dir: PathBuf,
    shutdown: tokio_util::sync::CancellationToken,
) -> anyhow::Result<()> {
    let path = service_kit::config::config_path(health_config, &CONFIG_ENV_VARS);
    let config = HealthConfig::load(path.as_deref()).unwrap_or_else(|e| exit_on_config_error(&e));
    let listener =
        service_kit::serve::bind(&healthcheck_dashboard::listen_address(&config, None)).await?;
    let logs = match logs_config {
        Some(path) => {
            let config = LogsConfig::load(Some(&path)).unwrap_or_else(|e| exit_on_config_error(&e));
            let listener =
                service_kit::serve::bind(&log_watcher::listen_address(&config, None)).await?;
            Some((config, listener))
        }
        None => None,
    };
    together::run_services((config, listener), logs, &data_dir, shutdown).await
}
