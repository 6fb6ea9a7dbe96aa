//! Server-side rendering of the dashboard. The HTML is complete without JavaScript (a
//! `<noscript>` refresh keeps it current, and the job links are plain links to
//! `dashboard?job=ID`); `dashboard.js` rebuilds the very same markup from `/hooks`,
//! `/deliveries`, `/jobs`, `/jobs/ID/log` and `/jobs/ID/stream`, so the two must change
//! together: same elements, same classes, same words. Every text that comes from a payload,
//! a command, the config or the network goes through [`escape`]. The head and the script
//! element are every page's ([`service_kit::page`]).

use std::fmt::Write;

use chrono::{DateTime, Utc};
use serde_json::Value;
use service_kit::html::{duration_ms, escape, plural, relative_time};
use service_kit::page::{self, Head};

use crate::deliveries::DeliveryRecord;
use crate::jobs::record::{JobRecord, JobState};

/// The page's stylesheet, inlined under the response's CSP nonce.
const CSS: &str = include_str!("dashboard.css");
/// The page's own script, inlined after [`page::SCRIPT_PRELUDE`] under the response's CSP
/// nonce.
const JS: &str = include_str!("dashboard.js");

/// Without JavaScript the page reloads itself this often (seconds).
pub const REFRESH_SECS: u64 = 5;
/// Jobs the page lists (the script asks `/jobs` for as many).
pub const JOB_LIMIT: usize = 50;
/// Deliveries the page lists (the script asks `/deliveries` for as many).
pub const DELIVERY_LIMIT: usize = 50;

/// A dark tile with a hook, as a `data:` URL.
const FAVICON: &str = "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'%3E%3Crect width='16' height='16' rx='3' fill='%23171b22'/%3E%3Cpath d='M8 2.5v7a3 3 0 0 1-6 0' fill='none' stroke-width='1.8' stroke-linecap='round' stroke='%237aa2d6'/%3E%3Ccircle cx='8' cy='3' r='1.6' fill='%235ccf72'/%3E%3C/svg%3E";

/// The job whose output the page shows.
#[derive(Debug, Clone)]
pub enum Shown {
    /// No job yet.
    Nothing,
    /// This job, with its output (the live tail when it runs); `pinned` when the URL asked
    /// for it (`?job=ID`), else it is the newest running job, or the newest job.
    Job {
        /// The job, with `output` set.
        job: Box<JobRecord>,
        /// Asked for by the URL.
        pinned: bool,
    },
    /// The URL asked for a job that does not exist (any more).
    Missing(i64),
}

/// Everything one render shows.
#[derive(Debug, Clone)]
pub struct View {
    /// When the data was read.
    pub now: DateTime<Utc>,
    /// The hooks, exactly as `GET /hooks` serves them.
    pub hooks: Vec<Value>,
    /// The newest deliveries of every hook, newest first, as `GET /deliveries` serves them.
    pub deliveries: Vec<DeliveryRecord>,
    /// The newest jobs, newest first, as `GET /jobs` serves them.
    pub jobs: Vec<JobRecord>,
    /// The job whose output is shown.
    pub shown: Shown,
}

/// The job shown when the URL names none: the newest running job, else the newest job.
pub fn default_job(jobs: &[JobRecord]) -> Option<i64> {
    jobs.iter()
        .find(|j| j.state == JobState::Running)
        .or_else(|| jobs.first())
        .map(|j| j.id)
}

/// A state or outcome as people read it: `rolled_back` is `rolled back`.
fn label(name: &str) -> String {
    name.replace('_', " ")
}

/// The time column: `01:23:45` for today (UTC), else `2024-06-12 01:23:45` (the script
/// compares the same slices of the same RFC 3339 text).
fn clock(at: &str, now: DateTime<Utc>) -> String {
    let (Some(date), Some(time)) = (at.get(0..10), at.get(11..19)) else {
        return at.to_string();
    };
    if date == now.format("%Y-%m-%d").to_string() {
        time.to_string()
    } else {
        format!("{date} {time}")
    }
}

