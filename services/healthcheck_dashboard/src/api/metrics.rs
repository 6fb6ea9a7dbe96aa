//! `GET /metrics`: Prometheus text, with probe metrics named as blackbox_exporter names them
//! (`probe_success`, `probe_duration_seconds`, ...) so existing dashboards and alert rules fit,
//! plus this service's own counters.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use service_kit::metrics_text::{MetricKind, MetricsText, CONTENT_TYPE};

use super::status::{overall, Overall};
use super::App;
use crate::check::Status;
use crate::state::CheckSet;

/// The few facts of one check that metrics need, copied under its lock (a full state copy
/// would carry the response-time history, too costly with thousands of checks).
struct Row {
    status: Status,
    last: Option<LastProbe>,
    consecutive_failures: u32,
    uptime_percent: Option<f64>,
    runs_total: u64,
    failures_total: u64,
}

struct LastProbe {
    elapsed: std::time::Duration,
    http_status: Option<u16>,
    cert_not_after: Option<i64>,
}

/// The facts every part is rendered from, read once per scrape so that the parts agree.
struct Snapshot {
    /// The checks at the time of the scrape.
    checks: Arc<CheckSet>,
    /// Their rows, in the same order.
    rows: Vec<Row>,
    /// The time of the scrape.
    now: DateTime<Utc>,
}

fn snapshot(app: &App) -> Snapshot {
    let now = Utc::now();
    let checks = app.state.checks();
    let rows: Vec<Row> = checks
        .iter()
        .map(|check| {
            let s = check.lock();
            Row {
                status: s.status,
                last: s.last.as_ref().map(|o| LastProbe {
                    elapsed: o.elapsed,
                    http_status: o.http_status,
                    cert_not_after: o.cert_not_after,
                }),
                consecutive_failures: s.consecutive_failures,
                uptime_percent: s.uptime_percent(now),
                runs_total: s.runs_total,
                failures_total: s.failures_total,
            }
        })
        .collect();
    Snapshot { checks, rows, now }
}

/// How many parts the document is sent in: one per per-check family, then the service's own
/// counters. With 10,000 checks the whole text is about 6 MB; sent part by part, each
/// rendered only when the previous one is on its way, a scrape holds at most the largest
/// (`healthcheck_service_status`, about 2.5 MB) instead of all of it at once.
const PARTS: usize = 9;

/// Bytes per check of each part, to size its buffer once (about 70 per sample line).
const BYTES_PER_CHECK: [usize; PARTS] = [80, 80, 70, 80, 300, 70, 70, 160, 0];

/// A gauge family with one sample per check, labelled with the check's name, for each check
/// `value` has a value for.
fn per_check_gauge(
    m: &mut MetricsText,
    snapshot: &Snapshot,
    name: &str,
    help: &str,
    value: impl Fn(&Row) -> Option<f64>,
) {
    m.family(name, MetricKind::Gauge, help);
    for (check, row) in snapshot.checks.iter().zip(snapshot.rows.iter()) {
        if let Some(v) = value(row) {
            m.sample(name, &[("check", &*check.info.name)], v);
        }
    }
}

