//! One incident, one message: the per-key cooldown and its "N more suppressed" report.

use std::time::Duration;

use service_kit::alert::{AlertDispatcher, DeliveryPolicy, Dispatch, Sink};
use service_kit_testing::FakeReceiver;

use crate::support::{api_down, fast_policy, normalise_rfc3339, PATIENCE};

/// A cooldown the tests wait out: short, yet long enough to send three alerts inside it
/// on a loaded machine.
const COOLDOWN: Duration = Duration::from_secs(1);

/// A cooldown no test outlives.
const LONG_COOLDOWN: Duration = Duration::from_secs(600);

fn cooling_dispatcher(sinks: Vec<Sink>, cooldown: Duration) -> AlertDispatcher {
    AlertDispatcher::new(
        sinks,
        DeliveryPolicy {
            cooldown,
            ..fast_policy()
        },
    )
}

fn is_delivered(outcome: &Dispatch) -> bool {
    matches!(outcome, Dispatch::Delivered { sinks, .. } if !sinks.is_empty())
}

#[tokio::test]
async fn repeated_alerts_of_a_key_within_the_cooldown_are_suppressed_and_counted() {
    let receiver = FakeReceiver::start().await;
    let alerts = cooling_dispatcher(vec![Sink::webhook(&receiver.url()).unwrap()], LONG_COOLDOWN);

    assert!(is_delivered(&alerts.send(api_down()).await));
    assert_eq!(
        alerts.send(api_down()).await,
        Dispatch::Suppressed { count: 1 }
    );
    assert_eq!(
        alerts.send(api_down()).await,
        Dispatch::Suppressed { count: 2 }
    );

    assert_eq!(receiver.requests().len(), 1);
    assert_eq!(alerts.stats().suppressed, 2);
}

#[tokio::test]
async fn first_alert_after_the_cooldown_carries_the_suppressed_count_in_every_format() {
    let webhook = FakeReceiver::start().await;
    let slack = FakeReceiver::start().await;
    let discord = FakeReceiver::start().await;
    let alerts = cooling_dispatcher(
        vec![
            Sink::webhook(&webhook.url()).unwrap(),
            Sink::slack(&slack.url()).unwrap(),
            Sink::discord(&discord.url()).unwrap(),
        ],
        COOLDOWN,
    );
    for _ in 0..3 {
        alerts.send(api_down()).await;
    }

    tokio::time::sleep(COOLDOWN + Duration::from_millis(50)).await;
    assert!(is_delivered(&alerts.send(api_down()).await));

    let mut generic = webhook.wait_for(2, PATIENCE).await.remove(1).json.unwrap();
    normalise_rfc3339(&mut generic, "/timestamp");
    assert_eq!(generic["suppressed"], 2);
    assert_eq!(generic["text"], "connection refused\n(2 more suppressed)");
    let slack = slack.wait_for(2, PATIENCE).await.remove(1).json.unwrap();
    assert_eq!(
        slack["attachments"][0]["text"],
        "connection refused\n(2 more suppressed)"
    );
    let discord = discord.wait_for(2, PATIENCE).await.remove(1).json.unwrap();
    assert_eq!(
        discord["embeds"][0]["description"],
        "connection refused\n(2 more suppressed)"
    );
}

#[tokio::test]
async fn suppressed_line_stands_alone_when_the_alert_has_no_text() {
    let receiver = FakeReceiver::start().await;
    let alerts = cooling_dispatcher(vec![Sink::webhook(&receiver.url()).unwrap()], COOLDOWN);
    let mut alert = api_down();
    alert.text = String::new();
    alerts.send(alert.clone()).await;
    alerts.send(alert.clone()).await;

    tokio::time::sleep(COOLDOWN + Duration::from_millis(50)).await;
    alerts.send(alert).await;

    let body = receiver.wait_for(2, PATIENCE).await.remove(1).json.unwrap();
    assert_eq!(body["text"], "(1 more suppressed)");
    assert_eq!(body["suppressed"], 1);
}

#[tokio::test]
async fn different_keys_cool_down_independently() {
    let receiver = FakeReceiver::start().await;
    let alerts = cooling_dispatcher(vec![Sink::webhook(&receiver.url()).unwrap()], LONG_COOLDOWN);
    let mut recovered = api_down();
    recovered.key = "check:api:recovered".into();

    assert!(is_delivered(&alerts.send(api_down()).await));
    assert!(is_delivered(&alerts.send(recovered).await));
    assert_eq!(
        alerts.send(api_down()).await,
        Dispatch::Suppressed { count: 1 }
    );

    assert_eq!(receiver.requests().len(), 2);
}

#[tokio::test]
async fn reset_lets_the_next_alert_of_the_key_through_at_once_without_a_count() {
    let receiver = FakeReceiver::start().await;
    let alerts = cooling_dispatcher(vec![Sink::webhook(&receiver.url()).unwrap()], LONG_COOLDOWN);
    alerts.send(api_down()).await;
    alerts.send(api_down()).await;

    alerts.reset("check:api:down");

    assert!(is_delivered(&alerts.send(api_down()).await));
    let body = receiver.wait_for(2, PATIENCE).await.remove(1).json.unwrap();
    assert_eq!(body["suppressed"], 0);
    assert_eq!(body["text"], "connection refused");
}

#[tokio::test]
async fn delivery_that_failed_everywhere_does_not_start_a_cooldown() {
    let receiver = FakeReceiver::start_with_statuses(vec![400, 200]).await;
    let alerts = cooling_dispatcher(vec![Sink::webhook(&receiver.url()).unwrap()], LONG_COOLDOWN);

    assert!(!is_delivered(&alerts.send(api_down()).await));
    assert!(is_delivered(&alerts.send(api_down()).await));

    assert_eq!(receiver.requests().len(), 2);
}
