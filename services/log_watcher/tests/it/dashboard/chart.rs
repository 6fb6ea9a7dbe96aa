//! The chart and the header counts, and the script drawing the very markup the server
//! draws.

use serde_json::{json, Value};
use service_kit_testing::browser::Browser;

use super::*;
use crate::support::{append, spawn_app};

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
