//! Alert rules over events: by level, regex and service, with count-within-window thresholds
//! ("5 errors from api within 60 s"). Each rule fires at most once per cooldown for each
//! service: the first matching line is announced at once, the ones after it during the
//! cooldown are counted, and when the cooldown is over one digest says
//! "N more matching lines suppressed" with the last of them, so a burst of a thousand errors
//! is two messages, and nothing goes unreported.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use regex::Regex;
use service_kit::alert::{Alert, AlertDispatcher, DeliveryPolicy, Severity, Sink};

use crate::event::{format_time, LogEvent};
use crate::parse::Level;

/// The `source` of every alert this service sends.
pub const SOURCE: &str = "log_watcher";

/// `[alerts]`, checked and built: what to alert on, where to, how often at most.
#[derive(Debug, Clone)]
pub struct AlertSettings {
    /// The rules, in order ([`Rule::errors`] when none is configured).
    pub rules: Vec<Rule>,
    /// Where alerts go; none when alerts are off (`enabled = false`) or no target is named.
    pub sinks: Vec<Sink>,
    /// Minimum time between two messages of one rule for one service.
    pub cooldown: Duration,
    /// The address people reach this service at (`[api] public_url`): messages then link
    /// to the dashboard filtered on the service.
    pub link: Option<String>,
}

/// One compiled rule: which lines count, and how many within a window make an alert.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Rule name, shown in the alert.
    pub name: String,
    /// Lines of this level or worse match (any level when `None`).
    pub level: Option<Level>,
    /// Lines matching this regex match.
    pub regex: Option<Regex>,
    /// Only lines of these services (all when empty).
    pub services: Vec<String>,
    /// Matches needed within `window` to alert (at least 1).
    pub threshold: usize,
    /// The window of `threshold`.
    pub window: chrono::Duration,
}

impl Rule {
    /// The rule when none is configured: every line of level error or worse alerts.
    pub fn errors() -> Rule {
        Rule {
            name: "errors".to_string(),
            level: Some(Level::Error),
            regex: None,
            services: Vec::new(),
            threshold: 1,
            window: chrono::Duration::seconds(60),
        }
    }

    fn matches(&self, event: &LogEvent) -> bool {
        self.level.is_none_or(|l| event.level >= l)
            && self
                .regex
                .as_ref()
                .is_none_or(|r| r.is_match(&event.message))
            && (self.services.is_empty() || self.services.iter().any(|s| **s == *event.service))
    }
}

/// One rule for one service: (rule index, service name).
type RuleKey = (usize, String);

/// The cooldown of one rule for one service.
#[derive(Debug)]
struct Cooling {
    /// When the last message (alert or digest) went out.
    since: Instant,
    /// Matching lines swallowed since then.
    suppressed: u64,
    /// The last of them, shown in the digest.
    last: Option<LogEvent>,
}

/// Evaluates rules and sends alerts.
pub struct Alerter {
    /// Sends alerts (in the background, with retries); `None` without sinks.
    dispatcher: Option<AlertDispatcher>,
    /// The rules, in order.
    rules: Vec<Rule>,
    /// Recent match times per (rule index, service), for thresholds.
    recent: Mutex<HashMap<RuleKey, VecDeque<DateTime<Utc>>>>,
    /// Per (rule index, service): the cooldown in force.
    cooling: Mutex<HashMap<RuleKey, Cooling>>,
    /// Minimum time between two messages of one rule for one service.
    cooldown: Duration,
    /// Where the dashboard is, for links in messages.
    link: Option<String>,
}

impl Alerter {
    /// Builds the alerter; without sinks it sends nothing.
    pub fn new(settings: AlertSettings) -> Alerter {
        // The cooldown is kept here rather than in the dispatcher, so that the digest can
        // be sent when it ends even if no further line comes.
        let dispatcher = (!settings.sinks.is_empty()).then(|| {
            AlertDispatcher::new(
                settings.sinks,
                DeliveryPolicy {
                    cooldown: Duration::ZERO,
                    ..DeliveryPolicy::default()
                },
            )
        });
        Alerter {
            dispatcher,
            rules: settings.rules,
            recent: Mutex::new(HashMap::new()),
            cooling: Mutex::new(HashMap::new()),
            cooldown: settings.cooldown,
            link: settings.link.map(|u| u.trim_end_matches('/').to_string()),
        }
    }

