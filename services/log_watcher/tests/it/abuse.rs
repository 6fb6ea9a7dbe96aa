//! Bounded under abuse: no query string can panic a handler or get anything but a 400 JSON
//! error naming the parameter; `/logs` answers are bounded in bytes; connections and live
//! streams are capped, with 503 and `Retry-After` beyond.

use std::time::Duration;

use proptest::prelude::*;
use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{append, files_config, spawn_app, temp_dir};

/// The values of the issue, each on each route taking the parameter: 400 and a JSON error
/// that names the parameter.
#[tokio::test]
async fn the_overflowing_and_malformed_values_of_the_issue_are_400s_naming_the_parameter() {
    let (_guard, dir) = temp_dir();
    let app = spawn_app(&files_config(&[], ""), &dir.join("data")).await;
    let cases = [
        ("/logs?since=100000000d", "since"),
        ("/logs?since=99999999999999999", "since"),
        ("/logs?since=-5m", "since"),
        ("/logs?limit=-1", "limit"),
        ("/logs?limit=99999999999999999999999", "limit"),
        ("/logs?level=%00", "level"),
        ("/logs/stream?since=100000000d", "since"),
        ("/logs/stream?limit=-1", "limit"),
        ("/summary?window=9223372036854775807s", "window"),
        ("/summary?window=100000000d", "window"),
        ("/summary?window=-1", "window"),
        ("/summary/series?window=9223372036854775807s", "window"),
        (
            "/summary/series?window=1h&step=9223372036854775807s",
            "step",
        ),
        ("/summary/series?window=100000y&step=1", "step"),
        ("/logs?limit=1&limit=2", "limit"),
        ("/logs?nope=1", "nope"),
    ];
    for (path, parameter) in cases {
        let (code, body) = app.get_json(path).await;
        assert_eq!(code, StatusCode::BAD_REQUEST, "{path}: {body}");
        let error = body["error"]
            .as_str()
            .unwrap_or_else(|| panic!("{path}: {body}"));
        assert!(error.contains(parameter), "{path}: {error}");
    }
    let huge = format!("/logs?q={}", "a".repeat(20_000));
    let (code, body) = app.get_json(&huge).await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .starts_with("query string: "),
        "{body}"
    );
    let long_q = format!("/logs?q={}", "a".repeat(5000));
    let (code, body) = app.get_json(&long_q).await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["error"].as_str().unwrap().starts_with("q: "), "{body}");
    // The page is lenient (people edit its URL), but it still answers.
    let (code, _) = app
        .get_text(&format!("/dashboard?q={}", "a".repeat(5000)))
        .await;
    assert_eq!(code, StatusCode::OK);
    app.stop().await;
}

/// Query strings built from the parameters' names and wild values, URL-encoded or not.
fn query_string() -> impl Strategy<Value = String> {
    let name = prop::sample::select(vec![
        "service", "level", "q", "since", "limit", "window", "step", "x", "",
    ]);
    let value = prop_oneof![
        ".{0,16}",
        any::<i64>().prop_map(|n| n.to_string()),
        (any::<u64>(), "[smhdwy]{1,2}").prop_map(|(n, u)| format!("{n}{u}")),
        Just("%FF%FE".to_string()),
        Just("1e308".to_string()),
    ];
    prop::collection::vec((name, value), 0..4).prop_map(|pairs| {
        pairs
            .into_iter()
            .map(|(name, value)| {
                let value: String = form_encode(&value);
                format!("{name}={value}")
            })
            .collect::<Vec<_>>()
            .join("&")
    })
}

