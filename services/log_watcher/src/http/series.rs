//! Lines read per level over time, in equal buckets: `GET /summary/series` and the
//! dashboard's chart.
//!
//! Buckets are aligned to multiples of the step (a 60 s step starts every bucket on a full
//! minute), the last one holds "now" and is still filling, and every bucket is present even
//! when nothing was read in it, so a chart can draw them side by side without gaps. Steps of
//! whole minutes come from the per-minute counts: in memory for windows up to an hour
//! ([`LineCounter::minutes`](crate::store::LineCounter::minutes)), from the `line_counts`
//! table in SQLite beyond. Shorter steps come from the per-second counts, which memory
//! keeps for the last [`SECOND_SECS`] only: longer windows need whole-minute steps.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use service_kit::http_error::ApiError;

use crate::event::format_time;
use crate::parse::{Level, LevelCounts};
use crate::store::{MEMORY_WINDOW_SECS, SECOND_SECS};

use super::query::{non_empty, Params};
use super::{duration, App};

/// Most buckets one answer may have (a day of minutes).
pub const MAX_BUCKETS: i64 = 1440;
/// Window when none is given: the last hour.
pub const DEFAULT_WINDOW_SECS: i64 = 3600;
/// Buckets a window is cut into when no step is given (about one per minute of an hour).
const DEFAULT_BUCKETS: i64 = 60;

/// How a series is cut: `count` buckets of `step_secs` seconds starting at `first_start`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Buckets {
    /// Unix second the oldest bucket starts at (a multiple of the step).
    pub first_start: i64,
    /// Length of each bucket in seconds.
    pub step_secs: i64,
    /// How many buckets.
    pub count: usize,
}

impl Buckets {
    /// Enough `step_secs` buckets to cover `window_secs`, the last one holding `now`.
    /// The window and step are those [`SeriesParams::window_and_step`] lets through (at most
    /// [`duration::MAX_SECS`] and [`MAX_BUCKETS`] buckets); the arithmetic saturates anyway.
    pub fn ending_at(now: i64, window_secs: i64, step_secs: i64) -> Buckets {
        let step_secs = step_secs.max(1);
        let count = window_secs.max(1).saturating_add(step_secs - 1) / step_secs;
        let count = count.clamp(1, MAX_BUCKETS);
        let last_start = now.div_euclid(step_secs).saturating_mul(step_secs);
        Buckets {
            first_start: last_start.saturating_sub((count - 1).saturating_mul(step_secs)),
            step_secs,
            count: count as usize,
        }
    }

    /// The second just after the newest bucket.
    pub fn end(&self) -> i64 {
        self.first_start
            .saturating_add((self.count as i64).saturating_mul(self.step_secs))
    }

    /// The bucket `second` falls into, if any.
    pub fn index(&self, second: i64) -> Option<usize> {
        (second >= self.first_start && second < self.end())
            .then(|| ((second - self.first_start) / self.step_secs) as usize)
    }

    /// Adds `(second, counts)` samples into the buckets; samples outside are dropped.
    pub fn fill(&self, samples: impl IntoIterator<Item = (i64, LevelCounts)>) -> Vec<LevelCounts> {
        let mut buckets = vec![[0u64; 6]; self.count];
        for (second, counts) in samples {
            if let Some(i) = self.index(second) {
                for (slot, n) in buckets[i].iter_mut().zip(counts) {
                    *slot += n;
                }
            }
        }
        buckets
    }
}

/// The `/summary/series` answer.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Series {
    /// The window asked for.
    pub window_secs: i64,
    /// Length of each bucket.
    pub step_secs: i64,
    /// The buckets, oldest first, every one present.
    pub buckets: Vec<Bucket>,
}

/// One bucket of a [`Series`].
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Bucket {
    /// When the bucket starts (RFC 3339).
    pub start: String,
    /// Lines per level read in the bucket (every level, zeros included).
    pub counts: BTreeMap<&'static str, u64>,
}

impl Series {
    /// Names the buckets' starts and levels.
    pub fn new(window_secs: i64, cut: Buckets, counts: &[LevelCounts]) -> Series {
        let buckets = counts
            .iter()
            .enumerate()
            .map(|(i, counts)| Bucket {
                start: DateTime::<Utc>::from_timestamp(
                    cut.first_start
                        .saturating_add((i as i64).saturating_mul(cut.step_secs)),
                    0,
                )
                .map(format_time)
                .unwrap_or_default(),
                counts: Level::ALL
                    .iter()
                    .map(|level| (level.as_str(), counts[*level as usize]))
                    .collect(),
            })
            .collect();
        Series {
            window_secs,
            step_secs: cut.step_secs,
            buckets,
        }
    }
}

/// Query of `/summary/series`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct SeriesParams {
    /// Window such as `1h` or `7d` (default 1h).
    pub window: Option<String>,
    /// Bucket length: seconds or a duration such as `5m` (default: the window / 60).
    pub step: Option<String>,
    /// Only this service's lines.
    pub service: Option<String>,
}

