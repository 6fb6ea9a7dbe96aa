//! A minimal client of the Chrome DevTools protocol over `--remote-debugging-pipe`: enough
//! to open a page, evaluate JavaScript in it, wait for conditions and take a screenshot. It
//! drives the real Chromium the machine has, one private profile per browser, so the
//! dashboards of every service are tested the way a person sees them.
//!
//! Chromium is found as `$CHROMIUM`, else `chromium`, `chromium-browser` or
//! `google-chrome` on `PATH`. When it is missing, [`Browser::launch`] follows
//! [`require_component`](super::require_component): a loud skip on a developer machine, a
//! failure under `CI=true`.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use base64::Engine;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::mpsc;

/// How long one protocol command may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// A running headless Chromium with one page.
pub struct Browser {
    /// The Chromium process (a process-group leader, see [`Drop`]).
    child: Child,
    /// Its pid while it may still run; `None` once it exited.
    pid: Option<u32>,
    /// Protocol commands go here (Chromium's fd 3).
    to_browser: ChildStdin,
    /// Protocol answers and events, one JSON document each (Chromium's fd 4).
    from_browser: mpsc::UnboundedReceiver<Value>,
    /// Id of the last command sent.
    next_id: u64,
    /// The session of the page every [`call`](Self::call) goes to.
    session: String,
    /// Protocol events seen so far (console errors, exceptions...).
    events: Vec<Value>,
    /// The private profile directory, removed on drop.
    profile: PathBuf,
}

fn find_chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("CHROMIUM").map(PathBuf::from) {
        return path.exists().then_some(path);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| {
            ["chromium", "chromium-browser", "google-chrome"].map(|name| dir.join(name))
        })
        .find(|candidate| candidate.is_file())
}

/// A fresh profile directory under the system temp dir, unique per process and call.
fn profile_dir() -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "service_kit-chromium-{}-{}-{:08x}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        fastrand::u32(..)
    ));
    std::fs::create_dir_all(&dir).expect("create chromium profile dir");
    dir
}

