//! `sidecars`: runs the Compose Sidecars services in one process (`sidecars run`) or a
//! self-contained demo with built-in targets on 127.0.0.1 (`sidecars demo`).

mod demo;

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use healthcheck_dashboard::config::{Config as HealthConfig, CONFIG_ENV_VARS};
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
        /// Where the demo keeps its state.
        #[arg(long, default_value = "./data/demo")]
        data_dir: PathBuf,
    },
    /// Run the services from their config files in one process.
    Run {
        /// healthcheck_dashboard config (defaults to HEALTHCHECK_CONFIG, CONFIG_PATH, ./config.toml).
        #[arg(long, value_name = "PATH")]
        health_config: Option<PathBuf>,
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
            data_dir,
        } => demo::run(health_port, &data_dir, shutdown).await,
        Command::Run {
            health_config,
            data_dir,
        } => {
            let path = service_kit::config::config_path(health_config, &CONFIG_ENV_VARS);
            let config =
                HealthConfig::load(path.as_deref()).unwrap_or_else(|e| exit_on_config_error(&e));
            let address = healthcheck_dashboard::listen_address(&config, None);
            let listener = service_kit::serve::bind(&address).await?;
            healthcheck_dashboard::run(config, listener, data_dir, shutdown)
                .await
                .context("healthcheck_dashboard failed")
        }
    }
}
