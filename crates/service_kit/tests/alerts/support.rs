//! Shared helpers: a typical alert, a fast policy, timestamp normalisation.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;
use service_kit::alert::{Alert, AlertDispatcher, DeliveryPolicy, Severity, Sink};

/// How long tests wait for something that should happen at once.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// The alert the healthcheck dashboard raises when `api` goes down.
pub fn api_down() -> Alert {
    Alert {
        key: "check:api:down".into(),
        source: "healthcheck_dashboard".into(),
        title: "api is DOWN".into(),
        text: "connection refused".into(),
        severity: Severity::Critical,
        fields: vec![
            ("service".into(), "api".into()),
            ("state".into(), "down".into()),
        ],
        link: Some("http://localhost:9100/dashboard".into()),
    }
}

/// A policy for tests: no cooldown, 2 s timeout, 4 attempts, 20 ms initial backoff.
pub fn fast_policy() -> DeliveryPolicy {
    DeliveryPolicy {
        cooldown: Duration::ZERO,
        timeout: Duration::from_secs(2),
        max_attempts: 4,
        initial_backoff: Duration::from_millis(20),
    }
}

/// A dispatcher with one sink and [`fast_policy`].
pub fn dispatcher(sink: Sink) -> AlertDispatcher {
    AlertDispatcher::new(vec![sink], fast_policy())
}

/// Asserts that the string at `pointer` is an RFC 3339 UTC timestamp of the last minute
/// ending in `Z`, and replaces it with `"<timestamp>"` so the rest compares exactly.
pub fn normalise_rfc3339(value: &mut Value, pointer: &str) {
    let shown = value.to_string();
    let slot = value
        .pointer_mut(pointer)
        .unwrap_or_else(|| panic!("no {pointer} in {shown}"));
    let text = slot
        .as_str()
        .unwrap_or_else(|| panic!("{pointer} is not a string: {slot}"))
        .to_string();
    assert!(text.ends_with('Z'), "{pointer} = {text} is not UTC with Z");
    let parsed = DateTime::parse_from_rfc3339(&text)
        .unwrap_or_else(|e| panic!("{pointer} = {text} is not RFC 3339: {e}"));
    let age = Utc::now().signed_duration_since(parsed);
    assert!(
        age.num_seconds().abs() < 60,
        "{pointer} = {text} is not close to now"
    );
    *slot = Value::String("<timestamp>".into());
}

/// Asserts that the integer at `pointer` is Unix seconds of the last minute and replaces
/// it with `0`.
pub fn normalise_unix_seconds(value: &mut Value, pointer: &str) {
    let shown = value.to_string();
    let slot = value
        .pointer_mut(pointer)
        .unwrap_or_else(|| panic!("no {pointer} in {shown}"));
    let seconds = slot
        .as_i64()
        .unwrap_or_else(|| panic!("{pointer} is not an integer: {slot}"));
    assert!(
        (Utc::now().timestamp() - seconds).abs() < 60,
        "{pointer} = {seconds} is not close to now"
    );
    *slot = Value::from(0);
}
