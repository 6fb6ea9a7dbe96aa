//! The page as a whole: without JavaScript, its CSP, behind auth, and switched off.

use serde_json::json;
use service_kit_testing::browser::Browser;
use service_kit_testing::page::assert_strict_page_at;

use super::*;
use crate::support::{append, spawn_app};

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
