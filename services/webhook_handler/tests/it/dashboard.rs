//! The dashboard, in a real headless Chromium driven over the DevTools protocol: hooks,
//! deliveries and jobs with their state colours, a payload and a command output carrying
//! markup shown as text (server side and after the script redrew the page), a job's output
//! when opened and live while it runs, a rejected delivery with its reason, the page
//! without JavaScript, behind auth, and switched off.

use std::path::Path;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use service_kit_testing::browser::Browser;
use service_kit_testing::page::{assert_markup_escaped, assert_strict_page_at};

use crate::support::{push_payload, script, spawn_app, TestApp};

/// How long jobs and the page get to reach the state a test needs.
const WAIT: Duration = Duration::from_secs(20);

/// The hook's secret.
const SECRET: &str = "It's a Secret to Everybody";

/// A repository, branch and commit that are markup; the hook has no repos filter, so it
/// accepts them.
const REPO: &str = "<script>window.__pwned=3</script>/x";
const BRANCH: &str = "<b>main</b>";
const COMMIT: &str = "<i>c0ffee</i>";

/// What the command prints: markup that would run if it were ever parsed as HTML.
const PRINTED: &str = r#"<img src=x onerror="window.__pwned=1">"#;

/// The page has redrawn its tables from `/hooks`, `/deliveries` and `/jobs` at least once.
const UPDATED: &str = "Number(document.body.dataset.updates) >= 1";

/// Badge colours as the browser paints them (dashboard.css).
const GREEN: &str = "rgb(46, 158, 68)";
const RED: &str = "rgb(208, 49, 45)";

/// One hook `app` at `/hooks/app` running `command`, plus `extra` config.
fn config(command: &str, extra: &str) -> String {
    format!(
        r#"
[[hooks]]
id = "app"
secret = "{SECRET}"
command = ["{command}"]
{extra}
"#
    )
}

/// A hook whose command prints markup, and the payload's ref.
fn printing_script(dir: &Path) -> String {
    script(
        dir,
        "deploy.sh",
        &format!("echo '{PRINTED}'\necho \"deployed $WEBHOOK_REF\""),
    )
}

/// Sends a signed push of the markup repository and returns its job id.
async fn push(app: &TestApp, delivery: &str) -> i64 {
    let body = serde_json::to_vec(&push_payload(REPO, BRANCH, COMMIT)).unwrap();
    let (status, answer) = app
        .send_github("/hooks/app", SECRET, "push", delivery, &body)
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    answer["job_id"].as_i64().expect("a job id")
}

/// Sends a push signed with the wrong secret: 401.
async fn forged_push(app: &TestApp) {
    let body = serde_json::to_vec(&push_payload(REPO, BRANCH, COMMIT)).unwrap();
    let (status, answer) = app
        .send_github("/hooks/app", "not the secret", "push", "forged-1", &body)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{answer}");
}

/// What the tables show, read from the live DOM (or a parsed server render): per row its
/// class and the text of each cell, relative times ("3 s ago") replaced by their datetime.
const READ_TABLES: &str = r#"(root => {
  const text = td => {
    const copy = td.cloneNode(true);
    for (const t of copy.querySelectorAll('time[data-rel]')) t.replaceWith(t.getAttribute('datetime'));
    return copy.textContent;
  };
  const rows = id => [...root.querySelectorAll('#' + id + ' > tr')].map(tr => ({
    className: tr.className,
    cells: [...tr.children].map(text),
  }));
  return { hooks: rows('hooks'), jobs: rows('jobs'), deliveries: rows('deliveries') };
})"#;

/// Elements that markup from a payload or a command would have made.
const INJECTED: &str = r#"({
  pwned: window.__pwned === undefined ? null : window.__pwned,
  scripts: document.scripts.length,
  images: document.querySelectorAll('img').length,
  italics: document.querySelectorAll('i').length,
  bold: [...document.querySelectorAll('b')].filter(b => !b.closest('#counts') && !b.matches('.hook-id, .output-id')).length,
})"#;

fn cell(row: &Value, index: usize) -> &str {
    row["cells"][index]
        .as_str()
        .unwrap_or_else(|| panic!("{row:#}"))
}

