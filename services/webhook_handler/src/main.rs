//! The `webhook_handler` binary: parses flags, loads config, binds, runs (see
//! [`service_kit::cli::Binary::main`]).

use service_kit::cli::Binary;
use webhook_handler::config::DEFAULT_PORT;
use webhook_handler::settings::Settings;

#[tokio::main]
async fn main() {
    service_kit::cli::exit_on_failure(run().await);
}

async fn run() -> anyhow::Result<()> {
    let binary = Binary {
        name: env!("CARGO_PKG_NAME"),
        version: env!("CARGO_PKG_VERSION"),
        about:
            "Receives webhooks, verifies them, and runs deploys, Compose actions and notifications",
        port_env: "WEBHOOK_PORT",
        default_port: DEFAULT_PORT,
    };
    binary.main::<Settings, _>(webhook_handler::run).await
}
