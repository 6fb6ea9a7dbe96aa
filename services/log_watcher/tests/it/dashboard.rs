//! The dashboard, in a real headless Chromium driven over the DevTools protocol: events of
//! several files with their services and level colours, live lines without reloading,
//! pausing, log text with markup shown as text, the level filter in the URL, the chart, the
//! script's markup against the server's, the no-JavaScript page, the CSP, auth, and the
//! page switched off.

use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use service_kit::test_util::browser::Browser;
use service_kit::test_util::page::{assert_markup_escaped, assert_strict_page_at};

use crate::support::{append, files_config, spawn_app, temp_dir, TestApp};

/// How long reading, the page and its stream get to reach the state a test needs.
const WAIT: Duration = Duration::from_secs(20);

/// A log line whose text is markup that would run if it were ever parsed as HTML.
const MARKUP: &str =
    r#"<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script><b>bold</b>"#;

/// The page has loaded its events, opened its stream and drawn its header and chart.
const READY: &str = "document.body.dataset.conn === 'live' && Number(document.body.dataset.loads) >= 1 && Number(document.body.dataset.updates) >= 1";

/// Level badge colours as the browser paints them (dashboard.css).
const RED: &str = "rgb(208, 49, 45)";
const YELLOW: &str = "rgb(212, 160, 23)";
const BLUE: &str = "rgb(63, 143, 216)";
const MAGENTA: &str = "rgb(192, 43, 208)";

/// What the tail shows, read from the live DOM: per row its texts, classes and the colour
/// its level badge is painted in; plus how many lines its message takes on screen.
const READ_ROWS: &str = r#"[...document.querySelectorAll('#events tr.ev')].map(tr => {
  const msg = tr.querySelector('.msg');
  return {
    className: tr.className,
    time: tr.querySelector('time').textContent,
    datetime: tr.querySelector('time').getAttribute('datetime'),
    service: tr.querySelector('.ev-service').textContent,
    level: tr.querySelector('.lvl').textContent,
    badge: getComputedStyle(tr.querySelector('.lvl')).backgroundColor,
    message: msg.textContent,
    shownLines: Math.round(msg.getBoundingClientRect().height / parseFloat(getComputedStyle(msg).lineHeight)),
  };
})"#;

/// A temporary log directory with the data directory beside it.
struct Logs {
    _guard: tempfile::TempDir,
    dir: PathBuf,
}

impl Logs {
    fn new() -> Logs {
        let (guard, dir) = temp_dir();
        std::fs::create_dir_all(dir.join("logs")).unwrap();
        Logs { _guard: guard, dir }
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir.join("logs").join(name)
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }
}

/// Every line from info up is an event.
fn config(files: &[&Path], extra: &str) -> String {
    files_config(
        files,
        &format!("[filters]\nlevels = [\"info\", \"warning\", \"error\", \"critical\"]\n{extra}"),
    )
}

/// GET `path`: status, headers and body text.
async fn get(app: &TestApp, path: &str) -> (StatusCode, reqwest::header::HeaderMap, String) {
    let response = reqwest::get(format!("{}{path}", app.base)).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    (status, headers, response.text().await.unwrap())
}

fn row<'a>(rows: &'a Value, message: &str) -> &'a Value {
    rows.as_array()
        .and_then(|all| all.iter().find(|r| r["message"] == message))
        .unwrap_or_else(|| panic!("no row with message {message:?}: {rows:#}"))
}

/// The JavaScript condition "a row's message is `message`".
fn row_shows(message: &str) -> String {
    format!(
        "[...document.querySelectorAll('#events .msg')].some(m => m.textContent === {})",
        json!(message)
    )
}

/// Opens the dashboard at `path` and waits until it is live.
async fn open(browser: &mut Browser, app: &TestApp, path: &str) {
    browser
        .open(&format!("{}{path}", app.base), READY, WAIT)
        .await;
}

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

