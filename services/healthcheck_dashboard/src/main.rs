//! The `healthcheck_dashboard` binary: parses flags, loads config, binds, runs (see
//! [`service_kit::cli::Binary::main`]).

use healthcheck_dashboard::config::DEFAULT_PORT;
use healthcheck_dashboard::settings::Settings;
use service_kit::cli::Binary;

#[tokio::main]
async fn main() {
    let result = Binary {
        name: env!("CARGO_PKG_NAME"),
        version: env!("CARGO_PKG_VERSION"),
        about: "Probes every service of the stack and serves /health, a live dashboard and metrics",
        port_env: "DASHBOARD_PORT",
        default_port: DEFAULT_PORT,
    }
    .main::<Settings, _>(healthcheck_dashboard::run)
    .await;
    if let Err(err) = result {
        // One line, as `docker logs` shows it: the error and its causes joined by ": ".
        eprintln!("{err:#}");
        std::process::exit(1);
    }
}
