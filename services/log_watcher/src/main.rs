//! The `log_watcher` binary: parses flags, loads the settings, binds, runs (see
//! [`service_kit::cli::Binary::main`]).

use log_watcher::config::DEFAULT_PORT;
use log_watcher::settings::Settings;
use service_kit::cli::Binary;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    Binary {
        name: env!("CARGO_PKG_NAME"),
        version: env!("CARGO_PKG_VERSION"),
        about:
            "Tails the stack's logs, filters and counts them, alerts, and serves /logs and /summary",
        port_env: "LOG_WATCHER_PORT",
        default_port: DEFAULT_PORT,
    }
    .main::<Settings, _>(log_watcher::run)
    .await
}
