//! Server-side rendering of the dashboard. The HTML is complete without JavaScript (a
//! `<noscript>` refresh keeps it current, and the filter form submits as a plain GET);
//! `dashboard.js` rebuilds the very same markup from `/logs`, `/logs/stream`, `/summary`,
//! `/summary/series`, `/api/sources` and `/api/deploys`, so the two must change together: same
//! elements, same classes, same words, same chart geometry. Every text that comes from
//! logs, services, paths or another sidecar (deploys' hooks and services) goes through
//! [`escape`]. The head and the script element are every page's
//! ([`service_kit::page`]).

use std::fmt::Write;

use chrono::{DateTime, Utc};
use service_kit::html::{escape, plural};
use service_kit::page::{self, Head};

use crate::deploys::Marker;
use crate::event::{format_time, LogEvent};
use crate::http::series::Series;
use crate::parse::Level;
use crate::status::SourceStatus;
use crate::store::Summary;

use super::chart;

/// The page's stylesheet, inlined under the response's CSP nonce.
const CSS: &str = include_str!("dashboard.css");
/// The page's own script, inlined after [`page::SCRIPT_PRELUDE`] under the response's CSP
/// nonce.
const JS: &str = include_str!("dashboard.js");

/// Without JavaScript the page reloads itself this often (seconds).
pub const REFRESH_SECS: u64 = 10;
/// Events the page shows at first (the script keeps up to 1000 as more arrive).
pub const TAIL_LIMIT: usize = 300;
/// The chart's window and step: lines per minute over the last hour.
pub const CHART_WINDOW_SECS: i64 = 3600;
/// Length of one bar of the chart.
pub const CHART_STEP_SECS: i64 = 60;

/// Colour classes for service names (`svc-0` .. `svc-7`).
const SERVICE_COLOURS: u32 = 8;

/// What the filters ask for, as the URL gave them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filters {
    /// Only this service.
    pub service: Option<String>,
    /// This level and worse.
    pub level: Option<Level>,
    /// Text the message contains.
    pub q: Option<String>,
    /// Why a parameter was ignored (an unknown level), shown above the table.
    pub error: Option<String>,
}

/// Everything one render shows.
#[derive(Debug, Clone)]
pub struct View {
    /// When the data was read.
    pub now: DateTime<Utc>,
    /// The filters of the request.
    pub filters: Filters,
    /// Matching events, oldest first.
    pub events: Vec<LogEvent>,
    /// Every service seen (for the service select), sorted.
    pub services: Vec<String>,
    /// Lines per level in the last hour.
    pub summary: Summary,
    /// Lines per level per minute in the last hour (the chart).
    pub series: Series,
    /// What the reading loop follows.
    pub sources: Vec<SourceStatus>,
    /// Whether deploys are polled (`[peers] webhook_handler`): the script then asks for
    /// them too.
    pub deploy_markers: bool,
    /// The deploys the chart marks (those of the filtered service), oldest first.
    pub deploys: Vec<Marker>,
    /// Why the last poll of the deploys failed, shown under the chart.
    pub deploys_error: Option<String>,
}

/// The colour class of a service name: a stable hash of its UTF-16 code units (what
/// JavaScript strings are made of, so the script computes the same).
pub fn service_class(name: &str) -> String {
    let hash = name.encode_utf16().fold(0u32, |h, unit| {
        h.wrapping_mul(31).wrapping_add(u32::from(unit))
    });
    format!("svc-{}", hash % SERVICE_COLOURS)
}

/// The time column: `01:23:45` for today (UTC), else `2024-06-12 01:23:45`.
fn event_time(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    if at.date_naive() == now.date_naive() {
        at.format("%H:%M:%S").to_string()
    } else {
        at.format("%Y-%m-%d %H:%M:%S").to_string()
    }
}

/// Lines of `level` in `counts` (0 when absent).
pub(super) fn count_of(
    counts: &std::collections::BTreeMap<&'static str, u64>,
    level: Level,
) -> u64 {
    counts.get(level.as_str()).copied().unwrap_or(0)
}