#[tokio::test]
async fn markup_from_a_payload_and_a_command_is_shown_as_text_and_never_becomes_elements() {
    let dir = tempfile::tempdir().unwrap();
    let command = printing_script(dir.path());
    let app = spawn_app(&config(&command, ""), &dir.path().join("data")).await;
    // The strict headers and policy, and a fresh nonce per response.
    assert_strict_page_at(&format!("{}/dashboard", app.base)).await;

    let id = push(&app, "d-1").await;
    let job = app.wait_for_job_end(id, WAIT).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    forged_push(&app).await;

    // The server's render: every piece of markup escaped, the job's output included.
    let (status, html) = app.get_text("/dashboard").await;
    assert_eq!(status, StatusCode::OK);
    assert_markup_escaped(
        &html,
        &["<img src=x", "<script>window", "<b>main", "<i>c0ff"],
    );
    assert!(html.contains(
        r#"<span class="repo">&lt;script&gt;window.__pwned=3&lt;/script&gt;/x</span><span class="commit">@&lt;i&gt;c0ff</span> <span class="branch">(&lt;b&gt;main&lt;/b&gt;)</span>"#
    ));
    assert!(html.contains("&lt;img src=x onerror=&quot;window.__pwned=1&quot;&gt;\ndeployed refs/heads/&lt;b&gt;main&lt;/b&gt;\n</pre>"));
    assert!(html.contains(&format!(
        r#"<tr class="job job-succeeded shown" data-id="{id}">"#
    )));
    assert!(html.contains(r#"<tr class="delivery outcome-rejected">"#));

    let Some(mut browser) = Browser::launch().await else {
        return;
    };
    browser
        .open(&format!("{}/dashboard", app.base), UPDATED, WAIT)
        .await;
    let tables = browser.eval(&format!("{READ_TABLES}(document)")).await;
    // The job: its state written out and coloured, the markup as text.
    let jobs = tables["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 1, "{tables:#}");
    assert_eq!(jobs[0]["className"], "job job-succeeded shown");
    assert_eq!(cell(&jobs[0], 0), format!("#{id}"));
    assert_eq!(cell(&jobs[0], 2), "succeeded");
    assert_eq!(cell(&jobs[0], 3), format!("{REPO}@<i>c0ff ({BRANCH})"));
    assert_eq!(cell(&jobs[0], 4), "webhook");
    assert_eq!(cell(&jobs[0], 7), "0");
    let badge = browser
        .eval("getComputedStyle(document.querySelector('#jobs .badge')).backgroundColor")
        .await;
    assert_eq!(badge, GREEN, "a succeeded job is green");
    // The deliveries: the forged one rejected with its reason, the accepted one with its job.
    let deliveries = tables["deliveries"].as_array().unwrap();
    assert_eq!(deliveries.len(), 2, "{tables:#}");
    let rejected = &deliveries[0];
    assert_eq!(rejected["className"], "delivery outcome-rejected");
    assert_eq!(cell(rejected, 1), "app");
    assert_eq!(cell(rejected, 2), "rejected");
    assert!(cell(rejected, 3).contains("does not match"), "{rejected:#}");
    assert_eq!(cell(rejected, 6), "127.0.0.1");
    assert_eq!(cell(rejected, 7), "–");
    let colour = browser
        .eval("getComputedStyle(document.querySelector('#deliveries .outcome-rejected .badge')).backgroundColor")
        .await;
    assert_eq!(colour, RED, "a rejected delivery is red");
    let accepted = &deliveries[1];
    assert_eq!(accepted["className"], "delivery outcome-accepted");
    assert_eq!(cell(accepted, 4), "push");
    assert_eq!(cell(accepted, 5), format!("{REPO} ({BRANCH})"));
    assert_eq!(cell(accepted, 7), format!("#{id}"));
    // The hook: where, how, what, and its newest delivery (the rejected one, with why).
    let hooks = tables["hooks"].as_array().unwrap();
    assert_eq!(hooks.len(), 1, "{tables:#}");
    assert_eq!(cell(&hooks[0], 0), "app POST /hooks/app");
    assert_eq!(cell(&hooks[0], 1), "github github-hmac-sha256");
    assert_eq!(cell(&hooks[0], 2), "all deliveries");
    assert_eq!(
        cell(&hooks[0], 3),
        format!("{command} timeout 600 s · no retries")
    );
    assert_eq!(cell(&hooks[0], 5), "idle");
    assert!(cell(&hooks[0], 6).starts_with("rejected "), "{tables:#}");

    // The script drew the same tables as the server does.
    let shapes = browser
        .server_and_script_shapes("dashboard", READ_TABLES, "() => true")
        .await;
    assert_eq!(shapes["server"], shapes["script"]);

    // Opening the job (its link) loads its output as text.
    browser
        .eval("document.getElementById('output').textContent = ''")
        .await;
    browser
        .eval("document.querySelector('#jobs a.job-link').click()")
        .await;
    browser
        .wait_for(
            &format!(
                "document.body.dataset.output === 'log' && document.getElementById('output').textContent === {}",
                json!(format!("{PRINTED}\ndeployed refs/heads/{BRANCH}\n"))
            ),
            WAIT,
        )
        .await;
    assert_eq!(browser.eval("location.search").await, format!("?job={id}"));
    assert_eq!(
        browser
            .eval("document.getElementById('output-job').textContent")
            .await,
        format!("job #{id} · app succeeded")
    );
    assert_eq!(
        browser.eval(INJECTED).await,
        json!({ "pwned": null, "scripts": 1, "images": 0, "italics": 0, "bold": 0 })
    );
    browser.assert_loaded_only_from(&app.base).await;
    browser
        .close_without_problems("no script errors, no CSP violations")
        .await;
    app.stop().await;
}

#[tokio::test]
async fn the_running_jobs_output_comes_live_and_its_row_turns_red_when_it_fails_without_a_reload() {
    let dir = tempfile::tempdir().unwrap();
    let go = dir.path().join("go");
    let command = script(
        dir.path(),
        "slow.sh",
        &format!(
            "echo 'step 1 <b>pulled</b>'\nwhile [ ! -f '{}' ]; do sleep 0.05; done\necho 'step 2 <i>failed</i>'\nexit 3",
            go.display()
        ),
    );
    let app = spawn_app(&config(&command, ""), &dir.path().join("data")).await;
    let id = push(&app, "d-1").await;
    app.wait_for_job(id, WAIT, |job| job["state"] == "running")
        .await;

    let Some(mut browser) = Browser::launch().await else {
        return;
    };
    browser
        .open(&format!("{}/dashboard", app.base), UPDATED, WAIT)
        .await;
    browser.mark_document().await;
    let output = "document.getElementById('output').textContent";
    browser
        .wait_for(
            &format!(
                "document.body.dataset.output === 'live' && {output} === 'step 1 <b>pulled</b>\\n'"
            ),
            WAIT,
        )
        .await;
    let running = browser
        .eval(
            r#"({
  row: document.querySelector('#jobs tr.job').className,
  hookJob: document.querySelector('#hooks .h-job').textContent,
  counts: [...document.querySelectorAll('#counts li')].map(li => li.textContent),
  title: document.title,
})"#,
        )
        .await;
    assert_eq!(
        running,
        json!({ "row": "job job-running shown", "hookJob": format!("running #{id} "),
                "counts": ["1 running", "0 queued", "0 failed"], "title": "(1 running) Webhook handler" })
    );

    std::fs::write(&go, "").unwrap();
    browser
        .wait_for(
            &format!(
                "{output} === 'step 1 <b>pulled</b>\\nstep 2 <i>failed</i>\\n' && document.body.dataset.output === 'ended' && document.querySelector('#jobs tr.job').classList.contains('job-failed')"
            ),
            WAIT,
        )
        .await;
    let ended = browser
        .eval(
            r#"({
  badge: getComputedStyle(document.querySelector('#jobs .badge')).backgroundColor,
  state: document.querySelector('#jobs .j-state').textContent,
  exit: document.querySelector('#jobs .j-exit').textContent,
  reason: document.querySelector('#jobs .j-reason').textContent,
  duration: document.querySelector('#jobs .j-duration').textContent,
  outputState: document.querySelector('#output-job .badge').textContent,
})"#,
        )
        .await;
    assert_eq!(ended["badge"], RED, "{ended:#}");
    assert_eq!(ended["state"], "failed");
    assert_eq!(ended["exit"], "3");
    assert!(!ended["reason"].as_str().unwrap().is_empty(), "{ended:#}");
    assert!(
        ended["duration"].as_str().unwrap().ends_with(" s")
            || ended["duration"].as_str().unwrap().ends_with(" ms"),
        "{ended:#}"
    );
    assert_eq!(ended["outputState"], "failed");
    assert!(browser.same_document().await, "the page was never reloaded");
    assert_eq!(
        browser.eval(INJECTED).await,
        json!({ "pwned": null, "scripts": 1, "images": 0, "italics": 0, "bold": 0 })
    );
    browser
        .close_without_problems("no script errors, no CSP violations")
        .await;
    app.stop().await;
}