impl Browser {
    /// Starts Chromium with a blank 1280×900 page; `None` (after a loud skip, or a panic
    /// under `CI=true`) when it is not installed.
    pub async fn launch() -> Option<Browser> {
        let path = find_chromium();
        if !super::require_component(
            "chromium",
            path.is_some(),
            "install Debian's chromium (scripts/test does)",
        ) {
            return None;
        }
        let profile = profile_dir();
        // The protocol runs over fds 3 (commands in) and 4 (answers out): map them to our
        // stdin and stdout pipes, and send Chromium's own chatter to /dev/null.
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(r#"exec "$0" "$@" 3<&0 4>&1 0</dev/null 1>/dev/null"#)
            .arg(path.expect("checked above"))
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-extensions",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--hide-scrollbars",
                "--mute-audio",
                "--force-device-scale-factor=1",
                "--window-size=1280,900",
                "--remote-debugging-pipe",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("about:blank")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true);
        #[cfg(unix)]
        command.process_group(0);
        let mut child = command.spawn().expect("start chromium");
        let pid = child.id();
        let to_browser = child.stdin.take().expect("piped stdin");
        let mut stdout = child.stdout.take().expect("piped stdout");
        let (sender, from_browser) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            // Messages are JSON documents, each ended by a NUL byte.
            let mut buffer = Vec::new();
            let mut chunk = vec![0u8; 64 * 1024];
            loop {
                let Ok(n) = stdout.read(&mut chunk).await else {
                    return;
                };
                if n == 0 {
                    return;
                }
                buffer.extend_from_slice(&chunk[..n]);
                while let Some(end) = buffer.iter().position(|b| *b == 0) {
                    let message: Vec<u8> = buffer.drain(..=end).collect();
                    if let Ok(value) = serde_json::from_slice::<Value>(&message[..end]) {
                        if sender.send(value).is_err() {
                            return;
                        }
                    }
                }
            }
        });
        let mut browser = Browser {
            child,
            pid,
            to_browser,
            from_browser,
            next_id: 0,
            session: String::new(),
            events: Vec::new(),
            profile,
        };
        let target = browser
            .send(None, "Target.createTarget", json!({ "url": "about:blank" }))
            .await;
        let target_id = target["targetId"]
            .as_str()
            .expect("a target id")
            .to_string();
        let attached = browser
            .send(
                None,
                "Target.attachToTarget",
                json!({ "targetId": target_id, "flatten": true }),
            )
            .await;
        browser.session = attached["sessionId"]
            .as_str()
            .expect("a session id")
            .to_string();
        for domain in ["Page.enable", "Runtime.enable", "Log.enable"] {
            browser.call(domain, json!({})).await;
        }
        Some(browser)
    }

    async fn send(&mut self, session: Option<&str>, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut message = json!({ "id": id, "method": method, "params": params });
        if let Some(session) = session {
            message["sessionId"] = json!(session);
        }
        let mut bytes = serde_json::to_vec(&message).expect("a JSON command");
        bytes.push(0);
        self.to_browser
            .write_all(&bytes)
            .await
            .expect("write to chromium");
        self.to_browser.flush().await.expect("flush to chromium");
        let deadline = tokio::time::Instant::now() + CALL_TIMEOUT;
        loop {
            let message = tokio::time::timeout_at(deadline, self.from_browser.recv())
                .await
                .unwrap_or_else(|_| {
                    panic!("chromium did not answer {method} within {CALL_TIMEOUT:?}")
                })
                .unwrap_or_else(|| panic!("chromium exited while running {method}"));
            if message["id"] == id {
                if let Some(error) = message.get("error") {
                    panic!("{method} failed: {error}");
                }
                return message["result"].clone();
            }
            self.events.push(message);
        }
    }

    /// Sends a protocol command to the page and returns its result.
    pub async fn call(&mut self, method: &str, params: Value) -> Value {
        let session = self.session.clone();
        self.send(Some(&session), method, params).await
    }

    /// Runs `source` in every document before its own scripts.
    pub async fn before_each_page(&mut self, source: &str) {
        self.call(
            "Page.addScriptToEvaluateOnNewDocument",
            json!({ "source": source }),
        )
        .await;
    }

    /// Turns JavaScript off for the page.
    pub async fn disable_javascript(&mut self) {
        self.call(
            "Emulation.setScriptExecutionDisabled",
            json!({ "value": true }),
        )
        .await;
    }

    /// Navigates to `url` and waits for the load event.
    pub async fn goto(&mut self, url: &str) {
        let answer = self.call("Page.navigate", json!({ "url": url })).await;
        if let Some(error) = answer.get("errorText") {
            panic!("cannot open {url}: {error}");
        }
        // Evaluation works with scripts disabled too (it is the debugger's, not the page's).
        self.wait_for("document.readyState === 'complete'", CALL_TIMEOUT)
            .await;
    }

    /// Loads the page's current URL again (a reload, as the browser's button does one) and
    /// waits for the load event.
    pub async fn reload(&mut self) {
        let url = self.eval("location.href").await;
        let url = url.as_str().expect("location.href is a string").to_string();
        // A mark on the old document, so its `complete` state is not taken for the new one's.
        self.eval("window.__serviceKitOldDocument = true").await;
        self.goto(&url).await;
        self.wait_for(
            "!window.__serviceKitOldDocument && document.readyState === 'complete'",
            CALL_TIMEOUT,
        )
        .await;
    }

    /// Navigates to `url` and waits until the JavaScript `ready` condition holds (the page
    /// has loaded what a test needs), for at most `timeout`.
    pub async fn open(&mut self, url: &str, ready: &str, timeout: Duration) {
        self.goto(url).await;
        self.wait_for(ready, timeout).await;
    }

    /// Marks the current document, so that [`same_document`](Self::same_document) can tell
    /// whether the page was reloaded (or left) since: a reload wipes the mark.
    pub async fn mark_document(&mut self) {
        self.eval("window.sameDocument = 'still here'").await;
    }

    /// Whether the document is still the one [`mark_document`](Self::mark_document) marked.
    pub async fn same_document(&mut self) -> bool {
        self.eval("window.sameDocument").await == "still here"
    }

    /// Evaluates `expression` in the page (awaiting promises) and returns its value.
    pub async fn eval(&mut self, expression: &str) -> Value {
        let answer = self
            .call(
                "Runtime.evaluate",
                json!({ "expression": expression, "returnByValue": true, "awaitPromise": true }),
            )
            .await;
        if let Some(exception) = answer.get("exceptionDetails") {
            panic!("{expression} threw: {exception}");
        }
        answer["result"]
            .get("value")
            .cloned()
            .unwrap_or(Value::Null)
    }

    /// Evaluates `condition` until it is true; panics with the page's state on timeout.
    pub async fn wait_for(&mut self, condition: &str, timeout: Duration) {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if self.eval(condition).await == Value::Bool(true) {
                return;
            }
            if tokio::time::Instant::now() > deadline {
                let body = self
                    .eval("document.body ? document.body.outerHTML.slice(0, 4000) : document.documentElement.outerHTML")
                    .await;
                panic!(
                    "page condition {condition:?} not met within {timeout:?}\nproblems: {:?}\nbody: {body}",
                    self.problems()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The shapes (by `shape`, a JavaScript function from a document or element root to
    /// anything JSON) of a fresh server render of `path` (fetched by the page itself, parsed
    /// without its `<style>`) and of the live page, as `{ "server": ..., "script": ... }`.
    /// The live page is measured once the JavaScript expression `settled`, evaluated when
    /// the render has arrived, gives a function that returns true: `() => true` for at once.
    pub async fn server_and_script_shapes(
        &mut self,
        path: &str,
        shape: &str,
        settled: &str,
    ) -> Value {
        self.eval(&format!(
            r#"fetch({path}).then(r => r.text()).then(html => new Promise(done => {{
  const shape = {shape};
  // Without its <style>: parsing it here would count as a CSP violation of this page.
  const markup = html.replace(/<style[^>]*>[\s\S]*?<\/style>/, '');
  const ready = {settled};
  const check = () => ready()
    ? done({{ server: shape(new DOMParser().parseFromString(markup, 'text/html')), script: shape(document) }})
    : setTimeout(check, 50);
  check();
}}))"#,
            path = json!(path),
        ))
        .await
    }

    /// Asserts that the page, and every resource it loaded, came from `origin` (such as
    /// `http://127.0.0.1:PORT`).
    pub async fn assert_loaded_only_from(&mut self, origin: &str) {
        let resources = self
            .eval(
                "performance.getEntriesByType('resource').map(e => e.name).concat([location.href])",
            )
            .await;
        for url in resources.as_array().expect("a list of URLs") {
            assert!(
                url.as_str().is_some_and(|url| url.starts_with(origin)),
                "{url} is not from the service itself"
            );
        }
    }

    /// Takes a screenshot, asserts it is a PNG of more than `min_bytes` (a blank page is
    /// smaller), and keeps it for people to look at as `name` in `/tmp` and in `dir` (the
    /// test's `CARGO_TARGET_TMPDIR`).
    pub async fn save_screenshot(&mut self, name: &str, min_bytes: usize, dir: &str) {
        let png = self.screenshot().await;
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "the screenshot is a PNG");
        assert!(
            png.len() > min_bytes,
            "the screenshot has content ({} bytes)",
            png.len()
        );
        for dir in [Path::new("/tmp"), Path::new(dir)] {
            std::fs::write(dir.join(name), &png)
                .unwrap_or_else(|e| panic!("cannot write {name} to {}: {e}", dir.display()));
        }
    }

    /// A PNG of the viewport.
    pub async fn screenshot(&mut self) -> Vec<u8> {
        let answer = self
            .call("Page.captureScreenshot", json!({ "format": "png" }))
            .await;
        base64::engine::general_purpose::STANDARD
            .decode(answer["data"].as_str().expect("screenshot data"))
            .expect("screenshot is base64")
    }

    /// Script exceptions and console errors so far (CSP violations are reported there).
    pub fn problems(&self) -> Vec<String> {
        self.events
            .iter()
            .filter_map(|event| match event["method"].as_str()? {
                "Runtime.exceptionThrown" => Some(event["params"]["exceptionDetails"].to_string()),
                "Log.entryAdded" if event["params"]["entry"]["level"] == "error" => {
                    Some(event["params"]["entry"]["text"].to_string())
                }
                "Runtime.consoleAPICalled" if event["params"]["type"] == "error" => {
                    Some(event["params"]["args"].to_string())
                }
                _ => None,
            })
            .collect()
    }

    /// Asserts that no script error or CSP violation happened (`what` says what that shows),
    /// then closes the browser.
    pub async fn close_without_problems(self, what: &str) {
        assert_eq!(self.problems(), Vec::<String>::new(), "{what}");
        self.close().await;
    }

    /// Closes the browser and waits for it to exit.
    pub async fn close(mut self) {
        self.next_id += 1;
        let mut bytes =
            serde_json::to_vec(&json!({ "id": self.next_id, "method": "Browser.close" }))
                .expect("a JSON command");
        bytes.push(0);
        let _ = self.to_browser.write_all(&bytes).await;
        let _ = self.to_browser.flush().await;
        if let Ok(Ok(_)) = tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await {
            self.pid = None; // exited: nothing left for Drop to end
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Chromium runs helper processes in its own process group: end them all.
        #[cfg(unix)]
        if let Some(pid) = self.pid {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", "--", &format!("-{pid}")])
                .stderr(Stdio::null())
                .status();
        }
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}
