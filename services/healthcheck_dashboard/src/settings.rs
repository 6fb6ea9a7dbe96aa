//! The runtime settings, built once from the config file by [`Settings::from_config`] (what
//! [`ServiceSettings::from_file`](service_kit::config::ServiceSettings::from_file) calls): every
//! value checked, every endpoint turned into a [`Check`] with its probe built, every alert
//! sink built. The first problem becomes one [`ConfigError`] naming its key in one style,
//! `checks.endpoints[1] ("api").url` ([`item_key`]). [`crate::run`] takes the result.

use std::collections::HashSet;
use std::time::Duration;

use service_kit::alert::Sink;
use service_kit::auth::AuthConfig;
use service_kit::config::{item_key, ConfigError, ServiceSettings};
use service_kit::peers::Peers;

use crate::check::{Check, CheckInfo, Probe, Schedule};
use crate::config::{Config, DashboardConfig, EndpointConfig};

/// Sender of alert emails when `[alerts.smtp] from` is not set.
const DEFAULT_EMAIL_FROM: &str = "healthcheck@localhost";

/// Everything the service runs with.
#[derive(Debug)]
pub struct Settings {
    /// One per endpoint, in config order, none run yet.
    pub checks: Vec<Check>,
    /// How many probes may run at the same moment.
    pub max_concurrent: usize,
    /// The HTTP side: address, page, public health routes, alert link.
    pub dashboard: DashboardConfig,
    /// Where and when transitions are announced.
    pub alerts: AlertSettings,
    /// Credentials protecting the dashboard and API.
    pub auth: AuthConfig,
    /// Days of history kept (`[storage] retention_days`).
    pub retention_days: u64,
    /// Clients for the other sidecars (`[peers]`): log_watcher for the error lines of down
    /// alerts, webhook_handler for deploy markers; each `None` when not configured.
    pub peers: Peers,
}

/// `[alerts]`, ready to use.
#[derive(Debug)]
pub struct AlertSettings {
    /// Whether alerts are sent at all (default off, as in the spec).
    pub enabled: bool,
    /// The destinations (built and checked even when alerts are off, so a typo is caught
    /// before the day someone turns them on).
    pub sinks: Vec<Sink>,
    /// Minimum time between two messages about the same service and state.
    pub cooldown: Duration,
    /// Also announce recoveries (default true).
    pub resolved: bool,
    /// Repeat a down alert this often while it lasts (default never).
    pub reminder: Option<Duration>,
}

impl Settings {
    /// Builds the settings from config text alone, without env vars (tests, the demo).
    pub fn from_toml(text: &str) -> Result<Settings, ConfigError> {
        service_kit::config::from_toml::<Settings>(text)
    }

    /// Checks `config` and builds everything from it; the first problem names its key.
    pub fn from_config(config: Config) -> Result<Settings, ConfigError> {
        let checks = &config.checks;
        at_least_one("checks.interval_secs", checks.interval_secs)?;
        at_least_one("checks.timeout_ms", checks.timeout_ms)?;
        at_least_one("checks.max_concurrent", checks.max_concurrent as u64)?;
        let mut names = HashSet::new();
        let mut built = Vec::with_capacity(checks.endpoints.len());
        for (index, endpoint) in checks.endpoints.iter().enumerate() {
            if endpoint.name.trim().is_empty() {
                return Err(ConfigError::new(
                    format!("checks.endpoints[{index}].name"),
                    "must not be empty",
                ));
            }
            let key = |field: &str| item_key("checks.endpoints", index, &endpoint.name, field);
            if !names.insert(endpoint.name.as_str()) {
                return Err(ConfigError::new(key("name"), "is used by another endpoint"));
            }
            built.push(check(endpoint, &config, key)?);
        }

        let alerts = &config.alerts;
        let alerts = AlertSettings {
            enabled: alerts.is_enabled(false),
            sinks: alerts.sinks(DEFAULT_EMAIL_FROM)?,
            cooldown: alerts.cooldown(),
            resolved: alerts.resolved.unwrap_or(true),
            reminder: alerts
                .reminder_mins
                .filter(|mins| *mins > 0)
                .map(|mins| Duration::from_secs(mins * 60)),
        };
        let peers = config.peers.build()?;
        Ok(Settings {
            checks: built,
            max_concurrent: config.checks.max_concurrent,
            dashboard: config.dashboard,
            alerts,
            auth: config.auth,
            retention_days: config.storage.retention_days,
            peers,
        })
    }
}

