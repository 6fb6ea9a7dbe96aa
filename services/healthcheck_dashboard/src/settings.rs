//! The runtime settings, built once from the config file by [`Settings::from_config`] (what
//! [`ServiceSettings::from_file`](service_kit::config::ServiceSettings::from_file) calls): every
//! value checked, every endpoint turned into a [`Check`] with its probe built, every alert
//! sink built. The first problem becomes one [`ConfigError`] naming its key in one style,
//! `checks.endpoints[1] ("api").url` ([`item_key`]). [`crate::run`] takes the result.

use std::collections::HashSet;
use std::ops::RangeInclusive;
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
    /// The Docker Engine's socket, for `docker` checks (`[discovery] socket`).
    pub docker_socket: std::path::PathBuf,
    /// The Compose project whose services are checked without configuration, if any.
    pub discovery: Option<DiscoverySettings>,
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
        within("checks.interval_secs", checks.interval_secs, INTERVAL_SECS)?;
        within("checks.timeout_ms", checks.timeout_ms, TIMEOUT_MS)?;
        within(
            "checks.max_concurrent",
            checks.max_concurrent as u64,
            MAX_CONCURRENT,
        )?;
        let dashboard = &config.dashboard;
        within(
            "dashboard.max_connections",
            dashboard.max_connections as u64,
            MAX_CONNECTIONS,
        )?;
        within(
            "dashboard.max_streams",
            dashboard.max_streams as u64,
            MAX_STREAMS,
        )?;
        within(
            "dashboard.header_timeout_secs",
            dashboard.header_timeout_secs,
            HEADER_TIMEOUT_SECS,
        )?;
        within(
            "storage.retention_days",
            config.storage.retention_days,
            RETENTION_DAYS,
        )?;
        within(
            "alerts.cooldown_secs",
            config.alerts.cooldown_secs,
            COOLDOWN_SECS,
        )?;
        if let Some(mins) = config.alerts.reminder_mins {
            within("alerts.reminder_mins", mins, REMINDER_MINS)?;
        }
        let defaults = CheckDefaults {
            interval_secs: checks.interval_secs,
            timeout_ms: checks.timeout_ms,
            project: config.discovery.project.clone(),
        };
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
            built.push(check(endpoint, &defaults, key)?);
        }
        let discovery =
            match (&config.discovery.project, config.discovery.docker) {
                (_, false) => None,
                (Some(project), true) if !project.trim().is_empty() => Some(DiscoverySettings {
                    project: project.trim().to_string(),
                    defaults,
                    configured: names.iter().map(|name| name.to_string()).collect(),
                }),
                (_, true) => return Err(ConfigError::new(
                    "discovery.project",
                    "is required with docker = true (the Compose project whose services to check)",
                )),
            };

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
            docker_socket: config.discovery.socket,
            discovery,
        })
    }
}

impl ServiceSettings for Settings {
    type File = Config;

