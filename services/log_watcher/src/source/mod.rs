//! Where log lines come from: files followed by path (with rotation and checkpoints), and
//! the containers found in Docker's data directory.

pub mod docker_dir;
pub mod file;
pub mod fingerprint;