/// The last hour's counts the header and legend show: one service's or all.
fn shown_counts(view: &View) -> std::collections::BTreeMap<&'static str, u64> {
    match view.filters.service.as_deref() {
        Some(service) => view
            .summary
            .services
            .get(service)
            .cloned()
            .unwrap_or_default(),
        None => view.summary.totals.clone(),
    }
}

/// The levels the chart and legend show (the level filter and worse), most severe first.
fn shown_levels(filters: &Filters) -> Vec<Level> {
    Level::ALL
        .iter()
        .rev()
        .copied()
        .filter(|level| filters.level.is_none_or(|min| *level >= min))
        .collect()
}

/// The document title: `Log watcher`, prefixed with the last hour's errors when any.
fn document_title(counts: &std::collections::BTreeMap<&'static str, u64>) -> String {
    let bad = count_of(counts, Level::Error) + count_of(counts, Level::Critical);
    if bad > 0 {
        format!("({}) Log watcher", plural(bad, "error"))
    } else {
        "Log watcher".to_string()
    }
}

/// A small dark tile with three coloured lines, as a `data:` URL.
const FAVICON: &str = "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'%3E%3Crect width='16' height='16' rx='3' fill='%23171b22'/%3E%3Cpath d='M3 5h10M3 8h7M3 11h9' stroke-width='1.8' stroke-linecap='round' stroke='%237aa2d6'/%3E%3Cpath d='M3 8h7' stroke-width='1.8' stroke-linecap='round' stroke='%23d0312d'/%3E%3C/svg%3E";

/// Renders the whole page for `view`, with `nonce` on the inline style and script.
pub fn page(view: &View, nonce: &str) -> String {
    let counts = shown_counts(view);
    let rendered = format_time(view.now);
    let mut out = String::with_capacity(32 * 1024 + view.events.len() * 400);
    let head = Head {
        title: &document_title(&counts),
        favicon: FAVICON,
        refresh_secs: REFRESH_SECS,
        css: CSS,
    };
    page::write_head(&mut out, &head, nonce);
    let deploys = if view.deploy_markers { "on" } else { "off" };
    let _ = write!(
        out,
        r#"<body data-rendered="{rendered}" data-updates="0" data-loads="0" data-conn="static" data-window="{CHART_WINDOW_SECS}" data-step="{CHART_STEP_SECS}" data-limit="{TAIL_LIMIT}" data-deploys="{deploys}">
<header class="top">
<div class="brand">
<h1>Log watcher</h1>
"#
    );
    sources(&mut out, &view.sources);
    out.push_str("</div>\n<div class=\"summary\"><span class=\"summary-label\">lines · last hour</span><ul id=\"counts\" class=\"counts\">");
    counts_items(&mut out, &counts);
    let _ = write!(
        out,
        r#"</ul></div>
<p class="meta"><span id="conn" class="conn conn-static">auto-refresh {REFRESH_SECS} s</span> <span class="sep">·</span> updated <time class="updated" datetime="{rendered}" title="{rendered}" data-rel="ago">0 s ago</time></p>
</header>
<section class="chart-panel" aria-labelledby="chart-title">
<div class="chart-head"><h2 id="chart-title">Lines per minute · last hour</h2><ul id="totals" class="totals">"#
    );
    totals_items(&mut out, &counts, &view.filters);
    out.push_str("</ul></div>\n<figure id=\"chart\" class=\"chart\">");
    chart::chart(
        &mut out,
        &view.series,
        &shown_levels(&view.filters),
        &view.deploys,
    );
    out.push_str("</figure>\n");
    deploys_note(&mut out, view.deploys_error.as_deref());
    out.push_str("</section>\n");
    filters_form(&mut out, view);
    out.push_str(
        r#"<section class="tail-panel">
<div id="tail" class="tail"><div class="tail-inner">
<table class="events">
<thead><tr><th class="c-time">Time (UTC)</th><th class="c-service">Service</th><th class="c-level">Level</th><th class="c-msg">Message</th></tr></thead>
<tbody id="events">"#,
    );
    if view.events.is_empty() {
        let _ = write!(
            out,
            r#"<tr class="none"><td colspan="4">{}</td></tr>"#,
            empty_text(&view.filters)
        );
    }
    for event in &view.events {
        event_row(&mut out, event, view.now);
    }
    out.push_str(
        r#"</tbody>
</table>
</div></div>
<button type="button" id="new-events" class="new-events" hidden></button>
</section>
<footer class="footer"><a href="logs">events JSON</a> <span class="sep">·</span> <a href="summary?window=1h">summary</a> <span class="sep">·</span> <a href="summary/series?window=1h&amp;step=60">series</a> <span class="sep">·</span> <a href="api/sources">sources</a> <span class="sep">·</span> <a href="metrics">metrics</a></footer>
"#,
    );
    page::write_script_and_end(&mut out, JS, nonce);
    out
}

