//! The periodic work beside reading: the spec's stdout summary line every `[summary]`
//! interval (`Summary (last 10 min): 5 errors, 2 warnings.`), alert digests when a cooldown
//! ends, and pruning what is older than `[storage] retention_days`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::alerting::Alerter;
use crate::store::{EventStore, LineCounter};

/// Prints the periodic summary line, sends alert digests when cooldowns end, and prunes old
/// data, until `shutdown`.
pub async fn run(
    store: Arc<EventStore>,
    counter: Arc<LineCounter>,
    alerter: Arc<Alerter>,
    summary_secs: u64,
    retention_days: u64,
    shutdown: CancellationToken,
) {
    let summary_every = Duration::from_secs(summary_secs.max(1));
    let mut summary_tick =
        tokio::time::interval_at(tokio::time::Instant::now() + summary_every, summary_every);
    let mut prune_tick = tokio::time::interval(Duration::from_secs(3600));
    let mut digest_tick = tokio::time::interval(Duration::from_secs(1));
    let mut trim_tick = tokio::time::interval(Duration::from_secs(60));
    // Each summary counts the lines stored since the previous one (the difference of the
    // totals since start), so consecutive lines neither overlap nor leave gaps.
    let mut summarised = counter.level_totals();
    loop {
        tokio::select! {
            _ = digest_tick.tick() => alerter.send_digests(),
            _ = summary_tick.tick(), if summary_secs > 0 => {
                let totals = counter.level_totals();
                let mut since = [0u64; 6];
                for (slot, (now, before)) in since.iter_mut().zip(totals.iter().zip(summarised)) {
                    *slot = now.saturating_sub(before);
                }
                summarised = totals;
                println!("{}", summary_line(summary_secs, &crate::store::counter::to_map(&since)));
            }
            _ = trim_tick.tick() => counter.trim(chrono::Utc::now().timestamp()),
            _ = prune_tick.tick() => {
                if let Err(err) = store.prune(retention_days).await {
                    tracing::error!(%err, "Could not prune old events.");
                }
            }
            _ = shutdown.cancelled() => return,
        }
    }
}

/// The spec's stdout line: `Summary (last 10 min): 5 errors, 2 warnings.`
/// The window is written in minutes when it is whole minutes (`last 10 min`), else in
/// seconds (`last 90 s`).
pub fn summary_line(window_secs: u64, totals: &BTreeMap<&'static str, u64>) -> String {
    let count = |level: &str| totals.get(level).copied().unwrap_or(0);
    let plural = |n: u64, word: &str| {
        if n == 1 {
            format!("1 {word}")
        } else {
            format!("{n} {word}s")
        }
    };
    let mut parts = Vec::new();
    let critical = count("critical");
    if critical > 0 {
        parts.push(format!("{critical} critical"));
    }
    parts.push(plural(count("error"), "error"));
    parts.push(plural(count("warning"), "warning"));
    let window = if window_secs.is_multiple_of(60) {
        format!("{} min", window_secs / 60)
    } else {
        format!("{window_secs} s")
    };
    format!("Summary (last {window}): {}.", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_line_reads_like_the_spec() {
        let mut totals = BTreeMap::new();
        totals.insert("error", 5);
        totals.insert("warning", 2);
        assert_eq!(
            summary_line(600, &totals),
            "Summary (last 10 min): 5 errors, 2 warnings."
        );
        assert_eq!(
            summary_line(90, &totals),
            "Summary (last 90 s): 5 errors, 2 warnings."
        );
        totals.insert("error", 1);
        totals.insert("critical", 1);
        assert_eq!(
            summary_line(600, &totals),
            "Summary (last 10 min): 1 critical, 1 error, 2 warnings."
        );
    }
}
