//! The filters: the level filter hides what it should and lives in the URL.

use serde_json::json;
use service_kit_testing::browser::Browser;

use super::*;
use crate::support::{append, spawn_app};

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
