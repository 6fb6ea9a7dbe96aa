//! `/summary` gives the same counts for a window whether it is answered from memory (the
//! line counter, windows up to an hour) or from SQLite (longer windows, and the store's own
//! answer for any window), and again after a restart on the same data directory.

use std::sync::Arc;
use std::time::Duration;

use log_watcher::batch::{Batch, CountEntry};
use log_watcher::parse::Level;
use log_watcher::store::{EventStore, LineCounter};

use crate::support::{append, files_config, spawn_app, temp_dir};

const WINDOWS: [i64; 8] = [1, 30, 59, 60, 61, 600, 1799, 3600];

fn entry(service: &str, second: i64, level: Level, n: u64) -> CountEntry {
    let mut counts = [0; 6];
    counts[level as usize] = n;
    CountEntry {
        service: Arc::from(service),
        second,
        counts,
        bytes: n * 10,
    }
}

#[tokio::test]
async fn every_window_counts_the_same_from_memory_and_from_sqlite_before_and_after_a_restart() {
    let (_guard, dir) = temp_dir();
    let now = chrono::Utc::now().timestamp();
    // Lines read over the last ninety minutes, at seconds that fall on every side of the
    // windows' edges, by three services and several levels.
    let mut entries = Vec::new();
    for back in (0..5400).step_by(37) {
        let level = Level::ALL[(back as usize / 37) % 6];
        let service = ["api", "web", "db"][(back as usize / 11) % 3];
        entries.push(entry(service, now - back, level, 1 + (back as u64 % 5)));
    }
    let counter = LineCounter::default();
    {
        let store = EventStore::open(&dir, 100).unwrap();
        // As the writer does: committed in batches, then counted.
        for chunk in entries.chunks(10) {
            store
                .commit(Batch {
                    counts: chunk.to_vec(),
                    ..Batch::default()
                })
                .await
                .unwrap();
            for e in chunk {
                counter.add(&e.service, e.second, &e.counts, e.bytes);
            }
        }
        for window in WINDOWS {
            let memory = counter.window(now, window);
            let sqlite = store.summary(now, window).await.unwrap();
            assert_eq!(memory, sqlite, "window {window} s");
        }
        assert!(
            counter.window(now, 3600).totals["error"] > 0,
            "the data reaches the windows"
        );
    }
    // A restart: a fresh counter loads what SQLite holds.
    let store = EventStore::open(&dir, 100).unwrap();
    let restarted = LineCounter::default();
    store.load_counter(&restarted, now).unwrap();
    for window in WINDOWS {
        let before = counter.window(now, window);
        assert_eq!(
            restarted.window(now, window),
            before,
            "window {window} s after a restart"
        );
        assert_eq!(
            store.summary(now, window).await.unwrap(),
            before,
            "window {window} s"
        );
    }
    // Beyond the hour memory keeps, SQLite answers; its hour is memory's hour.
    let long = store.summary(now, 7200).await.unwrap();
    let total = |s: &log_watcher::store::Summary| s.totals.values().sum::<u64>();
    let all: u64 = entries.iter().map(|e| e.counts.iter().sum::<u64>()).sum();
    assert_eq!(total(&long), all, "two hours hold every line");
}

#[tokio::test]
async fn the_http_summary_is_the_same_from_memory_and_sqlite_and_after_a_restart() {
    let (_guard, dir) = temp_dir();
    let log = dir.join("api.log");
    let data = dir.join("data");
    let config = files_config(&[&log], "");
    let app = spawn_app(&config, &data).await;
    append(&log, "ERROR one\nWARNING two\nINFO three\nINFO four\n");
    app.wait_for_events("", Duration::from_secs(10), |e| e.len() == 2)
        .await;
    // Every line was read in the last minutes: a 10 minute window (memory) and a 2 hour one
    // (SQLite) hold them all.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let from_memory = loop {
        let (_, summary) = app.get_json("/summary?window=10m").await;
        if summary["totals"]["info"] == 2 || tokio::time::Instant::now() > deadline {
            break summary;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let (_, from_sqlite) = app.get_json("/summary?window=2h").await;
    assert_eq!(
        from_memory["totals"], from_sqlite["totals"],
        "{from_memory} {from_sqlite}"
    );
    assert_eq!(from_memory["services"], from_sqlite["services"]);
    assert_eq!(from_memory["totals"]["error"], 1);
    app.stop().await;

    let app = spawn_app(&config, &data).await;
    let (_, after) = app.get_json("/summary?window=10m").await;
    let (_, after_sqlite) = app.get_json("/summary?window=2h").await;
    assert_eq!(
        after["totals"], from_memory["totals"],
        "after a restart: {after}"
    );
    assert_eq!(after["services"], from_memory["services"]);
    assert_eq!(after_sqlite["totals"], from_memory["totals"]);
    app.stop().await;
}
