//! Alerts end to end: an error line in a followed file goes out once to Slack, Discord, a
//! generic webhook and a real SMTP server, in each one's exact format; the lines after it
//! during the cooldown come as one digest "N more matching lines suppressed"; rules with a
//! count threshold wait for the count.

use std::time::Duration;

use serde_json::{json, Value};
use service_kit_testing::{FakeReceiver, SmtpMode, SmtpServer};

use crate::support::{append, files_config, spawn_app, temp_dir};

const WAIT: Duration = Duration::from_secs(15);

#[tokio::test]
async fn an_error_line_reaches_slack_and_discord_in_their_formats() {
    let (_guard, dir) = temp_dir();
    let api = dir.join("api.log");
    let slack = FakeReceiver::start().await;
    let discord = FakeReceiver::start().await;
    let app = spawn_app(
        &files_config(
            &[&api],
            &format!(
                "[api]\npublic_url = \"http://logs.example.test\"\n[alerts]\nslack = \"{}\"\ndiscord = \"{}\"",
                slack.url(),
                discord.url()
            ),
        ),
        &dir.join("data"),
    )
    .await;
    append(
        &api,
        "2024-06-12T01:23:45Z ERROR Database connection failed: timeout\n",
    );

    let slack_payload = slack.wait_for(1, WAIT).await[0].json.clone().unwrap();
    assert_eq!(slack_payload["text"], "[CRITICAL] errors: api error line");
    let attachment = &slack_payload["attachments"][0];
    assert_eq!(attachment["title"], "errors: api error line");
    assert_eq!(
        attachment["text"],
        "[2024-06-12T01:23:45Z][api][ERROR] Database connection failed: timeout"
    );
    assert_eq!(attachment["color"], "#d50200");
    assert_eq!(
        attachment["title_link"],
        "http://logs.example.test/dashboard?service=api"
    );
    assert_eq!(attachment["footer"], "log_watcher");
    assert_eq!(
        attachment["fields"],
        json!([
            {"title": "rule", "value": "errors", "short": true},
            {"title": "service", "value": "api", "short": true},
            {"title": "level", "value": "error", "short": true},
            {"title": "time", "value": "2024-06-12T01:23:45Z", "short": true},
        ])
    );

    let discord_payload = discord.wait_for(1, WAIT).await[0].json.clone().unwrap();
    let embed = &discord_payload["embeds"][0];
    assert_eq!(discord_payload["content"], Value::Null);
    assert_eq!(embed["title"], "errors: api error line");
    assert_eq!(
        embed["description"],
        "[2024-06-12T01:23:45Z][api][ERROR] Database connection failed: timeout"
    );
    assert_eq!(
        embed["url"],
        "http://logs.example.test/dashboard?service=api"
    );
    assert_eq!(embed["color"], 0xd50200);
    assert_eq!(embed["footer"]["text"], "log_watcher");
    assert!(embed["fields"]
        .as_array()
        .unwrap()
        .contains(&json!({"name": "service", "value": "api", "inline": true})));

    let (_, metrics) = app.get_text("/metrics").await;
    assert!(
        metrics.contains("log_watcher_alerts_total{outcome=\"sent\"} 2"),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_burst_is_one_alert_then_one_digest_of_what_the_cooldown_swallowed() {
    let (_guard, dir) = temp_dir();
    let api = dir.join("api.log");
    let hook = FakeReceiver::start().await;
    let _app = spawn_app(
        &files_config(
            &[&api],
            &format!("[alerts]\nwebhook = \"{}\"\ncooldown_secs = 2", hook.url()),
        ),
        &dir.join("data"),
    )
    .await;
    append(&api, "ERROR first failure\n");
    let first = hook.wait_for(1, WAIT).await[0].json.clone().unwrap();
    assert_eq!(first["source"], "log_watcher");
    assert_eq!(first["key"], "logs:errors:api");
    assert_eq!(first["title"], "errors: api error line");
    assert_eq!(first["severity"], "critical");
    assert!(first["text"]
        .as_str()
        .unwrap()
        .ends_with("[api][ERROR] first failure"));

    // Warnings do not match the default rule; these errors fall in the cooldown.
    append(
        &api,
        "WARNING only slow\nERROR second\nCRITICAL third\nERROR fourth\n",
    );
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(hook.requests().len(), 1, "nothing more during the cooldown");

    let both = hook.wait_for(2, WAIT).await;
    let digest = both[1].json.clone().unwrap();
    assert_eq!(
        digest["title"],
        "errors: 3 more matching lines from api suppressed"
    );
    let text = digest["text"].as_str().unwrap();
    assert!(
        text.starts_with("3 more matching lines were suppressed in the last 2s; the last one:\n"),
        "{text}"
    );
    assert!(text.ends_with("[api][ERROR] fourth"), "{text}");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(hook.requests().len(), 2, "a digest is sent once");
}

#[tokio::test]
async fn a_count_rule_alerts_when_its_threshold_is_reached_within_the_window() {
    let (_guard, dir) = temp_dir();
    let api = dir.join("api.log");
    let hook = FakeReceiver::start().await;
    let _app = spawn_app(
        &files_config(
            &[&api],
            &format!(
                r#"[alerts]
webhook = "{}"
cooldown_secs = 0
[[alerts.rules]]
name = "auth failures"
regex = "unauthorized"
services = ["api"]
threshold = 3
window_secs = 60"#,
                hook.url()
            ),
        ),
        &dir.join("data"),
    )
    .await;
    append(
        &api,
        "INFO 401 unauthorized /admin\nINFO 401 unauthorized /admin\n",
    );
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(hook.requests().is_empty(), "two is below the threshold");
    append(&api, "INFO 401 unauthorized /admin\n");
    let alert = hook.wait_for(1, WAIT).await[0].json.clone().unwrap();
    assert_eq!(
        alert["title"],
        "auth failures: 3 matching lines from api within 60s"
    );
    assert_eq!(alert["severity"], "warning");
}

#[tokio::test]
async fn email_alerts_reach_a_real_smtp_server() {
    let Some(smtp) = SmtpServer::start(SmtpMode::Plain, None).await else {
        return;
    };
    let (_guard, dir) = temp_dir();
    let web = dir.join("web.log");
    let _app = spawn_app(
        &files_config(
            &[&web],
            &format!(
                "[alerts]\nemail = \"alerts@example.com\"\n[alerts.smtp]\nhost = \"127.0.0.1\"\nport = {}\nfrom = \"logs@example.test\"",
                smtp.port()
            ),
        ),
        &dir.join("data"),
    )
    .await;
    append(
        &web,
        "2024-06-12T01:23:50Z [error] upstream timed out <script>x</script>\n",
    );
    let mail = smtp.wait_for_messages(1, WAIT).await.remove(0);
    assert_eq!(mail.from, "logs@example.test");
    assert_eq!(mail.to, vec!["alerts@example.com".to_string()]);
    assert_eq!(
        mail.header("Subject").unwrap(),
        "[CRITICAL] errors: web error line"
    );
    let body = mail.body();
    assert!(
        body.contains("[2024-06-12T01:23:50Z][web][ERROR] upstream timed out <script>x</script>"),
        "{body}"
    );
    assert!(body.contains("rule: errors"), "{body}");
}
