//! Receiving deliveries: every provider's signature, filters, duplicates, size limits,
//! form payloads and bad input, each answered as DESIGN.md says and with nothing run when
//! it should not be.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::StatusCode;
use serde_json::json;
use webhook_handler::verify::StandardKey;

use crate::support::{github_signature, push_payload, script, spawn_app, TestApp};

const SECRET: &str = "s3cret-for-tests";

/// A hook of each provider, each running `marker.sh`, which appends its job id to a file.
fn all_providers_config(dir: &std::path::Path) -> String {
    let marker = script(
        dir,
        "marker.sh",
        &format!("echo \"$WEBHOOK_JOB_ID\" >> {}/ran", dir.display()),
    );
    format!(
        r#"
[server]
secret = "{SECRET}"
[actions]
push_event_script = "{marker}"
[filters]
allowed_repos = ["org/app"]
allowed_events = ["push", "release"]

[[hooks]]
id = "github"
secret = "{SECRET}"
command = ["{marker}"]

[[hooks]]
id = "sha1"
secret = "{SECRET}"
allow_sha1 = true
command = ["{marker}"]

[[hooks]]
id = "gitea"
provider = "gitea"
secret = "{SECRET}"
command = ["{marker}"]

[[hooks]]
id = "gitlab"
provider = "gitlab"
secret = "{SECRET}"
command = ["{marker}"]

[[hooks]]
id = "standard"
provider = "standard"
secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
command = ["{marker}"]

[[hooks]]
id = "generic"
provider = "generic"
secret = "{SECRET}"
header = "X-Deploy-Token"
command = ["{marker}"]

[[hooks]]
id = "open"
provider = "generic"
verify = "none"
command = ["{marker}"]

[[hooks]]
id = "filtered"
secret = "{SECRET}"
events = ["push"]
repos = ["org/*"]
branches = ["main", "release/*"]
command = ["{marker}"]
"#
    )
}

fn body(payload: &serde_json::Value) -> Vec<u8> {
    serde_json::to_vec(payload).unwrap()
}

async fn app(dir: &tempfile::TempDir) -> TestApp {
    spawn_app(&all_providers_config(dir.path()), &dir.path().join("data")).await
}

#[tokio::test]
async fn a_signed_github_push_is_queued_and_its_job_runs() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(&dir).await;
    let payload = body(&push_payload(
        "org/app",
        "main",
        "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c",
    ));
    let (status, answer) = app
        .send_github("/hooks/github", SECRET, "push", "d-1", &payload)
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    assert_eq!(answer["status"], "queued");
    let id = answer["job_id"].as_i64().expect("a job id");
    let job = app.wait_for_job_end(id, Duration::from_secs(10)).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    assert_eq!(job["hook"], "github");
    assert_eq!(job["repo"], "org/app");
    assert_eq!(job["branch"], "main");
    assert_eq!(job["commit"], "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c");
    assert_eq!(job["delivery"], "d-1");
    assert_eq!(job["exit_code"], 0);
    assert!(job["duration_ms"].is_u64(), "{job}");
    let ran = std::fs::read_to_string(dir.path().join("ran")).unwrap();
    assert_eq!(ran.trim(), id.to_string());
}