impl SeriesParams {
    /// The window and step asked for, checked: at most [`MAX_BUCKETS`] buckets, and whole
    /// minutes for windows beyond the [`SECOND_SECS`] of per-second counts. Errors name the
    /// parameter (`window: ...`, `step: ...`).
    pub fn window_and_step(&self) -> Result<(i64, i64), String> {
        let window = match non_empty(&self.window) {
            Some(text) => duration::parse_secs(text)
                .map_err(|why| format!("window: {why}, got {}", super::query::quoted(text)))?,
            None => DEFAULT_WINDOW_SECS,
        };
        let per_second = window <= SECOND_SECS;
        let step = match non_empty(&self.step) {
            Some(text) => duration::parse_secs(text)
                .map_err(|why| format!("step: {why}, got {}", super::query::quoted(text)))?,
            None => {
                let step = (window + DEFAULT_BUCKETS - 1) / DEFAULT_BUCKETS;
                if per_second {
                    step
                } else {
                    (step + 59) / 60 * 60
                }
            }
        };
        if step > window {
            return Err(format!(
                "step: {step} s must not be longer than the window ({window} s)"
            ));
        }
        if !per_second && step % 60 != 0 {
            return Err(format!(
                "step: windows over {SECOND_SECS} s are counted per minute: the step must be a multiple of 60 s, got {step} s"
            ));
        }
        let buckets = (window + step - 1) / step;
        if buckets > MAX_BUCKETS {
            return Err(format!(
                "step: window / step gives {buckets} buckets; at most {MAX_BUCKETS}: use a longer step"
            ));
        }
        Ok((window, step))
    }
}

/// The series of `window_secs` in `step_secs` buckets up to `now`, from memory or SQLite.
/// (When the window is not a whole number of steps, the oldest bucket starts a little
/// before it; from memory, seconds older than the hour kept there count as empty.)
pub async fn series(
    app: &App,
    now: i64,
    window_secs: i64,
    step_secs: i64,
    service: Option<&str>,
) -> Result<Series, crate::store::ReadError> {
    let buckets = Buckets::ending_at(now, window_secs, step_secs);
    let counts = if step_secs % 60 != 0 {
        buckets.fill(
            app.counter
                .seconds(buckets.first_start, buckets.end(), service),
        )
    } else if window_secs <= MEMORY_WINDOW_SECS {
        buckets.fill(
            app.counter
                .minutes(buckets.first_start, buckets.end(), service),
        )
    } else {
        let rows = app
            .store
            .minute_counts(
                buckets.first_start.div_euclid(60),
                buckets.end().div_euclid(60),
                service.map(str::to_string),
            )
            .await?;
        buckets.fill(rows)
    };
    Ok(Series::new(window_secs, buckets, &counts))
}

