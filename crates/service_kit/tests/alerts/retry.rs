//! Timeouts, retries with backoff, and independence of sinks.

use std::time::{Duration, Instant};

use service_kit::alert::{AlertDispatcher, AlertStats, DeliveryPolicy, Dispatch, Sink};
use service_kit_testing::{free_port, FakeReceiver, FakeResponse};

use crate::support::{api_down, dispatcher, fast_policy, PATIENCE};

#[tokio::test]
async fn server_errors_are_retried_until_the_receiver_accepts() {
    let receiver = FakeReceiver::start_with_statuses(vec![500, 500, 200]).await;
    let alerts = dispatcher(Sink::webhook(&receiver.url()).unwrap());

    let outcome = alerts.send(api_down()).await;

    assert_eq!(
        outcome,
        Dispatch::Delivered {
            sinks: vec![receiver.url()],
            failed: vec![]
        }
    );
    assert_eq!(receiver.requests().len(), 3);
    assert_eq!(
        alerts.stats(),
        AlertStats {
            sent: 1,
            failed: 0,
            suppressed: 0
        }
    );
}

#[tokio::test]
async fn retries_stop_after_max_attempts_and_the_last_error_is_reported() {
    let receiver =
        FakeReceiver::start_with_responses(vec![FakeResponse::status(503).body("maintenance")])
            .await;
    let alerts = dispatcher(Sink::webhook(&receiver.url()).unwrap());

    let outcome = alerts.send(api_down()).await;

    assert_eq!(
        outcome,
        Dispatch::Delivered {
            sinks: vec![],
            failed: vec![(receiver.url(), "HTTP 503: maintenance".into())]
        }
    );
    assert_eq!(receiver.requests().len(), 4);
    assert_eq!(alerts.stats().failed, 1);
}

#[tokio::test]
async fn client_error_is_not_retried_and_its_body_is_reported() {
    let receiver =
        FakeReceiver::start_with_responses(vec![FakeResponse::status(400).body("invalid_payload")])
            .await;
    let alerts = dispatcher(Sink::slack(&receiver.url()).unwrap());

    let outcome = alerts.send(api_down()).await;

    assert_eq!(
        outcome,
        Dispatch::Delivered {
            sinks: vec![],
            failed: vec![(receiver.url(), "HTTP 400: invalid_payload".into())]
        }
    );
    assert_eq!(receiver.requests().len(), 1);
}

#[tokio::test]
async fn too_many_requests_is_retried_after_the_delay_the_receiver_asks_for() {
    let receiver = FakeReceiver::start_with_responses(vec![
        FakeResponse::status(429).header("Retry-After", "1"),
        FakeResponse::status(200),
    ])
    .await;
    let alerts = dispatcher(Sink::discord(&receiver.url()).unwrap());
    let started = Instant::now();

    let outcome = alerts.send(api_down()).await;

    assert!(matches!(outcome, Dispatch::Delivered { ref sinks, .. } if sinks.len() == 1));
    assert_eq!(receiver.requests().len(), 2);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After: 1 not honoured, retried after {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn receiver_that_never_answers_times_out_within_the_policy_timeout() {
    let receiver = FakeReceiver::start_hanging().await;
    let policy = DeliveryPolicy {
        timeout: Duration::from_millis(300),
        max_attempts: 1,
        ..fast_policy()
    };
    let alerts = AlertDispatcher::new(vec![Sink::webhook(&receiver.url()).unwrap()], policy);
    let started = Instant::now();

    let outcome = alerts.send(api_down()).await;

    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(3), "took {elapsed:?}");
    assert_eq!(
        outcome,
        Dispatch::Delivered {
            sinks: vec![],
            failed: vec![(receiver.url(), "timed out after 300ms".into())]
        }
    );
    assert_eq!(receiver.requests().len(), 1);
}

#[tokio::test]
async fn each_timed_out_attempt_is_retried() {
    let receiver = FakeReceiver::start_hanging().await;
    let policy = DeliveryPolicy {
        timeout: Duration::from_millis(200),
        max_attempts: 2,
        ..fast_policy()
    };
    let alerts = AlertDispatcher::new(vec![Sink::webhook(&receiver.url()).unwrap()], policy);

    alerts.send(api_down()).await;

    assert_eq!(receiver.wait_for(2, PATIENCE).await.len(), 2);
}

#[tokio::test]
async fn refused_connection_is_retried_then_reported_as_a_transport_error() {
    let url = format!("http://127.0.0.1:{}/hook", free_port().await);
    let policy = DeliveryPolicy {
        max_attempts: 2,
        ..fast_policy()
    };
    let alerts = AlertDispatcher::new(vec![Sink::webhook(&url).unwrap()], policy);

    let Dispatch::Delivered { sinks, failed } = alerts.send(api_down()).await else {
        panic!("expected a delivery attempt");
    };

    assert!(sinks.is_empty());
    assert_eq!(failed.len(), 1);
    assert!(failed[0].1.starts_with("transport error"), "{failed:?}");
    assert!(!failed[0].1.contains("/hook"), "URL leaked: {failed:?}");
}

#[tokio::test]
async fn a_failing_sink_does_not_hold_up_the_others() {
    let broken = FakeReceiver::start_hanging().await;
    let healthy = FakeReceiver::start().await;
    let policy = DeliveryPolicy {
        timeout: Duration::from_secs(3),
        max_attempts: 1,
        ..fast_policy()
    };
    let alerts = AlertDispatcher::new(
        vec![
            Sink::webhook(&broken.url()).unwrap(),
            Sink::slack(&healthy.url()).unwrap(),
        ],
        policy,
    );

    let dispatched = tokio::spawn({
        let alerts = alerts.clone();
        async move { alerts.send(api_down()).await }
    });
    // The healthy sink is reached while the broken one still hangs.
    let started = Instant::now();
    healthy.wait_for(1, PATIENCE).await;
    assert!(started.elapsed() < Duration::from_secs(2));

    let outcome = dispatched.await.unwrap();
    assert_eq!(
        outcome,
        Dispatch::Delivered {
            sinks: vec![healthy.url()],
            failed: vec![(broken.url(), "timed out after 3s".into())]
        }
    );
    assert_eq!(
        alerts.stats(),
        AlertStats {
            sent: 1,
            failed: 1,
            suppressed: 0
        }
    );
}

#[tokio::test]
async fn dispatcher_without_sinks_does_nothing() {
    let alerts = AlertDispatcher::new(vec![], fast_policy());

    assert_eq!(alerts.send(api_down()).await, Dispatch::NoSinks);
    assert_eq!(alerts.stats(), AlertStats::default());
}
