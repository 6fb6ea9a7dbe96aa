//! Counting every line read, per service and level, by the second it was read: the data
//! behind `/summary?window=`, `/summary/series`, the periodic stdout line and `/metrics`.
//!
//! Memory is bounded: one small array per service per second that saw lines, for the last
//! hour. Longer windows are answered from the per-minute counts in SQLite.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use serde::Serialize;

use crate::parse::{Level, LevelCounts};

/// Seconds of per-second counts kept in memory.
pub const MEMORY_WINDOW_SECS: i64 = 3600;

/// One service's counts per second, oldest first: (unix second, lines per level).
type SecondCounts = VecDeque<(i64, LevelCounts)>;

/// Counts of lines read, keyed by service, then by second.
#[derive(Debug, Default)]
pub struct LineCounter {
    /// The last hour, per service and second.
    by_service: Mutex<HashMap<Arc<str>, SecondCounts>>,
    /// Lines per level and bytes per service since start.
    totals: Mutex<HashMap<Arc<str>, (LevelCounts, u64)>>,
}

/// The `/summary` answer.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Summary {
    /// The window covered.
    pub window_secs: i64,
    /// Lines per level, all services.
    pub totals: BTreeMap<&'static str, u64>,
    /// Lines per level per service.
    pub services: BTreeMap<String, BTreeMap<&'static str, u64>>,
}

fn to_map(counts: &LevelCounts) -> BTreeMap<&'static str, u64> {
    Level::ALL
        .iter()
        .map(|level| (level.as_str(), counts[*level as usize]))
        .collect()
}

impl LineCounter {
    /// Adds counts read in `second` (unix seconds) for `service`, with their byte total.
    pub fn add(&self, service: &Arc<str>, second: i64, counts: &LevelCounts, bytes: u64) {
        {
            let mut by_service = self.by_service.lock().unwrap_or_else(|p| p.into_inner());
            let seconds = by_service.entry(service.clone()).or_default();
            match seconds.back_mut() {
                Some((last, slot)) if *last == second => add_into(slot, counts),
                _ => seconds.push_back((second, *counts)),
            }
            while seconds
                .front()
                .is_some_and(|(s, _)| *s <= second - MEMORY_WINDOW_SECS)
            {
                seconds.pop_front();
            }
        }
        let mut totals = self.totals.lock().unwrap_or_else(|p| p.into_inner());
        let entry = totals.entry(service.clone()).or_default();
        add_into(&mut entry.0, counts);
        entry.1 += bytes;
    }

    /// Counts of the last `window_secs` seconds up to `now` (at most [`MEMORY_WINDOW_SECS`]).
    pub fn window(&self, now: i64, window_secs: i64) -> Summary {
        let from = now - window_secs.min(MEMORY_WINDOW_SECS);
        let by_service = self.by_service.lock().unwrap_or_else(|p| p.into_inner());
        let mut totals = [0u64; 6];
        let mut services = BTreeMap::new();
        for (service, seconds) in by_service.iter() {
            let mut counts = [0u64; 6];
            for (_, slot) in seconds.iter().filter(|(s, _)| *s > from && *s <= now) {
                add_into(&mut counts, slot);
            }
            if counts.iter().any(|c| *c > 0) {
                add_into(&mut totals, &counts);
                services.insert(service.to_string(), to_map(&counts));
            }
        }
        Summary {
            window_secs,
            totals: to_map(&totals),
            services,
        }
    }

    /// Per-second counts of the seconds in `from..to` (unix seconds), summed over every
    /// service or only `service`, oldest first: the raw material of `/summary/series`.
    /// Only the last [`MEMORY_WINDOW_SECS`] are kept, so older seconds are simply absent.
    pub fn seconds(&self, from: i64, to: i64, service: Option<&str>) -> Vec<(i64, LevelCounts)> {
        let by_service = self.by_service.lock().unwrap_or_else(|p| p.into_inner());
        let mut merged: BTreeMap<i64, LevelCounts> = BTreeMap::new();
        for (name, seconds) in by_service.iter() {
            if service.is_some_and(|wanted| &**name != wanted) {
                continue;
            }
            for (second, counts) in seconds.iter().filter(|(s, _)| *s >= from && *s < to) {
                add_into(merged.entry(*second).or_default(), counts);
            }
        }
        merged.into_iter().collect()
    }

    /// Lines and bytes per service since start (for `/metrics`).
    pub fn totals(&self) -> Vec<(Arc<str>, LevelCounts, u64)> {
        let totals = self.totals.lock().unwrap_or_else(|p| p.into_inner());
        let mut rows: Vec<_> = totals
            .iter()
            .map(|(service, (counts, bytes))| (service.clone(), *counts, *bytes))
            .collect();
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        rows
    }
}

fn add_into(into: &mut LevelCounts, counts: &LevelCounts) {
    for (slot, count) in into.iter_mut().zip(counts) {
        *slot += count;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(level: Level, n: u64) -> LevelCounts {
        let mut c = [0; 6];
        c[level as usize] = n;
        c
    }

    #[test]
    fn window_counts_only_the_seconds_inside_it() {
        let counter = LineCounter::default();
        let api: Arc<str> = Arc::from("api");
        counter.add(&api, 100, &counts(Level::Error, 2), 10);
        counter.add(&api, 150, &counts(Level::Error, 3), 10);
        counter.add(&api, 150, &counts(Level::Warning, 1), 10);
        let summary = counter.window(160, 30);
        assert_eq!(summary.totals["error"], 3);
        assert_eq!(summary.services["api"]["warning"], 1);
        assert_eq!(counter.window(160, 600).totals["error"], 5);
    }

    #[test]
    fn seconds_merge_services_and_keep_to_the_range_and_service() {
        let counter = LineCounter::default();
        let (api, web): (Arc<str>, Arc<str>) = (Arc::from("api"), Arc::from("web"));
        counter.add(&api, 100, &counts(Level::Error, 2), 10);
        counter.add(&web, 100, &counts(Level::Info, 5), 10);
        counter.add(&api, 130, &counts(Level::Warning, 1), 10);
        counter.add(&web, 160, &counts(Level::Info, 1), 10);
        let all = counter.seconds(100, 160, None);
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].0, 100);
        assert_eq!(all[0].1[Level::Error as usize], 2);
        assert_eq!(all[0].1[Level::Info as usize], 5);
        assert_eq!(all[1], (130, counts(Level::Warning, 1)));
        assert_eq!(
            counter.seconds(0, 1000, Some("web")),
            vec![(100, counts(Level::Info, 5)), (160, counts(Level::Info, 1))]
        );
        assert!(counter.seconds(0, 1000, Some("db")).is_empty());
    }
}