#[tokio::test]
async fn the_level_filter_hides_warnings_and_survives_a_reload_through_the_url() {
    let logs = Logs::new();
    let (api, web) = (logs.file("api.log"), logs.file("web.log"));
    let app = spawn_app(&config(&[&api, &web], ""), &logs.data()).await;
    append(&api, "ERROR first failure\n");
    append(&web, "WARNING first warning\n");
    append(&web, "INFO first info\n");
    app.wait_for_events("", WAIT, |e| e.len() == 3).await;

    let Some(mut browser) = Browser::launch().await else {
        return;
    };
    open(&mut browser, &app, "/dashboard").await;
    browser.mark_document().await;
    browser
        .eval("(() => { const s = document.getElementById('f-level'); s.value = 'error'; s.dispatchEvent(new Event('change')); })()")
        .await;
    browser
        .wait_for(
            "location.search === '?level=error' && Number(document.body.dataset.loads) >= 2 && document.body.dataset.conn === 'live'",
            WAIT,
        )
        .await;
    let levels = |rows: &Value| -> Vec<String> {
        rows.as_array()
            .unwrap()
            .iter()
            .map(|r| r["level"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(levels(&browser.eval(READ_ROWS).await), ["ERROR"]);
    assert!(browser.same_document().await, "filtering does not reload");

    // The stream is filtered too: a new warning stays out, a new error comes in.
    append(&web, "WARNING second warning\n");
    append(&api, "ERROR second failure\n");
    browser.wait_for(&row_shows("second failure"), WAIT).await;
    assert_eq!(levels(&browser.eval(READ_ROWS).await), ["ERROR", "ERROR"]);
    // The chart's legend follows the filter.
    assert_eq!(
        browser
            .eval("[...document.querySelectorAll('#totals li')].map(li => li.className)")
            .await,
        json!(["total total-critical", "total total-error"])
    );

    browser.reload().await;
    browser.wait_for(READY, WAIT).await;
    assert_eq!(browser.eval("location.search").await, "?level=error");
    assert_eq!(
        browser
            .eval("document.getElementById('f-level').value")
            .await,
        "error"
    );
    assert_eq!(levels(&browser.eval(READ_ROWS).await), ["ERROR", "ERROR"]);
    assert!(!browser.same_document().await, "it was a real reload");

    // Back to all levels: the warnings return.
    browser
        .eval("(() => { const s = document.getElementById('f-level'); s.value = ''; s.dispatchEvent(new Event('change')); })()")
        .await;
    browser
        .wait_for(
            "location.search === '' && Number(document.body.dataset.events) === 5",
            WAIT,
        )
        .await;
    browser
        .close_without_problems("no script errors, no CSP violations")
        .await;
}

#[tokio::test]
async fn the_chart_shows_bars_for_the_levels_written_and_the_header_counts_them() {
    let logs = Logs::new();
    let (api, web) = (logs.file("api.log"), logs.file("web.log"));
    let app = spawn_app(&config(&[&api, &web], ""), &logs.data()).await;
    for i in 0..30 {
        append(&web, &format!("INFO GET /items/{i} 200\n"));
    }
    append(&web, "DEBUG cache warm\n");
    append(
        &api,
        "WARNING slow query (812 ms)\nWARNING slow query (903 ms)\n",
    );
    append(
        &api,
        "ERROR upstream timed out\nERROR upstream timed out\nERROR upstream timed out\n",
    );
    append(&api, "CRITICAL worker pool exhausted\n");
    app.wait_for_events("limit=100", WAIT, |e| e.len() == 36)
        .await;

    // The data behind the chart.
    let (code, series) = app.get_json("/summary/series?window=1h&step=60").await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(
        (series["window_secs"].as_i64(), series["step_secs"].as_i64()),
        (Some(3600), Some(60))
    );
    let buckets = series["buckets"].as_array().unwrap();
    assert_eq!(
        buckets.len(),
        60,
        "every minute of the hour, zeros included"
    );
    let sum = |level: &str| {
        buckets
            .iter()
            .map(|b| b["counts"][level].as_u64().unwrap())
            .sum::<u64>()
    };
    assert_eq!(
        [
            sum("info"),
            sum("debug"),
            sum("warning"),
            sum("error"),
            sum("critical")
        ],
        [30, 1, 2, 3, 1]
    );
    let (_, api_only) = app
        .get_json("/summary/series?window=10m&step=60&service=api")
        .await;
    assert_eq!(api_only["buckets"].as_array().unwrap().len(), 10);
    let api_info: u64 = api_only["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["counts"]["info"].as_u64().unwrap())
        .sum();
    assert_eq!(api_info, 0, "the service filter applies");
    for bad in [
        "window=soon",
        "step=0",
        "window=1h&step=2h",
        "window=1h&step=1",
        "window=2h&step=90",
        "color=red",
    ] {
        let (code, body) = app.get_json(&format!("/summary/series?{bad}")).await;
        assert_eq!(code, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert!(body["error"].is_string(), "{bad}: {body}");
    }

    let Some(mut browser) = Browser::launch().await else {
        return;
    };
    open(&mut browser, &app, "/dashboard").await;
    let chart = browser
        .eval(r#"(() => {
  const segs = level => [...document.querySelectorAll('#chart rect.seg-' + level)]
    .map(r => ({ height: Number(r.getAttribute('height')), fill: getComputedStyle(r).fill }));
  return {
    bars: document.querySelectorAll('#chart g.bar').length,
    info: segs('info'), debug: segs('debug'), warning: segs('warning'), error: segs('error'), critical: segs('critical'),
    totals: [...document.querySelectorAll('#totals li')].map(li => li.textContent),
    counts: [...document.querySelectorAll('#counts li')].map(li => li.textContent),
    title: document.title,
  };
})()"#)
        .await;
    assert_eq!(chart["bars"], 60, "{chart:#}");
    for (level, colour) in [
        ("info", BLUE),
        ("warning", YELLOW),
        ("error", RED),
        ("critical", MAGENTA),
    ] {
        // One minute had these lines (two, when a new minute began while they were read).
        let segs = chart[level].as_array().unwrap();
        assert!(matches!(segs.len(), 1 | 2), "{level}: {chart:#}");
        assert!(
            segs.iter().all(|s| s["height"].as_f64().unwrap() >= 2.0),
            "{chart:#}"
        );
        assert_eq!(segs[0]["fill"], colour);
    }
    assert_eq!(
        chart["totals"],
        json!([
            "critical 1",
            "error 3",
            "warning 2",
            "info 30",
            "debug 1",
            "trace 0"
        ])
    );
    assert_eq!(
        chart["counts"],
        json!(["1 critical", "3 errors", "2 warnings"])
    );
    assert_eq!(chart["title"], "(4 errors) Log watcher");
    browser
        .close_without_problems("no script errors, no CSP violations")
        .await;
}

/// The shape of the parts the script redraws: per part, every element's tag and classes
/// in document order. Left out: `fresh` (the highlight of rows that arrived live).
const PAGE_SHAPE: &str = r#"(root) => ['#counts', '#sources', '#totals', '#chart', '#events', '#f-service'].map(sel => {
  const top = root.querySelector(sel);
  return [top, ...top.querySelectorAll('*')].map(n => {
    const classes = (n.getAttribute('class') || '').split(' ').filter(c => c && c !== 'fresh').join(' ');
    return n.tagName.toLowerCase() + '.' + classes;
  }).join(' ');
})"#;

/// For [`Browser::server_and_script_shapes`]: the page is measured once the script has
/// refreshed it after the server render arrived.
const AFTER_NEXT_REFRESH: &str = "(() => { const before = Number(document.body.dataset.updates); return () => Number(document.body.dataset.updates) > before; })()";

#[tokio::test]
async fn the_script_renders_the_same_markup_as_the_server() {
    let logs = Logs::new();
    let (api, web, missing) = (
        logs.file("api.log"),
        logs.file("web.log"),
        logs.file("db.log"),
    );
    let app = spawn_app(&config(&[&api, &web, &missing], ""), &logs.data()).await;
    append(&web, "INFO GET / 200\nWARNING slow\n");
    append(&api, &format!("ERROR {MARKUP}\n"));
    append(&api, "ERROR failed\nTraceback (most recent call last):\n  File \"x.py\", line 1\nKeyError: 'id'\n");
    append(&api, "CRITICAL down\n");
    app.wait_for_events("", WAIT, |e| e.len() == 5).await;

    let Some(mut browser) = Browser::launch().await else {
        return;
    };
    open(&mut browser, &app, "/dashboard").await;
    // Compare with a fresh server render right after the script's next refresh. A new
    // minute may start in between and move the bars, so a mismatch gets two more tries.
    let mut shapes = Value::Null;
    for _ in 0..3 {
        shapes = browser
            .server_and_script_shapes("dashboard", PAGE_SHAPE, AFTER_NEXT_REFRESH)
            .await;
        if shapes["script"] == shapes["server"] {
            break;
        }
    }
    let script = shapes["script"].as_array().unwrap();
    assert_eq!(script.len(), 6, "{shapes:#}");
    assert_eq!(shapes["script"], shapes["server"]);
    assert!(
        script[1]
            .as_str()
            .unwrap()
            .contains("li.source source-waiting"),
        "{shapes:#}"
    );
    assert!(
        script[3]
            .as_str()
            .unwrap()
            .contains("rect.seg seg-critical"),
        "{shapes:#}"
    );
    assert!(
        script[4].as_str().unwrap().contains("tr.ev ev-error multi"),
        "{shapes:#}"
    );
    browser
        .close_without_problems("no script errors, no CSP violations")
        .await;
}

#[tokio::test]
async fn without_javascript_the_server_render_shows_events_and_chart_and_refreshes_itself() {
    let logs = Logs::new();
    let (api, web) = (logs.file("api.log"), logs.file("web.log"));
    let app = spawn_app(&config(&[&api, &web], ""), &logs.data()).await;
    append(&api, "ERROR Database connection failed: timeout\n");
    append(&web, "WARNING Deprecated API usage detected.\n");
    app.wait_for_events("", WAIT, |e| e.len() == 2).await;

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
  followShown: document.getElementById('follow').offsetParent !== null,
  applyShown: document.querySelector('.apply').offsetParent !== null,
  errorBars: document.querySelectorAll('#chart rect.seg-error').length,
  warningBars: document.querySelectorAll('#chart rect.seg-warning').length,
  counts: [...document.querySelectorAll('#counts li')].map(li => li.textContent),
})"#,
        )
        .await;
    assert_eq!(
        page,
        json!({ "updates": "0", "conn": "auto-refresh 10 s", "refresh": "10", "followShown": false,
                "applyShown": true, "errorBars": 1, "warningBars": 1,
                "counts": ["0 critical", "1 error", "1 warning"] })
    );
    let rows = browser.eval(READ_ROWS).await;
    assert_eq!(
        row(&rows, "Database connection failed: timeout")["badge"],
        RED
    );
    assert_eq!(
        row(&rows, "Deprecated API usage detected.")["service"],
        "web"
    );

    // The filter form works as a plain GET.
    browser
        .eval("(() => { document.getElementById('f-level').value = 'error'; document.getElementById('filters').requestSubmit(); })()")
        .await;
    // Let the navigation begin before asking the page anything again.
    tokio::time::sleep(Duration::from_millis(500)).await;
    browser
        .wait_for(
            "location.search.includes('level=error') && document.readyState === 'complete'",
            WAIT,
        )
        .await;
    let rows = browser.eval(READ_ROWS).await;
    assert_eq!(rows.as_array().unwrap().len(), 1, "{rows:#}");
    assert_eq!(rows[0]["level"], "ERROR");
    browser.close().await;
}

