//! The command-line contract every service shares: `--config PATH`, `--listen HOST:PORT`,
//! `--data-dir DIR` (env `DATA_DIR`), and the `selfcheck` used by Docker `HEALTHCHECK`.

use std::path::PathBuf;

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

/// Prints a configuration error as one line on stderr and exits with
/// [`crate::config::EXIT_CONFIG`].
pub fn exit_on_config_error(err: &crate::config::ConfigError) -> ! {
    eprintln!("{err}");
    std::process::exit(crate::config::EXIT_CONFIG)
}

/// A minimal HTTP/1.1 GET against `http://HOST:PORT/PATH`, for container health checks that
/// must work in an image with no curl or wget. Ok when the answer is 2xx.
pub fn selfcheck(url: &str, timeout: std::time::Duration) -> Result<(), String> {
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
