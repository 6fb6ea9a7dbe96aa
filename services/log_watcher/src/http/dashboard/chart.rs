//! The dashboard's chart, drawn on the server: lines read per minute over the last hour,
//! one stacked bar per bucket of a [`Series`], most severe level at the bottom, a tooltip
//! per bar, the scale at the left and the time below; over the bars, a vertical marker
//! where each deploy started, coloured by its state, with its own tooltip. `dashboard.js`
//! draws the very same markup from `/summary/series` and `/api/deploys` (`renderChart`),
//! with the same numbers.

use std::fmt::Write;

use chrono::{DateTime, Utc};
use service_kit::html::{escape, span};

use crate::deploys::Marker;
use crate::http::series::Series;
use crate::parse::Level;

use super::render::count_of;

/// Chart geometry (SVG user units); `dashboard.js` uses the same numbers. The SVG holds
/// only the bars and grid and is stretched to the width and height the CSS gives it
/// (`preserveAspectRatio="none"`); the labels are HTML beside it, so they keep their size.
const CHART_W: f64 = 960.0;
/// Height of the plot.
const CHART_H: f64 = 120.0;
/// The smallest height of a level's part of a bar, so two errors among a thousand info
/// lines still show as a red sliver.
const SEG_MIN: f64 = 2.0;
/// Share of its slot a bar fills (the rest is the gap between bars).
const BAR_FILL: f64 = 0.75;
/// Width of the area around a deploy marker that shows its tooltip.
const MARKER_HIT: f64 = 8.0;

/// The colour class of a deploy's marker, by its state: `deploy-succeeded`,
/// `deploy-failed` (failed, rollback_failed, interrupted), `deploy-rolled-back`,
/// `deploy-running` (running, queued), else `deploy-other`. Never the peer's text itself.
pub fn deploy_class(state: &str) -> &'static str {
    match state {
        "succeeded" => "deploy-succeeded",
        "failed" | "rollback_failed" | "interrupted" => "deploy-failed",
        "rolled_back" => "deploy-rolled-back",
        "running" | "queued" => "deploy-running",
        _ => "deploy-other",
    }
}

/// A deploy marker's tooltip: `deploy: job 7 of hook app (succeeded)`, then when it
/// started and the services it named (not yet escaped).
pub fn deploy_tip(marker: &Marker) -> String {
    let deploy = &marker.deploy;
    let services = if deploy.services.is_empty() {
        "no services named".to_string()
    } else {
        format!("services: {}", deploy.services.join(", "))
    };
    format!(
        "deploy: job {} of hook {} ({})\nstarted {} UTC · {services}",
        deploy.job,
        deploy.hook,
        deploy.state,
        marker.started.format("%H:%M:%S"),
    )
}
/// The smallest of 1, 2, 5 × 10ⁿ that is at least `n` (1 for nothing): the chart's scale.
pub fn nice_ceiling(n: u64) -> u64 {
    if n <= 1 {
        return 1;
    }
    let mut p = 1u64;
    while p.saturating_mul(10) < n {
        p *= 10;
    }
    [1, 2, 5, 10]
        .into_iter()
        .map(|m| m * p)
        .find(|v| *v >= n)
        .unwrap_or(10 * p)
}