#[tokio::test]
async fn without_javascript_the_server_render_shows_the_tables_and_a_jobs_output() {
    let dir = tempfile::tempdir().unwrap();
    let command = printing_script(dir.path());
    let app = spawn_app(&config(&command, ""), &dir.path().join("data")).await;
    let id = push(&app, "d-1").await;
    app.wait_for_job_end(id, WAIT).await;
    forged_push(&app).await;

    let Some(mut browser) = Browser::launch().await else {
        return;
    };
    browser.disable_javascript().await;
    browser.goto(&format!("{}/dashboard", app.base)).await;
    let page = browser
        .eval(
            r#"({
  updates: document.body.dataset.updates,
  conn: document.getElementById('conn').textContent,
  refresh: document.querySelector('meta[http-equiv="refresh"]').getAttribute('content'),
  hooks: document.querySelectorAll('#hooks tr.hook').length,
  jobs: [...document.querySelectorAll('#jobs tr.job')].map(tr => tr.className),
  deliveries: [...document.querySelectorAll('#deliveries tr.delivery')].map(tr => tr.className),
  why: document.querySelector('#deliveries .outcome-rejected .d-why').textContent,
  output: document.getElementById('output').textContent,
  followShown: document.getElementById('output-follow').offsetParent !== null,
})"#,
        )
        .await;
    assert!(
        page["why"].as_str().unwrap().contains("does not match"),
        "{page:#}"
    );
    assert_eq!(
        page,
        json!({ "updates": "0", "conn": "auto-refresh 5 s", "refresh": "5", "hooks": 1,
                "jobs": ["job job-succeeded shown"],
                "deliveries": ["delivery outcome-rejected", "delivery outcome-accepted"],
                "why": page["why"],
                "output": format!("{PRINTED}\ndeployed refs/heads/{BRANCH}\n"), "followShown": false })
    );
    let tables = browser.eval(&format!("{READ_TABLES}(document)")).await;
    assert_eq!(
        cell(&tables["jobs"][0], 3),
        format!("{REPO}@<i>c0ff ({BRANCH})")
    );
    assert_eq!(
        browser.eval(INJECTED).await,
        json!({ "pwned": null, "scripts": 1, "images": 0, "italics": 0, "bold": 0 })
    );

    // A job's link shows that job on the page, pinned, with a way back.
    browser
        .eval("document.querySelector('#deliveries a.job-link').click()")
        .await;
    browser
        .wait_for(
            &format!("location.search === '?job={id}' && document.readyState === 'complete'"),
            WAIT,
        )
        .await;
    let pinned = browser
        .eval(
            r#"({
  job: document.getElementById('output-panel').dataset.job,
  followShown: document.getElementById('output-follow').offsetParent !== null,
  raw: document.getElementById('output-raw').getAttribute('href'),
})"#,
        )
        .await;
    assert_eq!(
        pinned,
        json!({ "job": id.to_string(), "followShown": true, "raw": format!("jobs/{id}/log") })
    );
    // A job that does not exist is said so, not an error page.
    browser
        .goto(&format!("{}/dashboard?job=999", app.base))
        .await;
    assert_eq!(
        browser
            .eval("document.getElementById('output-job').textContent")
            .await,
        "no job #999"
    );
    browser.close().await;
    app.stop().await;
}

