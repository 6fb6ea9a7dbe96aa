//! The `healthcheck_dashboard` binary: parses flags, loads config, binds, runs (see
//! [`service_kit::cli::Binary::main`]).

use healthcheck_dashboard::config::{Config, CONFIG_ENV_VARS};
use service_kit::cli::Binary;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let binary = Binary {
        name: env!("CARGO_PKG_NAME"),
        version: env!("CARGO_PKG_VERSION"),
        about: "Probes every service of the stack and serves /health, a live dashboard and metrics",
        config_env_vars: &CONFIG_ENV_VARS,
        port_env: "DASHBOARD_PORT",
        default_port: 9100,
    };
    let summary = |config: &Config| {
        format!(
            "{} endpoint(s), port {}",
            config.checks.endpoints.len(),
            config.dashboard.port
        )
    };
    binary
        .main(
            Config::load,
            summary,
            healthcheck_dashboard::listen_address,
            healthcheck_dashboard::run,
        )
        .await
}
