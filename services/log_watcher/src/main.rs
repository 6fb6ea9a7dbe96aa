//! The `log_watcher` binary: parses flags, loads config, binds, runs (see
//! [`service_kit::cli::Binary::main`]).

use log_watcher::config::{Config, CONFIG_ENV_VARS};
use service_kit::cli::Binary;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let binary = Binary {
        name: env!("CARGO_PKG_NAME"),
        version: env!("CARGO_PKG_VERSION"),
        about:
            "Tails the stack's logs, filters and counts them, alerts, and serves /logs and /summary",
        config_env_vars: &CONFIG_ENV_VARS,
        port_env: "LOG_WATCHER_PORT",
        default_port: 9200,
    };
    let summary =
        |config: &Config| format!("{} file pattern(s)", config.log_sources.extra_files.len());
    binary
        .main(
            Config::load,
            summary,
            log_watcher::listen_address,
            log_watcher::run,
        )
        .await
}
