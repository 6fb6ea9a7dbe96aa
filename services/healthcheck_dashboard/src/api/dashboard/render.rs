//! Server-side rendering of the status page. The HTML is complete without JavaScript (a
//! `<noscript>` refresh keeps it current); `dashboard.js` rebuilds the very same markup from
//! the event stream, so the two must change together: same elements, same classes, same
//! words. Every text that comes from config, the network or a command goes through
//! [`escape`]. The head and the script element are every page's ([`service_kit::page`]).

use std::fmt::Write;

use chrono::{DateTime, Utc};
use service_kit::html::{self, escape, relative_time, seconds_since};
use service_kit::page::{self, Head};

use service_kit::peers::webhook_handler::Deploy;

use crate::api::status::{Overall, ServiceView, StatusView};
use crate::check::RECENT_SAMPLES;
use crate::check::{Sample, Status};
use crate::maintenance::WindowView;

/// The page's stylesheet, inlined under the response's CSP nonce.
const CSS: &str = include_str!("dashboard.css");
/// The page's own script, inlined after [`page::SCRIPT_PRELUDE`] under the response's CSP
/// nonce.
const JS: &str = include_str!("dashboard.js");

/// Sparkline geometry (SVG user units); `dashboard.js` uses the same numbers.
const SPARK_W: f64 = 300.0;
/// Height of the sparkline.
const SPARK_H: f64 = 56.0;
/// Room kept around the line so point markers are not clipped.
const SPARK_PAD: f64 = 4.0;
/// The sparkline's scale reaches at least this many milliseconds, so a steady 1 ms service
/// draws a line near the bottom rather than one at the top.
const SPARK_MIN_SCALE_MS: u32 = 10;

/// Without JavaScript the page reloads itself this often at least (seconds).
const MIN_REFRESH_SECS: u64 = 5;
/// ...and this often when no service is configured.
const DEFAULT_REFRESH_SECS: u64 = 10;

/// Seconds between reloads of the no-JavaScript fallback: the shortest check interval, at
/// least [`MIN_REFRESH_SECS`].
pub fn refresh_secs(view: &StatusView) -> u64 {
    view.services
        .iter()
        .map(|s| s.interval_secs)
        .min()
        .unwrap_or(DEFAULT_REFRESH_SECS)
        .max(MIN_REFRESH_SECS)
}

/// How many services are in each state.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// Up.
    pub up: usize,
    /// Degraded.
    pub degraded: usize,
    /// Down.
    pub down: usize,
    /// Not checked yet.
    pub unknown: usize,
}

impl Counts {
    /// Counts the services of `view`.
    pub fn of(view: &StatusView) -> Counts {
        let mut counts = Counts::default();
        for service in &view.services {
            match service.status {
                Status::Up => counts.up += 1,
                Status::Degraded => counts.degraded += 1,
                Status::Down => counts.down += 1,
                Status::Unknown => counts.unknown += 1,
            }
        }
        counts
    }
}

/// The banner: CSS class suffix, the big word and the sentence under it.
fn banner(view: &StatusView, counts: Counts) -> (&'static str, &'static str, String) {
    if !view.ready && counts.down == 0 {
        return (
            "starting",
            "starting",
            "Waiting for the first round of checks".to_string(),
        );
    }
    match view.status {
        Overall::Healthy if view.services.is_empty() => {
            ("healthy", "healthy", "No endpoints configured".to_string())
        }
        Overall::Healthy => (
            "healthy",
            "healthy",
            format!("All {} up", plural(counts.up, "service")),
        ),
        Overall::Degraded => (
            "degraded",
            "degraded",
            format!("{} degraded", plural(counts.degraded, "service")),
        ),
        Overall::Unhealthy => (
            "unhealthy",
            "unhealthy",
            format!("{} down", plural(counts.down, "service")),
        ),
    }
}

/// The document title: the configured title, prefixed with the bad news.
fn document_title(title: &str, counts: Counts) -> String {
    if counts.down > 0 {
        format!("({} down) {title}", counts.down)
    } else if counts.degraded > 0 {
        format!("({} degraded) {title}", counts.degraded)
    } else {
        title.to_string()
    }
}

