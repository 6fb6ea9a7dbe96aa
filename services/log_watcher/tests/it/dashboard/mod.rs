//! The dashboard, in a real headless Chromium driven over the DevTools protocol, by topic:
//! the tail ([`tail`]: events of several files with their services and level colours, live
//! lines without reloading, pausing, log text with markup shown as text), the filters
//! ([`filters`]: the level filter in the URL), the chart and the script's markup against the
//! server's ([`chart`]), the page itself ([`page`]: the no-JavaScript page, the CSP, auth,
//! the page switched off), deploy markers from the real webhook_handler ([`deploys`]) and a
//! screenshot of a busy minute ([`screenshot`]). The helpers they share are here.

mod chart;
mod deploys;
mod filters;
mod page;
mod screenshot;
mod tail;

use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use service_kit_testing::browser::Browser;

use crate::support::{files_config, temp_dir, TestApp};

/// How long reading, the page and its stream get to reach the state a test needs.
pub(super) const WAIT: Duration = Duration::from_secs(20);

/// A log line whose text is markup that would run if it were ever parsed as HTML.
pub(super) const MARKUP: &str =
    r#"<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script><b>bold</b>"#;

/// The page has loaded its events, opened its stream and drawn its header and chart.
pub(super) const READY: &str = "document.body.dataset.conn === 'live' && Number(document.body.dataset.loads) >= 1 && Number(document.body.dataset.updates) >= 1";

/// Level badge colours as the browser paints them (dashboard.css).
pub(super) const RED: &str = "rgb(208, 49, 45)";
pub(super) const YELLOW: &str = "rgb(212, 160, 23)";
pub(super) const BLUE: &str = "rgb(63, 143, 216)";
pub(super) const MAGENTA: &str = "rgb(192, 43, 208)";

/// What the tail shows, read from the live DOM: per row its texts, classes and the colour
/// its level badge is painted in; plus how many lines its message takes on screen.
pub(super) const READ_ROWS: &str = r#"[...document.querySelectorAll('#events tr.ev')].map(tr => {
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
pub(super) struct Logs {
    _guard: tempfile::TempDir,
    dir: PathBuf,
}

impl Logs {
    pub(super) fn new() -> Logs {
        let (guard, dir) = temp_dir();
        std::fs::create_dir_all(dir.join("logs")).unwrap();
        Logs { _guard: guard, dir }
    }

    pub(super) fn file(&self, name: &str) -> PathBuf {
        self.dir.join("logs").join(name)
    }

    pub(super) fn data(&self) -> PathBuf {
        self.dir.join("data")
    }
}

/// Every line from info up is an event.
pub(super) fn config(files: &[&Path], extra: &str) -> String {
    files_config(
        files,
        &format!("[filters]\nlevels = [\"info\", \"warning\", \"error\", \"critical\"]\n{extra}"),
    )
}

/// GET `path`: status, headers and body text.
pub(super) async fn get(
    app: &TestApp,
    path: &str,
) -> (StatusCode, reqwest::header::HeaderMap, String) {
    let response = reqwest::get(format!("{}{path}", app.base)).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    (status, headers, response.text().await.unwrap())
}

pub(super) fn row<'a>(rows: &'a Value, message: &str) -> &'a Value {
    rows.as_array()
        .and_then(|all| all.iter().find(|r| r["message"] == message))
        .unwrap_or_else(|| panic!("no row with message {message:?}: {rows:#}"))
}

/// The JavaScript condition "a row's message is `message`".
pub(super) fn row_shows(message: &str) -> String {
    format!(
        "[...document.querySelectorAll('#events .msg')].some(m => m.textContent === {})",
        json!(message)
    )
}

/// Opens the dashboard at `path` and waits until it is live.
pub(super) async fn open(browser: &mut Browser, app: &TestApp, path: &str) {
    browser
        .open(&format!("{}{path}", app.base), READY, WAIT)
        .await;
}