/// Renders part `part` (`0..PARTS`) of the document.
fn render_part(app: &App, snapshot: &Snapshot, part: usize) -> String {
    let Snapshot {
        checks,
        rows: states,
        now,
    } = snapshot;
    let now = *now;
    let mut m = MetricsText::with_capacity(1024 + checks.len() * BYTES_PER_CHECK[part]);
    match part {
        0 => {
            m.family(
                "probe_success",
                MetricKind::Gauge,
                "Whether the last check of the service succeeded (1) or failed (0).",
            );
            for (info, state) in checks.iter().map(|c| &c.info).zip(states.iter()) {
                if state.last.is_some() {
                    let v = if state.status.is_ok() { 1.0 } else { 0.0 };
                    m.sample(
                        "probe_success",
                        &[("check", &*info.name), ("type", info.kind)],
                        v,
                    );
                }
            }
        }
        1 => {
            m.family(
                "probe_duration_seconds",
                MetricKind::Gauge,
                "How long the last check took, in seconds.",
            );
            for (info, state) in checks.iter().map(|c| &c.info).zip(states.iter()) {
                if let Some(last) = &state.last {
                    m.sample(
                        "probe_duration_seconds",
                        &[("check", &*info.name), ("type", info.kind)],
                        last.elapsed.as_secs_f64(),
                    );
                }
            }
        }
        2 => per_check_gauge(
            &mut m,
            snapshot,
            "probe_http_status_code",
            "HTTP status code of the last answer.",
            |row| Some(f64::from(row.last.as_ref()?.http_status?)),
        ),
        3 => per_check_gauge(
            &mut m,
            snapshot,
            "probe_ssl_earliest_cert_expiry",
            "When the TLS certificate expires, in unix seconds.",
            |row| Some(row.last.as_ref()?.cert_not_after? as f64),
        ),
        4 => {
            m.family(
                "healthcheck_service_status",
                MetricKind::Gauge,
                "1 for the service's current status (up, degraded, down, unknown).",
            );
            for (info, state) in checks.iter().map(|c| &c.info).zip(states.iter()) {
                for status in [Status::Up, Status::Degraded, Status::Down, Status::Unknown] {
                    let v = if state.status == status { 1.0 } else { 0.0 };
                    m.sample(
                        "healthcheck_service_status",
                        &[("check", &*info.name), ("status", status.as_str())],
                        v,
                    );
                }
            }
        }
        5 => per_check_gauge(
            &mut m,
            snapshot,
            "healthcheck_consecutive_failures",
            "Failed checks in a row.",
            |row| Some(f64::from(row.consecutive_failures)),
        ),
        6 => per_check_gauge(
            &mut m,
            snapshot,
            "healthcheck_uptime_ratio",
            "Share of passing checks over the last 24 hours (0 to 1).",
            |row| Some(row.uptime_percent? / 100.0),
        ),
        7 => {
            m.family(
                "healthcheck_checks_total",
                MetricKind::Counter,
                "Checks run since start, by result.",
            );
            for (info, state) in checks.iter().map(|c| &c.info).zip(states.iter()) {
                let failures = state.failures_total as f64;
                let successes = (state.runs_total - state.failures_total) as f64;
                m.sample(
                    "healthcheck_checks_total",
                    &[("check", &*info.name), ("result", "success")],
                    successes,
                );
                m.sample(
                    "healthcheck_checks_total",
                    &[("check", &*info.name), ("result", "failure")],
                    failures,
                );
            }
        }
        _ => {
            let stack = overall(
                states.iter().map(|s| &s.status),
                app.state.first_round_done(),
            );
            m.single(
                "healthcheck_stack_healthy",
                MetricKind::Gauge,
                "1 when every service is up or degraded, else 0.",
                if stack == Overall::Unhealthy {
                    0.0
                } else {
                    1.0
                },
            );
            m.single(
                "healthcheck_missed_rounds_total",
                MetricKind::Counter,
                "Checks that started more than half an interval late.",
                app.scheduler_stats.missed_rounds.load(Ordering::Relaxed) as f64,
            );
            let alerts = app
                .alerter
                .dispatcher()
                .map(|d| d.stats())
                .unwrap_or_default();
            alerts.write_metrics(&mut m, "healthcheck_alerts_total");
            m.single(
                "healthcheck_maintenance_suppressed_alerts_total",
                MetricKind::Counter,
                "Alerts not sent because a maintenance window covered the service.",
                app.alerter.held_back() as f64,
            );
            m.single(
                "healthcheck_maintenance_windows",
                MetricKind::Gauge,
                "Maintenance windows open now.",
                app.maintenance.count(now) as f64,
            );
        }
    }
    m.finish()
}

/// `GET /metrics`: the document sent part by part (see [`PARTS`]).
pub async fn metrics(State(app): State<Arc<App>>) -> impl IntoResponse {
    let snapshot = snapshot(&app);
    let parts = futures_util::stream::iter(0..PARTS)
        .map(move |part| Ok::<_, std::convert::Infallible>(render_part(&app, &snapshot, part)));
    (
        [(header::CONTENT_TYPE, CONTENT_TYPE)],
        Body::from_stream(parts),
    )
}