/// The per-level stacked bar chart: one bar per bucket, most severe level at the bottom,
/// a tooltip per bar, the scale at the left and the time below, and the markers of the
/// `deploys` that started within it.
pub(super) fn chart(out: &mut String, series: &Series, levels: &[Level], deploys: &[Marker]) {
    let totals: Vec<u64> = series
        .buckets
        .iter()
        .map(|b| levels.iter().map(|l| count_of(&b.counts, *l)).sum())
        .collect();
    let scale = nice_ceiling(totals.iter().copied().max().unwrap_or(0));
    let _ = write!(
        out,
        r#"<div class="chart-y"><span class="ylabel">{scale}</span><span class="ylabel">0</span></div><svg class="chart-svg" viewBox="0 0 {CHART_W} {CHART_H}" preserveAspectRatio="none" role="img" aria-label="Lines read per minute over the last hour, by level"><line class="grid" x1="0" y1="0.5" x2="{CHART_W}" y2="0.5"/><line class="grid" x1="0" y1="{mid}" x2="{CHART_W}" y2="{mid}"/><line class="axis" x1="0" y1="{axis}" x2="{CHART_W}" y2="{axis}"/><g class="bars">"#,
        mid = CHART_H / 2.0,
        axis = CHART_H - 0.5,
    );
    let slot = CHART_W / series.buckets.len().max(1) as f64;
    let width = slot * BAR_FILL;
    for (i, bucket) in series.buckets.iter().enumerate() {
        let x = i as f64 * slot + (slot - width) / 2.0;
        let minute = bucket.start.get(11..16).unwrap_or("");
        let parts: Vec<String> = levels
            .iter()
            .filter_map(|l| {
                let n = count_of(&bucket.counts, *l);
                (n > 0).then(|| format!("{n} {}", l.as_str()))
            })
            .collect();
        let tip = if parts.is_empty() {
            "no lines".to_string()
        } else {
            parts.join(", ")
        };
        let _ = write!(
            out,
            r#"<g class="bar"><title>{minute} UTC: {tip}</title><rect class="hit" x="{x:.1}" y="0" width="{width:.1}" height="{CHART_H}"/>"#,
        );
        let mut y = CHART_H;
        for level in levels {
            let n = count_of(&bucket.counts, *level);
            if n == 0 {
                continue;
            }
            let h = (n as f64 / scale as f64 * CHART_H).max(SEG_MIN).min(y);
            y -= h;
            let _ = write!(
                out,
                r#"<rect class="seg seg-{name}" x="{x:.1}" y="{y:.1}" width="{width:.1}" height="{h:.1}"/>"#,
                name = level.as_str()
            );
        }
        out.push_str("</g>");
    }
    out.push_str("</g>");
    markers(out, series, deploys);
    out.push_str(r#"</svg><div class="chart-x">"#);
    let window = series.window_secs;
    for k in 0..=4i64 {
        let secs = window * (4 - k) / 4;
        let text = if secs == 0 {
            "now".to_string()
        } else {
            format!("{} ago", span(secs))
        };
        let _ = write!(out, r#"<span class="xlabel x{k}">{text}</span>"#);
    }
    out.push_str("</div>");
}

/// The deploy markers: a line at each start time within the series, over the bars.
fn markers(out: &mut String, series: &Series, deploys: &[Marker]) {
    out.push_str(r#"<g class="deploys">"#);
    let first = series
        .buckets
        .first()
        .and_then(|b| DateTime::parse_from_rfc3339(&b.start).ok())
        .map(|t| t.with_timezone(&Utc));
    let span_ms = series.buckets.len() as i64 * series.step_secs * 1000;
    if let Some(first) = first.filter(|_| span_ms > 0) {
        for marker in deploys {
            let offset = (marker.started - first).num_milliseconds();
            if !(0..span_ms).contains(&offset) {
                continue;
            }
            let x = offset as f64 / span_ms as f64 * CHART_W;
            let _ = write!(
                out,
                r#"<g class="deploy {class}"><title>{tip}</title><rect class="deploy-hit" x="{hit:.1}" y="0" width="{MARKER_HIT}" height="{CHART_H}"/><line class="deploy-line" x1="{x:.1}" y1="0" x2="{x:.1}" y2="{CHART_H}"/></g>"#,
                class = deploy_class(&marker.deploy.state),
                tip = escape(&deploy_tip(marker)),
                hit = x - MARKER_HIT / 2.0,
            );
        }
    }
    out.push_str("</g>");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::series::Buckets;
    use service_kit::peers::webhook_handler::Deploy;

    /// An hour of minutes: 5 warnings ten minutes in, 2 errors and 1000 info lines in the
    /// last minute.
    fn series() -> Series {
        let buckets = Buckets::ending_at(1_718_208_923, 3600, 60);
        let mut counts = vec![[0u64; 6]; buckets.count];
        counts[59][Level::Error as usize] = 2;
        counts[59][Level::Info as usize] = 1000;
        counts[10][Level::Warning as usize] = 5;
        Series::new(3600, buckets, &counts)
    }

    fn draw(levels: &[Level]) -> String {
        let mut out = String::new();
        chart(&mut out, &series(), levels, &[]);
        out
    }

    fn marker(job: i64, state: &str, hook: &str, started: &str, services: &[&str]) -> Marker {
        Marker {
            deploy: Deploy {
                job,
                hook: hook.to_string(),
                state: state.to_string(),
                started_at: started.to_string(),
                finished_at: None,
                services: services.iter().map(|s| s.to_string()).collect(),
            },
            started: DateTime::parse_from_rfc3339(started)
                .unwrap()
                .with_timezone(&Utc),
        }
    }

    #[test]
    fn deploys_within_the_hour_are_markers_coloured_by_state_with_escaped_tooltips() {
        let deploys = [
            marker(
                1,
                "succeeded",
                "app",
                "2024-06-12T15:30:00Z",
                &["api", "web"],
            ),
            marker(
                2,
                "rollback_failed",
                "<b>x</b>",
                "2024-06-12T16:00:00Z",
                &[],
            ),
            marker(3, "rolled_back", "app", "2024-06-12T16:10:00Z", &["api"]),
            marker(4, "running", "app", "2024-06-12T16:15:10Z", &["api"]),
            marker(5, "succeeded", "app", "2024-06-12T14:00:00Z", &[]),
        ];
        let mut svg = String::new();
        chart(&mut svg, &series(), &Level::ALL, &deploys);
        assert_eq!(
            svg.matches(r#"<g class="deploy "#).count(),
            4,
            "the one before the hour is not drawn"
        );
        // The hour starts at 15:16:00; 15:30 is 14 of its 60 minutes in.
        assert!(svg.contains(r#"<g class="deploy deploy-succeeded"><title>deploy: job 1 of hook app (succeeded)
started 15:30:00 UTC · services: api, web</title><rect class="deploy-hit" x="220.0" y="0" width="8" height="120"/><line class="deploy-line" x1="224.0" y1="0" x2="224.0" y2="120"/></g>"#), "{svg}");
        assert!(svg.contains(r#"<g class="deploy deploy-failed"><title>deploy: job 2 of hook &lt;b&gt;x&lt;/b&gt; (rollback_failed)
started 16:00:00 UTC · no services named</title>"#));
        assert!(svg.contains(r#"<g class="deploy deploy-rolled-back">"#));
        assert!(svg.contains(r#"<g class="deploy deploy-running">"#));
        assert!(!svg.contains("<b>x"));
        assert!(
            svg.find(r#"class="deploys""#) > svg.find(r#"class="bars""#),
            "over the bars"
        );
    }

    #[test]
    fn states_map_to_a_few_fixed_classes() {
        assert_eq!(
            [
                "succeeded",
                "failed",
                "rollback_failed",
                "interrupted",
                "rolled_back",
                "running",
                "queued",
                "\"><x"
            ]
            .map(deploy_class),
            [
                "deploy-succeeded",
                "deploy-failed",
                "deploy-failed",
                "deploy-failed",
                "deploy-rolled-back",
                "deploy-running",
                "deploy-running",
                "deploy-other"
            ]
        );
    }

    fn most_severe_first() -> Vec<Level> {
        Level::ALL.iter().rev().copied().collect()
    }

    #[test]
    fn there_is_a_bar_per_minute_and_a_visible_sliver_for_rare_levels() {
        let svg = draw(&most_severe_first());
        assert_eq!(svg.matches(r#"<g class="bar">"#).count(), 60);
        assert_eq!(svg.matches(r#"<rect class="seg seg-warning""#).count(), 1);
        assert!(svg.contains(r#"<rect class="seg seg-error" x="#));
        assert!(
            svg.contains(r#"height="2.0"/>"#),
            "two errors among a thousand lines still show"
        );
        assert!(
            svg.contains(r#"<span class="ylabel">2000</span>"#),
            "the scale reaches the busiest minute (1002 lines)"
        );
        assert!(svg.contains(
            r#"<span class="xlabel x0">1 h ago</span><span class="xlabel x1">45 min ago</span>"#
        ));
        assert!(svg.contains(r#"<span class="xlabel x4">now</span>"#));
        assert!(svg.contains("16:15 UTC: 2 error, 1000 info</title>"));
    }

    #[test]
    fn only_the_levels_shown_are_drawn_and_scaled() {
        let svg = draw(&[Level::Critical, Level::Error]);
        assert_eq!(
            svg.matches(r#"<rect class="seg"#).count(),
            1,
            "only the errors"
        );
        assert!(svg.contains(r#"<span class="ylabel">2</span>"#));
        assert!(svg.contains("16:15 UTC: 2 error</title>"));
    }

    #[test]
    fn scales_are_round_numbers() {
        assert_eq!(
            [0, 1, 2, 3, 7, 10, 11, 99, 101, 1000].map(nice_ceiling),
            [1, 1, 2, 5, 10, 10, 20, 100, 200, 1000]
        );
    }
}
