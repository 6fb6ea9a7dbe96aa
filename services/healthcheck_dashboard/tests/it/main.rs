//! Integration tests of healthcheck_dashboard: the real service on port 0 against real
//! targets (local HTTP/HTTPS servers, TCP ports, a PostgreSQL server, commands) and the real
//! other sidecars (log_watcher, webhook_handler) as its peers.

mod abuse;
mod alerts;
mod api;
mod binary;
mod checks;
mod container;
mod dashboard;
mod docker_checks;
mod faults;
mod history;
mod maintenance;
mod peers;
mod postgres_tls;
mod redaction;
mod support;