/// The line under the chart saying that its deploy markers may be stale, and why (hidden
/// while the deploys are read fine).
fn deploys_note(out: &mut String, error: Option<&str>) {
    match error {
        Some(error) => {
            let _ = write!(
                out,
                r#"<p id="deploys-note" class="deploys-note">Deploy markers may be out of date: {}</p>"#,
                escape(error)
            );
        }
        None => out.push_str(r#"<p id="deploys-note" class="deploys-note" hidden></p>"#),
    }
    out.push('\n');
}

/// What the table says when no event matches.
fn empty_text(filters: &Filters) -> &'static str {
    if filters.service.is_some() || filters.level.is_some() || filters.q.is_some() {
        "No events match these filters."
    } else {
        "No events yet."
    }
}

/// The sources line and the list it opens: what is followed, and what is wrong with it.
fn sources(out: &mut String, sources: &[SourceStatus]) {
    let failing = sources.iter().filter(|s| s.error.is_some()).count();
    let waiting = sources
        .iter()
        .filter(|s| s.error.is_none() && !s.open)
        .count();
    let total = sources.len();
    let (class, text) = if total == 0 {
        ("none", "no sources".to_string())
    } else if failing > 0 {
        ("bad", format!("{failing} of {total} failing"))
    } else if waiting > 0 {
        ("warn", format!("{waiting} of {total} waiting"))
    } else {
        ("ok", format!("{} open", plural(total as u64, "source")))
    };
    let _ = write!(
        out,
        r#"<details id="sources" class="sources sources-{class}"><summary id="sources-text">{text}</summary><ul class="source-list">"#
    );
    for source in sources {
        let state = if source.error.is_some() {
            "failing"
        } else if source.open {
            "open"
        } else {
            "waiting"
        };
        // The Docker engine's own entry has no service; a container shows its name rather
        // than the socket every container shares.
        let name = if source.service.is_empty() {
            "docker engine"
        } else {
            &source.service
        };
        let place = match &source.container {
            Some(container) => container.clone(),
            None => source.path.to_string_lossy().into_owned(),
        };
        let _ = write!(
            out,
            r#"<li class="source source-{state}"><span class="source-service {svc}">{name}</span> <code class="source-path">{place}</code> <span class="source-state">{state}</span>"#,
            svc = service_class(name),
            name = escape(name),
            place = escape(&place),
        );
        if let Some(error) = &source.error {
            let _ = write!(
                out,
                r#" <span class="source-error">{}</span>"#,
                escape(error)
            );
        }
        out.push_str("</li>");
    }
    out.push_str("</ul></details>\n");
}

/// The header's counts of the last hour: critical, errors, warnings.
fn counts_items(out: &mut String, counts: &std::collections::BTreeMap<&'static str, u64>) {
    for (level, word) in [
        (Level::Critical, "critical"),
        (Level::Error, "error"),
        (Level::Warning, "warning"),
    ] {
        let n = count_of(counts, level);
        let text = if level == Level::Critical {
            format!("{n} {word}")
        } else {
            plural(n, word)
        };
        let (number, rest) = text.split_once(' ').unwrap_or((&text, ""));
        let zero = if n == 0 { " zero" } else { "" };
        let _ = write!(
            out,
            r#"<li class="count count-{level}{zero}"><b>{number}</b> {rest}</li>"#,
            level = level.as_str()
        );
    }
}

/// The chart's legend: each shown level with its total over the last hour.
fn totals_items(
    out: &mut String,
    counts: &std::collections::BTreeMap<&'static str, u64>,
    filters: &Filters,
) {
    for level in shown_levels(filters) {
        let _ = write!(
            out,
            r#"<li class="total total-{name}"><span class="swatch"></span>{name} <b>{n}</b></li>"#,
            name = level.as_str(),
            n = count_of(counts, level)
        );
    }
}