/// A `<time>` showing [`clock`].
fn clock_time(out: &mut String, at: &str, now: DateTime<Utc>) {
    let text = escape(&clock(at, now));
    let at = escape(at);
    let _ = write!(out, r#"<time datetime="{at}" title="{at}">{text}</time>"#);
}

/// The first 7 characters of a commit, as people quote commits.
fn short_commit(commit: &str) -> String {
    commit.chars().take(7).collect()
}

/// A ref as people say it: `refs/heads/main` is `main`, other refs stay whole.
fn short_ref(git_ref: &str) -> &str {
    git_ref.strip_prefix("refs/heads/").unwrap_or(git_ref)
}

/// A link that shows job `id`'s output: on this page without JavaScript, in place with it.
fn job_link(out: &mut String, id: i64) {
    let _ = write!(
        out,
        r##"<a class="job-link" href="?job={id}#output-panel" data-job="{id}">#{id}</a>"##
    );
}

/// Jobs running, queued and failed (failed or rollback failed) among `jobs`.
fn job_counts(jobs: &[JobRecord]) -> [(&'static str, usize); 3] {
    let count = |states: &[JobState]| jobs.iter().filter(|j| states.contains(&j.state)).count();
    [
        ("running", count(&[JobState::Running])),
        ("queued", count(&[JobState::Queued])),
        (
            "failed",
            count(&[JobState::Failed, JobState::RollbackFailed]),
        ),
    ]
}

/// The document title: `Webhook handler`, prefixed with the running jobs when any.
fn document_title(running: usize) -> String {
    if running > 0 {
        format!("({running} running) Webhook handler")
    } else {
        "Webhook handler".to_string()
    }
}

/// Renders the whole page for `view`, with `nonce` on the inline style and script.
pub fn page(view: &View, nonce: &str) -> String {
    let counts = job_counts(&view.jobs);
    let rendered = view.now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut out = String::with_capacity(
        32 * 1024 + view.jobs.len() * 600 + view.deliveries.len() * 500 + view.hooks.len() * 800,
    );
    let head = Head {
        title: &document_title(counts[0].1),
        favicon: FAVICON,
        refresh_secs: REFRESH_SECS,
        css: CSS,
    };
    page::write_head(&mut out, &head, nonce);
    let _ = write!(
        out,
        r#"<body data-rendered="{rendered}" data-updates="0" data-conn="static" data-output="static" data-jobs="{JOB_LIMIT}" data-deliveries="{DELIVERY_LIMIT}">
<header class="top">
<div class="brand"><h1>Webhook handler</h1><span id="hook-count" class="hook-count">{hooks}</span></div>
<div class="summary"><span class="summary-label">newest {JOB_LIMIT} jobs</span><ul id="counts" class="counts">"#,
        hooks = plural(view.hooks.len() as u64, "hook"),
    );
    counts_items(&mut out, &counts);
    let _ = write!(
        out,
        r#"</ul></div>
<p class="meta"><span id="conn" class="conn conn-static">auto-refresh {REFRESH_SECS} s</span> <span class="sep">·</span> updated "#
    );
    relative_time(&mut out, "updated", &rendered, "ago", view.now);
    out.push_str("</p>\n</header>\n<main class=\"panels\">\n");
    hooks_panel(&mut out, view);
    jobs_panel(&mut out, view);
    output_panel(&mut out, view);
    deliveries_panel(&mut out, view);
    out.push_str(
        r#"</main>
<footer class="footer"><a href="hooks">hooks JSON</a> <span class="sep">·</span> <a href="jobs">jobs</a> <span class="sep">·</span> <a href="deliveries">deliveries</a> <span class="sep">·</span> <a href="metrics">metrics</a> <span class="sep">·</span> <a href="livez">livez</a></footer>
"#,
    );
    page::write_script_and_end(&mut out, JS, nonce);
    out
}

/// The header's counts: running, queued, failed.
fn counts_items(out: &mut String, counts: &[(&str, usize)]) {
    for (word, n) in counts {
        let zero = if *n == 0 { " zero" } else { "" };
        let _ = write!(
            out,
            r#"<li class="count count-{word}{zero}"><b>{n}</b> {word}</li>"#
        );
    }
}

/// The hooks: where each is served, how it verifies and filters, what it runs and tells,
/// its queue and its newest delivery.
fn hooks_panel(out: &mut String, view: &View) {
    out.push_str(
        r#"<section id="hooks-panel" class="panel">
<h2 class="panel-title">Hooks</h2>
<div class="table-wrap"><table class="grid hooks">
<thead><tr><th>Hook</th><th>Provider</th><th>Filters</th><th>Action</th><th>Notify</th><th>Job</th><th>Last delivery</th></tr></thead>
<tbody id="hooks">"#,
    );
    if view.hooks.is_empty() {
        out.push_str(r#"<tr class="none"><td colspan="7">No hooks are configured.</td></tr>"#);
    }
    for hook in &view.hooks {
        hook_row(out, hook, view.now);
    }
    out.push_str("</tbody>\n</table></div>\n</section>\n");
}

/// The text of a JSON string field (empty when absent).
fn text<'a>(value: &'a Value, key: &str) -> &'a str {
    value[key].as_str().unwrap_or("")
}

/// The texts of a JSON list of strings.
fn texts(value: &Value) -> Vec<&str> {
    value
        .as_array()
        .map(|list| list.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// A hook's filters in words: `events push · repos org/* · branches main · runs on push`.
pub fn filters_text(filters: &Value) -> String {
    let mut parts = Vec::new();
    for (key, word) in [
        ("events", "events"),
        ("repos", "repos"),
        ("branches", "branches"),
    ] {
        let list = texts(&filters[key]);
        if !list.is_empty() {
            parts.push(format!("{word} {}", list.join(", ")));
        }
    }
    if filters["action_events"].is_array() {
        parts.push(format!(
            "runs on {}",
            texts(&filters["action_events"]).join(", ")
        ));
    }
    if parts.is_empty() {
        "all deliveries".to_string()
    } else {
        parts.join(" · ")
    }
}

/// `no retries`, `1 retry`, `3 retries`.
fn retries_text(n: u64) -> String {
    match n {
        0 => "no retries".to_string(),
        1 => "1 retry".to_string(),
        n => format!("{n} retries"),
    }
}

/// One hook's row.
fn hook_row(out: &mut String, hook: &Value, now: DateTime<Utc>) {
    let id = escape(text(hook, "id"));
    let _ = write!(
        out,
        r#"<tr class="hook" data-id="{id}"><td class="h-id"><b class="hook-id">{id}</b> <code class="hook-path">POST {path}</code></td><td class="h-provider">{provider} <span class="sub">{verify}</span>"#,
        path = escape(text(hook, "path")),
        provider = escape(text(hook, "provider")),
        verify = escape(text(hook, "verify")),
    );
    let networks = texts(&hook["allowed_ips"]);
    if !networks.is_empty() {
        let _ = write!(
            out,
            r#" <span class="sub">from {}</span>"#,
            escape(&networks.join(", "))
        );
    }
    let _ = write!(
        out,
        r#"</td><td class="h-filters">{filters}</td><td class="h-action"><code class="argv">{action}</code> <span class="sub">timeout {timeout} s · {retries}</span></td><td class="h-notify">{notify}</td><td class="h-job">"#,
        filters = escape(&filters_text(&hook["filters"])),
        action = escape(text(hook, "action")),
        timeout = hook["timeout_secs"].as_u64().unwrap_or(0),
        retries = retries_text(hook["retries"].as_u64().unwrap_or(0)),
        notify = {
            let targets = texts(&hook["notify"]);
            if targets.is_empty() {
                "–".to_string()
            } else {
                escape(&targets.join(", "))
            }
        },
    );
    let running = hook["running"].as_i64();
    let waiting = hook["waiting"].as_i64();
    for (slot, id) in [("running", running), ("waiting", waiting)] {
        if let Some(id) = id {
            let _ = write!(out, r#"<span class="slot slot-{slot}">{slot} "#);
            job_link(out, id);
            out.push_str("</span> ");
        }
    }
    if running.is_none() && waiting.is_none() {
        out.push_str(r#"<span class="slot slot-idle">idle</span>"#);
    }
    out.push_str(r#"</td><td class="h-last">"#);
    let last = &hook["last_delivery"];
    if last.is_object() {
        let outcome = text(last, "outcome");
        let _ = write!(
            out,
            r#"<span class="badge outcome-{outcome}">{label}</span> "#,
            outcome = escape(outcome),
            label = escape(&label(outcome)),
        );
        relative_time(out, "ago", text(last, "received_at"), "ago", now);
        if let Some(reason) = last["reason"].as_str() {
            let _ = write!(out, r#"<span class="why">{}</span>"#, escape(reason));
        }
    } else {
        out.push_str(r#"<span class="sub">none yet</span>"#);
    }
    out.push_str("</td></tr>");
}

/// The newest jobs with their state colours.
fn jobs_panel(out: &mut String, view: &View) {
    out.push_str(
        r#"<section id="jobs-panel" class="panel">
<h2 class="panel-title">Jobs</h2>
<div class="table-wrap"><table class="grid jobs">
<thead><tr><th>Job</th><th>Hook</th><th>State</th><th>Repository</th><th>Trigger</th><th>Created (UTC)</th><th>Duration</th><th>Exit</th><th>Reason</th></tr></thead>
<tbody id="jobs">"#,
    );
    if view.jobs.is_empty() {
        out.push_str(r#"<tr class="none"><td colspan="9">No jobs yet.</td></tr>"#);
    }
    let shown = match &view.shown {
        Shown::Job { job, .. } => Some(job.id),
        _ => None,
    };
    for job in &view.jobs {
        job_row(out, job, shown == Some(job.id), view.now);
    }
    out.push_str("</tbody>\n</table></div>\n</section>\n");
}

/// `org/app@1a2b3c4 (main)`, each part in its own element.
fn repo_cell(out: &mut String, job: &JobRecord) {
    let facts = &job.facts;
    let _ = write!(
        out,
        r#"<span class="repo">{}</span>"#,
        escape(facts.repo.as_deref().unwrap_or("–"))
    );
    if let Some(commit) = &facts.commit {
        let _ = write!(
            out,
            r#"<span class="commit">@{}</span>"#,
            escape(&short_commit(commit))
        );
    }
    if let Some(name) = facts.branch.as_deref().or(facts.tag.as_deref()) {
        let _ = write!(out, r#" <span class="branch">({})</span>"#, escape(name));
    }
}

/// What made a job: `webhook`, `manual`, `retry of #3`, with its attempts when more than one.
fn trigger_text(job: &JobRecord) -> String {
    let mut text = match job.retry_of {
        Some(of) => format!("{} of #{of}", job.trigger.as_str()),
        None => job.trigger.as_str().to_string(),
    };
    if job.attempts > 1 {
        text.push_str(&format!(" · {} attempts", job.attempts));
    }
    text
}

/// One job's row.
fn job_row(out: &mut String, job: &JobRecord, shown: bool, now: DateTime<Utc>) {
    let state = job.state.as_str();
    let _ = write!(
        out,
        r#"<tr class="job job-{state}{shown}" data-id="{id}"><td class="j-id">"#,
        shown = if shown { " shown" } else { "" },
        id = job.id,
    );
    job_link(out, job.id);
    let _ = write!(
        out,
        r#"</td><td class="j-hook">{hook}</td><td class="j-state"><span class="badge state-{state}">{label}</span></td><td class="j-repo">"#,
        hook = escape(&job.hook),
        label = label(state),
    );
    repo_cell(out, job);
    let _ = write!(
        out,
        r#"</td><td class="j-trigger">{}</td><td class="j-created">"#,
        trigger_text(job)
    );
    clock_time(out, &job.created_at, now);
    out.push_str(r#"</td><td class="j-duration">"#);
    match (job.duration_ms, job.state, job.started_at.as_deref()) {
        (Some(ms), _, _) => out.push_str(&duration_ms(ms)),
        (None, JobState::Running, Some(started)) => {
            relative_time(out, "elapsed", started, "for", now);
        }
        _ => out.push('–'),
    }
    let _ = write!(
        out,
        r#"</td><td class="j-exit">{exit}</td><td class="j-reason">{reason}</td></tr>"#,
        exit = job
            .exit_code
            .map_or_else(|| "–".to_string(), |c| c.to_string()),
        reason = escape(job.reason.as_deref().unwrap_or("")),
    );
}

/// The output of the shown job: live while it runs (the script follows its stream), its
/// stored tail once it ended.
fn output_panel(out: &mut String, view: &View) {
    let (id, state, pinned) = match &view.shown {
        Shown::Job { job, pinned } => (job.id.to_string(), job.state.as_str(), *pinned),
        Shown::Missing(id) => (id.to_string(), "missing", true),
        Shown::Nothing => (String::new(), "none", false),
    };
    let _ = write!(
        out,
        r#"<section id="output-panel" class="panel output-panel" data-job="{id}" data-state="{state}">
<div class="output-head"><h2 class="panel-title">Output</h2><span id="output-job" class="output-job">"#
    );
    match &view.shown {
        Shown::Job { job, .. } => output_job(out, job),
        Shown::Missing(id) => {
            let _ = write!(out, "no job #{id}");
        }
        Shown::Nothing => out.push_str("no job has run yet"),
    }
    let (raw_href, raw_hidden) = match &view.shown {
        Shown::Job { job, .. } => (format!("jobs/{}/log", job.id), ""),
        _ => (String::new(), " hidden"),
    };
    let follow_hidden = if pinned { "" } else { " hidden" };
    let _ = writeln!(
        out,
        r#"</span><a id="output-raw" class="output-raw" href="{raw_href}"{raw_hidden}>plain text</a><a id="output-follow" class="output-follow" href="dashboard"{follow_hidden}>follow the newest job</a></div>"#
    );
    let steps: &[Value] = match &view.shown {
        Shown::Job { job, .. } => &job.steps,
        _ => &[],
    };
    steps_timeline(out, steps, view.now);
    out.push_str(r#"<div id="output-box" class="output-box"><pre id="output" class="output">"#);
    if let Shown::Job { job, .. } = &view.shown {
        out.push_str(&escape(job.output.as_deref().unwrap_or("")));
    }
    out.push_str("</pre></div>\n</section>\n");
}

/// A deploy's steps as a timeline: each step's name, how it ended, how long it took and what
/// it found (hidden when the job has no steps).
fn steps_timeline(out: &mut String, steps: &[Value], now: DateTime<Utc>) {
    let hidden = if steps.is_empty() { " hidden" } else { "" };
    let _ = write!(out, r#"<ol id="steps" class="steps"{hidden}>"#);
    for step in steps {
        let outcome = match text(step, "outcome") {
            o @ ("running" | "ok" | "failed" | "skipped") => o,
            _ => "unknown",
        };
        let _ = write!(
            out,
            r#"<li class="step step-{outcome}"><span class="step-name">{name}</span> <span class="badge step-outcome">{outcome}</span> <span class="step-time">"#,
            name = escape(text(step, "name")),
        );
        let started = text(step, "started_at");
        match step["finished_at"].as_str() {
            Some(finished) => {
                let ms = match (
                    DateTime::parse_from_rfc3339(started),
                    DateTime::parse_from_rfc3339(finished),
                ) {
                    (Ok(a), Ok(b)) => (b - a).num_milliseconds().max(0) as u64,
                    _ => 0,
                };
                out.push_str(&duration_ms(ms));
            }
            None => relative_time(out, "elapsed", started, "for", now),
        }
        let _ = write!(
            out,
            r#"</span> <span class="step-detail">{}</span></li>"#,
            escape(text(step, "detail"))
        );
    }
    out.push_str("</ol>\n");
}

/// `job #3 · app · running`: which job the output panel shows.
fn output_job(out: &mut String, job: &JobRecord) {
    let state = job.state.as_str();
    let _ = write!(
        out,
        r#"job <b class="output-id">#{id}</b> <span class="sep">·</span> <span class="output-hook">{hook}</span> <span class="badge state-{state}">{label}</span>"#,
        id = job.id,
        hook = escape(&job.hook),
        label = label(state),
    );
}

/// The newest deliveries of every hook, whatever became of them.
fn deliveries_panel(out: &mut String, view: &View) {
    out.push_str(
        r#"<section id="deliveries-panel" class="panel">
<h2 class="panel-title">Deliveries</h2>
<div class="table-wrap"><table class="grid deliveries">
<thead><tr><th>Time (UTC)</th><th>Hook</th><th>Outcome</th><th>Why</th><th>Event</th><th>Repository</th><th>Sender</th><th>Job</th></tr></thead>
<tbody id="deliveries">"#,
    );
    if view.deliveries.is_empty() {
        out.push_str(r#"<tr class="none"><td colspan="8">No deliveries yet.</td></tr>"#);
    }
    for delivery in &view.deliveries {
        delivery_row(out, delivery, view.now);
    }
    out.push_str("</tbody>\n</table></div>\n</section>\n");
}

/// One delivery's row.
fn delivery_row(out: &mut String, d: &DeliveryRecord, now: DateTime<Utc>) {
    let outcome = d.outcome.as_str();
    let _ = write!(
        out,
        r#"<tr class="delivery outcome-{outcome}"><td class="d-time">"#
    );
    clock_time(out, &d.received_at, now);
    let _ = write!(
        out,
        r#"</td><td class="d-hook">{hook}</td><td class="d-outcome"><span class="badge outcome-{outcome}">{label}</span></td><td class="d-why">{why}</td><td class="d-event">{event}</td><td class="d-repo">"#,
        hook = escape(&d.hook),
        label = label(outcome),
        why = escape(d.reason.as_deref().unwrap_or("")),
        event = escape(d.event.as_deref().unwrap_or("–")),
    );
    match (&d.repo, &d.git_ref) {
        (None, None) => out.push('–'),
        (repo, git_ref) => {
            let _ = write!(
                out,
                r#"<span class="repo">{}</span>"#,
                escape(repo.as_deref().unwrap_or("–"))
            );
            if let Some(git_ref) = git_ref {
                let _ = write!(
                    out,
                    r#" <span class="branch">({})</span>"#,
                    escape(short_ref(git_ref))
                );
            }
        }
    }
    let _ = write!(
        out,
        r#"</td><td class="d-remote"><code>{}</code></td><td class="d-job">"#,
        escape(&d.remote)
    );
    match d.job_id {
        Some(id) => job_link(out, id),
        None => out.push('–'),
    }
    out.push_str("</td></tr>");
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::deliveries::Outcome;
    use crate::jobs::record::Trigger;
    use crate::payload::Facts;

    const MARKUP: &str =
        r#"<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>"#;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-03-02T10:00:30Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn job(id: i64, state: JobState) -> JobRecord {
        JobRecord {
            id,
            hook: "app".to_string(),
            trigger: Trigger::Webhook,
            retry_of: None,
            facts: Facts {
                event: "push".to_string(),
                repo: Some(format!("{MARKUP}/x")),
                git_ref: Some("refs/heads/<b>main</b>".to_string()),
                branch: Some("<b>main</b>".to_string()),
                commit: Some("<i>c0ffee</i>".to_string()),
                ..Facts::default()
            },
            state,
            reason: (state == JobState::Failed).then(|| "exit code 3: <u>x</u>".to_string()),
            exit_code: (state == JobState::Failed).then_some(3),
            attempts: 1,
            created_at: "2026-03-02T10:00:00.000Z".to_string(),
            started_at: Some("2026-03-02T10:00:01.000Z".to_string()),
            finished_at: None,
            duration_ms: state.is_final().then_some(12_345),
            output: Some(format!("line 1\n{MARKUP}\n")),
            steps: Vec::new(),
        }
    }

    fn delivery(outcome: Outcome, reason: Option<&str>) -> DeliveryRecord {
        DeliveryRecord {
            received_at: "2026-03-01T23:59:59.000Z".to_string(),
            hook: "app".to_string(),
            outcome,
            reason: reason.map(str::to_string),
            event: Some("push".to_string()),
            repo: Some(format!("{MARKUP}/x")),
            git_ref: Some("refs/heads/main".to_string()),
            delivery: None,
            job_id: Some(7),
            remote: "127.0.0.1".to_string(),
        }
    }

    fn hook() -> Value {
        json!({
            "id": "app", "path": "/hooks/app", "provider": "github", "verify": "github-hmac-sha256",
            "filters": { "events": ["push"], "repos": [], "branches": ["release/*"], "action_events": null },
            "action": "/srv/deploy.sh --fast", "notify": ["discord webhook …/api/webhooks/1"],
            "timeout_secs": 600, "retries": 1, "allowed_ips": [], "running": 7, "waiting": null,
            "last_delivery": { "received_at": "2026-03-02T10:00:00.000Z", "hook": "app", "outcome": "rejected",
                               "reason": "signature does not match", "remote": "10.0.0.1" },
        })
    }

    fn view(shown: Shown) -> View {
        View {
            now: now(),
            hooks: vec![hook()],
            deliveries: vec![
                delivery(Outcome::Accepted, None),
                delivery(
                    Outcome::Ignored,
                    Some("branch <b>dev</b> is not in branches"),
                ),
            ],
            jobs: vec![job(8, JobState::Failed), job(7, JobState::Running)],
            shown,
        }
    }

    #[test]
    fn every_text_from_payloads_commands_and_config_is_escaped() {
        let running = job(7, JobState::Running);
        let html = page(
            &view(Shown::Job {
                job: Box::new(running),
                pinned: false,
            }),
            "n0nce",
        );
        for raw in [
            "<img src=x",
            "<script>window",
            "<b>main",
            "<i>c0ff",
            "<u>x",
            "<b>dev",
        ] {
            assert!(!html.contains(raw), "{raw} must be escaped");
        }
        assert!(html.contains(
            "<span class=\"repo\">&lt;img src=x onerror=&quot;window.__pwned=1&quot;&gt;&lt;script&gt;window.__pwned=2&lt;/script&gt;/x</span><span class=\"commit\">@&lt;i&gt;c0ff</span> <span class=\"branch\">(&lt;b&gt;main&lt;/b&gt;)</span>"
        ));
        assert!(html.contains("<pre id=\"output\" class=\"output\">line 1\n&lt;img src=x"));
        assert_eq!(
            html.matches("<script").count(),
            1,
            "only the page's own script"
        );
    }

    #[test]
    fn job_rows_carry_their_state_class_badge_duration_exit_code_and_reason() {
        let html = page(&view(Shown::Nothing), "n0nce");
        assert!(html.contains(r##"<tr class="job job-failed" data-id="8"><td class="j-id"><a class="job-link" href="?job=8#output-panel" data-job="8">#8</a></td><td class="j-hook">app</td><td class="j-state"><span class="badge state-failed">failed</span></td>"##));
        assert!(html.contains(r#"<td class="j-trigger">webhook</td><td class="j-created"><time datetime="2026-03-02T10:00:00.000Z" title="2026-03-02T10:00:00.000Z">10:00:00</time></td><td class="j-duration">12.3 s</td><td class="j-exit">3</td><td class="j-reason">exit code 3: &lt;u&gt;x&lt;/u&gt;</td></tr>"#));
        assert!(html.contains(r#"<td class="j-duration"><time class="elapsed" datetime="2026-03-02T10:00:01.000Z" title="2026-03-02T10:00:01.000Z" data-rel="for">29 s</time></td><td class="j-exit">–</td>"#));
        assert!(html.contains("<title>(1 running) Webhook handler</title>"));
        assert!(html.contains(r#"<li class="count count-running"><b>1</b> running</li><li class="count count-queued zero"><b>0</b> queued</li><li class="count count-failed"><b>1</b> failed</li>"#));
    }

    #[test]
    fn deliveries_show_outcome_reason_repo_sender_and_job() {
        let html = page(&view(Shown::Nothing), "n0nce");
        assert!(html.contains(r##"<tr class="delivery outcome-ignored"><td class="d-time"><time datetime="2026-03-01T23:59:59.000Z" title="2026-03-01T23:59:59.000Z">2026-03-01 23:59:59</time></td><td class="d-hook">app</td><td class="d-outcome"><span class="badge outcome-ignored">ignored</span></td><td class="d-why">branch &lt;b&gt;dev&lt;/b&gt; is not in branches</td><td class="d-event">push</td>"##));
        assert!(html.contains(r##"<span class="branch">(main)</span></td><td class="d-remote"><code>127.0.0.1</code></td><td class="d-job"><a class="job-link" href="?job=7#output-panel" data-job="7">#7</a></td></tr>"##));
    }

    #[test]
    fn a_hook_row_shows_where_how_what_and_its_queue_and_last_delivery() {
        let html = page(&view(Shown::Nothing), "n0nce");
        assert!(html.contains(r#"<b class="hook-id">app</b> <code class="hook-path">POST /hooks/app</code></td><td class="h-provider">github <span class="sub">github-hmac-sha256</span></td><td class="h-filters">events push · branches release/*</td><td class="h-action"><code class="argv">/srv/deploy.sh --fast</code> <span class="sub">timeout 600 s · 1 retry</span></td><td class="h-notify">discord webhook …/api/webhooks/1</td>"#));
        assert!(html.contains(r##"<td class="h-job"><span class="slot slot-running">running <a class="job-link" href="?job=7#output-panel" data-job="7">#7</a></span> </td>"##));
        assert!(html.contains(r#"<span class="badge outcome-rejected">rejected</span> <time class="ago" datetime="2026-03-02T10:00:00.000Z" title="2026-03-02T10:00:00.000Z" data-rel="ago">30 s ago</time><span class="why">signature does not match</span>"#));
        assert!(html.contains(r#"<span id="hook-count" class="hook-count">1 hook</span>"#));
    }

    #[test]
    fn a_deploys_steps_show_as_a_timeline_with_outcomes_times_and_escaped_details() {
        let mut job = job(8, JobState::RolledBack);
        job.steps = vec![
            json!({"name": "health", "started_at": "2026-03-02T10:00:00.000Z",
                   "finished_at": "2026-03-02T10:00:12.300Z", "outcome": "failed",
                   "detail": "health check api is down: <b>500</b>"}),
            json!({"name": "rolled back", "started_at": "2026-03-02T10:00:12.400Z",
                   "finished_at": null, "outcome": "running", "detail": ""}),
        ];
        let html = page(
            &view(Shown::Job {
                job: Box::new(job),
                pinned: true,
            }),
            "n",
        );
        assert!(html.contains(r#"<li class="step step-failed"><span class="step-name">health</span> <span class="badge step-outcome">failed</span> <span class="step-time">12.3 s</span> <span class="step-detail">health check api is down: &lt;b&gt;500&lt;/b&gt;</span></li>"#), "{html}");
        assert!(html.contains(
            r#"<li class="step step-running"><span class="step-name">rolled back</span>"#
        ));
        let plain = page(&view(Shown::Nothing), "n");
        assert!(plain.contains(r#"<ol id="steps" class="steps" hidden></ol>"#));
    }

    #[test]
    fn the_output_panel_names_its_job_or_says_there_is_none() {
        let html = page(&view(Shown::Nothing), "n0nce");
        assert!(html.contains(r#"<span id="output-job" class="output-job">no job has run yet</span><a id="output-raw" class="output-raw" href="" hidden>"#));
        let html = page(&view(Shown::Missing(99)), "n0nce");
        assert!(html.contains(r#"data-job="99" data-state="missing""#));
        assert!(html.contains(">no job #99</span>"));
        assert!(html.contains(r#"<a id="output-follow" class="output-follow" href="dashboard">"#));
        let html = page(
            &view(Shown::Job {
                job: Box::new(job(8, JobState::Failed)),
                pinned: true,
            }),
            "n0nce",
        );
        assert!(html.contains(r#"job <b class="output-id">#8</b> <span class="sep">·</span> <span class="output-hook">app</span> <span class="badge state-failed">failed</span></span><a id="output-raw" class="output-raw" href="jobs/8/log">plain text</a><a id="output-follow" class="output-follow" href="dashboard">"#));
        assert!(html.contains(r#"<tr class="job job-failed shown" data-id="8">"#));
    }

    #[test]
    fn the_default_job_is_the_newest_running_one_else_the_newest() {
        let jobs = vec![
            job(9, JobState::Queued),
            job(8, JobState::Running),
            job(7, JobState::Running),
        ];
        assert_eq!(default_job(&jobs), Some(8));
        assert_eq!(default_job(&jobs[..1]), Some(9));
        assert_eq!(default_job(&[]), None);
    }

    #[test]
    fn filters_and_labels_read_like_a_person_would_say_them() {
        assert_eq!(label("rollback_failed"), "rollback failed");
        assert_eq!(
            filters_text(
                &json!({ "events": [], "repos": [], "branches": [], "action_events": null })
            ),
            "all deliveries"
        );
        assert_eq!(
            filters_text(
                &json!({ "events": ["push", "ping"], "repos": ["org/*"], "branches": [], "action_events": ["push"] })
            ),
            "events push, ping · repos org/* · runs on push"
        );
        assert_eq!(short_commit("0123456789"), "0123456");
        assert_eq!(short_commit("éééééééé"), "ééééééé");
        assert_eq!(clock("2026-03-02T10:00:00.000Z", now()), "10:00:00");
    }

    #[test]
    fn the_inline_style_and_script_carry_the_nonce_and_nothing_is_loaded_from_elsewhere() {
        let html = page(&view(Shown::Nothing), "abc123");
        assert!(html.contains(r#"<style nonce="abc123">"#));
        assert!(html.contains(r#"<script nonce="abc123">"#));
        assert!(html.contains(r#"<noscript><meta http-equiv="refresh" content="5"></noscript>"#));
        for external in [r#"href="http"#, r#"href="//"#, "@import", "url("] {
            assert!(!html.contains(external), "found {external:?}");
        }
    }
}
