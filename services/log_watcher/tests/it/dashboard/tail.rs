//! The tail: events with their services and level colours, live lines at the bottom
//! without a reload, pausing, and log text with markup shown as text, never run.

use serde_json::json;
use service_kit_testing::browser::Browser;
use service_kit_testing::page::assert_markup_escaped;

use super::*;
use crate::support::{append, spawn_app};

#[tokio::test]
async fn events_from_two_files_show_with_their_services_and_level_colours() {
    let logs = Logs::new();
    let (api, web) = (logs.file("api.log"), logs.file("web.log"));
    let app = spawn_app(&config(&[&api, &web], ""), &logs.data()).await;
    append(&api, "ERROR Database connection failed: timeout\n");
    append(&web, "WARNING Deprecated API usage detected.\n");
    append(&web, "INFO GET /health 200\n");
    append(&api, "CRITICAL Out of memory\n");
    append(
        &api,
        "ERROR Exception in ASGI application\nTraceback (most recent call last):\n  File \"/app/main.py\", line 12, in handler\n    return compute()\nValueError: bad input\n",
    );
    app.wait_for_events("limit=100", WAIT, |e| e.len() >= 5)
        .await;

    let (code, _, html) = get(&app, "/dashboard").await;
    assert_eq!(code, StatusCode::OK);
    assert!(html.contains("Database connection failed: timeout</pre>"));
    assert!(html.contains(r#"<span class="lvl lvl-warning">WARNING</span>"#));

    let Some(mut browser) = Browser::launch().await else {
        return;
    };
    open(&mut browser, &app, "/dashboard").await;
    let rows = browser.eval(READ_ROWS).await;
    assert_eq!(rows.as_array().unwrap().len(), 5, "{rows:#}");
    for (message, service, level, colour) in [
        ("Database connection failed: timeout", "api", "ERROR", RED),
        ("Deprecated API usage detected.", "web", "WARNING", YELLOW),
        ("GET /health 200", "web", "INFO", BLUE),
        ("Out of memory", "api", "CRITICAL", MAGENTA),
    ] {
        let row = row(&rows, message);
        assert_eq!(row["service"], service, "{row:#}");
        assert_eq!(
            row["level"], level,
            "the level is written out, not only coloured"
        );
        assert_eq!(
            row["badge"], colour,
            "the badge of {message:?} is painted in its level's colour"
        );
        assert!(row["className"]
            .as_str()
            .unwrap()
            .contains(&format!("ev-{}", level.to_lowercase())));
        assert!(
            is_time_of_day(row["time"].as_str().unwrap()),
            "today's events show the time of day: {row:#}"
        );
    }
    // The traceback is one event, shown with its lines.
    let traceback = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| {
            r["message"]
                .as_str()
                .unwrap()
                .starts_with("Exception in ASGI application")
        })
        .unwrap_or_else(|| panic!("{rows:#}"));
    assert!(traceback["message"]
        .as_str()
        .unwrap()
        .ends_with("\nValueError: bad input"));
    assert!(traceback["className"].as_str().unwrap().contains("multi"));
    assert!(
        traceback["shownLines"].as_u64().unwrap() >= 5,
        "{traceback:#}"
    );
    // The services seen are offered by the service filter.
    let services = browser
        .eval("[...document.querySelectorAll('#f-service option')].map(o => o.value)")
        .await;
    assert_eq!(services, json!(["", "api", "web"]));
    assert_eq!(
        browser
            .eval("document.getElementById('sources-text').textContent")
            .await,
        "2 sources open"
    );
    browser
        .close_without_problems("no script errors, no CSP violations")
        .await;
}

/// `01:23:45`: a time of day without a date.
fn is_time_of_day(text: &str) -> bool {
    text.len() == 8
        && text.chars().enumerate().all(|(i, c)| {
            if i == 2 || i == 5 {
                c == ':'
            } else {
                c.is_ascii_digit()
            }
        })
}

#[tokio::test]
async fn a_line_appended_after_the_page_loaded_appears_at_the_bottom_without_a_reload() {
    let logs = Logs::new();
    let api = logs.file("api.log");
    let app = spawn_app(&config(&[&api], ""), &logs.data()).await;
    for i in 0..80 {
        append(&api, &format!("INFO request {i} served\n"));
    }
    app.wait_for_events("limit=100", WAIT, |e| e.len() == 80)
        .await;

    let Some(mut browser) = Browser::launch().await else {
        return;
    };
    open(&mut browser, &app, "/dashboard").await;
    // A mark on this very document: a reload would wipe it.
    browser.mark_document().await;

    append(&api, "ERROR payment provider returned 502\n");
    browser
        .wait_for(&row_shows("payment provider returned 502"), WAIT)
        .await;
    let last = browser
        .eval(r#"(() => {
  const rows = [...document.querySelectorAll('#events tr.ev')];
  const last = rows[rows.length - 1];
  const tail = document.getElementById('tail').getBoundingClientRect();
  const box = last.getBoundingClientRect();
  return { message: last.querySelector('.msg').textContent, level: last.querySelector('.lvl').textContent,
           inView: box.bottom <= tail.bottom + 1 && box.top >= tail.top, fresh: last.classList.contains('fresh'),
           count: rows.length, shown: document.getElementById('shown').textContent };
})()"#)
        .await;
    assert_eq!(
        last,
        json!({ "message": "payment provider returned 502", "level": "ERROR", "inView": true, "fresh": true,
                "count": 81, "shown": "81 events" }),
        "the newest event is the last row, and in view"
    );
    assert!(browser.same_document().await, "the page was never reloaded");

    // Paused, new events wait behind a button instead of moving the table.
    browser
        .eval("document.getElementById('follow').click()")
        .await;
    assert_eq!(
        browser
            .eval("document.getElementById('follow').textContent")
            .await,
        "paused"
    );
    append(&api, "WARNING disk 91% full\n");
    browser
        .wait_for("!document.getElementById('new-events').hidden", WAIT)
        .await;
    assert_eq!(
        browser
            .eval("document.getElementById('new-events').textContent")
            .await,
        "↓ 1 new event · follow"
    );
    assert_eq!(browser.eval(&row_shows("disk 91% full")).await, false);
    browser
        .eval("document.getElementById('new-events').click()")
        .await;
    assert_eq!(browser.eval(&row_shows("disk 91% full")).await, true);
    assert_eq!(
        browser
            .eval("document.getElementById('follow').textContent")
            .await,
        "following"
    );
    browser
        .close_without_problems("no script errors, no CSP violations")
        .await;
}