    fn from_file(file: Config) -> Result<Settings, ConfigError> {
        file.auth.validate()?;
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

/// What an endpoint takes when it does not say: `[checks]`'s interval and timeout, and
/// `[discovery]`'s project for `docker` checks. Kept after start-up for discovered checks.
#[derive(Debug, Clone)]
pub struct CheckDefaults {
    /// `[checks] interval_secs`.
    pub interval_secs: u64,
    /// `[checks] timeout_ms`.
    pub timeout_ms: u64,
    /// `[discovery] project`.
    pub project: Option<String>,
}

/// Docker discovery, when `[discovery] docker = true`.
#[derive(Debug, Clone)]
pub struct DiscoverySettings {
    /// The Compose project whose services are checked.
    pub project: String,
    /// What discovered checks take when their labels do not say.
    pub defaults: CheckDefaults,
    /// The names of configured endpoints: a service of the same name is left to them.
    pub configured: HashSet<String>,
}

/// The check of one endpoint; `key` names its fields.
pub fn check(
    endpoint: &EndpointConfig,
    defaults: &CheckDefaults,
    key: impl Fn(&str) -> String,
) -> Result<Check, ConfigError> {
    let bounded = |field: &str, value: Option<u64>, range: RangeInclusive<u64>| match value {
        Some(value) => within(&key(field), value, range),
        None => Ok(()),
    };
    bounded("interval_secs", endpoint.interval_secs, INTERVAL_SECS)?;
    bounded("timeout_ms", endpoint.timeout_ms, TIMEOUT_MS)?;
    bounded(
        "failure_threshold",
        endpoint.failure_threshold.map(u64::from),
        THRESHOLD,
    )?;
    bounded(
        "success_threshold",
        endpoint.success_threshold.map(u64::from),
        THRESHOLD,
    )?;
    bounded("degraded_ms", endpoint.degraded_ms, TIMEOUT_MS)?;
    bounded(
        "cert_expiry_warn_days",
        endpoint.cert_expiry_warn_days.map(u64::from),
        0..=3650,
    )?;
    let probe = Probe::from_endpoint(endpoint, defaults.timeout_ms, defaults.project.as_deref())
        .map_err(|(field, problem)| ConfigError::new(key(field), problem))?;
    let info = CheckInfo {
        name: endpoint.name.as_str().into(),
        kind: probe.kind(),
        target: probe.target(),
        failure_threshold: endpoint.failure_threshold.unwrap_or(3),
        success_threshold: endpoint.success_threshold.unwrap_or(2),
        project: probe.project().map(str::to_string),
        discovered: false,
    };
    let schedule = Schedule {
        interval: Duration::from_secs(endpoint.interval_secs.unwrap_or(defaults.interval_secs)),
    };
    Ok(Check::new(info, schedule, probe))
}

/// Seconds between two checks: at least one, at most a day.
pub const INTERVAL_SECS: RangeInclusive<u64> = 1..=86_400;
/// Time limit of one check in milliseconds (also bounds `degraded_ms`): up to ten minutes.
pub const TIMEOUT_MS: RangeInclusive<u64> = 1..=600_000;
/// Probes running at once.
pub const MAX_CONCURRENT: RangeInclusive<u64> = 1..=65_536;
/// Failures or successes in a row before an alert.
pub const THRESHOLD: RangeInclusive<u64> = 1..=10_000;
/// Connections open at once.
pub const MAX_CONNECTIONS: RangeInclusive<u64> = 1..=65_536;
/// Live dashboard streams open at once.
pub const MAX_STREAMS: RangeInclusive<u64> = 1..=10_000;
/// Seconds a client has for its request headers (the shared server allows at most 30).
pub const HEADER_TIMEOUT_SECS: RangeInclusive<u64> = 1..=30;
/// Days of history kept: up to ten years.
pub const RETENTION_DAYS: RangeInclusive<u64> = 1..=3650;
/// Seconds between two alerts about one incident: up to a week.
pub const COOLDOWN_SECS: RangeInclusive<u64> = 0..=604_800;
/// Minutes between reminders (0 is never): up to 30 days.
pub const REMINDER_MINS: RangeInclusive<u64> = 0..=43_200;

/// Checks that `value` of `key` lies in `range`. Every number the service computes times and
/// sizes from is bounded here, so no later arithmetic on it can overflow.
fn within(key: &str, value: u64, range: RangeInclusive<u64>) -> Result<(), ConfigError> {
    if range.contains(&value) {
        return Ok(());
    }
    let problem = if *range.start() == 1 && value == 0 {
        "must be at least 1".to_string()
    } else {
        format!(
            "must be from {} to {}, got {value}",
            range.start(),
            range.end()
        )
    };
    Err(ConfigError::new(key, problem))
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

    #[test]
    fn absurd_numbers_are_refused_naming_their_key() {
        let cases = [
            ("[checks]\ninterval_secs = 9223372036854775807", "checks.interval_secs: must be from 1 to 86400"),
            ("[checks]\ntimeout_ms = 9223372036854775807", "checks.timeout_ms: must be from 1 to 600000"),
            ("[storage]\nretention_days = 100000000", "storage.retention_days: must be from 1 to 3650"),
            ("[alerts]\nreminder_mins = 9223372036854775807", "alerts.reminder_mins: "),
            ("[alerts]\ncooldown_secs = 9223372036854775807", "alerts.cooldown_secs: "),
            ("[dashboard]\nmax_streams = 0", "dashboard.max_streams: must be at least 1"),
            ("[dashboard]\nheader_timeout_secs = 31", "dashboard.header_timeout_secs: must be from 1 to 30"),
            ("[dashboard]\nmax_connections = -1", "dashboard.max_connections: invalid value"),
            (
                "[checks]\nendpoints = [ { name = \"db\", url = \"db:5432\", type = \"tcp\", interval_secs = 99999999999 } ]",
                "checks.endpoints[0] (\"db\").interval_secs: must be from 1 to 86400",
            ),
            (
                "[checks]\nendpoints = [ { name = \"db\", url = \"db:5432\", type = \"tcp\", failure_threshold = 4294967295 } ]",
                "checks.endpoints[0] (\"db\").failure_threshold: must be from 1 to 10000",
            ),
        ];
        for (text, expected) in cases {
            let problem = problem(text);
            assert!(problem.starts_with(expected), "{problem:?} for {text}");
        }
    }

    #[test]
    fn the_connection_limits_default_to_1024_connections_and_64_streams() {
        let dashboard = Settings::from_toml("").unwrap().dashboard;
        assert_eq!(
            (
                dashboard.max_connections,
                dashboard.max_streams,
                dashboard.header_timeout_secs
            ),
            (1024, 64, 10)
        );
    }

    /// A config holding a secret in every place one can stand.
    const SECRETS_EVERYWHERE: &str = r#"
[checks]
endpoints = [
  { name = "api", url = "http://127.0.0.1:9/health?token=SEKRIT&x=1", headers = { Authorization = "Bearer SEKRIT" } },
  { name = "basic", url = "https://user:SEKRIT@h/", headers = { "X-Api-Key" = "SEKRIT" } },
  { name = "db", url = "postgres://app:SEKRIT@127.0.0.1:9/app", type = "postgres" },
  { name = "kw", url = "host=127.0.0.1 port=9 user=app password=SEKRIT", type = "postgres" },
  { name = "job", type = "command", command = ["sh", "-c", "curl --token=SEKRIT http://x/ --password SEKRIT"] },
  { name = "line", type = "command", command = "tool --api-key SEKRIT PGPASSWORD=SEKRIT" },
]
[auth]
token = "SEKRIT"
[peers]
log_watcher = "http://log_watcher:9200"
log_watcher_token = "SEKRIT"
[alerts.smtp]
host = "smtp.example.com"
username = "me"
password = "SEKRIT"
"#;

    #[test]
    fn debug_of_the_config_and_settings_never_shows_a_secret() {
        let config: Config = service_kit::config::parse_toml(SECRETS_EVERYWHERE).unwrap();
        let shown = format!("{config:?}");
        assert!(!shown.contains("SEKRIT"), "{shown}");
        assert!(shown.contains("token=***"), "{shown}");
        let settings = Settings::from_toml(SECRETS_EVERYWHERE).unwrap();
        let shown = format!("{settings:?}");
        assert!(!shown.contains("SEKRIT"), "{shown}");
        assert!(shown.contains("Bearer ***"), "{shown}");
    }

    #[test]
    fn targets_show_no_secret_of_urls_dsns_or_commands() {
        let settings = Settings::from_toml(SECRETS_EVERYWHERE).unwrap();
        let targets: Vec<&str> = settings
            .checks
            .iter()
            .map(|c| c.info.target.as_str())
            .collect();
        assert_eq!(
            targets,
            [
                "http://127.0.0.1:9/health?token=***&x=1",
                "https://user:***@h/",
                "postgres://app:***@127.0.0.1:9/app",
                "host=127.0.0.1 port=9 user=app password=***",
                "sh -c curl --token=*** http://x/ --password ***",
                "tool --api-key *** PGPASSWORD=***",
            ]
        );
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        /// A TOML value of any kind a hand-written file might hold, absurd ones included.
        fn value() -> impl Strategy<Value = String> {
            prop_oneof![
                any::<i64>().prop_map(|n| n.to_string()),
                any::<u64>().prop_map(|n| n.to_string()),
                "[0-9]{1,30}",
                any::<f64>().prop_map(|f| format!("{f:?}")),
                Just("true".to_string()),
                "\"[^\"\\\\\n]{0,40}\"".prop_map(String::from),
                "\"(http|https|tcp|postgres|ftp)://[a-z0-9:@%?=&./_-]{0,40}\""
                    .prop_map(String::from),
                "\"[a-z]{0,8}=[^\"\\\\\n]{0,20}\"".prop_map(String::from),
                Just("[\"sh\", \"-c\", \"exit 0\"]".to_string()),
                Just("{ a = 1 }".to_string()),
                Just("[]".to_string()),
            ]
        }

        fn endpoint_key() -> impl Strategy<Value = &'static str> {
            prop::sample::select(vec![
                "url",
                "type",
                "timeout_ms",
                "interval_secs",
                "method",
                "headers",
                "expected_status",
                "body_contains",
                "json",
                "degraded_ms",
                "failure_threshold",
                "success_threshold",
                "cert_expiry_warn_days",
                "tls_verify",
                "command",
                "bogus",
            ])
        }

        fn section_key() -> impl Strategy<Value = &'static str> {
            prop::sample::select(vec![
                "checks.interval_secs",
                "checks.timeout_ms",
                "checks.max_concurrent",
                "dashboard.port",
                "dashboard.max_connections",
                "dashboard.max_streams",
                "dashboard.header_timeout_secs",
                "dashboard.enabled",
                "dashboard.public_url",
                "storage.retention_days",
                "alerts.enabled",
                "alerts.webhook",
                "alerts.cooldown_secs",
                "alerts.reminder_mins",
                "auth.token",
                "auth.username",
                "peers.log_watcher",
                "nowhere.key",
            ])
        }

        fn kind() -> impl Strategy<Value = &'static str> {
            prop::sample::select(vec![
                "http", "tcp", "postgres", "command", "https", "gopher",
            ])
        }

