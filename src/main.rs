//! `sidecars`: runs the Compose Sidecars services in one process (`sidecars run`) or a
//! self-contained demo with built-in targets on 127.0.0.1 (`sidecars demo`).

mod demo;
mod together;

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use service_kit::config::{load_or_exit, ServiceSettings};

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
        /// Port of the webhook handler.
        #[arg(long, default_value_t = 9000)]
        hooks_port: u16,
        /// Where the demo keeps its state.
        #[arg(long, default_value = "./data/demo")]
        data_dir: PathBuf,
    },
    /// The demo's deploy commands: ask or switch the demo api's version (used by the demo's
    /// `app` hook; not for people).
    #[command(hide = true)]
    DemoApp {
        #[command(subcommand)]
        action: DemoAppAction,
    },
    /// Run the services from their config files in one process.
    Run {
        /// healthcheck_dashboard config (defaults to HEALTHCHECK_CONFIG, CONFIG_PATH, ./config.toml).
        #[arg(long, value_name = "PATH")]
        health_config: Option<PathBuf>,
        /// log_watcher config; the log watcher runs too when it is given.
        #[arg(long, value_name = "PATH")]
        logs_config: Option<PathBuf>,
        /// webhook_handler config; the webhook handler runs too when it is given.
        #[arg(long, value_name = "PATH")]
        hooks_config: Option<PathBuf>,
        /// Where the services keep their state.
        #[arg(long, env = "DATA_DIR", default_value = "./data")]
        data_dir: PathBuf,
    },
}

/// What `sidecars demo-app` does.
#[derive(Debug, Subcommand)]
enum DemoAppAction {
    /// Print the demo api's version.
    Version {
        /// The demo app's port.
        #[arg(long)]
        port: u16,
    },
    /// Switch the demo api to the version in WEBHOOK_TAG (or, with --previous, in
    /// WEBHOOK_PREVIOUS).
    Switch {
        /// The demo app's port.
        #[arg(long)]
        port: u16,
        /// Switch back to the version the deploy recorded.
        #[arg(long)]
        previous: bool,
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
            hooks_port,
            data_dir,
        } => {
            let ports = demo::Ports {
                health: health_port,
                logs: logs_port,
                hooks: hooks_port,
            };
            demo::run(ports, &data_dir, shutdown).await
        }
        Command::Run {
            health_config,
            logs_config,
            hooks_config,
            data_dir,
        } => run(health_config, logs_config, hooks_config, data_dir, shutdown).await,
        Command::DemoApp { action } => demo_app(&action),
    }
}

/// `sidecars demo-app`: the demo deploy's record, update and restore commands.
fn demo_app(action: &DemoAppAction) -> anyhow::Result<()> {
    let answer = match action {
        DemoAppAction::Version { port } => demo::app::control(*port, None)?,
        DemoAppAction::Switch { port, previous } => {
            let var = if *previous {
                "WEBHOOK_PREVIOUS"
            } else {
                "WEBHOOK_TAG"
            };
            let version = std::env::var(var)
                .ok()
                .filter(|v| !v.trim().is_empty())
                .ok_or_else(|| {
                    anyhow::anyhow!("{var} is empty: push a tag (refs/tags/v2) to deploy")
                })?;
            let now = demo::app::control(*port, Some(version.trim()))?;
            format!("the demo api runs {now} now")
        }
    };
    println!("{answer}");
    Ok(())
}

/// `sidecars run`: the healthcheck dashboard, and the log watcher and webhook handler when
/// they have a config; each keeps its state in its own folder under `data_dir`. One stopping
/// stops the others.
async fn run(
    health_config: Option<PathBuf>,
    logs_config: Option<PathBuf>,
    hooks_config: Option<PathBuf>,
    data_dir: PathBuf,
    shutdown: tokio_util::sync::CancellationToken,
) -> anyhow::Result<()> {
    let health = load_or_exit::<healthcheck_dashboard::settings::Settings>(health_config);
    let logs = logs_config.map(|path| load_or_exit::<log_watcher::settings::Settings>(Some(path)));
    let hooks =
        hooks_config.map(|path| load_or_exit::<webhook_handler::settings::Settings>(Some(path)));
    let services = together::Services {
        health: Some(bind(health).await?),
        logs: match logs {
            Some(settings) => Some(bind(settings).await?),
            None => None,
        },
        hooks: match hooks {
            Some(settings) => Some(bind(settings).await?),
            None => None,
        },
    };
    together::run_services(services, &data_dir, shutdown).await
}

/// Binds a service's configured address.
async fn bind<S: ServiceSettings>(settings: S) -> anyhow::Result<(S, tokio::net::TcpListener)> {
    let listener = service_kit::serve::bind(&settings.listen_address()).await?;
    Ok((settings, listener))
}
