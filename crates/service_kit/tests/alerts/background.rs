//! Fire-and-forget delivery for services that must not wait on alerting.

use std::time::Duration;

use service_kit::alert::Sink;
use service_kit_testing::FakeReceiver;

use crate::support::{api_down, dispatcher, PATIENCE};

#[tokio::test]
async fn send_in_background_returns_at_once_and_delivers() {
    let receiver = FakeReceiver::start_with_statuses(vec![500, 200]).await;
    let alerts = dispatcher(Sink::webhook(&receiver.url()).unwrap());

    alerts.send_in_background(api_down());

    let requests = receiver.wait_for(2, PATIENCE).await;
    assert_eq!(requests[1].json.as_ref().unwrap()["title"], "api is DOWN");
    assert!(alerts.drain(PATIENCE).await);
    assert_eq!(alerts.stats().sent, 1);
}

#[tokio::test]
async fn drain_gives_up_after_its_deadline_when_a_delivery_hangs() {
    let receiver = FakeReceiver::start_hanging().await;
    let alerts = dispatcher(Sink::webhook(&receiver.url()).unwrap());

    alerts.send_in_background(api_down());
    receiver.wait_for(1, PATIENCE).await;

    assert!(!alerts.drain(Duration::from_millis(100)).await);
}
