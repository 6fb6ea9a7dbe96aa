//! The generic JSON webhook payload: the alert itself, as data, for any HTTP receiver.
//!
//! ```json
//! {
//!   "key": "check:api:down",
//!   "source": "healthcheck_dashboard",
//!   "title": "api is DOWN",
//!   "text": "connection refused\n(2 more suppressed)",
//!   "severity": "critical",
//!   "fields": [{"name": "service", "value": "api"}],
//!   "link": "http://localhost:9100/dashboard",
//!   "timestamp": "2024-06-12T01:23:45Z",
//!   "suppressed": 2
//! }
//! ```
//!
//! `fields` is an array of `{"name", "value"}` objects so that order and repeated names
//! survive; `link` is `null` when the alert has none; `severity` is one of `critical`,
//! `warning`, `resolved`, `info`; `text` ends with `(N more suppressed)` when `suppressed`
//! is N > 0.

use serde_json::{json, Value};

use super::message::Outgoing;

/// Renders the generic webhook body.
pub(crate) fn payload(out: &Outgoing) -> Value {
    let alert = &out.alert;
    let fields: Vec<Value> = alert
        .fields
        .iter()
        .map(|(name, value)| json!({"name": name, "value": value}))
        .collect();
    json!({
        "key": alert.key,
        "source": alert.source,
        "title": alert.title,
        "text": out.text(),
        "severity": alert.severity,
        "fields": fields,
        "link": alert.link,
        "timestamp": out.timestamp(),
        "suppressed": out.suppressed,
    })
}
