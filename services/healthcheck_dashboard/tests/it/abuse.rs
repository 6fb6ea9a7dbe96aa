//! Bounded under abuse: absurd query values and bodies are a 400 JSON error naming the
//! parameter (never a panic), live streams and connections are capped (503 with
//! `Retry-After` beyond), and a client that never finishes its headers is cut off.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{spawn_app, TestApp};

const ONE_CHECK: &str = r#"
[checks]
endpoints = [ { name = "web", url = "http://127.0.0.1:9/", type = "http" } ]
"#;

async fn error_of(app: &TestApp, path: &str) -> String {
    let (code, body) = app.get_json(path).await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "{path}: {body}");
    body["error"]
        .as_str()
        .unwrap_or_else(|| panic!("{path}: no error text in {body}"))
        .to_string()
}

#[tokio::test]
async fn absurd_history_queries_are_a_400_naming_the_parameter() {
    let app = spawn_app(ONE_CHECK).await;
    for query in [
        "hours=100000000d",
        "hours=99999999999999999",
        "hours=9223372036854775807",
        "hours=18446744073709551616",
        "hours=-1",
        "hours=0",
        "hours=1e9",
        "hours=%00",
    ] {
        let error = error_of(&app, &format!("/api/history/web?{query}")).await;
        assert!(error.starts_with("hours: "), "{query}: {error}");
    }
    let error = error_of(&app, "/api/history/web?since=100000000d").await;
    assert!(error.starts_with("\"since\": unknown parameter"), "{error}");
    let error = error_of(&app, "/api/history/web?hours=1&hours=2").await;
    assert_eq!(error, "hours: given more than once");
    let huge = format!("/api/history/web?hours={}", "9".repeat(5000));
    let error = error_of(&app, &huge).await;
    assert!(error.starts_with("query string: longer than"), "{error}");
    let malformed = error_of(&app, "/api/history/web?%%%=%%&&=").await;
    assert!(malformed.contains("unknown parameter"), "{malformed}");
    // The service is still there and answers the sane question.
    let (code, _) = app.get_json("/api/history/web?hours=2").await;
    assert_eq!(code, StatusCode::OK);
}

#[tokio::test]
async fn absurd_maintenance_bodies_are_a_400_naming_the_field() {
    let app = spawn_app(ONE_CHECK).await;
    for (body, field) in [
        (
            json!({ "services": ["web"], "duration_secs": -1 }),
            "duration_secs",
        ),
        (
            json!({ "services": ["web"], "duration_secs": 9223372036854775807_i64 }),
            "duration_secs",
        ),
        (
            json!({ "services": ["web"], "duration_secs": 18446744073709551615_u64 }),
            "duration_secs",
        ),
        (
            json!({ "services": ["web"], "duration_secs": 1e300 }),
            "duration_secs",
        ),
        (
            json!({ "services": ["web"], "duration_secs": 0 }),
            "duration_secs",
        ),
        (
            json!({ "services": ["nope"], "duration_secs": 60 }),
            "services",
        ),
        (
            json!({ "services": ["web"], "duration_secs": 60, "reason": "x".repeat(5000) }),
            "reason",
        ),
    ] {
        let (code, answer) = app.post_json("/api/maintenance", &body, None).await;
        assert_eq!(code, StatusCode::BAD_REQUEST, "{body}: {answer}");
        let error = answer["error"].as_str().unwrap();
        assert!(error.contains(field), "{body}: {error}");
    }
}

