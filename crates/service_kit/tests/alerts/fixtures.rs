//! The test fixtures themselves behave as other crates' tests rely on.

use std::time::Duration;

use service_kit_testing::{require_component, FakeReceiver, FakeResponse};

#[tokio::test]
async fn fake_receiver_records_requests_and_answers_with_the_programmed_sequence() {
    let receiver = FakeReceiver::start_with_responses(vec![
        FakeResponse::status(500),
        FakeResponse::status(201)
            .header("x-answer", "yes")
            .body("made"),
    ])
    .await;
    let client = reqwest::Client::new();
    let mut statuses = Vec::new();
    for n in 0..3 {
        let response = client
            .post(format!("{}/other?n={n}", receiver.base_url()))
            .header("x-test", "1")
            .body(format!("{{\"n\":{n}}}"))
            .send()
            .await
            .unwrap();
        statuses.push(response.status().as_u16());
    }

    assert_eq!(statuses, vec![500, 201, 201]);
    let requests = receiver.wait_for(3, Duration::from_secs(5)).await;
    assert_eq!(requests[2].method, "POST");
    assert_eq!(requests[2].path, "/other?n=2");
    assert_eq!(requests[2].header("X-Test"), Some("1"));
    assert_eq!(requests[2].text(), "{\"n\":2}");
    assert_eq!(requests[2].json, Some(serde_json::json!({"n": 2})));
}

#[tokio::test]
#[should_panic(expected = "expected at least 1 request(s)")]
async fn fake_receiver_wait_for_panics_when_too_few_requests_arrive() {
    let receiver = FakeReceiver::start().await;
    receiver.wait_for(1, Duration::from_millis(50)).await;
}

#[test]
fn require_component_passes_when_the_component_is_available() {
    assert!(require_component("something", true, "always here"));
}