/// Colour of the favicon dot per banner class (same palette as the CSS).
fn favicon(class: &str) -> String {
    let colour = match class {
        "healthy" => "%232e9e44",
        "degraded" => "%23d4a017",
        "unhealthy" => "%23d0312d",
        _ => "%238a8f98",
    };
    format!(
        "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'%3E%3Ccircle cx='8' cy='8' r='7' fill='{colour}'/%3E%3C/svg%3E"
    )
}

/// `1 service`, `2 services`.
fn plural(n: usize, word: &str) -> String {
    html::plural(n as u64, word)
}

/// Whether a check is overdue: no result for two intervals and ten seconds.
fn late(service: &ServiceView, now: DateTime<Utc>) -> bool {
    let Some(at) = service.last_checked.as_deref() else {
        return false;
    };
    seconds_since(at, now).is_some_and(|s| s > 2 * service.interval_secs as i64 + 10)
}

/// Renders the whole page for `view`, with `nonce` on the inline style and script.
pub fn page(view: &StatusView, nonce: &str, now: DateTime<Utc>) -> String {
    let counts = Counts::of(view);
    let (class, word, sentence) = banner(view, counts);
    let title = escape(&view.title);
    let refresh = refresh_secs(view);
    let mut out = String::with_capacity(16 * 1024 + view.services.len() * 4096);
    let head = Head {
        title: &document_title(&view.title, counts),
        favicon: &favicon(class),
        refresh_secs: refresh,
        css: CSS,
    };
    page::write_head(&mut out, &head, nonce);
    let _ = write!(
        out,
        r#"<body data-updates="0" data-source="server" data-conn="static" data-rendered="{timestamp}" data-refresh="{refresh}">
<header id="banner" class="banner overall-{class}" data-status="{class}">
<div class="banner-main">
<h1 id="title">{title}</h1>
<p class="overall"><span id="overall-word" class="overall-word">{word}</span> <span id="overall-text" class="overall-text">{sentence}</span></p>
</div>
<div class="banner-side">
<ul id="counts" class="counts">"#,
        timestamp = escape(&view.timestamp),
    );
    counts_items(&mut out, counts);
    let _ = write!(
        out,
        r#"</ul>
<p class="meta"><span id="conn" class="conn conn-static">auto-refresh {refresh} s</span> <span class="sep">·</span> updated "#
    );
    relative_time(&mut out, "updated", &view.timestamp, "ago", now);
    out.push_str("</p>\n</div>\n</header>\n<main id=\"services\" class=\"grid\">\n");
    if view.services.is_empty() {
        out.push_str(r#"<p class="empty">No endpoints are configured: add some under <code>[checks] endpoints</code>.</p>"#);
    }
    for (project, services) in groups(&view.services) {
        if let Some(project) = project {
            group_heading(&mut out, project);
        }
        for service in services {
            card(&mut out, service, view, now);
        }
    }
    out.push_str(
        r#"
</main>
<footer class="footer"><a href="api/status">status JSON</a> <span class="sep">·</span> <a href="health">/health</a> <span class="sep">·</span> <a href="metrics">metrics</a></footer>
"#,
    );
    page::write_script_and_end(&mut out, JS, nonce);
    out
}

/// The `<li>`s of the counts list (unknown only when there are any).
fn counts_items(out: &mut String, counts: Counts) {
    let mut item = |status: &str, n: usize| {
        let _ = write!(
            out,
            r#"<li class="count count-{status}"><b>{n}</b> {status}</li>"#
        );
    };
    item("up", counts.up);
    item("degraded", counts.degraded);
    item("down", counts.down);
    if counts.unknown > 0 {
        item("unknown", counts.unknown);
    }
}

/// The tooltip of a service's maintenance badge: the window over it that ends last.
pub fn maintenance_title(name: &str, windows: &[WindowView]) -> String {
    let Some(window) = windows
        .iter()
        .filter(|w| w.services.iter().any(|s| s == name))
        .max_by(|a, b| a.until.cmp(&b.until))
    else {
        return "maintenance window".to_string();
    };
    if window.reason.is_empty() {
        format!("maintenance window until {}", window.until)
    } else {
        format!(
            "maintenance window until {}: {}",
            window.until, window.reason
        )
    }
}

/// The services grouped by Compose project, in order of first appearance; `None` heads (no
/// heading) when no service has a project, else the services without one come under
/// "Other checks".
pub fn groups(services: &[ServiceView]) -> Vec<(Option<&str>, Vec<&ServiceView>)> {
    if services.iter().all(|s| s.project.is_none()) {
        return vec![(None, services.iter().collect())];
    }
    let mut groups: Vec<(Option<&str>, Vec<&ServiceView>)> = Vec::new();
    for service in services {
        let key = Some(service.project.as_deref().unwrap_or(""));
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, members)) => members.push(service),
            None => groups.push((key, vec![service])),
        }
    }
    groups
}

