//! Deploy markers from the real webhook_handler ([`crate::webhook_peer`]): `/api/deploys`
//! lists its jobs once polled, protected like `/logs`, per service, empty without the peer,
//! with an error text when the peer is down; the server-rendered chart marks them. (The
//! page in a browser: `dashboard::deploys`.)

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use service_kit_testing::binary::free_port;

use crate::support::{spawn_app, temp_dir, TestApp};
use crate::webhook_peer::{command_hook, WebhookPeer, SECRET};

/// How long the first poll and the jobs get.
const WAIT: Duration = Duration::from_secs(20);

/// webhook_handler's hooks: `app` runs a script (a deploy naming no service), `api` a
/// Compose action on service `api` (which fails: the Compose file is unreadable).
pub fn script_and_compose_hooks(dir: &std::path::Path) -> String {
    let file = WebhookPeer::compose_file(dir);
    format!(
        "{}[[hooks]]\nid = \"api\"\nsecret = \"{SECRET}\"\ncompose = {{ file = {:?}, services = [\"api\"], pull = false }}\n",
        command_hook("app"),
        file.display().to_string()
    )
}

/// Polls `GET /api/deploys{query}` until `done` accepts the answer; returns it.
pub async fn wait_for_deploys(app: &TestApp, query: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (status, answer) = app.get_json(&format!("/api/deploys{query}")).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        if done(&answer) {
            return answer;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "/api/deploys{query} not as expected within {WAIT:?}: {answer}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The job ids of an `/api/deploys` answer, in its order.
fn jobs(answer: &Value) -> Vec<i64> {
    answer["deploys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["job"].as_i64().unwrap())
        .collect()
}

/// The markers of a server render: (class, tooltip) per `<g class="deploy ...">`.
fn rendered_markers(html: &str) -> Vec<(String, String)> {
    html.split(r#"<g class="deploy "#)
        .skip(1)
        .map(|rest| {
            let (class, rest) = rest.split_once('"').unwrap();
            let tip = rest
                .split_once("<title>")
                .and_then(|(_, t)| t.split_once("</title>"))
                .unwrap()
                .0;
            (class.to_string(), tip.to_string())
        })
        .collect()
}

#[tokio::test]
async fn api_deploys_lists_the_pushed_job_behind_auth_and_is_empty_without_the_peer() {
    let peer = WebhookPeer::start(|_| command_hook("app")).await;
    let job = peer.deploy("app", "d-1").await;
    let (_guard, dir) = temp_dir();
    // log_watcher starts after the deploy: its first poll, at start, finds it.
    let app = spawn_app(
        &format!("{}[auth]\ntoken = \"s3cret\"\n", peer.peers_section()),
        &dir.join("data"),
    )
    .await;
    let client = reqwest::Client::new();
    let url = format!("{}/api/deploys", app.base);
    let denied = client.get(&url).send().await.unwrap();
    assert_eq!(
        denied.status(),
        StatusCode::UNAUTHORIZED,
        "protected like /logs"
    );
    let deadline = tokio::time::Instant::now() + WAIT;
    let answer = loop {
        let response = client.get(&url).bearer_auth("s3cret").send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let answer: Value = response.json().await.unwrap();
        if !jobs(&answer).is_empty() {
            break answer;
        }
        assert!(tokio::time::Instant::now() < deadline, "{answer}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(answer.as_object().unwrap().len(), 1, "no error: {answer}");
    let deploy = &answer["deploys"][0];
    assert_eq!(jobs(&answer), [job]);
    assert_eq!(
        (&deploy["hook"], &deploy["state"], &deploy["services"]),
        (&json!("app"), &json!("succeeded"), &json!([]))
    );
    assert!(deploy["started_at"].is_string() && deploy["finished_at"].is_string());
    let bad = client
        .get(format!("{url}?colour=red"))
        .bearer_auth("s3cret")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    app.stop().await;
    peer.stop().await;

    // Without the peer: nothing to show, and the page does not ask.
    let (_guard, dir) = temp_dir();
    let alone = spawn_app("", &dir.join("data")).await;
    let (status, answer) = alone.get_json("/api/deploys").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer, json!({ "deploys": [] }));
    let (_, html) = alone.get_text("/dashboard").await;
    assert!(html.contains(r#"data-deploys="off""#));
    assert!(html.contains(r#"<g class="deploys"></g>"#));
    alone.stop().await;
}

#[tokio::test]
async fn filtered_to_a_service_the_chart_marks_the_deploys_naming_it_or_naming_none() {
    let peer = WebhookPeer::start(script_and_compose_hooks).await;
    let script = peer.deploy("app", "d-1").await;
    let compose = peer.deploy("api", "d-2").await;
    let (_guard, dir) = temp_dir();
    let app = spawn_app(&peer.peers_section(), &dir.join("data")).await;
    let all = wait_for_deploys(&app, "", |a| jobs(a).len() == 2).await;
    let of = |job: i64| {
        all["deploys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["job"] == job)
            .cloned()
            .unwrap()
    };
    assert_eq!(of(compose)["services"], json!(["api"]));
    assert_eq!(of(compose)["state"], "failed", "{all}");
    assert_eq!(of(script)["services"], json!([]));

    let (_, web) = app.get_json("/api/deploys?service=web").await;
    assert_eq!(jobs(&web), [script]);
    let (_, api) = app.get_json("/api/deploys?service=api").await;
    assert_eq!(api["deploys"].as_array().unwrap().len(), 2);

    // The server render, which is also the page without JavaScript.
    let (status, html) = app.get_text("/dashboard").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(r#"data-deploys="on""#));
    let mut marked = rendered_markers(&html);
    marked.sort();
    assert_eq!(marked.len(), 2, "{marked:?}");
    assert_eq!(marked[0].0, "deploy-failed");
    assert!(
        marked[0].1.starts_with(&format!(
            "deploy: job {compose} of hook api (failed)\nstarted "
        )) && marked[0].1.ends_with(" UTC · services: api"),
        "{marked:?}"
    );
    assert_eq!(marked[1].0, "deploy-succeeded");
    assert!(
        marked[1]
            .1
            .starts_with(&format!("deploy: job {script} of hook app (succeeded)\n"))
            && marked[1].1.ends_with(" UTC · no services named"),
        "{marked:?}"
    );
    let (_, web_page) = app.get_text("/dashboard?service=web").await;
    let web_marked = rendered_markers(&web_page);
    assert_eq!(web_marked.len(), 1, "{web_marked:?}");
    assert_eq!(web_marked[0].0, "deploy-succeeded");
    let (_, api_page) = app.get_text("/dashboard?service=api").await;
    assert_eq!(rendered_markers(&api_page).len(), 2);
    app.stop().await;
    peer.stop().await;
}

#[tokio::test]
async fn a_peer_that_is_down_gives_an_error_text_and_the_page_still_works() {
    let port = free_port();
    let (_guard, dir) = temp_dir();
    let app = spawn_app(
        &format!("[peers]\nwebhook_handler = \"http://127.0.0.1:{port}\"\n"),
        &dir.join("data"),
    )
    .await;
    let answer = wait_for_deploys(&app, "", |a| a["error"].is_string()).await;
    assert_eq!(answer["deploys"], json!([]));
    let error = answer["error"].as_str().unwrap();
    assert!(
        error.starts_with(&format!("http://127.0.0.1:{port} unreachable: ")),
        "{error}"
    );
    let (status, html) = app.get_text("/dashboard").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(&format!(
        r#"<p id="deploys-note" class="deploys-note">Deploy markers may be out of date: http://127.0.0.1:{port} unreachable: "#
    )));
    let (status, _) = app.get_json("/logs").await;
    assert_eq!(status, StatusCode::OK);
    app.stop().await;
}
