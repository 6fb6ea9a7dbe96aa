//! Counting every line read, per service and level, by the time it was read: the data
//! behind `/summary?window=`, `/summary/series`, the dashboard's header and chart, the
//! periodic stdout line and `/metrics`.
//!
//! Memory stays flat whatever the rate and however long the service runs: per service, the
//! counts of each second for the last [`SECOND_SECS`] (for short-step series) and of each
//! minute for the last [`MEMORY_WINDOW_SECS`] (for summaries and the chart), nothing older.
//! SQLite holds the same per-minute counts for the whole retention (the writer commits them
//! with the lines), and at start-up the last hour of them is loaded back here.
//!
//! # Windows are whole minutes
//! A window of `W` seconds counts the current minute of the clock (as far as it has gone)
//! and the `ceil(W / 60) - 1` minutes before it ([`window_minutes`]). The same rule answers
//! from memory and from SQLite, which hold the same per-minute counts, so a window gives
//! the same counts from either, and again after a restart.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use serde::Serialize;

use crate::parse::{Level, LevelCounts};

/// Seconds of per-second counts kept in memory (series with steps shorter than a minute).
pub const SECOND_SECS: i64 = 300;

/// Seconds of per-minute counts kept in memory: windows up to this are answered from here,
/// longer ones from SQLite.
pub const MEMORY_WINDOW_SECS: i64 = 3600;

/// Minutes kept: those of the longest window answered from memory, and one more for the
/// minute that just ended while a request was being answered.
const MINUTES_KEPT: i64 = MEMORY_WINDOW_SECS / 60 + 1;

/// The minutes a window of `window_secs` ending at `now` covers, as unix minutes
/// `(first, last)` (both included): the current minute and the `ceil(window / 60) - 1`
/// before it.
pub fn window_minutes(now: i64, window_secs: i64) -> (i64, i64) {
    let last = now.div_euclid(60);
    let minutes = window_secs.max(1).saturating_add(59) / 60;
    (last.saturating_sub(minutes - 1), last)
}

/// Counts per unit of time (a second or a minute), oldest first.
type Slots = VecDeque<(i64, LevelCounts)>;

/// One service's recent counts.
#[derive(Debug)]
struct ServiceCounts {
    /// Per second, the last [`SECOND_SECS`].
    seconds: Slots,
    /// Per minute (unix minutes), the last [`MINUTES_KEPT`].
    minutes: Slots,
}

impl Default for ServiceCounts {
    /// Room for every unit kept (and the one more that [`add_slot`] holds for a moment)
    /// from the start: a service's counts take the same memory in its first minute as after
    /// hours, instead of growing by doublings (and shrinking and growing again) as its
    /// seconds and minutes fill up.
    fn default() -> Self {
        ServiceCounts {
            seconds: Slots::with_capacity(SECOND_SECS as usize + 1),
            minutes: Slots::with_capacity(MINUTES_KEPT as usize + 1),
        }
    }
}

/// Counts of lines read, keyed by service.
#[derive(Debug, Default)]
pub struct LineCounter {
    /// The recent counts, per service.
    by_service: Mutex<HashMap<Arc<str>, ServiceCounts>>,
    /// Lines per level and bytes per service since start.
    totals: Mutex<HashMap<Arc<str>, (LevelCounts, u64)>>,
}

/// The `/summary` answer.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Summary {
    /// The window asked for.
    pub window_secs: i64,
    /// Lines per level, all services.
    pub totals: BTreeMap<&'static str, u64>,
    /// Lines per level per service (services without lines in the window are left out).
    pub services: BTreeMap<String, BTreeMap<&'static str, u64>>,
}

impl Summary {
    /// The summary of `window_secs` from per-service counts (a service may come several
    /// times; its counts add up).
    pub fn from_counts<'a>(
        window_secs: i64,
        counts: impl IntoIterator<Item = (&'a str, LevelCounts)>,
    ) -> Summary {
        let mut totals = [0u64; 6];
        let mut services: BTreeMap<String, LevelCounts> = BTreeMap::new();
        for (service, counts) in counts {
            if counts.iter().all(|c| *c == 0) {
                continue;
            }
            add_into(&mut totals, &counts);
            add_into(services.entry(service.to_string()).or_default(), &counts);
        }
        Summary {
            window_secs,
            totals: to_map(&totals),
            services: services
                .into_iter()
                .map(|(service, counts)| (service, to_map(&counts)))
                .collect(),
        }
    }
}

