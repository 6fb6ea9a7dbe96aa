//! The runtime settings: the [`Config`] file checked and built once, at start-up, into what
//! [`run`](crate::run) takes. Levels are [`Level`]s, every regex is compiled here once (the
//! filters, the rules', the multiline start pattern), the event filter, the alert rules and
//! sinks, the file patterns and the Docker socket are ready to use. The first problem found
//! stops start-up with one line naming its key, in the style serde names keys
//! (`alerts.rules[0] ("x").threshold: must be at least 1`).
//!
//! `[log_sources]` is checked in [`sources`]; everything else here. `[peers]` becomes the
//! clients of [`service_kit::peers`], of which only webhook_handler's is used (deploy
//! markers, [`crate::deploys`]).

pub mod sources;

use std::time::Duration;

use regex::Regex;
use service_kit::auth::AuthConfig;
use service_kit::config::{item_key, regex, ConfigError, ServiceSettings};
use service_kit::peers::Peers;

use crate::alerting::{AlertSettings, Rule};
use crate::config::{AlertRuleConfig, Config};
use crate::decode::{DecodeSettings, EventFilter};
use crate::parse::{Level, MultilineConfig};

pub use self::sources::SourceSettings;

/// The sender of alert emails when `[alerts.smtp] from` is not set.
const DEFAULT_EMAIL_FROM: &str = "log-watcher@localhost";

/// Everything the service runs with, checked.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where lines come from.
    pub sources: SourceSettings,
    /// Which lines are events: `[filters]`, and the regexes of the alert rules.
    pub filter: EventFilter,
    /// How lines become events: multiline joining and the line limit.
    pub decode: DecodeSettings,
    /// Alert rules, sinks and cooldown.
    pub alerts: AlertSettings,
    /// The HTTP side.
    pub api: ApiSettings,
    /// Seconds between two stdout summary lines, and the window each covers; 0 = off.
    pub summary_every_secs: u64,
    /// Memory and retention bounds.
    pub storage: StorageSettings,
    /// The other sidecars; only `webhook_handler` is used: its deploys are the chart's
    /// markers (no polling and no markers without it).
    pub peers: Peers,
}

/// `[api]` and `[auth]`.
#[derive(Debug, Clone)]
pub struct ApiSettings {
    /// Address to listen on.
    pub host: String,
    /// Port to listen on.
    pub port: u16,
    /// Serve the HTML dashboard.
    pub dashboard: bool,
    /// Credentials protecting everything but `/livez` (open when empty).
    pub auth: AuthConfig,
    /// Most bytes of one `/logs` answer.
    pub max_response_bytes: usize,
    /// Most HTTP connections at once.
    pub max_connections: usize,
    /// Most live streams at once.
    pub max_streams: usize,
}

/// `[storage]`, but for the line limit (which is the decoder's).
#[derive(Debug, Clone)]
pub struct StorageSettings {
    /// Recent events kept in memory for `/logs`.
    pub ring_size: usize,
    /// Days events are kept in SQLite.
    pub retention_days: u64,
}

impl Settings {
    /// The settings `text` describes, without env vars (tests, the demo).
    pub fn from_toml(text: &str) -> Result<Settings, ConfigError> {
        service_kit::config::from_toml::<Settings>(text)
    }