impl ServiceSettings for Settings {
    type File = Config;

    fn from_file(file: Config) -> Result<Settings, ConfigError> {
        Settings::from_config(file)
    }

    fn listen_address(&self) -> String {
        format!("{}:{}", self.dashboard.host, self.dashboard.port)
    }

    fn summary(&self) -> String {
        format!(
            "{} endpoint(s), port {}",
            self.checks.len(),
            self.dashboard.port
        )
    }
}

/// The check of one endpoint; `key` names its fields.
fn check(
    endpoint: &EndpointConfig,
    config: &Config,
    key: impl Fn(&str) -> String,
) -> Result<Check, ConfigError> {
    let probe = Probe::from_endpoint(endpoint, config.checks.timeout_ms)
        .map_err(|(field, problem)| ConfigError::new(key(field), problem))?;
    let positive = |field: &str, value: Option<u64>| match value {
        Some(0) => Err(ConfigError::new(key(field), "must be at least 1")),
        _ => Ok(()),
    };
    positive("interval_secs", endpoint.interval_secs)?;
    positive("timeout_ms", endpoint.timeout_ms)?;
    positive(
        "failure_threshold",
        endpoint.failure_threshold.map(u64::from),
    )?;
    positive(
        "success_threshold",
        endpoint.success_threshold.map(u64::from),
    )?;
    let info = CheckInfo {
        name: endpoint.name.as_str().into(),
        kind: probe.kind(),
        target: probe.target(),
        failure_threshold: endpoint.failure_threshold.unwrap_or(3),
        success_threshold: endpoint.success_threshold.unwrap_or(2),
    };
    let schedule = Schedule {
        interval: Duration::from_secs(
            endpoint
                .interval_secs
                .unwrap_or(config.checks.interval_secs),
        ),
    };
    Ok(Check::new(info, schedule, probe))
}

