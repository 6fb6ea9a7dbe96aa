//! TCP checks: can a connection be opened within the time limit.

use std::time::{Duration, Instant};

use super::{FieldProblem, Outcome};

/// A configured TCP check.
#[derive(Debug, Clone)]
pub struct TcpProbe {
    /// `host:port` to connect to.
    pub address: String,
    /// Time limit (name resolution included).
    pub timeout: Duration,
}

impl TcpProbe {
    /// Accepts `host:port` or `tcp://host:port`.
    pub fn new(url: &str, timeout: Duration) -> Result<TcpProbe, FieldProblem> {
        let address = url
            .strip_prefix("tcp://")
            .unwrap_or(url)
            .trim_end_matches('/');
        let (host, port) = address.rsplit_once(':').ok_or((
            "url",
            format!("{url:?} is not host:port or tcp://host:port"),
        ))?;
        if host.is_empty() || port.parse::<u16>().map_or(true, |p| p == 0) {
            return Err((
                "url",
                format!("{url:?} is not host:port with a port from 1 to 65535"),
            ));
        }
        Ok(TcpProbe {
            address: address.to_string(),
            timeout,
        })
    }

    /// Connects once and closes.
    pub async fn run(&self) -> Outcome {
        let started = Instant::now();
        match tokio::time::timeout(self.timeout, tokio::net::TcpStream::connect(&self.address))
            .await
        {
            Ok(Ok(_stream)) => Outcome::up(started.elapsed()).with_detail("connected"),
            Ok(Err(err)) => Outcome::down(started.elapsed(), format!("connection failed: {err}")),
            Err(_) => Outcome::down(
                started.elapsed(),
                format!("timed out after {} ms", self.timeout.as_millis()),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_address_forms_are_accepted() {
        let t = Duration::from_secs(1);
        assert_eq!(TcpProbe::new("db:5432", t).unwrap().address, "db:5432");
        assert_eq!(
            TcpProbe::new("tcp://db:5432", t).unwrap().address,
            "db:5432"
        );
        assert!(TcpProbe::new("db", t).is_err());
        assert!(TcpProbe::new("db:0", t).is_err());
        assert!(TcpProbe::new("db:http", t).is_err());
    }
}
