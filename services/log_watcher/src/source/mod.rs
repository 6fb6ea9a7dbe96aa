//! Where log lines come from: files followed by path (with rotation and checkpoints).

pub mod file;
pub mod fingerprint;
