//! `GET /metrics`: deliveries by hook and outcome, finished jobs by hook and state, job
//! durations, the queues (running and waiting per hook), notifications, and audit records
//! dropped, in the Prometheus text format.

use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use service_kit::metrics_text::{MetricKind, MetricsText, CONTENT_TYPE};

use crate::jobs::record::JobState;
use crate::App;

/// `GET /metrics`.
pub async fn metrics(State(app): State<Arc<App>>) -> impl IntoResponse {
    let mut m = MetricsText::new();
    m.family(
        "webhook_deliveries_total",
        MetricKind::Counter,
        "Deliveries received, by hook and outcome.",
    );
    for (hook, outcomes) in app.metrics.deliveries() {
        for (outcome, count) in outcomes {
            m.sample(
                "webhook_deliveries_total",
                &[("hook", &hook), ("outcome", outcome.as_str())],
                count as f64,
            );
        }
    }
    m.single(
        "webhook_unknown_hook_requests_total",
        MetricKind::Counter,
        "Deliveries to hooks that do not exist.",
        app.metrics.unknown_hooks() as f64,
    );
    let jobs = app.metrics.jobs();
    m.family(
        "webhook_jobs_finished_total",
        MetricKind::Counter,
        "Jobs that ended, by hook and final state.",
    );
    for (hook, counts) in &jobs {
        for (state, count) in JobState::ALL.iter().zip(counts.by_state) {
            if state.is_final() {
                m.sample(
                    "webhook_jobs_finished_total",
                    &[("hook", hook), ("state", state.as_str())],
                    count as f64,
                );
            }
        }
    }
    m.family(
        "webhook_job_duration_seconds",
        MetricKind::Histogram,
        "How long jobs ran, by hook.",
    );
    for (hook, counts) in &jobs {
        m.histogram(
            "webhook_job_duration_seconds",
            &[("hook", hook)],
            &counts.durations,
        );
    }
    let depths = app.jobs.depths();
    m.family(
        "webhook_jobs_running",
        MetricKind::Gauge,
        "Jobs running now, by hook (at most one).",
    );
    for depth in &depths {
        m.sample(
            "webhook_jobs_running",
            &[("hook", &depth.hook)],
            f64::from(u8::from(depth.running.is_some())),
        );
    }
    m.family(
        "webhook_jobs_waiting",
        MetricKind::Gauge,
        "Jobs waiting for their hook's running job, by hook (at most one).",
    );
    for depth in &depths {
        m.sample(
            "webhook_jobs_waiting",
            &[("hook", &depth.hook)],
            f64::from(u8::from(depth.waiting.is_some())),
        );
    }
    app.notifier
        .stats()
        .write_metrics(&mut m, "webhook_notifications_total");
    m.single(
        "webhook_audit_records_dropped_total",
        MetricKind::Counter,
        "Delivery records not written to the audit trail because its writer was behind.",
        app.audit.dropped() as f64,
    );
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], m.finish())
}