#[tokio::test]
async fn markup_in_a_log_line_is_shown_as_text_and_never_runs() {
    let logs = Logs::new();
    let api = logs.file("api.log");
    let app = spawn_app(&config(&[&api], ""), &logs.data()).await;
    append(&api, &format!("ERROR {MARKUP}\n"));
    app.wait_for_events("", WAIT, |e| e.len() == 1).await;

    let (_, _, html) = get(&app, "/dashboard").await;
    assert_markup_escaped(&html, &["<img src=x", "<script>window", "<b>bold"]);
    assert!(html.contains("&lt;img src=x onerror=&quot;window.__pwned=1&quot;&gt;&lt;script&gt;"));

    let Some(mut browser) = Browser::launch().await else {
        return;
    };
    open(&mut browser, &app, "/dashboard").await;
    // Once through the query the script ran on load, once live through the stream.
    append(&api, &format!("WARNING again: {MARKUP}\n"));
    browser
        .wait_for(&row_shows(&format!("again: {MARKUP}")), WAIT)
        .await;
    let rows = browser.eval(READ_ROWS).await;
    assert_eq!(row(&rows, MARKUP)["level"], "ERROR");
    let injected = browser
        .eval(
            r#"({
  pwned: window.__pwned === undefined ? null : window.__pwned,
  scripts: document.scripts.length,
  images: document.querySelectorAll('img').length,
  bold: document.querySelectorAll('b').length - document.querySelectorAll('#counts b, #totals b').length,
})"#,
        )
        .await;
    assert_eq!(
        injected,
        json!({ "pwned": null, "scripts": 1, "images": 0, "bold": 0 })
    );
    browser
        .close_without_problems("no script errors, no CSP violations")
        .await;
}