/// `GET /summary/series?window=1h&step=60&service=api`.
pub async fn series_handler(
    State(app): State<Arc<App>>,
    Params(params): Params<SeriesParams>,
) -> Result<Json<Series>, ApiError> {
    let (window, step) = params.window_and_step().map_err(ApiError::BadRequest)?;
    let service = super::query::text("service", &params.service)?;
    let now = Utc::now().timestamp();
    series(&app, now, window, step, service)
        .await
        .map(Json)
        .map_err(super::logs::read_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(level: Level, n: u64) -> LevelCounts {
        let mut c = [0; 6];
        c[level as usize] = n;
        c
    }

    fn params(window: &str, step: &str) -> SeriesParams {
        SeriesParams {
            window: Some(window.to_string()),
            step: Some(step.to_string()),
            service: None,
        }
    }

    #[test]
    fn buckets_are_aligned_to_the_step_and_the_last_one_holds_now() {
        // 12:34:56 on some day.
        let now = 1_718_195_696;
        let b = Buckets::ending_at(now, 3600, 60);
        assert_eq!(b.count, 60);
        assert_eq!(b.first_start % 60, 0);
        assert_eq!(
            b.end() - 60,
            now - now % 60,
            "the newest bucket is the current minute"
        );
        assert_eq!(b.index(now), Some(59));
        assert_eq!(b.index(b.first_start), Some(0));
        assert_eq!(b.index(b.first_start - 1), None);
        assert_eq!(b.index(b.end()), None);
        // A window that is not a whole number of steps gets one more, partly covered bucket.
        assert_eq!(Buckets::ending_at(now, 90, 60).count, 2);
    }

    #[test]
    fn every_bucket_is_present_and_samples_land_in_theirs() {
        let b = Buckets::ending_at(600, 300, 60); // buckets 360, 420, 480, 540, 600
        assert_eq!(b.first_start, 360);
        let filled = b.fill([
            (300, counts(Level::Error, 9)), // before the window
            (360, counts(Level::Error, 1)),
            (419, counts(Level::Error, 2)),
            (420, counts(Level::Warning, 3)),
            (600, counts(Level::Info, 4)),
            (660, counts(Level::Info, 9)), // after it
        ]);
        assert_eq!(filled.len(), 5);
        assert_eq!(filled[0], counts(Level::Error, 3));
        assert_eq!(filled[1], counts(Level::Warning, 3));
        assert_eq!(filled[2], [0; 6]);
        assert_eq!(filled[3], [0; 6]);
        assert_eq!(filled[4], counts(Level::Info, 4));
        let series = Series::new(300, b, &filled);
        assert_eq!(series.buckets[0].start, "1970-01-01T00:06:00Z");
        assert_eq!(series.buckets[0].counts["error"], 3);
        assert_eq!(series.buckets[2].counts.len(), 6, "zeros for every level");
        assert_eq!(series.buckets[4].counts["info"], 4);
    }

    #[test]
    fn series_parameters_are_checked() {
        assert_eq!(SeriesParams::default().window_and_step(), Ok((3600, 60)));
        assert_eq!(params("5m", "10").window_and_step(), Ok((300, 10)));
        assert_eq!(params("1d", "").window_and_step(), Ok((86_400, 1440)));
        assert_eq!(params("7d", "1h").window_and_step(), Ok((604_800, 3600)));
        let error = |p: SeriesParams| p.window_and_step().unwrap_err();
        assert!(error(params("soon", "60")).starts_with("window: must be a duration"));
        assert!(error(params("1h", "0")).starts_with("step: must be at least one second"));
        assert!(error(params("1h", "2h")).contains("must not be longer than the window"));
        assert!(error(params("2d", "60")).contains("at most 1440"));
        assert!(error(params("2h", "90")).contains("multiple of 60"));
        assert!(error(params("10m", "10")).contains("multiple of 60"));
        assert!(error(params("9223372036854775807s", "")).starts_with("window: must be at most"));
    }

    use proptest::prelude::*;

    proptest! {
        /// Any window and step: a bounded cut, or an error naming `window` or `step`.
        #[test]
        fn any_window_and_step_is_a_bounded_cut_or_names_its_parameter(
            window in proptest::option::of(prop_oneof![
                ".{0,20}",
                any::<u64>().prop_map(|n| n.to_string()),
                (any::<u64>(), "[smhdwy]").prop_map(|(n, u)| format!("{n}{u}")),
            ]),
            step in proptest::option::of(prop_oneof![
                ".{0,20}",
                any::<u64>().prop_map(|n| n.to_string()),
                (0u64..100_000, "[smhd]").prop_map(|(n, u)| format!("{n}{u}")),
            ]),
            now in any::<i64>(),
        ) {
            let params = SeriesParams { window, step, service: None };
            match params.window_and_step() {
                Ok((window, step)) => {
                    let cut = Buckets::ending_at(now, window, step);
                    proptest::prop_assert!(cut.count as i64 <= MAX_BUCKETS);
                    let _ = Series::new(window, cut, &cut.fill([(now, [1; 6])]));
                }
                Err(error) => proptest::prop_assert!(
                    error.starts_with("window: ") || error.starts_with("step: "), "{}", error
                ),
            }
        }
    }

    #[tokio::test]
    async fn long_windows_come_from_the_per_minute_counts_in_sqlite() {
        use crate::batch::{Batch, CountEntry};
        use crate::store::EventStore;
        let dir = tempfile::tempdir().unwrap();
        let store = EventStore::open(dir.path(), 100).unwrap();
        let now = Utc::now().timestamp();
        let entry = |service: &str, second: i64, level: Level, n: u64| CountEntry {
            service: Arc::from(service),
            second,
            counts: counts(level, n),
            bytes: 0,
        };
        store
            .commit(Batch {
                counts: vec![
                    entry("api", now - 6000, Level::Error, 2),
                    entry("web", now - 6000, Level::Error, 1),
                    entry("api", now - 30, Level::Warning, 4),
                    entry("api", now - 9000, Level::Info, 8), // outside a 2 h window
                ],
                ..Batch::default()
            })
            .await
            .unwrap();
        let b = Buckets::ending_at(now, 7200, 600);
        let all = b.fill(
            store
                .minute_counts(b.first_start / 60, b.end() / 60, None)
                .await
                .unwrap(),
        );
        let total = |level: Level| all.iter().map(|c| c[level as usize]).sum::<u64>();
        assert_eq!(
            (
                total(Level::Error),
                total(Level::Warning),
                total(Level::Info)
            ),
            (3, 4, 0)
        );
        assert_eq!(all[b.index(now - 6000).unwrap()][Level::Error as usize], 3);
        let web = store
            .minute_counts(b.first_start / 60, b.end() / 60, Some("web".to_string()))
            .await
            .unwrap();
        assert_eq!(
            web,
            vec![((now - 6000).div_euclid(60) * 60, counts(Level::Error, 1))]
        );
    }
}
