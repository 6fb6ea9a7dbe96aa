//! `GET /events`: server-sent events carrying the full status document whenever a check
//! finishes, at most twice a second, so the dashboard updates without reloading. Each open
//! stream holds one of `[dashboard] max_streams` slots; when none is free the answer is `503`
//! with `Retry-After` (the page then falls back to polling `/api/status`).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::stream::Stream;
use service_kit::http_error::ApiError;

use super::status::status_view;
use super::App;

/// Minimum time between two events to one client; bounds the cost of many fast checks.
const MIN_GAP: Duration = Duration::from_millis(500);

/// `GET /events`.
pub async fn stream(
    State(app): State<Arc<App>>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    // Held by the stream's state, so the slot is free again when the client goes away.
    let slot = app.streams.take()?;
    let changes = app.state.subscribe();
    let stream = futures_util::stream::unfold(
        (app, changes, true, slot),
        |(app, mut changes, first, slot)| async move {
            if !first {
                tokio::time::sleep(MIN_GAP).await;
                changes.changed().await.ok()?;
            }
            changes.borrow_and_update();
            let data =
                serde_json::to_string(&status_view(&app)).unwrap_or_else(|_| "{}".to_string());
            let event = Event::default().event("status").data(data);
            Some((Ok(event), (app, changes, false, slot)))
        },
    );
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}
