//! `promtool check metrics` (Debian's `prometheus` package) as the judge of every service's
//! `/metrics`: what Prometheus' own linter accepts, every scraper reads.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use super::require_component;

fn find_promtool() -> Option<PathBuf> {
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths)
        .map(|dir| dir.join("promtool"))
        .find(|candidate| candidate.is_file())
}

/// Feeds `metrics` to `promtool check metrics` and panics with its complaints when it
/// rejects them. Returns false (after [`require_component`]'s banner; a panic under
/// `CI=true`) when promtool is not installed, true when it accepted the text.
pub fn assert_promtool_accepts(metrics: &str) -> bool {
    let promtool = find_promtool();
    if !require_component(
        "promtool",
        promtool.is_some(),
        "install Debian's prometheus package (scripts/test does)",
    ) {
        return false;
    }
    let mut child = Command::new(promtool.expect("checked above"))
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start promtool");
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(metrics.as_bytes())
        .expect("write to promtool");
    let out = child.wait_with_output().expect("promtool runs");
    assert!(
        out.status.success(),
        "promtool rejected /metrics:\n{}{}\n--- the metrics ---\n{metrics}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    true
}
