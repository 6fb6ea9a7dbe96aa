//! Where log lines come from: files followed by path (with rotation and checkpoints), the
//! containers found in Docker's data directory, and containers followed through the Docker
//! Engine API.

pub mod docker_api;
pub mod docker_dir;
pub mod file;
pub mod fingerprint;
pub mod own_container;