#[tokio::test]
async fn forged_missing_and_sha1_signatures_are_refused_and_nothing_runs() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(&dir).await;
    let payload = body(&push_payload("org/app", "main", "abc"));
    let url = format!("{}/hooks/github", app.base);
    let forged = github_signature("wrong secret", &payload);
    let cases = [
        ("sha256=zz", "malformed"),
        (forged.as_str(), "does not match"),
    ];
    for (signature, expected) in cases {
        let request = app
            .client
            .post(&url)
            .header("content-type", "application/json")
            .header("x-github-event", "push")
            .header("x-hub-signature-256", signature)
            .body(payload.clone());
        let (status, answer) = app.send(request).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{answer}");
        assert!(
            answer["error"].as_str().unwrap().contains(expected),
            "{answer}"
        );
    }
    let unsigned = app
        .client
        .post(&url)
        .header("content-type", "application/json")
        .header("x-github-event", "push")
        .body(payload.clone());
    let (status, answer) = app.send(unsigned).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer["error"], "missing X-Hub-Signature-256 header");
    // SHA-1 only where the hook allows it.
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, SECRET.as_bytes());
    let sha1 = format!(
        "sha1={}",
        webhook_handler::verify::hex::encode(ring::hmac::sign(&key, &payload).as_ref())
    );
    for (hook, expected) in [
        ("github", StatusCode::UNAUTHORIZED),
        ("sha1", StatusCode::ACCEPTED),
    ] {
        let request = app
            .client
            .post(format!("{}/hooks/{hook}", app.base))
            .header("content-type", "application/json")
            .header("x-github-event", "push")
            .header("x-hub-signature", &sha1)
            .body(payload.clone());
        let (status, answer) = app.send(request).await;
        assert_eq!(status, expected, "{hook}: {answer}");
    }
    let (_, deliveries) = app.get_json("/deliveries?hook=github").await;
    let outcomes: Vec<&str> = deliveries["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["rejected"; 4]);
    let (_, jobs) = app.get_json("/jobs?hook=github").await;
    assert_eq!(jobs["jobs"].as_array().unwrap().len(), 0, "{jobs}");
}

#[tokio::test]
async fn gitea_gitlab_standard_and_generic_senders_verify_their_own_way() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(&dir).await;
    let payload = body(&push_payload("org/app", "main", "abc"));
    let url = |hook: &str| format!("{}/hooks/{hook}", app.base);

    // Gitea: bare hex in its own header.
    let hex = github_signature(SECRET, &payload)[7..].to_string();
    let gitea = app
        .client
        .post(url("gitea"))
        .header("content-type", "application/json")
        .header("x-gitea-event", "push")
        .header("x-gitea-delivery", "g-1")
        .header("x-gitea-signature", &hex)
        .body(payload.clone());
    assert_eq!(app.send(gitea).await.0, StatusCode::ACCEPTED);

    // GitLab: the token itself, events named "Push Hook".
    let gitlab_payload = body(&json!({
        "object_kind": "push", "ref": "refs/heads/main", "checkout_sha": "abc",
        "project": {"path_with_namespace": "org/app"}, "user_username": "jsmith"
    }));
    for (token, expected) in [
        ("nope", StatusCode::UNAUTHORIZED),
        (SECRET, StatusCode::ACCEPTED),
    ] {
        let request = app
            .client
            .post(url("gitlab"))
            .header("content-type", "application/json")
            .header("x-gitlab-event", "Push Hook")
            .header("x-gitlab-token", token)
            .body(gitlab_payload.clone());
        let (status, answer) = app.send(request).await;
        assert_eq!(status, expected, "{answer}");
        if status == StatusCode::ACCEPTED {
            let job = app
                .wait_for_job_end(answer["job_id"].as_i64().unwrap(), Duration::from_secs(10))
                .await;
            assert_eq!(
                (job["event"].as_str(), job["repo"].as_str()),
                (Some("push"), Some("org/app"))
            );
            assert_eq!(job["pusher"], "jsmith");
        }
    }

    // Standard Webhooks: id.timestamp.body, five minutes of tolerance.
    let key = StandardKey::from_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
    let standard_body = br#"{"type":"deploy.requested","data":{}}"#.to_vec();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    for (timestamp, expected) in [
        (now - 3600, StatusCode::UNAUTHORIZED),
        (now, StatusCode::ACCEPTED),
    ] {
        let request = app
            .client
            .post(url("standard"))
            .header("content-type", "application/json")
            .header("webhook-id", format!("msg_{timestamp}"))
            .header("webhook-timestamp", timestamp.to_string())
            .header(
                "webhook-signature",
                key.sign(&format!("msg_{timestamp}"), timestamp, &standard_body),
            )
            .body(standard_body.clone());
        let (status, answer) = app.send(request).await;
        assert_eq!(status, expected, "{answer}");
    }

    // Generic: a token in the configured header; and an explicitly open hook.
    for (token, expected) in [
        ("nope", StatusCode::UNAUTHORIZED),
        (SECRET, StatusCode::ACCEPTED),
    ] {
        let request = app
            .client
            .post(url("generic"))
            .header("content-type", "text/plain")
            .header("x-deploy-token", token)
            .body("deploy please");
        assert_eq!(app.send(request).await.0, expected);
    }
    let open = app.client.post(url("open")).body("anything");
    assert_eq!(app.send(open).await.0, StatusCode::ACCEPTED);
}

