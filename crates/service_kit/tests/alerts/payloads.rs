//! The exact JSON each webhook flavour receives.

use serde_json::json;
use service_kit::alert::{Dispatch, Severity, Sink, SinkFlavour};
use service_kit_testing::FakeReceiver;

use crate::support::{api_down, dispatcher, normalise_rfc3339, normalise_unix_seconds, PATIENCE};

#[tokio::test]
async fn generic_webhook_receives_the_alert_as_json_with_timestamp_and_suppressed_count() {
    let receiver = FakeReceiver::start().await;
    let alerts = dispatcher(Sink::webhook(&receiver.url()).unwrap());

    let outcome = alerts.send(api_down()).await;

    assert_eq!(
        outcome,
        Dispatch::Delivered {
            sinks: vec![receiver.url()],
            failed: vec![]
        }
    );
    let request = receiver.wait_for(1, PATIENCE).await.remove(0);
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/hook");
    assert_eq!(request.header("content-type"), Some("application/json"));
    let mut body = request.json.expect("JSON body");
    normalise_rfc3339(&mut body, "/timestamp");
    assert_eq!(
        body,
        json!({
            "key": "check:api:down",
            "source": "healthcheck_dashboard",
            "title": "api is DOWN",
            "text": "connection refused",
            "severity": "critical",
            "fields": [
                {"name": "service", "value": "api"},
                {"name": "state", "value": "down"}
            ],
            "link": "http://localhost:9100/dashboard",
            "timestamp": "<timestamp>",
            "suppressed": 0
        })
    );
}

#[tokio::test]
async fn generic_webhook_sends_null_link_when_the_alert_has_none() {
    let receiver = FakeReceiver::start().await;
    let alerts = dispatcher(Sink::webhook(&receiver.url()).unwrap());
    let mut alert = api_down();
    alert.link = None;
    alert.severity = Severity::Info;

    alerts.send(alert).await;

    let body = receiver.wait_for(1, PATIENCE).await.remove(0).json.unwrap();
    assert_eq!(body["link"], json!(null));
    assert_eq!(body["severity"], "info");
}

#[tokio::test]
async fn slack_receives_a_coloured_attachment_with_fields_footer_and_fallback_text() {
    let receiver = FakeReceiver::start().await;
    let alerts = dispatcher(Sink::slack(&receiver.url()).unwrap());

    alerts.send(api_down()).await;

    let mut body = receiver.wait_for(1, PATIENCE).await.remove(0).json.unwrap();
    normalise_unix_seconds(&mut body, "/attachments/0/ts");
    assert_eq!(
        body,
        json!({
            "text": "[CRITICAL] api is DOWN",
            "attachments": [{
                "color": "#d50200",
                "title": "api is DOWN",
                "title_link": "http://localhost:9100/dashboard",
                "text": "connection refused",
                "fields": [
                    {"title": "service", "value": "api", "short": true},
                    {"title": "state", "value": "down", "short": true}
                ],
                "footer": "healthcheck_dashboard",
                "ts": 0
            }]
        })
    );
}

#[tokio::test]
async fn slack_colour_follows_severity_and_title_link_is_left_out_without_a_link() {
    let receiver = FakeReceiver::start().await;
    let alerts = dispatcher(Sink::slack(&receiver.url()).unwrap());
    let severities = [
        (Severity::Critical, "#d50200"),
        (Severity::Warning, "#de9e31"),
        (Severity::Resolved, "#2eb886"),
        (Severity::Info, "#439fe0"),
    ];
    for (severity, _) in severities {
        let mut alert = api_down();
        alert.severity = severity;
        alert.link = None;
        alerts.send(alert).await;
    }

    let requests = receiver.wait_for(4, PATIENCE).await;
    for (request, (_, colour)) in requests.iter().zip(severities) {
        let attachment = &request.json.as_ref().unwrap()["attachments"][0];
        assert_eq!(attachment["color"], colour);
        assert!(attachment.get("title_link").is_none(), "{attachment}");
    }
}

#[tokio::test]
async fn slack_text_has_its_control_characters_escaped() {
    let receiver = FakeReceiver::start().await;
    let alerts = dispatcher(Sink::slack(&receiver.url()).unwrap());
    let mut alert = api_down();
    alert.title = "a < b & c > d".into();
    alert.text = "<script>".into();

    alerts.send(alert).await;

    let body = receiver.wait_for(1, PATIENCE).await.remove(0).json.unwrap();
    assert_eq!(body["text"], "[CRITICAL] a &lt; b &amp; c &gt; d");
    assert_eq!(body["attachments"][0]["title"], "a &lt; b &amp; c &gt; d");
    assert_eq!(body["attachments"][0]["text"], "&lt;script&gt;");
}

