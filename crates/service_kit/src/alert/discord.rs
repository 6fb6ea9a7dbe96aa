//! The Discord webhook payload: one embed, coloured by severity, within Discord's limits.
//!
//! ```json
//! {
//!   "content": null,
//!   "embeds": [{
//!     "title": "api is DOWN",
//!     "description": "connection refused\n(2 more suppressed)",
//!     "url": "http://localhost:9100/dashboard",
//!     "color": 13959680,
//!     "fields": [{"name": "service", "value": "api", "inline": true}],
//!     "footer": {"text": "healthcheck_dashboard"},
//!     "timestamp": "2024-06-12T01:23:45Z"
//!   }]
//! }
//! ```
//!
//! `content` is always `null` (the embed carries everything). `url` is left out when the
//! alert has no link and `description` when the text is empty (Discord rejects empty
//! strings). `color` is the decimal form of the Slack colours: critical 13959680
//! (`#d50200`), warning 14589489, resolved 3061894, info 4431840. An empty field name or
//! value becomes `-` for the same reason.
//!
//! Discord refuses the whole message when a limit is exceeded, so values are cut to fit,
//! the cut marked with "…": title 256 characters, description 4096, field name 256, field
//! value 1024, footer 2048, at most 25 fields (later ones dropped), and 6000 characters in
//! total (the description shrinks first, then trailing fields go).

use serde_json::{json, Map, Value};

use super::message::Outgoing;

/// Most characters in an embed title.
const TITLE_MAX: usize = 256;
/// Most characters in an embed description.
const DESCRIPTION_MAX: usize = 4096;
/// Most characters in a field name.
const FIELD_NAME_MAX: usize = 256;
/// Most characters in a field value.
const FIELD_VALUE_MAX: usize = 1024;
/// Most fields in one embed.
const FIELDS_MAX: usize = 25;
/// Most characters in the footer text.
const FOOTER_MAX: usize = 2048;
/// Most characters over title, description, field names and values and footer.
const EMBED_TOTAL_MAX: usize = 6000;

/// Renders the Discord webhook body.
pub(crate) fn payload(out: &Outgoing) -> Value {
    let alert = &out.alert;
    let title = truncate(&alert.title, TITLE_MAX);
    let footer = truncate(&alert.source, FOOTER_MAX);
    let mut fields: Vec<(String, String)> = alert
        .fields
        .iter()
        .take(FIELDS_MAX)
        .map(|(name, value)| {
            (
                non_empty(truncate(name, FIELD_NAME_MAX)),
                non_empty(truncate(value, FIELD_VALUE_MAX)),
            )
        })
        .collect();
    let mut description = truncate(&out.text(), DESCRIPTION_MAX);

    // Keep the whole embed under the total limit: the description gives way first, then
    // fields from the end.
    let count = |s: &str| s.chars().count();
    let fixed = count(&title) + count(&footer);
    let fields_len = |fields: &[(String, String)]| -> usize {
        fields.iter().map(|(n, v)| count(n) + count(v)).sum()
    };
    let room_for_description = EMBED_TOTAL_MAX.saturating_sub(fixed + fields_len(&fields));
    if count(&description) > room_for_description {
        description = if room_for_description == 0 {
            String::new()
        } else {
            truncate(&description, room_for_description)
        };
    }
    while fixed + fields_len(&fields) + count(&description) > EMBED_TOTAL_MAX {
        fields.pop();
    }

    let mut embed = Map::new();
    embed.insert("title".into(), title.into());
    if !description.is_empty() {
        embed.insert("description".into(), description.into());
    }
    if let Some(link) = &alert.link {
        embed.insert("url".into(), link.clone().into());
    }
    embed.insert("color".into(), alert.severity.colour().into());
    let fields: Vec<Value> = fields
        .into_iter()
        .map(|(name, value)| json!({"name": name, "value": value, "inline": true}))
        .collect();
    embed.insert("fields".into(), fields.into());
    embed.insert("footer".into(), json!({"text": footer}));
    embed.insert("timestamp".into(), out.timestamp().into());
    json!({
        "content": null,
        "embeds": [Value::Object(embed)],
    })
}

/// Cuts `text` to at most `max` characters, ending with "…" when cut.
fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// Discord rejects empty field names and values.
fn non_empty(text: String) -> String {
    if text.trim().is_empty() {
        "-".to_string()
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::{Alert, Severity};

    fn outgoing(title: String, text: String, fields: Vec<(String, String)>) -> Outgoing {
        Outgoing {
            alert: Alert {
                key: "k".into(),
                source: "test".into(),
                title,
                text,
                severity: Severity::Info,
                fields,
                link: None,
            },
            suppressed: 0,
            at: chrono::Utc::now(),
        }
    }

    fn embed_len(embed: &Value) -> usize {
        let s = |v: &Value| v.as_str().map_or(0, |s| s.chars().count());
        let fields: usize = embed["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| s(&f["name"]) + s(&f["value"]))
            .sum();
        s(&embed["title"]) + s(&embed["description"]) + s(&embed["footer"]["text"]) + fields
    }

    #[test]
    fn oversized_values_are_cut_to_discord_limits_with_an_ellipsis() {
        let fields = (0..30)
            .map(|i| (format!("f{i}"), "v".repeat(2000)))
            .collect();
        let out = outgoing("t".repeat(300), "d".repeat(5000), fields);
        let body = payload(&out);
        let embed = &body["embeds"][0];
        let title = embed["title"].as_str().unwrap();
        assert_eq!(title.chars().count(), 256);
        assert!(title.ends_with('…'));
        let fields = embed["fields"].as_array().unwrap();
        assert!(fields.len() <= 25);
        let value = fields[0]["value"].as_str().unwrap();
        assert_eq!(value.chars().count(), 1024);
        assert!(value.ends_with('…'));
        assert!(embed_len(embed) <= 6000, "total {}", embed_len(embed));
    }

    #[test]
    fn long_description_alone_is_cut_to_4096_characters() {
        let out = outgoing("t".into(), "d".repeat(5000), vec![]);
        let body = payload(&out);
        let description = body["embeds"][0]["description"].as_str().unwrap();
        assert_eq!(description.chars().count(), 4096);
        assert!(description.ends_with('…'));
    }

    #[test]
    fn empty_text_leaves_out_description_and_empty_field_values_become_a_dash() {
        let out = outgoing("t".into(), String::new(), vec![("error".into(), "".into())]);
        let body = payload(&out);
        assert!(body["embeds"][0].get("description").is_none());
        assert_eq!(body["embeds"][0]["fields"][0]["value"], "-");
    }
}