#[tokio::test]
async fn filters_ignore_deliveries_with_the_reason_and_run_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(&dir).await;
    let cases = [
        ("push", "org/app", "dev", "branch \"dev\" does not match"),
        ("push", "other/app", "main", "repository \"other/app\""),
        ("release", "org/app", "main", "event \"release\""),
    ];
    for (i, (event, repo, branch, reason)) in cases.iter().enumerate() {
        let payload = body(&push_payload(repo, branch, "abc"));
        let (status, answer) = app
            .send_github(
                "/hooks/filtered",
                SECRET,
                event,
                &format!("f-{i}"),
                &payload,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert_eq!(answer["status"], "ignored");
        assert!(
            answer["reason"].as_str().unwrap().contains(reason),
            "{answer}"
        );
    }
    for branch in ["main", "release/1.4"] {
        let payload = body(&push_payload("ORG/App", branch, "abc"));
        let (status, _) = app
            .send_github(
                "/hooks/filtered",
                SECRET,
                "push",
                &format!("ok-{branch}"),
                &payload,
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{branch}");
    }
    let (_, jobs) = app.get_json("/jobs?hook=filtered").await;
    assert_eq!(jobs["jobs"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn the_specs_single_hook_runs_its_script_for_pushes_and_logs_the_other_events() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(&dir).await;
    let push = body(&push_payload("yourorg/yourrepo", "main", "abc"));
    let (status, answer) = app.send_github("/", SECRET, "push", "s-1", &push).await;
    // `[filters] allowed_repos` is org/app only.
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["status"], "ignored");
    let push = body(&push_payload("org/app", "main", "abc"));
    let (status, answer) = app.send_github("/", SECRET, "push", "s-2", &push).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    let release = body(
        &json!({"action": "published", "release": {"tag_name": "v1"}, "repository": {"full_name": "org/app"}}),
    );
    let (status, answer) = app
        .send_github("/", SECRET, "release", "s-3", &release)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        answer["reason"],
        "no action for release events (logged only)"
    );
    let ping = body(&json!({"zen": "Keep it logically awesome.", "hook_id": 1}));
    let (status, answer) = app.send_github("/", SECRET, "ping", "s-4", &ping).await;
    assert_eq!(
        (status, answer["status"].as_str()),
        (StatusCode::OK, Some("ping"))
    );
}

#[tokio::test]
async fn a_redelivery_is_a_duplicate_and_runs_nothing_again() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(&dir).await;
    let payload = body(&push_payload("org/app", "main", "abc"));
    let (status, first) = app
        .send_github("/hooks/github", SECRET, "push", "same-id", &payload)
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    app.wait_for_job_end(first["job_id"].as_i64().unwrap(), Duration::from_secs(10))
        .await;
    let (status, again) = app
        .send_github("/hooks/github", SECRET, "push", "same-id", &payload)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again, json!({"status": "duplicate", "delivery": "same-id"}));
    let ran = std::fs::read_to_string(dir.path().join("ran")).unwrap();
    assert_eq!(ran.lines().count(), 1);
}

