//! The status page, in a real headless Chromium driven over the DevTools protocol: colours
//! per status, live updates without reloading (event stream and polling fallback), escaping
//! of hostile text, the no-JavaScript fallback, the CSP, and the page switched off.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::{service, spawn_app, start_target, TestApp};

use service_kit_testing::browser::Browser;
use service_kit_testing::page::{assert_markup_escaped, assert_strict_page_at};

/// How long checks get to reach the state a test needs.
const WAIT: Duration = Duration::from_secs(20);

/// Three HTTP endpoints that are up, degraded (600 ms > 100 ms) and down (HTTP 500).
fn three_colour_config(base: &str) -> String {
    format!(
        r#"
[dashboard]
title = "Wall screen"

[checks]
interval_secs = 1
timeout_ms = 3000
endpoints = [
  {{ name = "web", url = "{base}/ok", type = "http" }},
  {{ name = "api", url = "{base}/slow", type = "http", degraded_ms = 100 }},
  {{ name = "worker", url = "{base}/error", type = "http" }},
]
"#
    )
}

/// A single endpoint on the target's `/switch`, checked every second.
fn switch_config(base: &str) -> String {
    format!(
        r#"
[checks]
interval_secs = 1
endpoints = [ {{ name = "switch", url = "{base}/switch", type = "http" }} ]
"#
    )
}

fn has_status(status: &Value, name: &str, want: &str) -> bool {
    service(status, name).is_some_and(|s| s["status"] == want)
}

/// Opens the app's dashboard and waits until the JavaScript condition `ready` holds.
async fn open(browser: &mut Browser, app: &TestApp, ready: &str) {
    browser
        .open(&format!("{}/dashboard", app.base), ready, WAIT)
        .await;
}

/// The names of the cards in server-rendered HTML, in order.
fn card_names(html: &str) -> Vec<String> {
    html.split(r#"<article class="card"#)
        .skip(1)
        .filter_map(|card| {
            let rest = card.split_once(r#"data-name=""#)?.1;
            Some(rest.split_once('"')?.0.to_string())
        })
        .collect()
}

/// What the page shows, read from the live DOM: per card its status, classes, the colour
/// the browser actually paints its dot and badge with, and its texts; plus the banner.
const READ_PAGE: &str = r#"(() => {
  const text = (root, sel) => { const n = root.querySelector(sel); return n ? n.textContent : null; };
  return {
    updates: Number(document.body.dataset.updates),
    source: document.body.dataset.source,
    conn: document.body.dataset.conn,
    connText: text(document, '#conn'),
    title: document.title,
    banner: {
      status: document.getElementById('banner').dataset.status,
      word: text(document, '#overall-word'),
      sentence: text(document, '#overall-text'),
      heading: text(document, '#title'),
      background: getComputedStyle(document.getElementById('banner')).backgroundColor,
      counts: [...document.querySelectorAll('#counts li')].map(li => li.textContent),
    },
    cards: [...document.querySelectorAll('article.card')].map(card => ({
      name: card.dataset.name,
      status: card.dataset.status,
      className: card.className,
      heading: text(card, '.name'),
      badge: text(card, '.badge'),
      dot: getComputedStyle(card.querySelector('.dot')).backgroundColor,
      badgeBackground: getComputedStyle(card.querySelector('.badge')).backgroundColor,
      target: text(card, '.url'),
      kind: text(card, '.kind'),
      latency: text(card, '.latency'),
      uptime: text(card, '.uptime'),
      checked: text(card, 'time.ago'),
      error: text(card, '.message-error'),
      detail: text(card, '.message-detail'),
      lastError: text(card, '.last-error'),
      points: [...card.querySelectorAll('svg circle')].map(c => c.getAttribute('class')),
    })),
  };
})()"#;

fn card<'a>(page: &'a Value, name: &str) -> &'a Value {
    page["cards"]
        .as_array()
        .and_then(|cards| cards.iter().find(|c| c["name"] == name))
        .unwrap_or_else(|| panic!("no card named {name:?} on the page: {page:#}"))
}