#[tokio::test]
async fn the_page_sends_a_strict_csp_and_loads_nothing_from_elsewhere() {
    let logs = Logs::new();
    let api = logs.file("api.log");
    let app = spawn_app(&config(&[&api], ""), &logs.data()).await;
    append(&api, "ERROR boom\n");
    app.wait_for_events("", WAIT, |e| e.len() == 1).await;

    assert_strict_page_at(&format!("{}/dashboard", app.base)).await;

    let (code, _, _) = get(&app, "/").await;
    assert_eq!(
        code,
        StatusCode::OK,
        "/ redirects to the dashboard (and reqwest follows)"
    );

    let Some(mut browser) = Browser::launch().await else {
        return;
    };
    open(&mut browser, &app, "/").await;
    assert_eq!(browser.eval("location.pathname").await, "/dashboard");
    browser.assert_loaded_only_from(&app.base).await;
    browser
        .close_without_problems("the nonce'd style and script ran without CSP violations")
        .await;
}

#[tokio::test]
async fn with_auth_the_page_asks_for_credentials_and_works_with_them() {
    let logs = Logs::new();
    let api = logs.file("api.log");
    let app = spawn_app(&config(&[&api], "[auth]\ntoken = \"s3cret\""), &logs.data()).await;
    append(&api, "ERROR boom\n");

    let client = reqwest::Client::new();
    for path in ["/dashboard", "/", "/summary/series"] {
        let response = client
            .get(format!("{}{path}", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{path}");
        let challenge = response
            .headers()
            .get("www-authenticate")
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        assert!(
            challenge.starts_with("Basic "),
            "a browser shows its login prompt: {challenge}"
        );
    }
    let response = client
        .get(format!("{}/dashboard", app.base))
        .basic_auth("anyone", Some("s3cret"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);

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
    open(&mut browser, &app, "/dashboard").await;
    browser.wait_for(&row_shows("boom"), WAIT).await;
    browser
        .close_without_problems("no script errors, no CSP violations")
        .await;
}

#[tokio::test]
async fn a_disabled_dashboard_is_404_while_the_api_still_answers() {
    let logs = Logs::new();
    let api = logs.file("api.log");
    let app = spawn_app(&config(&[&api], "[api]\ndashboard = false"), &logs.data()).await;
    append(&api, "ERROR boom\n");
    app.wait_for_events("", WAIT, |e| e.len() == 1).await;
    for path in ["/dashboard", "/"] {
        let (code, body) = app.get_json(path).await;
        assert_eq!(code, StatusCode::NOT_FOUND, "{path}");
        assert!(body["error"].is_string());
    }
    let (code, series) = app.get_json("/summary/series").await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(series["buckets"].as_array().unwrap().len(), 60);
}

/// Lines a small stack writes in a minute: a web server, an API with a traceback and a
/// hostile line, a worker in trouble.
fn write_a_busy_minute(web: &Path, api: &Path, worker: &Path) {
    for (i, path) in [
        "/",
        "/static/app.js",
        "/api/items",
        "/api/items/42",
        "/health",
    ]
    .iter()
    .cycle()
    .take(24)
    .enumerate()
    {
        append(
            web,
            &format!(
                "INFO 172.18.0.1 \"GET {path} HTTP/1.1\" 200 {} {}ms\n",
                512 + i * 37,
                3 + i % 7
            ),
        );
    }
    append(web, "WARNING upstream response is buffered to a temporary file /var/cache/nginx/proxy_temp/1/00/0000000001\n");
    append(api, "INFO Application startup complete.\n");
    append(api, "DEBUG SELECT id, name FROM items WHERE id = $1 [42]\n");
    append(
        api,
        "WARNING Deprecated API usage detected: /v1/items is going away, use /v2/items\n",
    );
    append(
        api,
        "ERROR Exception in ASGI application\nTraceback (most recent call last):\n  File \"/app/api/routes.py\", line 88, in get_item\n    item = await repo.fetch(item_id)\n  File \"/app/api/repo.py\", line 31, in fetch\n    raise LookupError(item_id)\nLookupError: 4711\n",
    );
    append(api, &format!("ERROR rejected comment body: {MARKUP}\n"));
    append(worker, "INFO picked up job 9f1c (resize-image)\n");
    append(
        worker,
        "ERROR Database connection failed: timeout after 5000 ms (postgres:5432)\n",
    );
    append(
        worker,
        "CRITICAL worker pool exhausted: 16/16 busy, 140 jobs queued\n",
    );
}

#[tokio::test]
async fn a_screenshot_shows_a_page_a_person_would_leave_open() {
    let logs = Logs::new();
    let (web, api, worker) = (
        logs.file("web.log"),
        logs.file("api.log"),
        logs.file("worker.log"),
    );
    let app = spawn_app(&config(&[&web, &api, &worker], ""), &logs.data()).await;
    write_a_busy_minute(&web, &api, &worker);
    app.wait_for_events("limit=100", WAIT, |e| e.len() == 32)
        .await;

    let Some(mut browser) = Browser::launch().await else {
        return;
    };
    open(&mut browser, &app, "/dashboard").await;
    append(&api, "INFO GET /api/items/42 200 (live)\n");
    browser
        .wait_for(&row_shows("GET /api/items/42 200 (live)"), WAIT)
        .await;
    // Let the highlight of the live row fade, as a person would see it a moment later.
    tokio::time::sleep(Duration::from_millis(1800)).await;
    browser
        .save_screenshot(
            "log_watcher_dashboard.png",
            20_000,
            env!("CARGO_TARGET_TMPDIR"),
        )
        .await;
    browser
        .close_without_problems("no script errors, no CSP violations")
        .await;
}