#[tokio::test]
async fn form_encoded_payloads_are_read_like_json_ones() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(&dir).await;
    let json_text = serde_json::to_string(&push_payload("org/app", "main", "f0f0")).unwrap();
    let form: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("payload", &json_text)
        .finish();
    let request = app
        .client
        .post(format!("{}/hooks/github", app.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-github-event", "push")
        .header("x-github-delivery", "form-1")
        .header(
            "x-hub-signature-256",
            github_signature(SECRET, form.as_bytes()),
        )
        .body(form);
    let (status, answer) = app.send(request).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    let job = app
        .wait_for_job_end(answer["job_id"].as_i64().unwrap(), Duration::from_secs(10))
        .await;
    assert_eq!(job["commit"], "f0f0");
}

#[tokio::test]
async fn bad_bodies_get_a_clear_4xx_and_the_service_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let marker = script(dir.path(), "marker.sh", "true");
    let config = format!(
        "[server]\nmax_body_bytes = 4096\n\
         [[hooks]]\nid = \"github\"\nsecret = \"{SECRET}\"\ncommand = [\"{marker}\"]\n"
    );
    let app = spawn_app(&config, &data).await;
    let url = format!("{}/hooks/github", app.base);
    let signed = |body: &[u8], content_type: &str| {
        app.client
            .post(&url)
            .header("content-type", content_type.to_string())
            .header("x-github-event", "push")
            .header("x-hub-signature-256", github_signature(SECRET, body))
            .body(body.to_vec())
    };

    let big = vec![b' '; 5000];
    let (status, answer) = app.send(signed(&big, "application/json")).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{answer}");

    let (status, answer) = app
        .send(signed(br#"{"ref": "refs/heads/ma"#, "application/json"))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .starts_with("malformed payload"),
        "{answer}"
    );

    let (status, answer) = app.send(signed(b"ref=main", "text/plain")).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{answer}");

    let (status, answer) = app.send(signed(b"", "application/json")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");

    let (status, answer) = app
        .send(
            app.client
                .post(format!("{}/hooks/nope", app.base))
                .body("{}"),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(answer["error"], "no hook \"nope\"");

    let (status, answer) = app
        .send(app.client.get(format!("{}/hooks/github", app.base)))
        .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{answer}");

    let (status, _) = app.get_json("/livez").await;
    assert_eq!(status, StatusCode::OK);
    let (_, jobs) = app.get_json("/jobs").await;
    assert_eq!(jobs["jobs"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn a_slow_sender_gets_408_and_a_huge_header_count_431() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "[server]\nread_timeout_secs = 1\n[[hooks]]\nid = \"github\"\nsecret = \"{SECRET}\"\n"
    );
    let app = spawn_app(&config, &dir.path().join("data")).await;
    let address = app.base.trim_start_matches("http://").to_string();

    let mut slow = tokio::net::TcpStream::connect(&address).await.unwrap();
    slow.write_all(
        b"POST /hooks/github HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"a\":",
    )
    .await
    .unwrap();
    let mut answer = String::new();
    let read = tokio::time::timeout(Duration::from_secs(5), slow.read_to_string(&mut answer)).await;
    assert!(read.is_ok(), "no answer to a stalled body within 5 s");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");

    let mut many = tokio::net::TcpStream::connect(&address).await.unwrap();
    let mut request = String::from("POST /hooks/github HTTP/1.1\r\nHost: x\r\n");
    for i in 0..200 {
        request.push_str(&format!("X-Header-{i}: {i}\r\n"));
    }
    request.push_str("Content-Length: 2\r\n\r\n{}");
    many.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), many.read_to_string(&mut answer)).await;
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");

    let (status, _) = app.get_json("/livez").await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_sender_outside_the_allowed_networks_is_forbidden() {
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "[server]\ntrusted_proxies = [\"127.0.0.1/32\"]\n\
         [[hooks]]\nid = \"app\"\nsecret = \"{SECRET}\"\nallowed_ips = [\"192.0.2.0/24\"]\n"
    );
    let app = spawn_app(&config, &dir.path().join("data")).await;
    let payload = body(&push_payload("org/app", "main", "abc"));
    let send = |forwarded: &'static str| {
        app.client
            .post(format!("{}/hooks/app", app.base))
            .header("content-type", "application/json")
            .header("x-github-event", "push")
            .header("x-forwarded-for", forwarded)
            .header("x-hub-signature-256", github_signature(SECRET, &payload))
            .body(payload.clone())
    };
    let (status, answer) = app.send(send("203.0.113.5")).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
    assert!(answer["error"].as_str().unwrap().contains("203.0.113.5"));
    let (status, answer) = app.send(send("192.0.2.44")).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
}
