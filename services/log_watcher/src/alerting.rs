//! Alert rules over events: by level, regex and service, with count-within-window thresholds
//! ("5 errors from api within 60 s"). Each rule fires at most once per cooldown for each
//! service; what happens in between is counted by the shared dispatcher and reported as
//! "N more suppressed" in the next message.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use regex::Regex;
use service_kit::alert::{Alert, AlertDispatcher, DeliveryPolicy, Severity, Sink};

use crate::config::AlertsConfig;
use crate::event::{format_time, LogEvent};
use crate::parse::Level;

/// The `source` of every alert this service sends.
pub const SOURCE: &str = "log_watcher";

/// One compiled rule.
#[derive(Debug)]
struct Rule {
    name: String,
    level: Option<Level>,
    regex: Option<Regex>,
    services: Vec<String>,
    threshold: usize,
    window: chrono::Duration,
}

impl Rule {
    fn matches(&self, event: &LogEvent) -> bool {
        self.level.is_none_or(|l| event.level >= l)
            && self.regex.as_ref().is_none_or(|r| r.is_match(&event.message))
            && (self.services.is_empty() || self.services.iter().any(|s| **s == *event.service))
    }
}

/// Evaluates rules and sends alerts.
pub struct Alerter {
    dispatcher: Option<AlertDispatcher>,
    rules: Vec<Rule>,
    /// Recent match times per (rule index, service), for thresholds.
    recent: Mutex<HashMap<(usize, String), VecDeque<DateTime<Utc>>>>,
}

impl Alerter {
    /// Builds the alerter; without sinks it sends nothing.
    pub fn new(config: &AlertsConfig, sinks: Vec<Sink>) -> Alerter {
        let rules = if config.rules.is_empty() {
            vec![Rule {
                name: "errors".to_string(),
                level: Some(Level::Error),
                regex: None,
                services: Vec::new(),
                threshold: 1,
                window: chrono::Duration::seconds(60),
            }]
        } else {
            config
                .rules
                .iter()
                .map(|r| Rule {
                    name: r.name.clone(),
                    level: r.level.as_deref().and_then(Level::parse),
                    regex: r.regex.as_deref().and_then(|p| Regex::new(p).ok()),
                    services: r.services.clone(),
                    threshold: r.threshold as usize,
                    window: chrono::Duration::seconds(r.window_secs as i64),
                })
                .collect()
        };
        let dispatcher = (!sinks.is_empty()).then(|| {
            AlertDispatcher::new(
                sinks,
                DeliveryPolicy {
                    cooldown: Duration::from_secs(config.cooldown_secs),
                    ..DeliveryPolicy::default()
                },
            )
        });
        Alerter {
            dispatcher,
            rules,
            recent: Mutex::new(HashMap::new()),
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
            let times = recent.entry((index, event.service.to_string())).or_default();
            times.push_back(event.timestamp);
            while times.front().is_some_and(|t| *t < event.timestamp - rule.window) {
                times.pop_front();
            }
            if times.len() >= rule.threshold {
                let count = times.len();
                times.clear();
                alerts.push(self.alert(rule, event, count));
            }
        }
        alerts
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
            format!("{}: {} {} line", rule.name, event.service, event.level.as_str())
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
            link: None,
        }
    }
}