        /// A config file in the shape operators write, with arbitrary values in it.
        fn config() -> impl Strategy<Value = String> {
            (
                prop::collection::vec((section_key(), value()), 0..4),
                prop::collection::vec((kind(), value(), endpoint_key(), value()), 0..3),
            )
                .prop_map(|(keys, endpoints)| {
                    let mut text = String::new();
                    for (key, value) in keys {
                        let (table, name) = key.split_once('.').unwrap();
                        text.push_str(&format!("[{table}]\n{name} = {value}\n"));
                    }
                    text.push_str("[checks]\nendpoints = [\n");
                    for (i, (kind, url, key, value)) in endpoints.into_iter().enumerate() {
                        text.push_str(&format!(
                            "  {{ name = \"e{i}\", type = \"{kind}\", url = {url}, {key} = {value} }},\n"
                        ));
                    }
                    text.push_str("]\n");
                    text
                })
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]

            #[test]
            fn any_text_is_settings_or_an_error_naming_a_key(text in "\\PC{0,200}") {
                if let Err(error) = Settings::from_toml(&text) {
                    prop_assert!(!error.key.is_empty() && !error.problem.is_empty());
                }
            }

            #[test]
            fn any_config_shaped_file_is_settings_or_an_error_naming_a_key(text in config()) {
                match Settings::from_toml(&text) {
                    Ok(settings) => {
                        // Whatever was accepted is within the bounds later arithmetic relies on.
                        for check in &settings.checks {
                            prop_assert!(check.schedule.interval.as_secs() <= 86_400);
                            prop_assert!(check.probe.timeout().as_millis() <= 600_000);
                        }
                        prop_assert!(settings.retention_days <= 3650);
                    }
                    Err(error) => {
                        prop_assert!(!error.key.is_empty(), "no key in {:?}", error.problem);
                        prop_assert!(!error.problem.is_empty());
                        prop_assert_eq!(error.problem.lines().count(), 1);
                    }
                }
            }
        }
    }
}
