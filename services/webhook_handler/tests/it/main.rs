//! Integration tests of the webhook handler: the real service on port 0, real processes,
//! real SMTP and Chromium and Docker where a user would have them. One module per topic.

mod binary;
mod compose;
mod container;
mod dashboard;
mod deploy;
mod http;
mod jobs;
mod notifications;
mod receiving;
mod support;
