//! `GET /summary?window=10m`: lines read per level, in total and per service, in the window
//! (by the time they were read). Windows are whole minutes of the clock (the current one so
//! far and those before it, see [`crate::store::counter`]); up to the hour kept in memory
//! they come from the line counter, longer ones from the same per-minute counts in SQLite,
//! so both give the same counts.

use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use chrono::Utc;
use serde::Deserialize;
use service_kit::http_error::ApiError;

use crate::store::{Summary, MEMORY_WINDOW_SECS};

use super::query::{self, non_empty, Params};
use super::App;

/// Window when none is given.
pub const DEFAULT_WINDOW_SECS: i64 = 600;

/// Query of `/summary`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct SummaryParams {
    /// Window such as `10m` (default 10m).
    pub window: Option<String>,
}

impl SummaryParams {
    /// The window asked for, in seconds (a 400 naming `window` otherwise).
    pub fn window_secs(&self) -> Result<i64, ApiError> {
        match non_empty(&self.window) {
            Some(text) => query::duration("window", text),
            None => Ok(DEFAULT_WINDOW_SECS),
        }
    }
}

/// `GET /summary`.
pub(super) async fn summary(
    State(app): State<Arc<App>>,
    Params(params): Params<SummaryParams>,
) -> Result<Json<Summary>, ApiError> {
    let window = params.window_secs()?;
    let now = Utc::now().timestamp();
    if window <= MEMORY_WINDOW_SECS {
        return Ok(Json(app.counter.window(now, window)));
    }
    app.store
        .summary(now, window)
        .await
        .map(Json)
        .map_err(super::logs::read_error)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn any_window_is_a_bounded_number_of_seconds_or_a_400_naming_window(
            window in proptest::option::of(prop_oneof![
                ".{0,30}",
                any::<i64>().prop_map(|n| n.to_string()),
                (any::<u64>(), "[smhdwy]").prop_map(|(n, u)| format!("{n}{u}")),
            ]),
        ) {
            match (SummaryParams { window }).window_secs() {
                Ok(secs) => prop_assert!((1..=super::super::duration::MAX_SECS).contains(&secs)),
                Err(error) => prop_assert!(error.to_string().starts_with("window: "), "{}", error),
            }
        }
    }

    #[test]
    fn the_windows_of_the_issue_are_400s() {
        for window in ["9223372036854775807s", "100000000d", "-1", "0", "soon"] {
            let error = SummaryParams {
                window: Some(window.to_string()),
            }
            .window_secs()
            .unwrap_err();
            assert!(error.to_string().starts_with("window: "), "{error}");
        }
    }
}
