//! A screenshot of a busy minute, as a person would leave the page open.

use service_kit_testing::browser::Browser;

use super::*;
use crate::support::{append, spawn_app};

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