/// The filter bar: a plain GET form, so it works without JavaScript too.
fn filters_form(out: &mut String, view: &View) {
    let filters = &view.filters;
    out.push_str(
        r#"<form id="filters" class="filters" method="get" action="dashboard" role="search">
<label class="field"><span class="field-label">Service</span><select id="f-service" name="service"><option value="">all services</option>"#,
    );
    for service in &view.services {
        let selected = if filters.service.as_deref() == Some(service) {
            " selected"
        } else {
            ""
        };
        let service = escape(service);
        let _ = write!(
            out,
            r#"<option value="{service}"{selected}>{service}</option>"#
        );
    }
    out.push_str(r#"</select></label>
<label class="field"><span class="field-label">Level</span><select id="f-level" name="level"><option value="">all levels</option>"#);
    for level in Level::ALL {
        let selected = if filters.level == Some(level) {
            " selected"
        } else {
            ""
        };
        let name = level.as_str();
        let text = if level == Level::Critical {
            "critical".to_string()
        } else {
            format!("{name} and worse")
        };
        let _ = write!(out, r#"<option value="{name}"{selected}>{text}</option>"#);
    }
    let _ = write!(
        out,
        r#"</select></label>
<label class="field field-text"><span class="field-label">Text</span><input id="f-q" name="q" type="search" value="{q}" placeholder="message contains…" autocomplete="off" spellcheck="false"></label>
<button type="submit" class="apply">Apply</button>
<button type="button" id="follow" class="follow" aria-pressed="true" hidden>following</button>
<span id="shown" class="shown">{shown}</span>
"#,
        q = escape(filters.q.as_deref().unwrap_or("")),
        shown = plural(view.events.len() as u64, "event"),
    );
    if let Some(error) = &filters.error {
        let _ = write!(out, r#"<p class="filter-error">{}</p>"#, escape(error));
    }
    out.push_str("</form>\n");
}

/// One event's table row.
fn event_row(out: &mut String, event: &LogEvent, now: DateTime<Utc>) {
    let level = event.level.as_str();
    let multi = if event.message.contains('\n') {
        " multi"
    } else {
        ""
    };
    let at = format_time(event.timestamp);
    let _ = write!(
        out,
        r#"<tr class="ev ev-{level}{multi}"><td class="ev-time"><time datetime="{at}" title="{at}">{time}</time></td><td class="ev-service {svc}">{service}</td><td class="ev-level"><span class="lvl lvl-{level}">{label}</span></td><td class="ev-msg"><pre class="msg">{message}</pre></td></tr>"#,
        time = event_time(event.timestamp, now),
        svc = service_class(&event.service),
        service = escape(&event.service),
        label = event.level.label(),
        message = escape(&event.message),
    );
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::sync::Arc;

    use service_kit::html::span;

    use super::*;
    use crate::http::series::Buckets;
    use crate::status::SourceKind;

    const MARKUP: &str =
        r#"<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script><b>bold</b>"#;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2024-06-12T16:15:23Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn event(service: &str, level: Level, message: &str, at: &str) -> LogEvent {
        LogEvent {
            id: 0,
            timestamp: DateTime::parse_from_rfc3339(at)
                .unwrap()
                .with_timezone(&Utc),
            service: Arc::from(service),
            level,
            message: message.to_string(),
        }
    }

    fn view(filters: Filters, events: Vec<LogEvent>) -> View {
        let now = now();
        let buckets = Buckets::ending_at(now.timestamp(), CHART_WINDOW_SECS, CHART_STEP_SECS);
        let mut counts = vec![[0u64; 6]; buckets.count];
        counts[59][Level::Error as usize] = 2;
        counts[59][Level::Info as usize] = 1000;
        counts[10][Level::Warning as usize] = 5;
        let mut totals: std::collections::BTreeMap<&'static str, u64> =
            Level::ALL.iter().map(|l| (l.as_str(), 0)).collect();
        totals.insert("error", 2);
        totals.insert("warning", 5);
        totals.insert("info", 1000);
        View {
            now,
            filters,
            events,
            services: vec!["<i>api</i>".to_string(), "web".to_string()],
            summary: Summary {
                window_secs: 3600,
                totals: totals.clone(),
                services: [("web".to_string(), totals)].into_iter().collect(),
            },
            series: Series::new(CHART_WINDOW_SECS, buckets, &counts),
            sources: vec![SourceStatus {
                kind: SourceKind::File,
                path: PathBuf::from("/logs/<i>api</i>.log"),
                service: Arc::from("<i>api</i>"),
                open: false,
                unread_bytes: 0,
                error: Some("<b>denied</b>".to_string()),
                container: None,
                connected: None,
            }],
            deploy_markers: false,
            deploys: Vec::new(),
            deploys_error: None,
        }
    }

    #[test]
    fn every_text_from_logs_services_and_paths_is_escaped() {
        let html = page(
            &view(
                Filters {
                    q: Some("\"><script>".to_string()),
                    ..Filters::default()
                },
                vec![event(
                    "<i>api</i>",
                    Level::Error,
                    MARKUP,
                    "2024-06-12T16:15:20Z",
                )],
            ),
            "n0nce",
        );
        for raw in [
            "<img src=x",
            "<script>window",
            "<b>bold",
            "<i>api",
            "<b>denied",
            "\"><script>",
        ] {
            assert!(!html.contains(raw), "{raw} must be escaped");
        }
        assert!(html.contains(
            "&lt;img src=x onerror=&quot;window.__pwned=1&quot;&gt;&lt;script&gt;window.__pwned=2&lt;/script&gt;&lt;b&gt;bold&lt;/b&gt;"
        ));
        assert!(
            html.contains(r#"<code class="source-path">/logs/&lt;i&gt;api&lt;/i&gt;.log</code>"#)
        );
        assert_eq!(
            html.matches("<script").count(),
            1,
            "only the page's own script"
        );
    }

    #[test]
    fn an_event_row_shows_time_service_level_badge_and_message() {
        let html = page(
            &view(
                Filters::default(),
                vec![
                    event(
                        "web",
                        Level::Warning,
                        "Deprecated API usage detected.",
                        "2024-06-12T16:15:20Z",
                    ),
                    event(
                        "api",
                        Level::Error,
                        "Traceback:\n  line 1\nValueError: x",
                        "2024-06-11T09:00:00Z",
                    ),
                ],
            ),
            "n0nce",
        );
        let web = service_class("web");
        assert!(html.contains(&format!(
            r#"<tr class="ev ev-warning"><td class="ev-time"><time datetime="2024-06-12T16:15:20Z" title="2024-06-12T16:15:20Z">16:15:20</time></td><td class="ev-service {web}">web</td><td class="ev-level"><span class="lvl lvl-warning">WARNING</span></td><td class="ev-msg"><pre class="msg">Deprecated API usage detected.</pre></td></tr>"#
        )));
        assert!(html.contains(r#"<tr class="ev ev-error multi">"#));
        assert!(
            html.contains(">2024-06-11 09:00:00</time>"),
            "another day shows its date"
        );
        assert!(html.contains("<pre class=\"msg\">Traceback:\n  line 1\nValueError: x</pre>"));
        assert!(html.contains(r#"<span id="shown" class="shown">2 events</span>"#));
    }

    #[test]
    fn the_header_counts_the_last_hour_and_the_title_carries_the_errors() {
        let html = page(&view(Filters::default(), vec![]), "n0nce");
        assert!(html.contains("<title>(2 errors) Log watcher</title>"));
        assert!(html.contains(r#"<li class="count count-critical zero"><b>0</b> critical</li><li class="count count-error"><b>2</b> errors</li><li class="count count-warning"><b>5</b> warnings</li>"#));
        assert!(html.contains(r#"<summary id="sources-text">1 of 1 failing</summary>"#));
        assert!(html.contains(r#"<tr class="none"><td colspan="4">No events yet.</td></tr>"#));
    }

    #[test]
    fn docker_sources_show_the_engine_and_container_names() {
        let docker = |service: &str, container: Option<&str>| SourceStatus {
            kind: SourceKind::DockerApi,
            path: PathBuf::from("/var/run/docker.sock"),
            service: Arc::from(service),
            open: true,
            unread_bytes: 0,
            error: None,
            container: container.map(str::to_string),
            connected: Some(true),
        };
        let mut view = view(Filters::default(), vec![]);
        view.sources = vec![docker("", None), docker("api", Some("stack-api-1"))];
        let html = page(&view, "n0nce");
        assert!(html.contains(r#"docker engine</span> <code class="source-path">/var/run/docker.sock</code> <span class="source-state">open</span>"#));
        assert!(html.contains(r#">api</span> <code class="source-path">stack-api-1</code>"#));
        assert!(html.contains(r#"<summary id="sources-text">2 sources open</summary>"#));
    }

    #[test]
    fn the_level_filter_narrows_the_chart_and_the_legend_and_is_selected_in_the_form() {
        let filters = Filters {
            service: Some("web".to_string()),
            level: Some(Level::Error),
            ..Filters::default()
        };
        let html = page(&view(filters, vec![]), "n0nce");
        let body = html.split_once("<body").unwrap().1;
        assert_eq!(
            body.matches(r#"<rect class="seg"#).count(),
            1,
            "only the errors"
        );
        assert!(!body.contains("total-warning"));
        assert!(html.contains(r#"<option value="error" selected>error and worse</option>"#));
        assert!(html.contains(r#"<option value="web" selected>web</option>"#));
        assert!(html
            .contains(r#"<option value="&lt;i&gt;api&lt;/i&gt;">&lt;i&gt;api&lt;/i&gt;</option>"#));
        assert!(
            html.contains(r#"<span class="ylabel">2</span>"#),
            "the scale follows the shown levels"
        );
        assert!(html.contains("No events match these filters."));
    }

    #[test]
    fn the_inline_style_and_script_carry_the_nonce_and_nothing_is_loaded_from_elsewhere() {
        let html = page(&view(Filters::default(), vec![]), "abc123");
        assert!(html.contains(r#"<style nonce="abc123">"#));
        assert!(html.contains(r#"<script nonce="abc123">"#));
        assert!(html.contains(r#"<noscript><meta http-equiv="refresh" content="10"></noscript>"#));
        assert!(!html.contains(" src="));
        for external in [r#"href="http"#, r#"href="//"#, "@import", "url("] {
            assert!(!html.contains(external), "found {external:?}");
        }
    }

    #[test]
    fn deploys_are_marked_on_the_chart_and_a_failed_poll_is_said_under_it() {
        let mut view = view(Filters::default(), vec![]);
        let html = page(&view, "n0nce");
        assert!(html.contains(r#"data-deploys="off""#));
        assert!(html.contains(r#"<g class="deploys"></g>"#));
        assert!(html.contains(r#"<p id="deploys-note" class="deploys-note" hidden></p>"#));

        view.deploy_markers = true;
        view.deploys = vec![Marker {
            deploy: service_kit::peers::webhook_handler::Deploy {
                job: 7,
                hook: "<i>app</i>".to_string(),
                state: "failed".to_string(),
                started_at: "2024-06-12T16:00:00Z".to_string(),
                finished_at: None,
                services: vec!["<b>api</b>".to_string()],
            },
            started: now() - chrono::TimeDelta::minutes(15),
        }];
        view.deploys_error = Some("http://wh:9000 unreachable: <refused>".to_string());
        let html = page(&view, "n0nce");
        assert!(html.contains(r#"data-deploys="on""#));
        assert!(html.contains(
            "<title>deploy: job 7 of hook &lt;i&gt;app&lt;/i&gt; (failed)\nstarted 16:00:23 UTC · services: &lt;b&gt;api&lt;/b&gt;</title>"
        ));
        assert!(html.contains(r#"<p id="deploys-note" class="deploys-note">Deploy markers may be out of date: http://wh:9000 unreachable: &lt;refused&gt;</p>"#));
    }

    #[test]
    fn scales_and_words_read_like_a_person_would_say_them() {
        assert_eq!(span(61), "1 min");
        assert_eq!(span(2700), "45 min");
        assert_eq!(span(7200), "2 h");
        // The same numbers as dashboard.js computes for these names.
        assert_eq!(service_class("api"), "svc-2");
        assert_eq!(service_class("web"), "svc-4");
    }
}
