//! Alerts on transitions, end to end: a service fails `failure_threshold` times and one
//! message goes out naming it, its state, its error, since when, and the dashboard link; it
//! recovers and one "recovered" message follows. Chat receivers are local fakes asserting the
//! exact payload; email goes through a real SMTP server.

use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::{json, Value};
use service_kit_testing::{FakeReceiver, SmtpMode, SmtpServer};

use crate::support::{spawn_app, start_target};

const WAIT: Duration = Duration::from_secs(20);

fn field<'a>(fields: &'a Value, name: &str) -> &'a Value {
    fields
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == name)
        .map(|f| &f["value"])
        .unwrap_or_else(|| panic!("no field {name} in {fields}"))
}

#[tokio::test]
async fn down_after_the_failure_threshold_and_recovered_after_the_success_threshold() {
    let target = start_target().await;
    target.switch_status.store(503, Ordering::SeqCst);
    let hook = FakeReceiver::start().await;
    let app = spawn_app(&format!(
        r#"
[checks]
interval_secs = 1
endpoints = [ {{ name = "api", url = "{base}/switch", failure_threshold = 2, success_threshold = 2 }} ]

[dashboard]
public_url = "http://status.example.test/dashboard"

[alerts]
enabled = true
webhook = "{hook}"
"#,
        base = target.base,
        hook = hook.url()
    ))
    .await;

    let down = hook.wait_for(1, WAIT).await;
    let payload = down[0].json.clone().unwrap();
    // By the time the alert went out the check had failed exactly the threshold number of times.
    assert!(target.hits.load(Ordering::SeqCst) >= 2);
    assert_eq!(payload["source"], "healthcheck_dashboard");
    assert_eq!(payload["title"], "api is DOWN");
    assert_eq!(payload["severity"], "critical");
    assert_eq!(payload["link"], "http://status.example.test/dashboard");
    assert_eq!(payload["suppressed"], 0);
    let fields = &payload["fields"];
    assert_eq!(field(fields, "service"), "api");
    assert_eq!(field(fields, "state"), "down");
    assert_eq!(
        field(fields, "error"),
        "unexpected HTTP status 503 (expected 200-399)"
    );
    let since = field(fields, "since").as_str().unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(since).is_ok(),
        "{since}"
    );
    assert!(payload["text"]
        .as_str()
        .unwrap()
        .starts_with("api has been failing since "));

    // Still failing: no second message (one incident, one message).
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(hook.requests().len(), 1);

    target.switch_status.store(200, Ordering::SeqCst);
    let both = hook.wait_for(2, WAIT).await;
    let recovered = both[1].json.clone().unwrap();
    assert_eq!(recovered["title"], "api recovered");
    assert_eq!(recovered["severity"], "resolved");
    assert_eq!(field(&recovered["fields"], "state"), "up");
    assert_eq!(field(&recovered["fields"], "down_since"), since);
    assert!(recovered["text"]
        .as_str()
        .unwrap()
        .starts_with("api is up again after "));
    drop(app);
}

#[tokio::test]
async fn slack_and_discord_get_their_own_formats() {
    let target = start_target().await;
    target.switch_status.store(500, Ordering::SeqCst);
    let slack = FakeReceiver::start().await;
    let discord = FakeReceiver::start().await;
    let _app = spawn_app(&format!(
        r#"
[checks]
interval_secs = 1
endpoints = [ {{ name = "web", url = "{base}/switch", failure_threshold = 1 }} ]

[dashboard]
public_url = "http://status.example.test/dashboard"

[alerts]
enabled = true
slack = "{slack}"
discord = "{discord}"
"#,
        base = target.base,
        slack = slack.url(),
        discord = discord.url()
    ))
    .await;

    let slack_payload = slack.wait_for(1, WAIT).await[0].json.clone().unwrap();
    let attachment = &slack_payload["attachments"][0];
    assert_eq!(attachment["title"], "web is DOWN");
    assert_eq!(attachment["color"], "#d50200");
    assert_eq!(
        attachment["title_link"],
        "http://status.example.test/dashboard"
    );
    assert_eq!(attachment["footer"], "healthcheck_dashboard");
    assert!(attachment["fields"]
        .as_array()
        .unwrap()
        .contains(&json!({"title": "state", "value": "down", "short": true})));

    let discord_payload = discord.wait_for(1, WAIT).await[0].json.clone().unwrap();
    let embed = &discord_payload["embeds"][0];
    assert_eq!(embed["title"], "web is DOWN");
    assert_eq!(embed["url"], "http://status.example.test/dashboard");
    assert_eq!(embed["color"], 0xd50200);
    assert_eq!(embed["footer"]["text"], "healthcheck_dashboard");
    assert!(embed["fields"]
        .as_array()
        .unwrap()
        .contains(&json!({"name": "service", "value": "web", "inline": true})));
}

#[tokio::test]
async fn email_alert_reaches_a_real_smtp_server() {
    let Some(smtp) = SmtpServer::start(SmtpMode::Plain, None).await else {
        return;
    };
    let target = start_target().await;
    target.switch_status.store(500, Ordering::SeqCst);
    let _app = spawn_app(&format!(
        r#"
[checks]
interval_secs = 1
endpoints = [ {{ name = "db", url = "{base}/switch", failure_threshold = 1 }} ]

[alerts]
enabled = true
email = "oncall@example.test"

[alerts.smtp]
host = "127.0.0.1"
port = {port}
security = "none"
from = "health@example.test"
"#,
        base = target.base,
        port = smtp.port()
    ))
    .await;
    let mail = smtp.wait_for_messages(1, WAIT).await.remove(0);
    assert_eq!(mail.from, "health@example.test");
    assert_eq!(mail.to, vec!["oncall@example.test".to_string()]);
    assert_eq!(mail.header("Subject").unwrap(), "[CRITICAL] db is DOWN");
    let body = mail.body();
    assert!(
        body.contains("error: unexpected HTTP status 500 (expected 200-399)"),
        "{body}"
    );
    assert!(body.contains("/dashboard"), "{body}");
}