/// The heading over a project's cards (`""`: the checks of no project).
fn group_heading(out: &mut String, project: &str) {
    if project.is_empty() {
        out.push_str(r#"<h2 class="group">Other checks</h2>"#);
    } else {
        let _ = write!(
            out,
            r#"<h2 class="group">Compose project <span class="group-name">{}</span></h2>"#,
            escape(project)
        );
    }
}

/// One service's card.
fn card(out: &mut String, s: &ServiceView, view: &StatusView, now: DateTime<Utc>) {
    let status = s.status.as_str();
    let name = escape(&s.name);
    let _ = write!(
        out,
        r#"<article class="card status-{status}" data-name="{name}" data-status="{status}">
<header class="card-head"><span class="dot" aria-hidden="true"></span><h2 class="name">{name}</h2><span class="badge">{status}</span>"#
    );
    if s.discovered {
        out.push_str(
            r#"<span class="found" title="found among the Compose project's containers">discovered</span>"#,
        );
    }
    if s.maintenance {
        let _ = write!(
            out,
            r#"<span class="maint" title="{}">maintenance</span>"#,
            escape(&maintenance_title(&s.name, &view.maintenance))
        );
    }
    let _ = write!(
        out,
        r#"</header>
<p class="target"><span class="kind">{kind}</span> <code class="url">{target}</code></p>
<dl class="facts">"#,
        kind = escape(s.kind),
        target = escape(&s.target),
    );
    let latency = s
        .response_time_ms
        .map_or_else(|| "–".to_string(), |ms| format!("{ms} ms"));
    let _ = write!(
        out,
        r#"<div class="fact"><dt>Latency</dt><dd class="latency">{latency}</dd></div>"#
    );
    let (uptime, uptime_class) = match s.uptime_24h {
        Some(p) => (format!("{p:.2} %"), uptime_class(p)),
        None => ("–".to_string(), "uptime"),
    };
    let _ = write!(
        out,
        r#"<div class="fact"><dt>Uptime 24 h</dt><dd class="{uptime_class}">{uptime}</dd></div>"#
    );
    out.push_str(r#"<div class="fact"><dt>Checked</dt><dd>"#);
    match s.last_checked.as_deref() {
        Some(at) => {
            let class = if late(s, now) { "ago late" } else { "ago" };
            relative_time(out, class, at, "ago", now);
        }
        None => out.push_str(r#"<span class="ago">not yet</span>"#),
    }
    out.push_str("</dd></div>");
    if let Some(code) = s.http_status {
        let _ = write!(
            out,
            r#"<div class="fact"><dt>HTTP</dt><dd class="http">{code}</dd></div>"#
        );
    }
    if let Some(days) = s.cert_days_left {
        let class = if days < 14 { "cert cert-warn" } else { "cert" };
        let _ = write!(
            out,
            r#"<div class="fact"><dt>Certificate</dt><dd class="{class}">{}</dd></div>"#,
            cert_text(days)
        );
    }
    out.push_str("</dl>\n");
    sparkline(out, s, &view.deploys);
    match s.status {
        Status::Down => {
            let error = s.error.as_deref().unwrap_or("failing");
            let _ = write!(
                out,
                r#"<p class="message message-error">{}</p>"#,
                escape(error)
            );
        }
        Status::Degraded => {
            let detail = s.detail.as_deref().or(s.error.as_deref()).unwrap_or("slow");
            let _ = write!(
                out,
                r#"<p class="message message-detail">{}</p>"#,
                escape(detail)
            );
        }
        // An HTTP check's detail only repeats the HTTP fact above.
        _ if s.http_status.is_none() => {
            if let Some(detail) = s.detail.as_deref() {
                let _ = write!(
                    out,
                    r#"<p class="message message-note">{}</p>"#,
                    escape(detail)
                );
            }
        }
        _ => {}
    }
    if let Some(since) = s.status_since.as_deref() {
        if matches!(s.status, Status::Down | Status::Degraded) {
            let _ = write!(out, r#"<p class="since">{status} for "#);
            relative_time(out, "for", since, "for", now);
            if s.consecutive_failures > 0 {
                let _ = write!(
                    out,
                    " · {} in a row",
                    plural(s.consecutive_failures as usize, "failure")
                );
            }
            out.push_str("</p>");
        }
    }
    if let Some(last) = &s.last_error {
        if s.status != Status::Down {
            out.push_str(r#"<p class="last-error">Last error "#);
            relative_time(out, "at", &last.at, "ago", now);
            let _ = write!(
                out,
                r#": <span class="last-error-text">{}</span></p>"#,
                escape(&last.message)
            );
        }
    }
    out.push_str("\n</article>\n");
}

/// `20 days left`, `expired 3 days ago`.
fn cert_text(days: i64) -> String {
    if days >= 0 {
        format!("{} left", plural(days as usize, "day"))
    } else {
        format!(
            "expired {} ago",
            plural(days.unsigned_abs() as usize, "day")
        )
    }
}

/// The uptime's class: green from 99 %, yellow from 95 %, red below.
fn uptime_class(percent: f64) -> &'static str {
    if percent >= 99.0 {
        "uptime uptime-good"
    } else if percent >= 95.0 {
        "uptime uptime-warn"
    } else {
        "uptime uptime-bad"
    }
}

/// Whether `deploy` touched service `name` (a deploy naming no service touched them all).
pub fn deploy_touches(deploy: &Deploy, name: &str) -> bool {
    deploy.services.is_empty() || deploy.services.iter().any(|s| s == name)
}

/// The CSS class suffix of a deploy state: its letters and underscores only.
pub fn deploy_class(state: &str) -> String {
    state
        .chars()
        .filter(|c| c.is_ascii_lowercase() || *c == '_')
        .collect()
}

/// Where on the sparkline a deploy at unix second `at` goes, given the x of sample `i` and
/// the distance between two samples: between the two samples around it, in proportion to
/// time; at the newest sample when it is newer; nowhere when it is older than the oldest.
pub fn marker_x(
    samples: &[Sample],
    at: f64,
    x_of: impl Fn(usize) -> f64,
    step: f64,
) -> Option<f64> {
    let first = samples.first()?;
    if at < f64::from(first.at) {
        return None;
    }
    let last = samples.len() - 1;
    if at >= f64::from(samples[last].at) {
        return Some(x_of(last));
    }
    let i = samples
        .windows(2)
        .position(|w| at >= f64::from(w[0].at) && at < f64::from(w[1].at))?;
    let (a, b) = (f64::from(samples[i].at), f64::from(samples[i + 1].at));
    Some(x_of(i) + (at - a) / (b - a) * step)
}

/// The response-time sparkline: a line over the last samples (newest at the right edge),
/// a dot per check coloured by its status, a tooltip per dot, a vertical marker per deploy
/// that touched the service (coloured by its state), and a caption.
fn sparkline(out: &mut String, s: &ServiceView, deploys: &[Deploy]) {
    let samples = &s.history[s.history.len().saturating_sub(RECENT_SAMPLES)..];
    let _ = write!(
        out,
        r#"<figure class="spark"><svg class="spark-svg" viewBox="0 0 {SPARK_W} {SPARK_H}" role="img" aria-label="Response times of the last {} checks">"#,
        samples.len()
    );
    let max_ms = samples.iter().map(|p| p.ms).max().unwrap_or(0);
    let scale = max_ms.max(SPARK_MIN_SCALE_MS) as f64;
    let step = (SPARK_W - 2.0 * SPARK_PAD) / (RECENT_SAMPLES as f64 - 1.0);
    let point = |i: usize, ms: u32| {
        let x = SPARK_W - SPARK_PAD - (samples.len() - 1 - i) as f64 * step;
        let y = SPARK_H - SPARK_PAD - (ms as f64 / scale) * (SPARK_H - 2.0 * SPARK_PAD);
        (x, y)
    };
    let _ = write!(
        out,
        r#"<line class="spark-base" x1="{SPARK_PAD}" y1="{y}" x2="{x2}" y2="{y}"/>"#,
        y = SPARK_H - SPARK_PAD,
        x2 = SPARK_W - SPARK_PAD
    );
    for deploy in deploys.iter().filter(|d| deploy_touches(d, &s.name)) {
        let Some(at) = DateTime::parse_from_rfc3339(&deploy.started_at).ok() else {
            continue;
        };
        let at = at.timestamp_millis() as f64 / 1000.0;
        let Some(x) = marker_x(samples, at, |i| point(i, 0).0, step) else {
            continue;
        };
        let _ = write!(
            out,
            r#"<line class="deploy deploy-{class}" x1="{x:.1}" y1="{top}" x2="{x:.1}" y2="{bottom}"><title>deploy: job {job} ({state})</title></line>"#,
            class = deploy_class(&deploy.state),
            top = SPARK_PAD / 2.0,
            bottom = SPARK_H - SPARK_PAD,
            job = deploy.job,
            state = escape(&deploy.state),
        );
    }
    if samples.len() > 1 {
        out.push_str(r#"<polyline class="spark-line" points=""#);
        for (i, sample) in samples.iter().enumerate() {
            let (x, y) = point(i, sample.ms);
            let _ = write!(out, "{x:.1},{y:.1} ");
        }
        out.push_str(r#""/>"#);
    }
    for (i, sample) in samples.iter().enumerate() {
        let (x, y) = point(i, sample.ms);
        let status = sample.status.as_str();
        let r = if sample.status == Status::Up {
            1.8
        } else {
            3.0
        };
        let at = DateTime::from_timestamp(i64::from(sample.at), 0)
            .map(|t| t.format("%H:%M:%S UTC").to_string())
            .unwrap_or_default();
        let _ = write!(
            out,
            r#"<circle class="pt pt-{status}" cx="{x:.1}" cy="{y:.1}" r="{r}"><title>{at} · {ms} ms · {status}</title></circle>"#,
            ms = sample.ms
        );
    }
    out.push_str("</svg>");
    let caption = if samples.is_empty() {
        "no checks yet".to_string()
    } else {
        let total: u64 = samples.iter().map(|p| u64::from(p.ms)).sum();
        format!(
            "last {} · avg {} ms · max {} ms",
            plural(samples.len(), "check"),
            total / samples.len() as u64,
            max_ms
        )
    };
    let _ = write!(
        out,
        r#"<figcaption class="spark-caption">{caption}</figcaption></figure>"#
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::status::LastError;
    use crate::check::Sample;

    fn service(name: &str, status: Status) -> ServiceView {
        ServiceView {
            name: name.to_string(),
            kind: "http",
            target: "http://api:8000/health".to_string(),
            status,
            ok: status.is_ok(),
            response_time_ms: Some(24),
            error: (status == Status::Down).then(|| "<script>alert(1)</script>".to_string()),
            detail: Some("slow: 640 ms > 100 ms".to_string()),
            last_checked: Some("2024-06-12T16:15:20Z".to_string()),
            status_since: Some("2024-06-12T16:10:00Z".to_string()),
            consecutive_failures: u32::from(status == Status::Down) * 3,
            failure_threshold: 3,
            maintenance: false,
            uptime_24h: Some(97.5),
            last_error: Some(LastError {
                at: "2024-06-12T16:00:00Z".to_string(),
                message: "<img src=x onerror=alert(2)>".to_string(),
            }),
            history: vec![
                Sample {
                    at: 1_718_208_900,
                    ms: 20,
                    status: Status::Up,
                },
                Sample {
                    at: 1_718_208_910,
                    ms: 600,
                    status,
                },
            ],
            http_status: Some(200),
            cert_days_left: Some(9),
            interval_secs: 10,
            project: None,
            discovered: false,
        }
    }

    fn view(services: Vec<ServiceView>) -> StatusView {
        StatusView {
            title: "<b>Stack</b>".to_string(),
            timestamp: "2024-06-12T16:15:23Z".to_string(),
            status: Overall::Unhealthy,
            ready: true,
            services,
            maintenance: Vec::new(),
            deploys: Vec::new(),
        }
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2024-06-12T16:15:23Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn every_text_from_config_or_network_is_escaped() {
        let html = page(
            &view(vec![service("<i>api</i>", Status::Down)]),
            "n0nce",
            now(),
        );
        for raw in ["<script>alert", "<img src=x", "<b>Stack", "<i>api"] {
            assert!(!html.contains(raw), "{raw} must be escaped");
        }
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(html.contains("&lt;b&gt;Stack&lt;/b&gt;"));
    }

    #[test]
    fn a_down_card_shows_its_colour_class_word_error_and_streak() {
        let html = page(&view(vec![service("db", Status::Down)]), "n0nce", now());
        assert!(html.contains(r#"class="card status-down" data-name="db" data-status="down""#));
        assert!(html.contains(r#"<span class="badge">down</span>"#));
        assert!(html.contains(
            r#"<p class="since">down for <time class="for" datetime="2024-06-12T16:10:00Z""#
        ));
        assert!(html.contains("5 min</time> · 3 failures in a row"));
        assert!(html.contains(r#"<dd class="cert cert-warn">9 days left</dd>"#));
        assert!(html.contains("3 s ago</time>"));
        assert!(html.contains(r#"<b>1</b> down"#));
        assert!(html.contains("<title>(1 down) &lt;b&gt;Stack&lt;/b&gt;</title>"));
    }

    fn deploy(job: i64, state: &str, started_at: &str, services: &[&str]) -> Deploy {
        Deploy {
            job,
            hook: "app".to_string(),
            state: state.to_string(),
            started_at: started_at.to_string(),
            finished_at: None,
            services: services.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn deploys_are_marked_on_the_sparklines_of_the_services_they_touched() {
        // The samples are at 16:15:00 and 16:15:10.
        let mut page_view = view(vec![service("api", Status::Up), service("db", Status::Up)]);
        page_view.deploys = vec![
            deploy(7, "rolled_back", "2024-06-12T16:15:05Z", &["api"]),
            deploy(8, "succeeded", "2024-06-12T16:15:30Z", &[]),
            deploy(9, "succeeded", "2024-06-12T16:00:00Z", &[]),
        ];
        let html = page(&page_view, "n0nce", now());
        let cards: Vec<&str> = html.split("<article").skip(1).collect();
        let (api, db) = (cards[0], cards[1]);
        // Halfway between the two samples, which are one step apart at the right edge.
        let step = (SPARK_W - 2.0 * SPARK_PAD) / (RECENT_SAMPLES as f64 - 1.0);
        let halfway = SPARK_W - SPARK_PAD - step / 2.0;
        assert!(api.contains(&format!(
            r#"<line class="deploy deploy-rolled_back" x1="{halfway:.1}""#
        )));
        assert!(api.contains("<title>deploy: job 7 (rolled_back)</title>"));
        assert!(api.contains("<title>deploy: job 8 (succeeded)</title>"));
        assert!(!db.contains("job 7"), "db was not deployed by job 7");
        assert!(db.contains("<title>deploy: job 8 (succeeded)</title>"));
        assert!(!html.contains("job 9"), "older than every sample");
    }

    #[test]
    fn a_service_under_maintenance_wears_a_badge_saying_until_when_and_why() {
        let mut covered = service("api", Status::Down);
        covered.maintenance = true;
        let mut page_view = view(vec![covered, service("db", Status::Up)]);
        page_view.maintenance = vec![WindowView {
            id: "abc".to_string(),
            services: vec!["api".to_string()],
            until: "2024-06-12T16:30:00Z".to_string(),
            reason: "deploy <b>".to_string(),
        }];
        let html = page(&page_view, "n0nce", now());
        assert!(html.contains(
            r#"<span class="badge">down</span><span class="maint" title="maintenance window until 2024-06-12T16:30:00Z: deploy &lt;b&gt;">maintenance</span></header>"#
        ));
        assert_eq!(html.matches(r#"class="maint""#).count(), 1);
    }

    #[test]
    fn the_inline_style_and_script_carry_the_nonce() {
        let html = page(&view(vec![]), "abc123", now());
        assert!(html.contains(r#"<style nonce="abc123">"#));
        assert!(html.contains(r#"<script nonce="abc123">"#));
        assert_eq!(html.matches("<script").count(), 1);
        assert!(html.contains("No endpoints are configured"));
    }

    #[test]
    fn the_no_script_refresh_follows_the_shortest_interval_but_not_below_five_seconds() {
        let mut fast = service("a", Status::Up);
        fast.interval_secs = 1;
        let mut slow = service("b", Status::Up);
        slow.interval_secs = 30;
        assert_eq!(refresh_secs(&view(vec![fast, slow.clone()])), 5);
        let mut medium = slow.clone();
        medium.interval_secs = 7;
        assert_eq!(refresh_secs(&view(vec![slow, medium])), 7);
        assert_eq!(refresh_secs(&view(vec![])), 10);
    }
}
