//! Every line exactly once while the real `logrotate` rotates the file under a writer, in
//! `create` (rename) and `copytruncate` modes, with a restart of log_watcher in between.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::support::{append, files_config, spawn_app, temp_dir};

fn logrotate() -> Option<PathBuf> {
    [
        "/usr/sbin/logrotate",
        "/sbin/logrotate",
        "/usr/bin/logrotate",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.exists())
}

fn rotate(logrotate: &Path, dir: &Path, log: &Path, mode: &str) {
    let conf = dir.join(format!("logrotate-{mode}.conf"));
    std::fs::write(
        &conf,
        format!(
            "{} {{\n  rotate 10\n  missingok\n  {mode}\n}}\n",
            log.display()
        ),
    )
    .unwrap();
    let out = Command::new(logrotate)
        .arg("-f")
        .arg("-s")
        .arg(dir.join("logrotate.state"))
        .arg(&conf)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "logrotate {mode} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Appends lines `from..to`, reopening the file for each line as an application that
/// follows rotation would, with short pauses so rotation lands in the middle of writing.
async fn write_lines(log: PathBuf, from: u32, to: u32) {
    tokio::task::spawn_blocking(move || {
        for i in from..to {
            append(&log, &format!("INFO line {i:06}\n"));
            if i % 20 == 0 {
                std::thread::sleep(Duration::from_millis(2));
            }
        }
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_line_is_read_exactly_once_across_logrotate_and_a_restart() {
    let Some(logrotate) = logrotate() else {
        service_kit_testing::require_component(
            "logrotate",
            false,
            "install Debian's logrotate package (scripts/test does)",
        );
        return;
    };
    let (_guard, dir) = temp_dir();
    let log = dir.join("app.log");
    let data = dir.join("data");
    let config = files_config(
        &[&log],
        "[filters]\nlevels = [\"info\"]\n[storage]\nring_size = 5000",
    );
    let first = spawn_app(&config, &data).await;

    // create mode, while the writer is writing.
    let writer = tokio::spawn(write_lines(log.clone(), 0, 600));
    tokio::time::sleep(Duration::from_millis(40)).await;
    rotate(&logrotate, &dir, &log, "create");
    writer.await.unwrap();

    // A restart of log_watcher in the middle of writing.
    let writer = tokio::spawn(write_lines(log.clone(), 600, 1200));
    tokio::time::sleep(Duration::from_millis(20)).await;
    first.stop().await;
    writer.await.unwrap();
    rotate(&logrotate, &dir, &log, "create");
    write_lines(log.clone(), 1200, 1300).await;
    let second = spawn_app(&config, &data).await;

    // copytruncate right after a burst, before the watcher may have read it. (logrotate
    // itself loses lines written between its copy and its truncate, so the writer pauses.)
    write_lines(log.clone(), 1300, 1500).await;
    rotate(&logrotate, &dir, &log, "copytruncate");
    write_lines(log.clone(), 1500, 1800).await;

    // On a timeout the checks below say which lines are missing or repeated.
    let (events, _) = second
        .events_within("limit=5000", Duration::from_secs(20), |e| e.len() >= 1800)
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (_, body) = second.get_json("/logs?limit=5000").await;
    let events_now = body["events"].as_array().unwrap();
    let mut seen: BTreeMap<u32, u32> = BTreeMap::new();
    for event in events_now {
        let message = event["message"].as_str().unwrap();
        let number: u32 = message.trim_start_matches("line ").parse().unwrap();
        *seen.entry(number).or_default() += 1;
    }
    let missing: Vec<u32> = (0..1800).filter(|n| !seen.contains_key(n)).collect();
    let repeated: Vec<(u32, u32)> = seen
        .iter()
        .filter(|(_, c)| **c > 1)
        .map(|(n, c)| (*n, *c))
        .collect();
    assert!(missing.is_empty(), "missing lines: {missing:?}");
    assert!(repeated.is_empty(), "repeated lines: {repeated:?}");
    assert_eq!(events.len(), 1800);
}
