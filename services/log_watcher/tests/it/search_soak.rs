//! A search never stalls ingestion: lines flow at full speed into a followed file, first
//! alone (the baseline), then while 8 clients search `/logs?q=` continuously, half of their
//! searches going to SQLite (text the ring cannot answer: a full scan of the events table
//! inside SQLite). Ingestion must keep at least [`MIN_FRACTION`] of the baseline's rate,
//! and every line arrives exactly once.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support::{append, files_config, spawn_app, temp_dir, TestApp};

/// Ingestion under search, as a fraction of the baseline, at least.
const MIN_FRACTION: f64 = 0.7;
/// How long each phase is measured: baseline, search, baseline, search (interleaved, so
/// that a drift of the machine's speed or of the database's size weighs on both alike).
const PHASE: Duration = Duration::from_secs(5);
/// Lines written ahead of what was read, at most (keeps the file small).
const MAX_LAG: u64 = 400_000;
/// Every tenth line is an event.
const EVENT_EVERY: u64 = 10;

/// Lines read so far, from `/metrics`.
async fn lines_read(app: &TestApp) -> u64 {
    let (_, text) = app.get_text("/metrics").await;
    text.lines()
        .filter(|l| l.starts_with("log_watcher_lines_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

/// Lines per second read over `PHASE`.
async fn rate(app: &TestApp, read: &AtomicU64) -> f64 {
    let start = lines_read(app).await;
    let started = Instant::now();
    let mut now = start;
    while started.elapsed() < PHASE {
        tokio::time::sleep(Duration::from_millis(200)).await;
        now = lines_read(app).await;
        read.store(now, Ordering::Relaxed);
    }
    (now - start) as f64 / started.elapsed().as_secs_f64()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_clients_searching_continuously_do_not_slow_ingestion_and_lose_or_repeat_nothing() {
    let (_guard, dir) = temp_dir();
    let log = dir.join("app.log");
    let data = dir.join("data");
    let app = Arc::new(
        spawn_app(
            &files_config(&[&log], "[summary]\ninterval_mins = 0"),
            &data,
        )
        .await,
    );

    // The writer: numbered lines as fast as they are read, never more than MAX_LAG ahead.
    let written = Arc::new(AtomicU64::new(0));
    let read = Arc::new(AtomicU64::new(0));
    let stop_writing = Arc::new(AtomicBool::new(false));
    let writer = {
        let (written, read, stop, log) = (
            written.clone(),
            read.clone(),
            stop_writing.clone(),
            log.clone(),
        );
        std::thread::spawn(move || {
            let mut next = 0u64;
            while !stop.load(Ordering::Relaxed) {
                if next - read.load(Ordering::Relaxed) > MAX_LAG {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                }
                let mut chunk = String::with_capacity(10_000 * 80);
                for n in next..next + 10_000 {
                    let level = if n % EVENT_EVERY == 0 {
                        "ERROR"
                    } else {
                        "INFO"
                    };
                    chunk.push_str(&format!(
                        "{level} seq={n:09} request handled in 12 ms by worker\n"
                    ));
                }
                append(&log, &chunk);
                next += 10_000;
                written.store(next, Ordering::Relaxed);
            }
        })
    };
    // Warm up.
    tokio::time::sleep(Duration::from_secs(2)).await;

    // Eight clients, each searching as fast as it is answered, while `searching` is set.
    let searching = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicBool::new(false));
    let searches = Arc::new(AtomicU64::new(0));
    let clients: Vec<_> = (0..8u64)
        .map(|client| {
            let (app, searching, done, searches) = (
                app.clone(),
                searching.clone(),
                done.clone(),
                searches.clone(),
            );
            tokio::spawn(async move {
                let mut i = client;
                while !done.load(Ordering::Relaxed) {
                    if !searching.load(Ordering::Relaxed) {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        continue;
                    }
                    // Rare text (only SQLite can say there is no more), common text, and a
                    // level filter; some with a service.
                    let query = match i % 4 {
                        0 => format!("q=seq%3D{:09}&limit=50", (i * 7919) % 100_000),
                        1 => format!("q=seq%3D{:09}&limit=5", (i * 7919) % 100_000 + 1),
                        2 => "q=HANDLED&limit=100".to_string(),
                        _ => format!("q=worker&level=error&service=app&limit={}", 1 + i % 500),
                    };
                    let (code, _) = app.get_text(&format!("/logs?{query}")).await;
                    assert!(
                        code.is_success() || code == reqwest::StatusCode::SERVICE_UNAVAILABLE,
                        "{code}"
                    );
                    searches.fetch_add(1, Ordering::Relaxed);
                    i += 8;
                }
            })
        })
        .collect();
    let mut baseline = 0.0;
    let mut under_search = 0.0;
    for _ in 0..2 {
        searching.store(false, Ordering::Relaxed);
        baseline += rate(&app, &read).await / 2.0;
        searching.store(true, Ordering::Relaxed);
        under_search += rate(&app, &read).await / 2.0;
    }
    done.store(true, Ordering::Relaxed);
    for client in clients {
        client.await.unwrap();
    }
    stop_writing.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    let total = written.load(Ordering::Relaxed);
    let searches = searches.load(Ordering::Relaxed);
    eprintln!(
        "search soak: baseline {baseline:.0} lines/s, with 8 searching clients {under_search:.0} lines/s ({:.0}%), {searches} searches answered",
        100.0 * under_search / baseline
    );

    // Everything written is read, once.
    let deadline = Instant::now() + Duration::from_secs(120);
    while lines_read(&app).await < total {
        assert!(
            Instant::now() < deadline,
            "only {} of {total} lines read",
            lines_read(&app).await
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(lines_read(&app).await, total, "no line counted twice");
    Arc::try_unwrap(app)
        .ok()
        .expect("the clients are done")
        .stop()
        .await;
    let db = rusqlite::Connection::open(data.join("log_watcher.sqlite")).unwrap();
    let (events, distinct): (i64, i64) = db
        .query_row(
            "SELECT COUNT(*), COUNT(DISTINCT message) FROM events",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(events as u64, total / EVENT_EVERY, "every event stored");
    assert_eq!(distinct, events, "none twice");

    // Searches yield to ingestion (their threads run at a lower priority), so while lines
    // flow at full speed they are slow; but they are answered.
    assert!(searches >= 8, "the clients searched only {searches} times");
    assert!(
        under_search >= MIN_FRACTION * baseline,
        "ingestion fell to {under_search:.0} lines/s under search, from {baseline:.0}"
    );
}
