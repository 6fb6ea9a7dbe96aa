//! The `log_watcher` binary: parses flags, loads the settings, binds, runs (see
//! [`service_kit::cli::Binary::main`]). A failure ends it with one line on stderr and exit
//! code 1 (2 for a bad config), for Docker to restart it.

use std::time::Duration;

use log_watcher::config::DEFAULT_PORT;
use log_watcher::settings::Settings;
use service_kit::cli::Binary;

fn main() {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("log_watcher: cannot start the async runtime: {err}");
            std::process::exit(1);
        }
    };
    let result = runtime.block_on(
        Binary {
            name: env!("CARGO_PKG_NAME"),
            version: env!("CARGO_PKG_VERSION"),
            about:
                "Tails the stack's logs, filters and counts them, alerts, and serves /logs and /summary",
            port_env: "LOG_WATCHER_PORT",
            default_port: DEFAULT_PORT,
        }
        .main::<Settings, _>(log_watcher::run),
    );
    // A database call stuck on a lock or a full disk must not hold up the exit: what it was
    // writing is not committed, and is read again on the next start.
    runtime.shutdown_timeout(Duration::from_secs(1));
    service_kit::cli::exit_on_failure(result);
}
