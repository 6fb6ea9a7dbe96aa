//! The Slack incoming-webhook payload: one legacy attachment, coloured by severity.
//!
//! ```json
//! {
//!   "text": "[CRITICAL] api is DOWN",
//!   "attachments": [{
//!     "color": "#d50200",
//!     "title": "api is DOWN",
//!     "title_link": "http://localhost:9100/dashboard",
//!     "text": "connection refused\n(2 more suppressed)",
//!     "fields": [{"title": "service", "value": "api", "short": true}],
//!     "footer": "healthcheck_dashboard",
//!     "ts": 1718155425
//!   }]
//! }
//! ```
//!
//! The top-level `text` is the notification fallback `[SEVERITY] title`. `title_link` is
//! left out when the alert has no link; `fields` is always present (possibly empty);
//! `ts` is Unix seconds. Colours: critical `#d50200`, warning `#de9e31`, resolved
//! `#2eb886`, info `#439fe0`. Slack treats `&`, `<` and `>` as control characters, so every
//! text value has them escaped as `&amp;`, `&lt;` and `&gt;` (Slack shows them as typed).

use serde_json::{json, Map, Value};

use super::message::Outgoing;

/// Renders the Slack webhook body.
pub(crate) fn payload(out: &Outgoing) -> Value {
    let alert = &out.alert;
    let fields: Vec<Value> = alert
        .fields
        .iter()
        .map(|(name, value)| json!({"title": escape(name), "value": escape(value), "short": true}))
        .collect();
    let mut attachment = Map::new();
    attachment.insert(
        "color".into(),
        format!("#{:06x}", alert.severity.colour()).into(),
    );
    attachment.insert("title".into(), escape(&alert.title).into());
    if let Some(link) = &alert.link {
        attachment.insert("title_link".into(), link.clone().into());
    }
    attachment.insert("text".into(), escape(&out.text()).into());
    attachment.insert("fields".into(), fields.into());
    attachment.insert("footer".into(), escape(&alert.source).into());
    attachment.insert("ts".into(), out.at.timestamp().into());
    json!({
        "text": escape(&out.headline()),
        "attachments": [Value::Object(attachment)],
    })
}

/// Escapes Slack's three control characters.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
