//! The command-line contract every service shares: `--config PATH`, `--listen HOST:PORT`,
//! `--data-dir DIR` (env `DATA_DIR`), the `check-config` subcommand, and the `selfcheck` used
//! by Docker `HEALTHCHECK`; and [`Binary::main`], the whole `main` of a service binary, so
//! that each `main.rs` only says which service it runs.

use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{CommandFactory, FromArgMatches};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::ServiceSettings;
use crate::serve::RunError;

/// Flags common to every service binary.
#[derive(Debug, Clone, clap::Args)]
pub struct CommonArgs {
    /// Config file (TOML). Defaults to the service's env var, then `./config.toml`.
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Address to listen on, overriding the configured host and port.
    #[arg(long, value_name = "HOST:PORT")]
    pub listen: Option<String>,
    /// Where the service keeps its SQLite file and checkpoints.
    #[arg(long, value_name = "DIR", env = "DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
}

/// The subcommands every service binary has; without one it serves.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Subcommand {
    /// Load and validate the config, print a summary, and exit (2 when invalid).
    CheckConfig,
    /// Exit 0 when the running service answers; for Docker HEALTHCHECK.
    Selfcheck {
        /// URL to query; defaults to /livez on 127.0.0.1 and the service's port.
        url: Option<String>,
    },
}

/// A service binary's command line: the common flags and an optional subcommand. Its name,
/// version and description are the service's, set by [`Binary::parse`].
#[derive(Debug, clap::Parser)]
pub struct Cli {
    /// The flags every service has.
    #[command(flatten)]
    pub common: CommonArgs,
    /// What to do instead of serving.
    #[command(subcommand)]
    pub command: Option<Subcommand>,
}

/// What the shared `main` needs to know about a service binary.
#[derive(Debug, Clone, Copy)]
pub struct Binary {
    /// The program's name, shown by `--version` and in errors: the crate's name.
    pub name: &'static str,
    /// Its version: the crate's.
    pub version: &'static str,
    /// What it does, in one line (`--help`).
    pub about: &'static str,
    /// The env var holding the port `selfcheck` asks on 127.0.0.1 by default.
    pub port_env: &'static str,
    /// That port when the variable is not set.
    pub default_port: u16,
}

impl Binary {
    /// Parses the process's arguments (exiting with clap's message and code when they are
    /// wrong, or after `--help`/`--version`).
    pub fn parse(self) -> Cli {
        let command = Cli::command()
            .name(self.name)
            .version(self.version)
            .about(self.about)
            .mut_subcommand("selfcheck", |selfcheck| {
                selfcheck.mut_arg("url", |url| {
                    url.help(format!(
                        "URL to query; defaults to /livez on 127.0.0.1 and {} ({})",
                        self.port_env, self.default_port
                    ))
                })
            });
        Cli::from_arg_matches(&command.get_matches()).unwrap_or_else(|err| err.exit())
    }