    /// Checks and builds everything `config` says (see the module documentation).
    pub(crate) fn build(config: Config) -> Result<Settings, ConfigError> {
        let Config {
            log_sources,
            filters,
            alerts,
            api,
            summary,
            storage,
            multiline,
            auth,
            peers,
        } = config;
        let levels = filters
            .levels
            .iter()
            .enumerate()
            .map(|(i, name)| {
                Level::parse(name).ok_or_else(|| {
                    ConfigError::new(
                        format!("filters.levels[{i}]"),
                        format!("unknown level {name:?}; expected trace, debug, info, warning, error or critical"),
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut event_regexes = filters
            .regexes
            .iter()
            .enumerate()
            .map(|(i, pattern)| regex(format!("filters.regexes[{i}]"), pattern))
            .collect::<Result<Vec<_>, _>>()?;
        let start_pattern = multiline
            .start_pattern
            .as_deref()
            .map(|pattern| regex("multiline.start_pattern", pattern))
            .transpose()?;
        let rules = alert_rules(&alerts.rules)?;
        // A line a rule alerts on is also an event, so that it is kept and shown in `/logs`.
        for rule_regex in rules.iter().filter_map(|r| r.regex.as_ref()) {
            if !event_regexes
                .iter()
                .any(|r| r.as_str() == rule_regex.as_str())
            {
                event_regexes.push(rule_regex.clone());
            }
        }
        let filter = EventFilter::new(&levels, &event_regexes)
            .map_err(|e| ConfigError::new("filters.regexes", e.to_string()))?;
        if let Some(url) = &api.public_url {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(ConfigError::new(
                    "api.public_url",
                    format!("{url:?} is not an http(s) URL"),
                ));
            }
        }
        at_least(storage.ring_size as u64, 1, "storage.ring_size")?;
        at_least(
            api.max_response_bytes as u64,
            64 * 1024,
            "api.max_response_bytes",
        )?;
        at_least(api.max_connections as u64, 1, "api.max_connections")?;
        at_least(api.max_streams as u64, 1, "api.max_streams")?;
        at_least(
            storage.max_line_bytes as u64,
            1024,
            "storage.max_line_bytes",
        )?;
        at_least(multiline.max_lines as u64, 1, "multiline.max_lines")?;
        let sources = sources::build(log_sources)?;
        let peers = peers.build()?;
        alerts.reject_health_only_keys("log_watcher")?;
        // Built (so checked) even when alerts are off, which then only sends nothing.
        let sinks = alerts.sinks(DEFAULT_EMAIL_FROM)?;
        Ok(Settings {
            sources,
            filter,
            decode: DecodeSettings {
                multiline: multiline.enabled.then(|| MultilineConfig {
                    start_pattern,
                    max_lines: multiline.max_lines,
                    max_bytes: storage.max_line_bytes,
                }),
                flush_after: Duration::from_millis(multiline.timeout_ms),
                max_line_bytes: storage.max_line_bytes,
            },
            alerts: AlertSettings {
                rules,
                sinks: if alerts.is_enabled(true) {
                    sinks
                } else {
                    Vec::new()
                },
                cooldown: alerts.cooldown(),
                link: api.public_url,
            },
            api: ApiSettings {
                host: api.host,
                port: api.port,
                dashboard: api.dashboard,
                auth,
                max_response_bytes: api.max_response_bytes,
                max_connections: api.max_connections,
                max_streams: api.max_streams,
            },
            summary_every_secs: summary
                .interval_secs
                .unwrap_or(summary.interval_mins.saturating_mul(60)),
            storage: StorageSettings {
                ring_size: storage.ring_size,
                retention_days: storage.retention_days,
            },
            peers,
        })
    }
}

impl ServiceSettings for Settings {
    type File = Config;

    fn from_file(file: Config) -> Result<Settings, ConfigError> {
        file.auth.validate()?;
        Settings::build(file)
    }

    fn listen_address(&self) -> String {
        format!("{}:{}", self.api.host, self.api.port)
    }

    fn summary(&self) -> String {
        format!("{} file pattern(s)", self.sources.files.len())
    }
}

/// `value` is at least `min`, else `key: must be at least MIN`.
fn at_least(value: u64, min: u64, key: &str) -> Result<(), ConfigError> {
    if value < min {
        return Err(ConfigError::new(key, format!("must be at least {min}")));
    }
    Ok(())
}

/// The `[[alerts.rules]]` compiled; [`Rule::errors`] alone when there are none.
fn alert_rules(rules: &[AlertRuleConfig]) -> Result<Vec<Rule>, ConfigError> {
    if rules.is_empty() {
        return Ok(vec![Rule::errors()]);
    }
    let mut compiled = Vec::with_capacity(rules.len());
    for (i, rule) in rules.iter().enumerate() {
        let key = |field: &str| item_key("alerts.rules", i, &rule.name, field);
        let level = match &rule.level {
            Some(name) => Some(Level::parse(name).ok_or_else(|| {
                ConfigError::new(key("level"), format!("unknown level {name:?}"))
            })?),
            None => None,
        };
        let regex: Option<Regex> = match &rule.regex {
            Some(pattern) => Some(regex(key("regex"), pattern)?),
            None => None,
        };
        at_least(u64::from(rule.threshold), 1, &key("threshold"))?;
        at_least(rule.window_secs, 1, &key("window_secs"))?;
        let window = i64::try_from(rule.window_secs)
            .ok()
            .and_then(chrono::Duration::try_seconds)
            .ok_or_else(|| ConfigError::new(key("window_secs"), "is too long"))?;
        compiled.push(Rule {
            name: rule.name.clone(),
            level,
            regex,
            services: rule.services.clone(),
            threshold: rule.threshold as usize,
            window,
        });
    }
    Ok(compiled)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The one-line error the config `toml` stops start-up with.
    pub(super) fn error(toml: &str) -> String {
        Settings::from_toml(toml).unwrap_err().to_string()
    }

    #[test]
    fn levels_and_regexes_are_compiled_once_and_bad_ones_name_their_key() {
        let settings = Settings::from_toml(
            "[filters]\nlevels = [\"warn\"]\nregexes = [\"panic\"]\n[multiline]\nstart_pattern = \"^\\\\d\"\n[[alerts.rules]]\nname = \"auth\"\nlevel = \"err\"\nregex = \"unauthorized\"",
        )
        .unwrap();
        assert!(settings.filter.is_event(Level::Warning, "x"));
        assert!(settings.filter.is_event(Level::Info, "thread panicked"));
        assert!(
            settings.filter.is_event(Level::Info, "401 unauthorized"),
            "a rule's regex makes lines events"
        );
        assert_eq!(settings.alerts.rules[0].level, Some(Level::Error));
        let multiline = settings.decode.multiline.unwrap();
        assert_eq!(multiline.start_pattern.unwrap().as_str(), "^\\d");

        assert!(error("[filters]\nregexes = [\"(unclosed\"]").contains("filters.regexes[0]: "));
        assert!(error("[filters]\nlevels = [\"loud\"]")
            .contains("filters.levels[0]: unknown level \"loud\"; expected trace"));
        assert!(error("[[alerts.rules]]\nname = \"x\"\nregex = \"(\"")
            .contains("alerts.rules[0] (\"x\").regex: "));
        assert!(error("[[alerts.rules]]\nname = \"x\"\nlevel = \"loud\"")
            .contains("alerts.rules[0] (\"x\").level: unknown level \"loud\""));
        assert!(error("[[alerts.rules]]\nname = \"x\"\nthreshold = 0")
            .ends_with("alerts.rules[0] (\"x\").threshold: must be at least 1"));
        assert!(error("[multiline]\nstart_pattern = \"[\"").contains("multiline.start_pattern: "));
    }

    #[test]
    fn without_rules_errors_alert_and_alerts_are_on_unless_turned_off() {
        let settings =
            Settings::from_toml("[alerts]\nwebhook = \"https://hooks.example.com/x\"").unwrap();
        assert_eq!(settings.alerts.rules.len(), 1);
        assert_eq!(settings.alerts.rules[0].name, "errors");
        assert_eq!(settings.alerts.sinks.len(), 1);
        let off = Settings::from_toml(
            "[alerts]\nenabled = false\nwebhook = \"https://hooks.example.com/x\"",
        )
        .unwrap();
        assert!(off.alerts.sinks.is_empty());
        assert!(
            error("[alerts]\nenabled = false\nwebhook = \"ftp://nope\"").contains("alerts.webhook")
        );
        assert!(error("[alerts]\nresolved = true").contains("alerts.resolved"));
        assert!(error("[alerts]\nreminder_mins = 5").contains("alerts.reminder_mins"));
    }

    #[test]
    fn limits_and_the_public_url_are_checked() {
        assert!(error("[storage]\nring_size = 0").contains("storage.ring_size: must be at least 1"));
        assert!(error("[storage]\nmax_line_bytes = 10")
            .contains("storage.max_line_bytes: must be at least 1024"));
        assert!(error("[multiline]\nmax_lines = 0").contains("multiline.max_lines"));
        assert!(error("[api]\nmax_response_bytes = 1000")
            .contains("api.max_response_bytes: must be at least 65536"));
        assert!(
            error("[api]\nmax_connections = 0").contains("api.max_connections: must be at least 1")
        );
        assert!(error("[api]\nmax_streams = 0").contains("api.max_streams: must be at least 1"));
        assert!(error("[api]\nmax_streams = -1").contains("api.max_streams"));
        assert!(error("[api]\npublic_url = \"logs.example.com\"").contains("api.public_url"));
        let settings = Settings::from_toml("[summary]\ninterval_mins = 2").unwrap();
        assert_eq!(settings.summary_every_secs, 120);
        assert_eq!(settings.summary(), "0 file pattern(s)");
        assert_eq!(settings.listen_address(), "0.0.0.0:9200");
    }

    #[test]
    fn the_webhook_handler_peer_is_built_once_and_a_bad_url_names_its_key() {
        let settings = Settings::from_toml(
            "[peers]\nwebhook_handler = \"http://webhook_handler:9000\"\nwebhook_handler_token = \"t\"",
        )
        .unwrap();
        let peer = settings.peers.webhook_handler.unwrap();
        assert_eq!(peer.name(), "http://webhook_handler:9000");
        assert!(Settings::from_toml("")
            .unwrap()
            .peers
            .webhook_handler
            .is_none());
        assert!(error("[peers]\nwebhook_handler = \"webhook_handler:9000\"")
            .contains("peers.webhook_handler: "));
        assert!(error("[peers]\nwebhok_handler = \"http://x\"").contains("webhok_handler"));
    }

    /// Keys of every section, the ones people write most.
    const KEYS: &[(&str, &str)] = &[
        ("log_sources", "extra_files"),
        ("log_sources", "docker_logs_dir"),
        ("log_sources", "poll_interval_ms"),
        ("filters", "levels"),
        ("filters", "regexes"),
        ("api", "port"),
        ("api", "host"),
        ("api", "max_response_bytes"),
        ("api", "max_connections"),
        ("api", "max_streams"),
        ("api", "public_url"),
        ("summary", "interval_mins"),
        ("summary", "interval_secs"),
        ("storage", "ring_size"),
        ("storage", "retention_days"),
        ("storage", "max_line_bytes"),
        ("multiline", "timeout_ms"),
        ("multiline", "max_lines"),
        ("multiline", "start_pattern"),
        ("alerts", "webhook"),
        ("alerts", "email"),
        ("auth", "token"),
        ("auth", "username"),
        ("peers", "webhook_handler"),
        ("api", "dashboard"),
        ("auth", "password"),
        ("multiline", "enabled"),
        ("log_sources.docker_api", "socket"),
        ("log_sources.docker_api", "project"),
        ("log_sources.docker_api", "include"),
        ("log_sources.docker_api", "exclude"),
        ("log_sources.docker_api", "enabled"),
        ("log_sources.docker_api", "lifecycle"),
        ("log_sources.docker_api", "last_lines"),
        ("log_sources.docker_api", "restart_loop_starts"),
        ("log_sources.docker_api", "restart_loop_minutes"),
        ("log_sources.file_services", "app"),
        // An array of tables: written `[[alerts.rules]]`, after a `name`.
        ("[alerts.rules]", "level"),
        ("[alerts.rules]", "regex"),
        ("[alerts.rules]", "services"),
        ("[alerts.rules]", "threshold"),
        ("[alerts.rules]", "window_secs"),
    ];

    fn toml_value() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        prop_oneof![
            any::<i64>().prop_map(|n| n.to_string()),
            any::<u64>().prop_map(|n| n.to_string()),
            Just("-1".to_string()),
            Just("0".to_string()),
            "[a-z(\\[*.:/ ]{0,12}".prop_map(|s| format!("{s:?}")),
            proptest::collection::vec("[a-z(\\[*.]{0,6}", 0..3).prop_map(|v| format!("{v:?}")),
            Just("true".to_string()),
            Just("1.5e300".to_string()),
        ]
    }

    proptest::proptest! {
        /// Any values under the known keys (and a misspelt one): settings, or one error that
        /// names the key it is about (or, for what TOML itself cannot read, such as an
        /// integer beyond 64 bits, the line); never a panic.
        #[test]
        fn any_config_is_settings_or_an_error_naming_its_key(
            entries in proptest::collection::vec(
                (proptest::sample::select(KEYS), toml_value(), proptest::bool::weighted(0.05)),
                1..5,
            ),
        ) {
            let mut by_section: std::collections::BTreeMap<&str, Vec<String>> = Default::default();
            let mut keys = Vec::new();
            for ((section, key), value, misspelt) in &entries {
                let key = if *misspelt { format!("{key}x") } else { key.to_string() };
                by_section.entry(section).or_default().push(format!("{key} = {value}"));
                keys.push(key);
            }
            let text: String = by_section
                .iter()
                .map(|(section, lines)| {
                    // `[[alerts.rules]]` needs its `name`.
                    let name = if section.starts_with('[') { "name = \"r\"\n" } else { "" };
                    format!("[{section}]\n{name}{}\n", lines.join("\n"))
                })
                .collect();
            match Settings::from_toml(&text) {
                Ok(_) => {}
                Err(error) => {
                    let error = error.to_string();
                    proptest::prop_assert!(
                        keys.iter().any(|key| error.contains(key.as_str())) || error.contains("(line "),
                        "{error:?} names none of {keys:?} for\n{text}"
                    );
                    proptest::prop_assert_eq!(error.lines().count(), 1, "{}", error);
                }
            }
        }
    }
}