/// The JavaScript condition "the card named `name` shows `status`".
fn card_shows(name: &str, status: &str) -> String {
    format!(
        "[...document.querySelectorAll('article.card')].some(c => c.dataset.name === {} && c.dataset.status === {})",
        json!(name),
        json!(status)
    )
}

#[tokio::test]
async fn the_page_shows_green_yellow_and_red_for_up_degraded_and_down_services() {
    let target = start_target().await;
    let app = spawn_app(&three_colour_config(&target.base)).await;
    // A few checks each, so the sparklines in the screenshot have something to show.
    let enough_history = |s: &Value| {
        s["services"].as_array().is_some_and(|all| {
            all.iter()
                .all(|v| v["history"].as_array().is_some_and(|h| h.len() >= 4))
        })
    };
    app.wait_for_status(WAIT, |s| {
        has_status(s, "web", "up")
            && has_status(s, "api", "degraded")
            && has_status(s, "worker", "down")
            && enough_history(s)
    })
    .await;

    let (code, html) = app.get("/dashboard").await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(card_names(&html), ["web", "api", "worker"]);
    assert!(html.contains(r#"class="card status-up" data-name="web""#));
    assert!(html.contains(r#"class="card status-degraded" data-name="api""#));
    assert!(html.contains(r#"class="card status-down" data-name="worker""#));

    let Some(mut browser) = Browser::launch().await else {
        return;
    };
    open(
        &mut browser,
        &app,
        "Number(document.body.dataset.updates) >= 1",
    )
    .await;
    let page = browser.eval(READ_PAGE).await;

    // The same services as the server render, in config order.
    let names: Vec<&str> = page["cards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["web", "api", "worker"]);

    let green = "rgb(46, 158, 68)";
    let yellow = "rgb(212, 160, 23)";
    let red = "rgb(208, 49, 45)";
    for (name, path, status, colour) in [
        ("web", "ok", "up", green),
        ("api", "slow", "degraded", yellow),
        ("worker", "error", "down", red),
    ] {
        let card = card(&page, name);
        assert_eq!(card["status"], status, "{card:#}");
        assert!(card["className"]
            .as_str()
            .unwrap()
            .contains(&format!("status-{status}")));
        assert_eq!(
            card["dot"], colour,
            "the dot of {name} is painted in its status colour"
        );
        assert_eq!(card["badgeBackground"], colour);
        assert_eq!(
            card["badge"], status,
            "the status word is written out, not only coloured"
        );
        assert_eq!(card["kind"], "http");
        assert_eq!(card["target"], format!("{}/{path}", target.base));
        assert!(
            card["latency"].as_str().unwrap().ends_with(" ms"),
            "{card:#}"
        );
        assert!(card["uptime"].as_str().unwrap().ends_with(" %"), "{card:#}");
        assert!(
            card["checked"].as_str().unwrap().ends_with(" s ago"),
            "{card:#}"
        );
        let points = card["points"].as_array().unwrap();
        assert!(
            !points.is_empty(),
            "the sparkline has a point per check: {card:#}"
        );
        assert!(points
            .iter()
            .any(|p| p.as_str().unwrap().contains(&format!("pt-{status}"))));
    }
    assert!(
        card(&page, "api")["detail"]
            .as_str()
            .unwrap()
            .contains("ms"),
        "{page:#}"
    );
    assert_eq!(
        card(&page, "worker")["error"],
        "unexpected HTTP status 500 (expected 200-399)"
    );

    let banner = &page["banner"];
    assert_eq!(banner["status"], "unhealthy");
    assert_eq!(banner["word"], "unhealthy");
    assert_eq!(banner["background"], red);
    assert_eq!(banner["sentence"], "1 service down");
    assert_eq!(banner["heading"], "Wall screen");
    assert_eq!(banner["counts"], json!(["1 up", "1 degraded", "1 down"]));
    assert_eq!(page["title"], "(1 down) Wall screen");
    assert_eq!(page["conn"], "live");

    browser
        .save_screenshot(
            "healthcheck-dashboard.png",
            10_000,
            env!("CARGO_TARGET_TMPDIR"),
        )
        .await;
    browser
        .close_without_problems("no script errors, no CSP violations")
        .await;
}

#[tokio::test]
async fn the_page_follows_a_service_going_down_and_up_again_without_reloading() {
    let target = start_target().await;
    let app = spawn_app(&switch_config(&target.base)).await;
    app.wait_for_status(WAIT, |s| has_status(s, "switch", "up"))
        .await;

    let Some(mut browser) = Browser::launch().await else {
        return;
    };
    open(
        &mut browser,
        &app,
        "document.body.dataset.conn === 'live' && Number(document.body.dataset.updates) >= 1",
    )
    .await;
    assert!(browser
        .eval(&card_shows("switch", "up"))
        .await
        .as_bool()
        .unwrap());
    // A mark on this very document: a reload would wipe it.
    browser.mark_document().await;
    let updates_before = browser
        .eval("Number(document.body.dataset.updates)")
        .await
        .as_u64()
        .unwrap();

    target
        .switch_status
        .store(500, std::sync::atomic::Ordering::SeqCst);
    browser.wait_for(&card_shows("switch", "down"), WAIT).await;
    let page = browser.eval(READ_PAGE).await;
    assert_eq!(card(&page, "switch")["badge"], "down");
    assert_eq!(
        card(&page, "switch")["error"],
        "unexpected HTTP status 500 (expected 200-399)"
    );
    assert_eq!(page["banner"]["status"], "unhealthy");
    assert_eq!(
        page["source"], "sse",
        "the change came over the event stream"
    );
    assert!(
        page["updates"].as_u64().unwrap() > updates_before,
        "{page:#}"
    );

    target
        .switch_status
        .store(200, std::sync::atomic::Ordering::SeqCst);
    browser.wait_for(&card_shows("switch", "up"), WAIT).await;
    let page = browser.eval(READ_PAGE).await;
    let last_error = page["cards"][0]["lastError"].as_str().unwrap().to_string();
    assert!(
        last_error.starts_with("Last error ") && last_error.contains("unexpected HTTP status 500"),
        "{page:#}"
    );
    assert_eq!(page["banner"]["status"], "healthy");
    assert_eq!(page["banner"]["background"], "rgb(46, 158, 68)");
    assert!(browser.same_document().await, "the page was never reloaded");

    // The "checked N s ago" text is kept current by the page itself.
    browser
        .wait_for(
            "/^\\d+ s ago$/.test(document.querySelector('article.card time.ago').textContent)",
            WAIT,
        )
        .await;
    browser
        .close_without_problems("no script errors, no CSP violations")
        .await;
}

/// The shape of a rendered page: per banner and card, every element's tag, classes and
/// `data-rel`, in document order. Left out: what may change between two renders a moment
/// apart (the points inside sparklines, the uptime's colour band) and the connection state.
const PAGE_SHAPE: &str = r#"(root) => [root.querySelector('#banner'), ...root.querySelectorAll('article.card')].map(top =>
  [top, ...top.querySelectorAll('*')]
    .filter(n => !n.closest('svg') || n.tagName.toLowerCase() === 'svg')
    .map(n => {
      const classes = (n.getAttribute('class') || '').split(' ').filter(c => !/^(uptime|conn)-/.test(c)).join(' ');
      return n.tagName.toLowerCase() + '.' + classes + (n.dataset && n.dataset.rel ? '@' + n.dataset.rel : '');
    })
    .join(' '))"#;

#[tokio::test]
async fn the_script_renders_the_same_markup_as_the_server() {
    let target = start_target().await;
    let port = target.base.rsplit(':').next().unwrap();
    let app = spawn_app(&format!(
        r#"
[checks]
interval_secs = 1
timeout_ms = 3000
endpoints = [
  {{ name = "web", url = "{base}/ok", type = "http" }},
  {{ name = "api", url = "{base}/slow", type = "http", degraded_ms = 100 }},
  {{ name = "worker", url = "{base}/error", type = "http" }},
  {{ name = "switch", url = "{base}/switch", type = "http" }},
  {{ name = "port", url = "127.0.0.1:{port}", type = "tcp" }},
]
"#,
        base = target.base
    ))
    .await;
    // `switch` fails once and recovers, so its card carries a "last error" line.
    app.wait_for_status(WAIT, |s| has_status(s, "switch", "up"))
        .await;
    target
        .switch_status
        .store(500, std::sync::atomic::Ordering::SeqCst);
    app.wait_for_status(WAIT, |s| has_status(s, "switch", "down"))
        .await;
    target
        .switch_status
        .store(200, std::sync::atomic::Ordering::SeqCst);
    app.wait_for_status(WAIT, |s| {
        has_status(s, "switch", "up")
            && has_status(s, "api", "degraded")
            && has_status(s, "port", "up")
    })
    .await;

    let Some(mut browser) = Browser::launch().await else {
        return;
    };
    open(&mut browser, &app, "document.body.dataset.source === 'sse'").await;
    let shapes = browser
        .server_and_script_shapes("dashboard", PAGE_SHAPE, "() => true")
        .await;
    assert_eq!(shapes["script"].as_array().unwrap().len(), 6, "{shapes:#}");
    assert_eq!(shapes["script"], shapes["server"]);
    let switch_card = shapes["script"][4].as_str().unwrap();
    assert!(
        switch_card.contains("p.last-error time.at@ago span.last-error-text"),
        "{switch_card}"
    );
    assert!(
        shapes["script"][5]
            .as_str()
            .unwrap()
            .contains("p.message message-note"),
        "{shapes:#}"
    );
    browser
        .close_without_problems("no script errors, no CSP violations")
        .await;
}

#[tokio::test]
async fn without_event_source_the_page_polls_the_status_api() {
    let target = start_target().await;
    let app = spawn_app(&switch_config(&target.base)).await;
    app.wait_for_status(WAIT, |s| has_status(s, "switch", "up"))
        .await;

    let Some(mut browser) = Browser::launch().await else {
        return;
    };
    browser.before_each_page("delete window.EventSource;").await;
    open(
        &mut browser,
        &app,
        "document.body.dataset.source === 'poll' && document.body.dataset.conn === 'polling'",
    )
    .await;
    assert_eq!(
        browser
            .eval("document.getElementById('conn').textContent")
            .await,
        "polling every 5 s"
    );
    browser.mark_document().await;

    target
        .switch_status
        .store(503, std::sync::atomic::Ordering::SeqCst);
    browser.wait_for(&card_shows("switch", "down"), WAIT).await;
    assert!(browser.same_document().await, "the page was never reloaded");
    assert_eq!(browser.eval("document.body.dataset.source").await, "poll");
    browser
        .close_without_problems("no script errors, no CSP violations")
        .await;
}

#[tokio::test]
async fn markup_in_names_titles_and_command_output_is_shown_as_text_and_never_runs() {
    let target = start_target().await;
    let app = spawn_app(&format!(
        r#"
[dashboard]
title = "<img src=x onerror=alert(1)>Stack"

[checks]
interval_secs = 1
endpoints = [
  {{ name = "<b>evil</b>", url = "{}/markup", type = "http" }},
  {{ name = "cmd", type = "command", command = ["sh", "-c", "echo '<script>alert(1)</script>'; exit 1"] }},
]
"#,
        target.base
    ))
    .await;
    app.wait_for_status(WAIT, |s| {
        has_status(s, "<b>evil</b>", "down") && has_status(s, "cmd", "down")
    })
    .await;

    let (_, html) = app.get("/dashboard").await;
    assert_markup_escaped(&html, &["<script>alert", "<img src=x", "<b>evil"]);
    assert!(html.contains("exit 1: &lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;Stack"));
    assert!(html.contains("&lt;b&gt;evil&lt;/b&gt;"));

    let Some(mut browser) = Browser::launch().await else {
        return;
    };
    browser
        .before_each_page(
            "window.alerts = []; window.alert = (m) => window.alerts.push(String(m));",
        )
        .await;
    // Wait for the script to have rebuilt the page from the event stream's JSON.
    open(&mut browser, &app, "document.body.dataset.source === 'sse'").await;
    let page = browser.eval(READ_PAGE).await;
    assert_eq!(card(&page, "<b>evil</b>")["heading"], "<b>evil</b>");
    assert_eq!(
        card(&page, "cmd")["error"],
        "exit 1: <script>alert(1)</script>"
    );
    assert_eq!(
        page["banner"]["heading"],
        "<img src=x onerror=alert(1)>Stack"
    );
    assert_eq!(page["title"], "(2 down) <img src=x onerror=alert(1)>Stack");

    let injected = browser
        .eval(
            r#"({
  scripts: document.scripts.length,
  images: document.querySelectorAll('img').length,
  boldEvil: [...document.querySelectorAll('b')].filter(b => b.textContent === 'evil').length,
  alerts: window.alerts,
})"#,
        )
        .await;
    assert_eq!(
        injected,
        json!({ "scripts": 1, "images": 0, "boldEvil": 0, "alerts": [] })
    );
    browser.close().await;
}

#[tokio::test]
async fn without_javascript_the_server_render_is_complete_and_refreshes_itself() {
    let target = start_target().await;
    let app = spawn_app(&format!(
        r#"
[checks]
interval_secs = 7
endpoints = [
  {{ name = "web", url = "{base}/ok", type = "http" }},
  {{ name = "worker", url = "{base}/error", type = "http" }},
]
"#,
        base = target.base
    ))
    .await;
    app.wait_for_status(WAIT, |s| s["ready"] == true).await;
    let (_, html) = app.get("/dashboard").await;
    assert!(html.contains(r#"<noscript><meta http-equiv="refresh" content="7"></noscript>"#));

    let Some(mut browser) = Browser::launch().await else {
        return;
    };
    browser.disable_javascript().await;
    browser.goto(&format!("{}/dashboard", app.base)).await;
    let page = browser.eval(READ_PAGE).await;
    assert_eq!(page["updates"], 0, "no script ran");
    assert_eq!(page["connText"], "auto-refresh 7 s");
    assert_eq!(card(&page, "web")["dot"], "rgb(46, 158, 68)");
    assert_eq!(card(&page, "worker")["dot"], "rgb(208, 49, 45)");
    assert_eq!(
        card(&page, "worker")["error"],
        "unexpected HTTP status 500 (expected 200-399)"
    );
    assert_eq!(page["banner"]["word"], "unhealthy");
    assert_eq!(
        page["banner"]["counts"],
        json!(["1 up", "0 degraded", "1 down"])
    );
    browser.close().await;
}

#[tokio::test]
async fn the_page_sends_a_strict_csp_and_loads_nothing_from_elsewhere() {
    let target = start_target().await;
    let app = spawn_app(&three_colour_config(&target.base)).await;
    app.wait_for_status(WAIT, |s| s["ready"] == true).await;

    assert_strict_page_at(&format!("{}/dashboard", app.base)).await;

    let Some(mut browser) = Browser::launch().await else {
        return;
    };
    open(&mut browser, &app, "document.body.dataset.source === 'sse'").await;
    browser.assert_loaded_only_from(&app.base).await;
    browser
        .close_without_problems("the nonce'd style and script ran without CSP violations")
        .await;
}

#[tokio::test]
async fn a_disabled_dashboard_is_404_while_health_still_answers() {
    let target = start_target().await;
    let app = spawn_app(&format!(
        r#"
[checks]
interval_secs = 1
endpoints = [ {{ name = "web", url = "{}/ok", type = "http" }} ]

[dashboard]
enabled = false
"#,
        target.base
    ))
    .await;
    app.wait_for_status(WAIT, |s| s["ready"] == true).await;
    assert_eq!(app.get("/dashboard").await.0, StatusCode::NOT_FOUND);
    assert_eq!(app.get("/").await.0, StatusCode::NOT_FOUND);
    let (code, health) = app.get_json("/health").await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(health["status"], "healthy");
}