fn at_least_one(key: &str, value: u64) -> Result<(), ConfigError> {
    if value == 0 {
        return Err(ConfigError::new(key, "must be at least 1"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(text: &str) -> String {
        let err = Settings::from_toml(text).unwrap_err();
        format!("{}: {}", err.key, err.problem)
    }

    #[test]
    fn the_shipped_spec_example_config_becomes_three_checks_with_alerts_off() {
        let settings = Settings::from_toml(include_str!("../config.toml")).unwrap();
        assert_eq!(settings.summary(), "3 endpoint(s), port 9100");
        assert_eq!(settings.listen_address(), "0.0.0.0:9100");
        let kinds: Vec<_> = settings.checks.iter().map(|c| c.info.kind).collect();
        assert_eq!(kinds, ["http", "http", "postgres"]);
        assert_eq!(
            settings.checks[2].info.target,
            "postgres://myuser:***@db:5432/mydb"
        );
        assert_eq!(
            settings.checks[0].schedule.interval,
            Duration::from_secs(10)
        );
        assert!(!settings.alerts.enabled);
    }

    #[test]
    fn endpoint_settings_override_the_checks_defaults() {
        let settings = Settings::from_toml(
            r#"[checks]
interval_secs = 30
timeout_ms = 2000
endpoints = [
  { name = "fast", url = "db:5432", type = "tcp", interval_secs = 5, timeout_ms = 100, failure_threshold = 1 },
  { name = "plain", url = "db:5432", type = "tcp" },
]
"#,
        )
        .unwrap();
        let [fast, plain] = &settings.checks[..] else {
            panic!("two checks");
        };
        assert_eq!(fast.schedule.interval, Duration::from_secs(5));
        assert_eq!(fast.probe.timeout(), Duration::from_millis(100));
        assert_eq!(
            (fast.info.failure_threshold, fast.info.success_threshold),
            (1, 2)
        );
        assert_eq!(plain.schedule.interval, Duration::from_secs(30));
        assert_eq!(plain.probe.timeout(), Duration::from_millis(2000));
        assert_eq!(plain.info.failure_threshold, 3);
    }

    #[test]
    fn every_problem_names_the_endpoint_and_key_in_one_style() {
        let cases = [
            (
                r#"[checks]
endpoints = [ { name = "ok", url = "http://ok/" }, { name = "api", url = "http//api:8000" } ]"#,
                "checks.endpoints[1] (\"api\").url: not a valid URL",
            ),
            (
                r#"[checks]
endpoints = [ { name = "ftp", url = "ftp://files/", type = "ftp" } ]"#,
                "checks.endpoints[0] (\"ftp\").type: unknown check type \"ftp\"; expected one of \"http\", \"https\", \"tcp\", \"postgres\", \"command\"",
            ),
            (
                r#"[checks]
endpoints = [ { name = "db", url = "db", type = "tcp" } ]"#,
                "checks.endpoints[0] (\"db\").url: \"db\" is not host:port",
            ),
            (
                r#"[checks]
endpoints = [ { name = "db", url = "db:5432", type = "tcp" }, { name = "db", url = "db:5433", type = "tcp" } ]"#,
                "checks.endpoints[1] (\"db\").name: is used by another endpoint",
            ),
            (
                r#"[checks]
endpoints = [ { name = "db", url = "db:5432", type = "tcp", success_threshold = 0 } ]"#,
                "checks.endpoints[0] (\"db\").success_threshold: must be at least 1",
            ),
            (
                r#"[checks]
endpoints = [ { name = "job", type = "command" } ]"#,
                "checks.endpoints[0] (\"job\").command: is required for type \"command\"",
            ),
            (
                r#"[checks]
endpoints = [ { name = " ", url = "db:5432", type = "tcp" } ]"#,
                "checks.endpoints[0].name: must not be empty",
            ),
            ("[checks]\ninterval_secs = 0", "checks.interval_secs: must be at least 1"),
        ];
        for (text, expected) in cases {
            let problem = problem(text);
            assert!(problem.starts_with(expected), "{problem:?} for {text}");
        }
    }

    #[test]
    fn postgresql_is_accepted_as_a_type_name() {
        let settings = Settings::from_toml(
            "[checks]\nendpoints = [ { name = \"db\", url = \"postgres://db/app\", type = \"postgresql\" } ]",
        )
        .unwrap();
        assert_eq!(settings.checks[0].info.kind, "postgres");
    }

    #[test]
    fn a_command_line_is_split_into_words_without_a_shell() {
        let settings = Settings::from_toml(
            "[checks]\nendpoints = [ { name = \"ready\", type = \"command\", command = \"pg_isready -h 'db host'\" } ]",
        )
        .unwrap();
        let Probe::Command(command) = &settings.checks[0].probe else {
            panic!("a command probe");
        };
        assert_eq!(command.argv, ["pg_isready", "-h", "db host"]);
        assert!(problem(
            "[checks]\nendpoints = [ { name = \"x\", type = \"command\", command = \"echo 'open\" } ]"
        )
        .starts_with("checks.endpoints[0] (\"x\").command: cannot split"));
    }

    #[test]
    fn alerts_are_off_by_default_and_announce_recoveries_without_reminders() {
        let alerts = Settings::from_toml("").unwrap().alerts;
        assert!(!alerts.enabled);
        assert!(alerts.resolved);
        assert_eq!(alerts.reminder, None);
        assert_eq!(alerts.cooldown, Duration::from_secs(300));

        let alerts = Settings::from_toml(
            "[alerts]\nenabled = true\nwebhook = \"http://hooks.example/x\"\nresolved = false\nreminder_mins = 30",
        )
        .unwrap()
        .alerts;
        assert!(alerts.enabled);
        assert_eq!(alerts.sinks.len(), 1);
        assert!(!alerts.resolved);
        assert_eq!(alerts.reminder, Some(Duration::from_secs(1800)));
    }

    #[test]
    fn peers_are_built_once_and_a_bad_url_names_its_key() {
        let settings = Settings::from_toml(
            "[peers]\nlog_watcher = \"http://log_watcher:9200\"\nlog_watcher_token = \"t\"",
        )
        .unwrap();
        assert_eq!(
            settings.peers.log_watcher.unwrap().name(),
            "http://log_watcher:9200"
        );
        assert!(settings.peers.webhook_handler.is_none());
        assert!(problem("[peers]\nlog_watcher = \"log_watcher:9200\"")
            .starts_with("peers.log_watcher: "));
        assert!(problem("[peers]\nwebhook_handler = \"ftp://x\"")
            .starts_with("peers.webhook_handler: "));
        assert!(problem("[peers]\nlogwatcher = \"http://x\"").contains("logwatcher"));
    }

    #[test]
    fn alert_targets_are_checked_even_while_alerts_are_off() {
        assert!(problem("[alerts]\nwebhook = \"ftp://nope\"").starts_with("alerts.webhook: "));
        assert!(problem("[[alerts.rules]]\nname = \"x\"").contains("takes no alert rules"));
    }
}
