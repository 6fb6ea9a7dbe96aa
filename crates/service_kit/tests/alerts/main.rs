//! Integration tests for alert delivery: exact payloads against fake receivers, retries,
//! the per-key cooldown, and email through a real SMTP server.
//!
//! Run with `cargo test -p service_kit`.

mod background;
mod cooldown;
mod email;
mod fixtures;
mod payloads;
mod retry;
mod support;