#[tokio::test]
async fn with_auth_the_page_and_its_data_ask_for_credentials_and_work_with_them() {
    let dir = tempfile::tempdir().unwrap();
    let command = printing_script(dir.path());
    let app = spawn_app(
        &config(&command, "[auth]\ntoken = \"s3cret\""),
        &dir.path().join("data"),
    )
    .await;
    let id = push(&app, "d-1").await;
    for path in ["/dashboard", "/hooks", "/jobs", "/deliveries"] {
        let (status, _) = app.get_text(path).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
    }

    let Some(mut browser) = Browser::launch().await else {
        return;
    };
    // As a browser does once the prompt was answered: every request of the page carries them.
    browser.call("Network.enable", json!({})).await;
    browser
        .call(
            "Network.setExtraHTTPHeaders",
            json!({ "headers": { "Authorization": "Bearer s3cret" } }),
        )
        .await;
    browser
        .open(&format!("{}/dashboard", app.base), UPDATED, WAIT)
        .await;
    browser
        .wait_for(
            &format!(
                "document.querySelector('#jobs tr.job[data-id=\"{id}\"]') !== null && document.body.dataset.conn === 'live'"
            ),
            WAIT,
        )
        .await;
    browser
        .close_without_problems("no script errors, no CSP violations")
        .await;
    app.stop().await;
}

#[tokio::test]
async fn a_disabled_dashboard_is_404_while_the_jobs_api_still_answers() {
    let dir = tempfile::tempdir().unwrap();
    let command = printing_script(dir.path());
    let app = spawn_app(
        &format!("[server]\ndashboard = false\n{}", config(&command, "")),
        &dir.path().join("data"),
    )
    .await;
    let id = push(&app, "d-1").await;
    app.wait_for_job_end(id, WAIT).await;
    let (status, body) = app.get_json("/dashboard").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body["error"].is_string(), "{body}");
    let (status, jobs) = app.get_json("/jobs").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(jobs["jobs"][0]["id"], id);
}
