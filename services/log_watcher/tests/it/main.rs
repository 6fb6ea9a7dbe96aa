//! Integration tests of log_watcher: the real service on port 0 reading real files.

mod abuse;
mod alerts;
mod binary;
mod container;
mod dashboard;
mod deploys;
mod docker;
mod faults;
mod files;
mod http;
mod lifecycle;
mod rotation;
mod search_soak;
mod summary;
mod support;
mod webhook_peer;