    /// The dispatcher, for its counters.
    pub fn dispatcher(&self) -> Option<&AlertDispatcher> {
        self.dispatcher.as_ref()
    }

    /// Alerts this event calls for (threshold reached), without sending them.
    pub fn evaluate(&self, event: &LogEvent) -> Vec<Alert> {
        let mut alerts = Vec::new();
        let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        for (index, rule) in self.rules.iter().enumerate() {
            if !rule.matches(event) {
                continue;
            }
            let times = recent
                .entry((index, event.service.to_string()))
                .or_default();
            times.push_back(event.timestamp);
            while times
                .front()
                .is_some_and(|t| *t < event.timestamp - rule.window)
            {
                times.pop_front();
            }
            if times.len() < rule.threshold {
                continue;
            }
            let count = times.len();
            times.clear();
            let mut cooling = self.cooling.lock().unwrap_or_else(|p| p.into_inner());
            match cooling.get_mut(&(index, event.service.to_string())) {
                Some(c) if c.since.elapsed() < self.cooldown => {
                    c.suppressed += count as u64;
                    c.last = Some(event.clone());
                }
                _ => {
                    cooling.insert(
                        (index, event.service.to_string()),
                        Cooling {
                            since: Instant::now(),
                            suppressed: 0,
                            last: None,
                        },
                    );
                    alerts.push(self.alert(rule, event, count));
                }
            }
        }
        alerts
    }

    /// Digests owed now: for each rule and service whose cooldown is over and that
    /// swallowed lines meanwhile, one message "N more matching lines suppressed" with the
    /// last of them. The digest starts a new cooldown, so a long incident yields one
    /// message per cooldown. Call it every few seconds.
    pub fn due_digests(&self) -> Vec<Alert> {
        let mut cooling = self.cooling.lock().unwrap_or_else(|p| p.into_inner());
        let mut digests = Vec::new();
        cooling.retain(|(index, service), c| {
            if c.since.elapsed() < self.cooldown {
                return true;
            }
            let Some(last) = c.last.take() else {
                return false; // over and nothing owed: forget it
            };
            let rule = &self.rules[*index];
            let n = std::mem::take(&mut c.suppressed);
            let mut alert = self.alert(rule, &last, 1);
            alert.title = format!(
                "{}: {n} more matching {} from {service} suppressed",
                rule.name,
                if n == 1 { "line" } else { "lines" }
            );
            alert.text = format!(
                "{n} more matching {} suppressed in the last {}s; the last one:\n{}",
                if n == 1 { "line was" } else { "lines were" },
                self.cooldown.as_secs(),
                last.stdout_line()
            );
            alert.fields.push(("suppressed".to_string(), n.to_string()));
            digests.push(alert);
            c.since = Instant::now();
            true
        });
        digests
    }

    /// Sends the digests owed now (see [`due_digests`](Self::due_digests)).
    pub fn send_digests(&self) {
        let Some(dispatcher) = &self.dispatcher else {
            return;
        };
        for alert in self.due_digests() {
            dispatcher.send_in_background(alert);
        }
    }

    /// Evaluates and sends in the background.
    pub fn handle(&self, event: &LogEvent) {
        let Some(dispatcher) = &self.dispatcher else {
            return;
        };
        for alert in self.evaluate(event) {
            dispatcher.send_in_background(alert);
        }
    }

    fn alert(&self, rule: &Rule, event: &LogEvent, count: usize) -> Alert {
        let title = if rule.threshold > 1 {
            format!(
                "{}: {count} matching lines from {} within {}s",
                rule.name,
                event.service,
                rule.window.num_seconds()
            )
        } else {
            format!(
                "{}: {} {} line",
                rule.name,
                event.service,
                event.level.as_str()
            )
        };
        Alert {
            key: format!("logs:{}:{}", rule.name, event.service),
            source: SOURCE.to_string(),
            title,
            text: event.stdout_line(),
            severity: if event.level >= Level::Error {
                Severity::Critical
            } else {
                Severity::Warning
            },
            fields: vec![
                ("rule".to_string(), rule.name.clone()),
                ("service".to_string(), event.service.to_string()),
                ("level".to_string(), event.level.as_str().to_string()),
                ("time".to_string(), format_time(event.timestamp)),
            ],
            link: self
                .link
                .as_ref()
                .map(|base| format!("{base}/dashboard?service={}", query_escape(&event.service))),
        }
    }
}