fn form_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'%' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Whatever the query, every route answers 200 or a 400 with a JSON error: never a 500,
/// never a dropped connection.
#[test]
fn no_query_string_gets_anything_but_an_answer_or_a_400_json_error() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (_guard, dir) = temp_dir();
    let log = dir.join("api.log");
    append(&log, "ERROR one\nWARNING two\n");
    let app = runtime.block_on(spawn_app(&files_config(&[&log], ""), &dir.join("data")));
    let client = reqwest::Client::new();
    let config = ProptestConfig {
        cases: 48,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    proptest!(config, |(
        route in prop::sample::select(vec!["/logs", "/summary", "/summary/series", "/dashboard", "/api/deploys"]),
        query in query_string(),
    )| {
        let url = format!("{}{route}?{query}", app.base);
        let (status, body) = runtime.block_on(async {
            let response = client.get(&url).send().await.unwrap();
            let status = response.status();
            (status, response.text().await.unwrap())
        });
        prop_assert!(status == StatusCode::OK || status == StatusCode::BAD_REQUEST, "{url}: {status} {body}");
        if status == StatusCode::BAD_REQUEST {
            let json: serde_json::Value = serde_json::from_str(&body).unwrap();
            prop_assert!(json["error"].is_string(), "{url}: {body}");
        }
    });
    // The live stream checks the same query before it starts.
    let answered = runtime.block_on(async {
        let response = client
            .get(format!("{}/logs/stream?limit=-1", app.base))
            .send()
            .await
            .unwrap();
        response.status()
    });
    assert_eq!(answered, StatusCode::BAD_REQUEST);
    runtime.block_on(app.stop());
}

#[tokio::test]
async fn a_logs_answer_is_bounded_in_bytes_keeps_the_newest_and_says_it_was_cut() {
    let (_guard, dir) = temp_dir();
    let log = dir.join("api.log");
    let app = spawn_app(
        &files_config(&[&log], "[api]\nmax_response_bytes = 65536"),
        &dir.join("data"),
    )
    .await;
    let mut text = String::new();
    for i in 0..300 {
        text.push_str(&format!("ERROR {i:04} {}\n", "x".repeat(1000)));
    }
    append(&log, &text);
    app.wait_for_events("limit=1", Duration::from_secs(20), |e| {
        e.first()
            .is_some_and(|e| e["message"].as_str().unwrap().starts_with("0299"))
    })
    .await;
    let response = reqwest::get(format!("{}/logs?limit=1000", app.base))
        .await
        .unwrap();
    let body = response.text().await.unwrap();
    assert!(body.len() <= 65536 + 64, "{} bytes", body.len());
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["truncated"], true);
    let events = json["events"].as_array().unwrap();
    assert!(events.len() > 30 && events.len() < 300, "{}", events.len());
    assert!(events.last().unwrap()["message"]
        .as_str()
        .unwrap()
        .starts_with("0299"));
    let (_, small) = app.get_json("/logs?limit=5").await;
    assert_eq!(small["truncated"], false);
    assert_eq!(small["events"].as_array().unwrap().len(), 5);
    app.stop().await;
}

#[tokio::test]
async fn connections_beyond_max_connections_get_503_with_retry_after() {
    let (_guard, dir) = temp_dir();
    let app = spawn_app(
        &files_config(&[], "[api]\nmax_connections = 2"),
        &dir.join("data"),
    )
    .await;
    let address = app.base.trim_start_matches("http://").to_string();
    let _first = tokio::net::TcpStream::connect(&address).await.unwrap();
    let _second = tokio::net::TcpStream::connect(&address).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut third = tokio::net::TcpStream::connect(&address).await.unwrap();
    third
        .write_all(b"GET /livez HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), third.read_to_string(&mut answer)).await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("Retry-After:"), "{answer}");
    drop((_first, _second));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (code, _) = app.get_text("/livez").await;
    assert_eq!(code, StatusCode::OK, "served again once connections closed");
}

#[tokio::test]
async fn live_streams_beyond_max_streams_get_503_with_retry_after() {
    let (_guard, dir) = temp_dir();
    let log = dir.join("api.log");
    let app = spawn_app(
        &files_config(&[&log], "[api]\nmax_streams = 1"),
        &dir.join("data"),
    )
    .await;
    let client = reqwest::Client::new();
    let first = client
        .get(format!("{}/logs/stream", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    let second = client
        .get(format!("{}/logs/stream?level=error", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(second.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(second.headers().contains_key("retry-after"));
    let body: serde_json::Value = second.json().await.unwrap();
    assert!(
        body["error"].as_str().unwrap().contains("live streams"),
        "{body}"
    );
    drop(first);
    // The slot comes back once the server notices the client is gone (at the latest when
    // it next writes to it: an event).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        append(&log, "ERROR wake the stream up\n");
        let again = client
            .get(format!("{}/logs/stream", app.base))
            .send()
            .await
            .unwrap();
        if again.status() == StatusCode::OK {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the slot never came back"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
