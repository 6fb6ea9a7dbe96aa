//! Deploy markers on the chart in Chromium: the real webhook_handler's deploys drawn by the
//! script as the server draws them, coloured by state, narrowed by the service filter,
//! there without JavaScript too; and a peer that is down said under the chart of a page
//! that keeps working.

use serde_json::Value;
use service_kit_testing::binary::free_port;
use service_kit_testing::browser::Browser;

use super::*;
use crate::deploys::{script_and_compose_hooks, wait_for_deploys};
use crate::support::{append, spawn_app};
use crate::webhook_peer::WebhookPeer;

/// Marker colours as the browser paints them (dashboard.css).
const GREEN: &str = "rgb(92, 207, 114)";
const LIGHT_RED: &str = "rgb(255, 107, 100)";

/// The chart's markers, read from the live DOM.
const READ_MARKERS: &str = r#"[...document.querySelectorAll('#chart g.deploy')].map(g => ({
  className: g.getAttribute('class'),
  tip: g.querySelector('title').textContent,
  stroke: getComputedStyle(g.querySelector('line')).stroke,
  x: Number(g.querySelector('line').getAttribute('x1')),
}))"#;

/// The markers' classes and tooltips, for comparing the script's with the server's (not
/// their places, which move left when a new minute starts between the two renders).
const MARKER_SHAPE: &str = r#"(root) => [...root.querySelectorAll('#chart g.deploy')].map(g =>
  [...g.querySelectorAll('*')].map(n => n.tagName + '.' + n.getAttribute('class')).join(' ')
    + ' | ' + g.getAttribute('class') + ' | ' + g.querySelector('title').textContent)"#;

/// The marker of job `job` among `markers`.
fn marker(markers: &Value, job: i64) -> &Value {
    let prefix = format!("deploy: job {job} of hook ");
    markers
        .as_array()
        .and_then(|all| {
            all.iter()
                .find(|m| m["tip"].as_str().unwrap().starts_with(&prefix))
        })
        .unwrap_or_else(|| panic!("no marker of job {job}: {markers:#}"))
}

#[tokio::test]
async fn deploys_are_marked_on_the_chart_by_the_script_and_without_javascript() {
    let peer = WebhookPeer::start(script_and_compose_hooks).await;
    let script = peer.deploy("app", "d-1").await;
    let compose = peer.deploy("api", "d-2").await;
    let logs = Logs::new();
    let (api, web) = (logs.file("api.log"), logs.file("web.log"));
    let app = spawn_app(&config(&[&api, &web], &peer.peers_section()), &logs.data()).await;
    append(&web, "INFO GET / 200\n");
    append(&api, "ERROR upstream timed out\n");
    app.wait_for_events("", WAIT, |e| e.len() == 2).await;
    wait_for_deploys(&app, "", |a| a["deploys"].as_array().unwrap().len() == 2).await;

    let Some(mut browser) = Browser::launch().await else {
        return;
    };
    open(&mut browser, &app, "/dashboard").await;
    let markers = browser.eval(READ_MARKERS).await;
    assert_eq!(markers.as_array().unwrap().len(), 2, "{markers:#}");
    let ok = marker(&markers, script);
    assert_eq!(ok["className"], "deploy deploy-succeeded");
    assert_eq!(ok["stroke"], GREEN);
    let tip = ok["tip"].as_str().unwrap();
    assert!(
        tip.starts_with(&format!(
            "deploy: job {script} of hook app (succeeded)\nstarted "
        )) && tip.ends_with(" UTC · no services named"),
        "{tip}"
    );
    // Deployed moments ago: at the right end of the hour.
    assert!(ok["x"].as_f64().unwrap() > 900.0, "{markers:#}");
    let failed = marker(&markers, compose);
    assert_eq!(failed["className"], "deploy deploy-failed");
    assert_eq!(failed["stroke"], LIGHT_RED);
    assert!(failed["tip"]
        .as_str()
        .unwrap()
        .ends_with(" UTC · services: api"));
    // The script draws what the server draws.
    let shapes = browser
        .server_and_script_shapes("dashboard", MARKER_SHAPE, "() => true")
        .await;
    assert_eq!(shapes["script"], shapes["server"], "{shapes:#}");

    // Filtered to `web`: only the deploy naming no service is drawn.
    browser
        .eval("(() => { const s = document.getElementById('f-service'); s.value = 'web'; s.dispatchEvent(new Event('change')); })()")
        .await;
    browser
        .wait_for(
            "location.search === '?service=web' && document.querySelectorAll('#chart g.deploy').length === 1",
            WAIT,
        )
        .await;
    let markers = browser.eval(READ_MARKERS).await;
    assert_eq!(
        marker(&markers, script)["className"],
        "deploy deploy-succeeded"
    );
    browser
        .close_without_problems("no script errors, no CSP violations")
        .await;

    // Without JavaScript, the server's chart has them.
    let Some(mut browser) = Browser::launch().await else {
        return;
    };
    browser.disable_javascript().await;
    browser
        .goto(&format!("{}/dashboard?service=api", app.base))
        .await;
    assert_eq!(browser.eval("document.body.dataset.updates").await, "0");
    let markers = browser.eval(READ_MARKERS).await;
    assert_eq!(markers.as_array().unwrap().len(), 2, "{markers:#}");
    assert_eq!(marker(&markers, script)["stroke"], GREEN);
    assert_eq!(marker(&markers, compose)["stroke"], LIGHT_RED);
    browser
        .goto(&format!("{}/dashboard?service=web", app.base))
        .await;
    let markers = browser.eval(READ_MARKERS).await;
    assert_eq!(markers.as_array().unwrap().len(), 1, "{markers:#}");
    browser.close().await;
    app.stop().await;
    peer.stop().await;
}

#[tokio::test]
async fn with_the_peer_down_the_page_says_so_under_the_chart_and_keeps_working() {
    let port = free_port();
    let logs = Logs::new();
    let api = logs.file("api.log");
    let app = spawn_app(
        &config(
            &[&api],
            &format!("[peers]\nwebhook_handler = \"http://127.0.0.1:{port}\"\n"),
        ),
        &logs.data(),
    )
    .await;
    append(&api, "ERROR boom\n");
    app.wait_for_events("", WAIT, |e| e.len() == 1).await;
    wait_for_deploys(&app, "", |a| a["error"].is_string()).await;

    let Some(mut browser) = Browser::launch().await else {
        return;
    };
    open(&mut browser, &app, "/dashboard").await;
    let page = browser
        .eval(
            r#"({
  noteShown: document.getElementById('deploys-note').offsetParent !== null,
  note: document.getElementById('deploys-note').textContent,
  markers: document.querySelectorAll('#chart g.deploy').length,
  bars: document.querySelectorAll('#chart g.bar').length,
})"#,
        )
        .await;
    assert_eq!(page["noteShown"], true, "{page:#}");
    assert!(
        page["note"].as_str().unwrap().starts_with(&format!(
            "Deploy markers may be out of date: http://127.0.0.1:{port} unreachable: "
        )),
        "{page:#}"
    );
    assert_eq!(
        (page["markers"].as_u64(), page["bars"].as_u64()),
        (Some(0), Some(60))
    );
    // The tail still follows the logs.
    append(&api, "ERROR after the peer went away\n");
    browser
        .wait_for(&row_shows("after the peer went away"), WAIT)
        .await;
    browser
        .close_without_problems("no script errors, no CSP violations")
        .await;
    app.stop().await;
}
