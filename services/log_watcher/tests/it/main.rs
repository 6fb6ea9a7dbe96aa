//! Integration tests of log_watcher: the real service on port 0 reading real files.

mod alerts;
mod binary;
mod container;
mod dashboard;
mod deploys;
mod docker;
mod files;
mod http;
mod rotation;
mod support;
mod webhook_peer;
