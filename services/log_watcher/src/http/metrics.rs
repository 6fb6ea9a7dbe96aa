//! `GET /metrics`: Prometheus text. Lines and bytes read per service (and level), events
//! kept, files open and failing, read lag per file, the Docker Engine connection, and alert
//! deliveries. Names end in `_total` for counters; labels stay few (service, level, path).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use service_kit::metrics_text::{MetricKind, MetricsText, CONTENT_TYPE};

use crate::parse::Level;
use crate::status::SourceKind;

use super::App;

/// `GET /metrics`.
pub(super) async fn metrics(State(app): State<Arc<App>>) -> impl IntoResponse {
    let mut m = MetricsText::new();
    let totals = app.counter.totals();
    m.family(
        "log_watcher_lines_total",
        MetricKind::Counter,
        "Lines read, by service and level.",
    );
    for (service, counts, _) in &totals {
        for level in Level::ALL {
            m.sample(
                "log_watcher_lines_total",
                &[("service", service), ("level", level.as_str())],
                counts[level as usize] as f64,
            );
        }
    }
    m.family(
        "log_watcher_bytes_total",
        MetricKind::Counter,
        "Bytes read, by service.",
    );
    for (service, _, bytes) in &totals {
        m.sample(
            "log_watcher_bytes_total",
            &[("service", service)],
            *bytes as f64,
        );
    }
    let sources = app.sources.snapshot();
    m.single(
        "log_watcher_active_sources",
        MetricKind::Gauge,
        "Files open for reading.",
        sources.iter().filter(|s| s.open).count() as f64,
    );
    m.single(
        "log_watcher_source_errors",
        MetricKind::Gauge,
        "Sources whose last read failed.",
        sources.iter().filter(|s| s.error.is_some()).count() as f64,
    );
    // The Docker Engine API source: its connection (absent when not configured).
    if let Some(engine) = sources
        .iter()
        .find(|s| s.kind == SourceKind::DockerApi && s.container.is_none())
    {
        m.single(
            "log_watcher_docker_connected",
            MetricKind::Gauge,
            "Whether the Docker Engine API answers (1) or not (0).",
            f64::from(u8::from(engine.connected == Some(true))),
        );
    }
    m.family(
        "log_watcher_read_lag_bytes",
        MetricKind::Gauge,
        "Bytes written to followed files and not read yet.",
    );
    // Files only: the API does not tell how far behind a container's log is.
    for source in sources.iter().filter(|s| s.kind != SourceKind::DockerApi) {
        let path = source.path.to_string_lossy();
        m.sample(
            "log_watcher_read_lag_bytes",
            &[("service", &source.service), ("path", &path)],
            source.unread_bytes as f64,
        );
    }
    m.single(
        "log_watcher_events_total",
        MetricKind::Counter,
        "Events kept (lines that passed the filters).",
        app.events_total.load(Ordering::Relaxed) as f64,
    );
    let alerts = app
        .alerter
        .dispatcher()
        .map(|d| d.stats())
        .unwrap_or_default();
    alerts.write_metrics(&mut m, "log_watcher_alerts_total");
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], m.finish())
}