/// Percent-encodes `text` for a URL query value.
fn query_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn event(service: &str, level: Level, message: &str) -> LogEvent {
        LogEvent {
            id: 0,
            timestamp: Utc::now(),
            service: Arc::from(service),
            level,
            message: message.to_string(),
        }
    }

    fn alerter(cooldown_secs: u64, rules: Vec<Rule>) -> Alerter {
        with_link(cooldown_secs, rules, None)
    }

    fn with_link(cooldown_secs: u64, rules: Vec<Rule>, link: Option<&str>) -> Alerter {
        Alerter::new(AlertSettings {
            rules: if rules.is_empty() {
                vec![Rule::errors()]
            } else {
                rules
            },
            sinks: Vec::new(),
            cooldown: Duration::from_secs(cooldown_secs),
            link: link.map(str::to_string),
        })
    }

    #[test]
    fn without_rules_the_first_error_of_each_service_alerts_and_the_rest_wait_for_the_digest() {
        let alerter = alerter(300, Vec::new());
        assert!(alerter
            .evaluate(&event("api", Level::Warning, "slow"))
            .is_empty());
        let first = alerter.evaluate(&event("api", Level::Error, "db down"));
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].title, "errors: api error line");
        assert_eq!(first[0].text, first[0].text.lines().next().unwrap());
        assert!(first[0].text.ends_with("[api][ERROR] db down"));
        assert!(alerter
            .evaluate(&event("api", Level::Error, "db down again"))
            .is_empty());
        assert_eq!(
            alerter
                .evaluate(&event("web", Level::Critical, "oom"))
                .len(),
            1
        );
        // Cooldown still running: nothing owed yet.
        assert!(alerter.due_digests().is_empty());
    }

    #[test]
    fn the_digest_counts_what_the_cooldown_swallowed_and_shows_the_last_line() {
        let alerter = alerter(0, Vec::new());
        // With no cooldown every line alerts on its own and no digest is owed.
        assert_eq!(
            alerter.evaluate(&event("api", Level::Error, "one")).len(),
            1
        );
        assert_eq!(
            alerter.evaluate(&event("api", Level::Error, "two")).len(),
            1
        );
        assert!(alerter.due_digests().is_empty());

        let alerter = self::alerter(1, Vec::new());
        assert_eq!(
            alerter.evaluate(&event("api", Level::Error, "one")).len(),
            1
        );
        for message in ["two", "three", "four"] {
            assert!(alerter
                .evaluate(&event("api", Level::Error, message))
                .is_empty());
        }
        std::thread::sleep(Duration::from_millis(1100));
        let digests = alerter.due_digests();
        assert_eq!(digests.len(), 1);
        assert_eq!(
            digests[0].title,
            "errors: 3 more matching lines from api suppressed"
        );
        assert!(digests[0]
            .text
            .starts_with("3 more matching lines were suppressed in the last 1s; the last one:\n"));
        assert!(digests[0].text.ends_with("[api][ERROR] four"));
        assert!(alerter.due_digests().is_empty(), "a digest is sent once");
    }

    #[test]
    fn thresholds_count_matches_per_service_within_the_window() {
        let rule = Rule {
            name: "auth".to_string(),
            level: None,
            regex: Some(Regex::new("unauthorized").unwrap()),
            services: vec!["api".to_string()],
            threshold: 3,
            window: chrono::Duration::seconds(60),
        };
        let alerter = alerter(0, vec![rule]);
        let hit = || event("api", Level::Info, "401 unauthorized /admin");
        assert!(alerter.evaluate(&hit()).is_empty());
        assert!(alerter
            .evaluate(&event("web", Level::Info, "unauthorized"))
            .is_empty());
        assert!(alerter
            .evaluate(&event("api", Level::Error, "other"))
            .is_empty());
        assert!(alerter.evaluate(&hit()).is_empty());
        let alerts = alerter.evaluate(&hit());
        assert_eq!(alerts.len(), 1);
        assert_eq!(
            alerts[0].title,
            "auth: 3 matching lines from api within 60s"
        );
        assert!(alerter.evaluate(&hit()).is_empty(), "the count starts over");
    }

    #[test]
    fn links_point_at_the_dashboard_filtered_on_the_service() {
        let alerter = with_link(0, Vec::new(), Some("https://logs.example.com/"));
        let alerts = alerter.evaluate(&event("my api", Level::Error, "x"));
        assert_eq!(
            alerts[0].link.as_deref(),
            Some("https://logs.example.com/dashboard?service=my%20api")
        );
    }
}