#[tokio::test]
async fn discord_receives_an_embed_with_decimal_colour_footer_and_timestamp() {
    let receiver = FakeReceiver::start().await;
    let alerts = dispatcher(Sink::discord(&receiver.url()).unwrap());

    alerts.send(api_down()).await;

    let mut body = receiver.wait_for(1, PATIENCE).await.remove(0).json.unwrap();
    normalise_rfc3339(&mut body, "/embeds/0/timestamp");
    assert_eq!(
        body,
        json!({
            "content": null,
            "embeds": [{
                "title": "api is DOWN",
                "description": "connection refused",
                "url": "http://localhost:9100/dashboard",
                "color": 13959680,
                "fields": [
                    {"name": "service", "value": "api", "inline": true},
                    {"name": "state", "value": "down", "inline": true}
                ],
                "footer": {"text": "healthcheck_dashboard"},
                "timestamp": "<timestamp>"
            }]
        })
    );
}

#[tokio::test]
async fn discord_colours_are_the_slack_colours_as_integers_and_url_is_left_out_without_a_link() {
    let receiver = FakeReceiver::start().await;
    let alerts = dispatcher(Sink::discord(&receiver.url()).unwrap());
    let severities = [
        (Severity::Critical, 0xd50200),
        (Severity::Warning, 0xde9e31),
        (Severity::Resolved, 0x2eb886),
        (Severity::Info, 0x439fe0),
    ];
    for (severity, _) in severities {
        let mut alert = api_down();
        alert.severity = severity;
        alert.link = None;
        alerts.send(alert).await;
    }

    let requests = receiver.wait_for(4, PATIENCE).await;
    for (request, (_, colour)) in requests.iter().zip(severities) {
        let embed = &request.json.as_ref().unwrap()["embeds"][0];
        assert_eq!(embed["color"], colour);
        assert!(embed.get("url").is_none(), "{embed}");
    }
}

#[tokio::test]
async fn discord_title_is_cut_to_256_characters_with_an_ellipsis() {
    let receiver = FakeReceiver::start().await;
    let alerts = dispatcher(Sink::discord(&receiver.url()).unwrap());
    let mut alert = api_down();
    alert.title = "x".repeat(300);

    alerts.send(alert).await;

    let body = receiver.wait_for(1, PATIENCE).await.remove(0).json.unwrap();
    let title = body["embeds"][0]["title"].as_str().unwrap();
    assert_eq!(title.chars().count(), 256);
    assert!(title.ends_with('…'));
}

#[test]
fn webhook_url_flavour_is_detected_from_host_and_path() {
    let flavour = |url: &str| Sink::from_webhook_url(url).unwrap().flavour();
    assert_eq!(
        flavour("https://hooks.slack.com/services/T0/B0/XXXX"),
        SinkFlavour::Slack
    );
    assert_eq!(
        flavour("https://discord.com/api/webhooks/1/abc"),
        SinkFlavour::Discord
    );
    assert_eq!(
        flavour("https://discordapp.com/api/webhooks/1/abc"),
        SinkFlavour::Discord
    );
    assert_eq!(
        flavour("https://discord.com/channels/1"),
        SinkFlavour::Webhook
    );
    assert_eq!(flavour("https://example.com/hook"), SinkFlavour::Webhook);
    assert_eq!(flavour("http://127.0.0.1:8080/slack"), SinkFlavour::Webhook);
}

#[test]
fn webhook_url_that_is_not_http_is_rejected_at_construction() {
    let err = Sink::from_webhook_url("ftp://example.com/hook").unwrap_err();
    assert!(err.to_string().contains("scheme"), "{err}");
    assert!(Sink::from_webhook_url("not a url").is_err());
}

#[test]
fn describe_names_the_target_without_secrets() {
    let slack = Sink::from_webhook_url("https://hooks.slack.com/services/T0/B0/SECRET").unwrap();
    assert_eq!(
        slack.describe(),
        "https://hooks.slack.com/services/T0/B0/***"
    );
    let generic = Sink::webhook("https://u:p@example.com/hook?token=abc").unwrap();
    assert_eq!(generic.describe(), "https://example.com/hook");
}