    /// The whole `main` of a service binary whose settings are `S`. `selfcheck` asks the
    /// running service and exits 0, or 1 with the reason on stderr. Otherwise it sets up
    /// logging and loads the settings from `--config` or the file's `PATH_ENV_VARS` (see
    /// [`crate::config::load`]), exiting with [`crate::config::EXIT_CONFIG`] and one line
    /// when they are unusable; `check-config` then prints `config ok: ` and their summary.
    /// Serving binds `--listen` or the configured address and `run`s the service with
    /// `--data-dir` until SIGINT or SIGTERM; a config problem `run` finds also exits with
    /// `EXIT_CONFIG`.
    pub async fn main<S, Fut>(
        self,
        run: impl FnOnce(S, TcpListener, PathBuf, CancellationToken) -> Fut,
    ) -> anyhow::Result<()>
    where
        S: ServiceSettings,
        Fut: Future<Output = Result<(), RunError>>,
    {
        let cli = self.parse();
        if let Some(Subcommand::Selfcheck { url }) = &cli.command {
            let port =
                std::env::var(self.port_env).unwrap_or_else(|_| self.default_port.to_string());
            let url = url
                .clone()
                .unwrap_or_else(|| format!("http://127.0.0.1:{port}/livez"));
            if let Err(err) = selfcheck(&url, Duration::from_secs(3)) {
                eprintln!("unhealthy: {err}");
                std::process::exit(1);
            }
            return Ok(());
        }
        crate::telemetry::init();
        let settings = crate::config::load_or_exit::<S>(cli.common.config.clone());
        if let Some(Subcommand::CheckConfig) = cli.command {
            println!("config ok: {}", settings.summary());
            return Ok(());
        }
        let address = cli
            .common
            .listen
            .clone()
            .unwrap_or_else(|| settings.listen_address());
        let listener = crate::serve::bind(&address).await?;
        let shutdown = crate::serve::shutdown_on_signals();
        match run(settings, listener, cli.common.data_dir.clone(), shutdown).await {
            Err(RunError::Config(err)) => exit_on_config_error(&err),
            other => other.with_context(|| format!("{} failed", self.name)),
        }
    }
}

/// A service's failure as the one line `docker logs` shows: the error and its causes joined
/// by `": "`, leaving out a cause whose text the line already ends with (an error that
/// quotes its source, as `serving: {0}` does).
pub fn error_line(err: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if line.is_empty() {
            line = text;
        } else if !line.ends_with(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
    }
    line
}

/// Ends the process as a failed service ends when `result` is an error: its
/// [`error_line`] on stderr, exit status 1.
pub fn exit_on_failure(result: anyhow::Result<()>) {
    if let Err(err) = result {
        eprintln!("{}", error_line(&err));
        std::process::exit(1);
    }
}

/// Prints a configuration error as one line on stderr and exits with
/// [`crate::config::EXIT_CONFIG`].
pub fn exit_on_config_error(err: &crate::config::ConfigError) -> ! {
    eprintln!("{err}");
    std::process::exit(crate::config::EXIT_CONFIG)
}

/// A minimal HTTP/1.1 GET against `http://HOST:PORT/PATH`, for container health checks that
/// must work in an image with no curl or wget. Ok when the answer is 2xx.
pub fn selfcheck(url: &str, timeout: Duration) -> Result<(), String> {
    use std::io::{Read, Write};
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("{url}: only http:// URLs are supported"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let address = std::net::ToSocketAddrs::to_socket_addrs(authority)
        .map_err(|e| format!("{authority}: {e}"))?
        .next()
        .ok_or_else(|| format!("{authority}: no address"))?;
    let mut stream = std::net::TcpStream::connect_timeout(&address, timeout)
        .map_err(|e| format!("{authority}: {e}"))?;
    stream.set_read_timeout(Some(timeout)).ok();
    stream.set_write_timeout(Some(timeout)).ok();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| e.to_string())?;
    let mut head = [0u8; 64];
    let n = stream.read(&mut head).map_err(|e| e.to_string())?;
    let line = String::from_utf8_lossy(&head[..n]);
    let code = line.split_whitespace().nth(1).unwrap_or("");
    if code.starts_with('2') {
        Ok(())
    } else {
        Err(format!(
            "{url} answered {}",
            line.lines().next().unwrap_or("nothing")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("serving: {0}")]
    struct Quoting(#[source] std::io::Error);

    #[test]
    fn a_failure_is_one_line_that_names_each_cause_once() {
        let quoted = anyhow::Error::new(Quoting(std::io::Error::other("the writer task panicked")))
            .context("log_watcher failed");
        assert_eq!(
            error_line(&quoted),
            "log_watcher failed: serving: the writer task panicked"
        );
        let plain = anyhow::anyhow!("disk full")
            .context("storage")
            .context("x failed");
        assert_eq!(error_line(&plain), "x failed: storage: disk full");
    }
}
