//! Notifications: a hook's `notify` targets hear how its jobs ended (a local receiver
//! standing in for the chat service, a real SMTP server for email), with the facts and the
//! last lines of output; `[alerts]` hears about failures of every hook.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;
use service_kit_testing::{FakeReceiver, SmtpMode, SmtpServer};

use crate::support::{push_payload, script, spawn_app};

const SECRET: &str = "notify-secret";

fn field<'a>(payload: &'a Value, name: &str) -> Option<&'a str> {
    payload["fields"]
        .as_array()?
        .iter()
        .find(|f| f["name"] == name)?["value"]
        .as_str()
}

#[tokio::test]
async fn a_hooks_receiver_hears_of_success_and_failure_with_facts_and_output() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = FakeReceiver::start().await;
    let ok = script(dir.path(), "ok.sh", "echo deployed v2");
    let fails = script(
        dir.path(),
        "fails.sh",
        "echo step 1; echo 'Error: image not found' >&2; exit 4",
    );
    let config = format!(
        "[server]\npublic_url = \"https://hooks.example.com\"\n\
         [[hooks]]\nid = \"ok\"\nsecret = \"{SECRET}\"\ncommand = [\"{ok}\"]\nnotify = \"{url}\"\n\
         [[hooks]]\nid = \"bad\"\nsecret = \"{SECRET}\"\ncommand = [\"{fails}\"]\nnotify = [\"{url}\"]\n",
        url = receiver.url()
    );
    let app = spawn_app(&config, &dir.path().join("data")).await;
    let payload = serde_json::to_vec(&push_payload("org/app", "main", "1a2b3c4d5e")).unwrap();
    let (_, answer) = app
        .send_github("/hooks/ok", SECRET, "push", "n-1", &payload)
        .await;
    let ok_id = answer["job_id"].as_i64().unwrap();
    let sent = receiver.wait_for(1, Duration::from_secs(10)).await;
    let success = sent[0].json.clone().expect("JSON");
    assert_eq!(success["source"], "webhook_handler");
    assert_eq!(success["severity"], "info");
    assert_eq!(
        success["title"],
        format!("Job {ok_id} of hook ok succeeded: org/app@1a2b3c4 (main)")
    );
    assert_eq!(field(&success, "repo"), Some("org/app"));
    assert_eq!(field(&success, "ref"), Some("refs/heads/main"));
    assert_eq!(field(&success, "commit"), Some("1a2b3c4d5e"));
    assert_eq!(field(&success, "state"), Some("succeeded"));
    assert!(field(&success, "duration").is_some());
    assert!(success["text"].as_str().unwrap().contains("deployed v2"));
    assert_eq!(
        success["link"],
        format!("https://hooks.example.com/jobs/{ok_id}")
    );

    let (_, answer) = app
        .send_github("/hooks/bad", SECRET, "push", "n-2", &payload)
        .await;
    let bad_id = answer["job_id"].as_i64().unwrap();
    let sent = receiver.wait_for(2, Duration::from_secs(10)).await;
    let failure = sent[1].json.clone().expect("JSON");
    assert_eq!(failure["severity"], "critical");
    assert_eq!(field(&failure, "state"), Some("failed"));
    assert_eq!(field(&failure, "job"), Some(bad_id.to_string().as_str()));
    let text = failure["text"].as_str().unwrap();
    assert!(
        text.starts_with("exit code 4\n\nLast lines of output:\n"),
        "{text}"
    );
    assert!(text.contains("Error: image not found"), "{text}");
}

#[tokio::test]
async fn notify_on_failure_only_stays_quiet_on_success() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = FakeReceiver::start().await;
    let ok = script(dir.path(), "ok.sh", "true");
    let config = format!(
        "[[hooks]]\nid = \"ok\"\nsecret = \"{SECRET}\"\ncommand = [\"{ok}\"]\n\
         notify = \"{}\"\nnotify_on = [\"failure\"]\n",
        receiver.url()
    );
    let app = spawn_app(&config, &dir.path().join("data")).await;
    let payload = serde_json::to_vec(&push_payload("org/app", "main", "abc")).unwrap();
    let (status, answer) = app
        .send_github("/hooks/ok", SECRET, "push", "q-1", &payload)
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let job = app
        .wait_for_job_end(answer["job_id"].as_i64().unwrap(), Duration::from_secs(10))
        .await;
    assert_eq!(job["state"], "succeeded");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(receiver.requests().is_empty());
}

#[tokio::test]
async fn alerts_hear_of_failures_of_every_hook_and_email_goes_through_a_real_smtp_server() {
    let Some(smtp) = SmtpServer::start(SmtpMode::Plain, None).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let alerts = FakeReceiver::start().await;
    let ok = script(dir.path(), "ok.sh", "true");
    let fails = script(dir.path(), "fails.sh", "echo 'migration 42 failed'; exit 1");
    let config = format!(
        "[alerts]\nwebhook = \"{alerts}\"\n[alerts.smtp]\nhost = \"127.0.0.1\"\nport = {port}\n\
         from = \"deploys@example.com\"\n\
         [[hooks]]\nid = \"ok\"\nsecret = \"{SECRET}\"\ncommand = [\"{ok}\"]\n\
         [[hooks]]\nid = \"bad\"\nsecret = \"{SECRET}\"\ncommand = [\"{fails}\"]\n\
         notify = \"mailto:ops@example.com\"\n",
        alerts = alerts.url(),
        port = smtp.port()
    );
    let app = spawn_app(&config, &dir.path().join("data")).await;
    let payload = serde_json::to_vec(&push_payload("org/app", "main", "abc")).unwrap();
    let (_, ok_job) = app
        .send_github("/hooks/ok", SECRET, "push", "a-1", &payload)
        .await;
    app.wait_for_job_end(ok_job["job_id"].as_i64().unwrap(), Duration::from_secs(10))
        .await;
    let (_, bad_job) = app
        .send_github("/hooks/bad", SECRET, "push", "a-2", &payload)
        .await;
    app.wait_for_job_end(bad_job["job_id"].as_i64().unwrap(), Duration::from_secs(10))
        .await;
    let alerted = alerts.wait_for(1, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(alerts.requests().len(), 1, "only the failure is an alert");
    let alert = alerted[0].json.clone().unwrap();
    assert_eq!(field(&alert, "hook"), Some("bad"));
    let mails = smtp.wait_for_messages(1, Duration::from_secs(10)).await;
    let mail = &mails[0];
    assert_eq!(mail.header("From").as_deref(), Some("deploys@example.com"));
    assert!(
        mail.header("Subject").unwrap().contains("hook bad failed"),
        "{:?}",
        mail.header("Subject")
    );
    assert!(
        mail.body().contains("migration 42 failed"),
        "{}",
        mail.body()
    );
}