/// Every level's count, by name.
pub fn to_map(counts: &LevelCounts) -> BTreeMap<&'static str, u64> {
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
            let recent = by_service.entry(service.clone()).or_default();
            add_slot(&mut recent.seconds, second, counts, SECOND_SECS);
            add_slot(
                &mut recent.minutes,
                second.div_euclid(60),
                counts,
                MINUTES_KEPT,
            );
        }
        let mut totals = self.totals.lock().unwrap_or_else(|p| p.into_inner());
        let entry = totals.entry(service.clone()).or_default();
        add_into(&mut entry.0, counts);
        entry.1 += bytes;
    }

    /// Loads per-minute counts (from SQLite, at start-up): `(service, unix minute, counts)`.
    pub fn load_minutes(&self, rows: impl IntoIterator<Item = (String, i64, LevelCounts)>) {
        let mut by_service = self.by_service.lock().unwrap_or_else(|p| p.into_inner());
        for (service, minute, counts) in rows {
            let recent = by_service.entry(Arc::from(service.as_str())).or_default();
            add_slot(&mut recent.minutes, minute, &counts, MINUTES_KEPT);
        }
    }

    /// Drops what is older than the bounds at `now`, and services with nothing left, so that
    /// services that stopped logging do not stay in memory.
    pub fn trim(&self, now: i64) {
        let mut by_service = self.by_service.lock().unwrap_or_else(|p| p.into_inner());
        for recent in by_service.values_mut() {
            // Their room stays: it is bounded, and taken again within the minute.
            drop_before(&mut recent.seconds, now - SECOND_SECS);
            drop_before(&mut recent.minutes, now.div_euclid(60) - MINUTES_KEPT);
        }
        by_service.retain(|_, recent| !recent.minutes.is_empty() || !recent.seconds.is_empty());
    }

    /// Counts of the window of `window_secs` ending at `now` (whole minutes, see the module
    /// documentation; at most [`MEMORY_WINDOW_SECS`]).
    pub fn window(&self, now: i64, window_secs: i64) -> Summary {
        let (first, last) = window_minutes(now, window_secs.min(MEMORY_WINDOW_SECS));
        let by_service = self.by_service.lock().unwrap_or_else(|p| p.into_inner());
        let counts = by_service.iter().map(|(service, recent)| {
            let mut counts = [0u64; 6];
            for (_, slot) in recent
                .minutes
                .iter()
                .filter(|(m, _)| (first..=last).contains(m))
            {
                add_into(&mut counts, slot);
            }
            (&**service, counts)
        });
        Summary::from_counts(window_secs, counts)
    }

    /// Per-second counts of the seconds in `from..to` (unix seconds), summed over every
    /// service or only `service`, oldest first. Only the last [`SECOND_SECS`] are kept.
    pub fn seconds(&self, from: i64, to: i64, service: Option<&str>) -> Vec<(i64, LevelCounts)> {
        self.samples(from, to, service, |recent| &recent.seconds, 1)
    }

    /// Per-minute counts of the minutes starting in `from..to` (unix seconds) as `(first
    /// second of the minute, counts)`, summed like [`LineCounter::seconds`]. Only the last
    /// [`MEMORY_WINDOW_SECS`] are kept.
    pub fn minutes(&self, from: i64, to: i64, service: Option<&str>) -> Vec<(i64, LevelCounts)> {
        self.samples(from, to, service, |recent| &recent.minutes, 60)
    }

    fn samples(
        &self,
        from: i64,
        to: i64,
        service: Option<&str>,
        slots: impl Fn(&ServiceCounts) -> &Slots,
        unit_secs: i64,
    ) -> Vec<(i64, LevelCounts)> {
        let by_service = self.by_service.lock().unwrap_or_else(|p| p.into_inner());
        let mut merged: BTreeMap<i64, LevelCounts> = BTreeMap::new();
        for (name, recent) in by_service.iter() {
            if service.is_some_and(|wanted| &**name != wanted) {
                continue;
            }
            for (unit, counts) in slots(recent) {
                let second = unit.saturating_mul(unit_secs);
                if second >= from && second < to {
                    add_into(merged.entry(second).or_default(), counts);
                }
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

    /// Lines per level since start, all services together (the stdout summary line counts
    /// the difference between two of these).
    pub fn level_totals(&self) -> LevelCounts {
        let totals = self.totals.lock().unwrap_or_else(|p| p.into_inner());
        let mut sum = [0u64; 6];
        for (counts, _) in totals.values() {
            add_into(&mut sum, counts);
        }
        sum
    }
}

/// Adds `counts` at `unit` into `slots` (kept in order; a unit older than the newest, from
/// a source that was a little behind, goes where it belongs), then drops the units `keep`
/// or more older than the newest.
fn add_slot(slots: &mut Slots, unit: i64, counts: &LevelCounts, keep: i64) {
    // Almost always the newest unit, or one just before it: search from the back.
    let position = slots.iter().rposition(|(u, _)| *u <= unit);
    match position {
        Some(i) if slots[i].0 == unit => add_into(&mut slots[i].1, counts),
        Some(i) => slots.insert(i + 1, (unit, *counts)),
        None => slots.push_front((unit, *counts)),
    }
    if let Some(&(newest, _)) = slots.back() {
        drop_before(slots, newest.saturating_sub(keep - 1));
    }
}

/// Drops the units before `first`.
fn drop_before(slots: &mut Slots, first: i64) {
    while slots.front().is_some_and(|(u, _)| *u < first) {
        slots.pop_front();
    }
}

fn add_into(into: &mut LevelCounts, counts: &LevelCounts) {
    for (slot, count) in into.iter_mut().zip(counts) {
        *slot = slot.saturating_add(*count);
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
    fn a_window_is_the_current_minute_and_whole_minutes_before_it() {
        // 12:34:56 on some day: minute 12:34 is the current one.
        let now = 1_718_195_696;
        assert_eq!(window_minutes(now, 600), (now / 60 - 9, now / 60));
        assert_eq!(window_minutes(now, 30), (now / 60, now / 60));
        assert_eq!(window_minutes(now, 61), (now / 60 - 1, now / 60));
        assert_eq!(
            window_minutes(now, 3600).1 - window_minutes(now, 3600).0,
            59
        );
        let counter = LineCounter::default();
        let api: Arc<str> = Arc::from("api");
        let minute = now - now % 60;
        counter.add(&api, minute - 61, &counts(Level::Error, 2), 10); // two minutes back
        counter.add(&api, minute - 1, &counts(Level::Error, 3), 10); // the minute before
        counter.add(&api, minute + 5, &counts(Level::Warning, 1), 10); // this minute
        assert_eq!(counter.window(now, 30).totals["error"], 0);
        assert_eq!(counter.window(now, 30).services["api"]["warning"], 1);
        assert_eq!(counter.window(now, 120).totals["error"], 3);
        assert_eq!(counter.window(now, 180).totals["error"], 5);
        assert!(!counter.window(now, 60).services.contains_key("web"));
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
        assert_eq!(
            counter.minutes(0, 1000, Some("api")),
            vec![
                (60, counts(Level::Error, 2)),
                (120, counts(Level::Warning, 1))
            ]
        );
    }

    #[test]
    fn memory_stays_bounded_per_service_however_long_it_runs() {
        let counter = LineCounter::default();
        let api: Arc<str> = Arc::from("api");
        // Two hours of a line every second, and a few arriving a little late.
        for second in 0..7200 {
            counter.add(&api, second, &counts(Level::Info, 1), 1);
            if second % 100 == 0 && second > 5 {
                counter.add(&api, second - 3, &counts(Level::Info, 1), 1);
            }
        }
        {
            let by_service = counter.by_service.lock().unwrap();
            let recent = &by_service[&api];
            assert_eq!(recent.seconds.len() as i64, SECOND_SECS);
            assert_eq!(recent.minutes.len() as i64, MINUTES_KEPT);
            // The room taken at the first line, never grown (nor shrunk by the trims).
            let fresh = ServiceCounts::default();
            assert_eq!(recent.seconds.capacity(), fresh.seconds.capacity());
            assert_eq!(recent.minutes.capacity(), fresh.minutes.capacity());
            assert!(recent
                .seconds
                .iter()
                .zip(recent.seconds.iter().skip(1))
                .all(|(a, b)| a.0 < b.0));
        }
        assert_eq!(counter.window(7199, 60).totals["info"], 60);
        assert_eq!(counter.level_totals()[Level::Info as usize], 7200 + 71);
        counter.trim(7200);
        counter.add(&api, 7200, &counts(Level::Info, 1), 1);
        {
            let by_service = counter.by_service.lock().unwrap();
            let fresh = ServiceCounts::default();
            assert_eq!(
                by_service[&api].seconds.capacity(),
                fresh.seconds.capacity()
            );
        }
        // A service that stopped logging long ago is forgotten by the periodic trim.
        counter.trim(7200 + 2 * MEMORY_WINDOW_SECS);
        assert!(counter.by_service.lock().unwrap().is_empty());
        assert_eq!(counter.totals().len(), 1, "totals since start stay");
    }

    #[test]
    fn minutes_loaded_at_start_up_count_like_the_ones_read_since() {
        let counter = LineCounter::default();
        let now = 1_718_195_696;
        let minute = now / 60;
        counter.load_minutes([
            ("api".to_string(), minute - 2, counts(Level::Error, 4)),
            ("web".to_string(), minute - 100, counts(Level::Error, 9)), // beyond the hour
        ]);
        counter.add(&Arc::from("api"), now, &counts(Level::Error, 1), 1);
        assert_eq!(counter.window(now, 3600).totals["error"], 5);
    }
}