#[tokio::test]
async fn streams_beyond_max_streams_get_503_with_retry_after() {
    let app = spawn_app(&format!("{ONE_CHECK}\n[dashboard]\nmax_streams = 2\n")).await;
    let first = app.request("/events").send().await.unwrap();
    let second = app.request("/events").send().await.unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(second.status(), StatusCode::OK);
    let third = app.request("/events").send().await.unwrap();
    assert_eq!(third.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(third.headers()["retry-after"], "5");
    let body: serde_json::Value = third.json().await.unwrap();
    assert_eq!(body["error"], "2 live streams are open already");
    // A client that goes away frees its slot.
    drop(first);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let again = app.request("/events").send().await.unwrap();
        if again.status() == StatusCode::OK {
            break;
        }
        assert!(Instant::now() < deadline, "the slot never came back");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn connections_beyond_max_connections_get_503_with_retry_after() {
    let app = spawn_app(&format!("{ONE_CHECK}\n[dashboard]\nmax_connections = 2\n")).await;
    let address = app.base.trim_start_matches("http://").to_string();
    let _one = tokio::net::TcpStream::connect(&address).await.unwrap();
    let _two = tokio::net::TcpStream::connect(&address).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut third = tokio::net::TcpStream::connect(&address).await.unwrap();
    third
        .write_all(b"GET /livez HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), third.read_to_string(&mut answer)).await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("Retry-After: 5"), "{answer}");
}

#[tokio::test]
async fn a_client_sending_its_headers_slowly_is_cut_off_after_header_timeout_secs() {
    let app = spawn_app(&format!(
        "{ONE_CHECK}\n[dashboard]\nheader_timeout_secs = 1\n"
    ))
    .await;
    let address = app.base.trim_start_matches("http://").to_string();
    let mut slow = tokio::net::TcpStream::connect(&address).await.unwrap();
    let started = Instant::now();
    slow.write_all(b"GET /livez HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    // One more header line now and then, never the blank line that ends them.
    let mut closed = false;
    for i in 0..40 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if slow
            .write_all(format!("X-Drip-{i}: 1\r\n").as_bytes())
            .await
            .is_err()
        {
            closed = true;
            break;
        }
        let mut byte = [0u8; 512];
        match tokio::time::timeout(Duration::from_millis(1), slow.read(&mut byte)).await {
            Ok(Ok(_)) | Ok(Err(_)) => {
                closed = true;
                break;
            }
            Err(_) => {}
        }
    }
    assert!(closed, "the slow client was still connected after 4 s");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    // Others are served meanwhile and after.
    let (code, _) = app.get("/livez").await;
    assert_eq!(code, StatusCode::OK);
}

#[tokio::test]
async fn wrong_methods_and_unknown_paths_get_the_json_error_body() {
    let app = spawn_app(ONE_CHECK).await;
    let client = reqwest::Client::new();
    for (method, path) in [
        (reqwest::Method::POST, "/health"),
        (reqwest::Method::DELETE, "/health/web"),
        (reqwest::Method::PUT, "/api/status"),
        (reqwest::Method::POST, "/livez"),
        (reqwest::Method::PATCH, "/api/maintenance"),
        (reqwest::Method::GET, "/api/maintenance/1"),
    ] {
        let answer = client
            .request(method.clone(), app.url(path))
            .send()
            .await
            .unwrap();
        assert_eq!(
            answer.status(),
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}"
        );
        assert!(
            answer.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/json"),
            "{method} {path}"
        );
        let body: serde_json::Value = answer.json().await.unwrap();
        assert_eq!(
            body,
            json!({ "error": "method not allowed on this route" }),
            "{method} {path}"
        );
    }
    let (code, body) = app.get_json("/no/such/route").await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    assert_eq!(body, json!({ "error": "no such endpoint" }));
}

#[tokio::test]
async fn a_handler_that_panics_is_a_500_json_error_and_the_connection_goes_on() {
    // The router's own layers (`guarded`) around a route that panics: no handler of the
    // service panics on purpose, so the test brings one.
    use axum::routing::get;
    let routes = axum::Router::new()
        .route(
            "/boom",
            get(|| async {
                if true {
                    panic!("a bug reached from a request");
                }
                "never"
            }),
        )
        .route("/fine", get(|| async { "fine" }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(listener, healthcheck_dashboard::api::guarded(routes)).await
    });
    // One client, one keep-alive connection: the panic must not have torn it down.
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(1)
        .build()
        .unwrap();
    for _ in 0..3 {
        let answer = client.get(format!("{base}/boom")).send().await.unwrap();
        assert_eq!(answer.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body: serde_json::Value = answer.json().await.unwrap();
        // The panic's text is for the log, not for the caller.
        assert_eq!(body, json!({ "error": "internal error" }));
        let fine = client.get(format!("{base}/fine")).send().await.unwrap();
        assert_eq!(fine.status(), StatusCode::OK);
    }
}
