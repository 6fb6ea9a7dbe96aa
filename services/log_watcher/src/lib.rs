//! log_watcher: tails the logs of a Compose stack's containers and files, filters them by
//! level and regex, counts them, alerts, and serves recent events and summaries over HTTP.
//!
//! # Layout
//! - [`parse`]: turning raw lines into records: Docker json-file decoding, timestamps,
//!   level normalisation, multiline joining.
//! - [`source`]: following files by path across rotation, with checkpoints.

pub mod parse;
pub mod source;
