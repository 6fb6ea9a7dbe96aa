//! One hook as the service runs it ([`Hook`]), built from a `[[hooks]]` table or from the
//! spec's `[server]`/`[actions]`/`[filters]` (the single hook at `POST /`, id `default`):
//! secret loaded (`secret`, `secret_env` or `secret_file`), verifier chosen, filters
//! compiled, action checked (the script must exist), sinks and networks parsed.

use std::path::{Path, PathBuf};
use std::time::Duration;

use axum::http::HeaderName;
use ipnet::IpNet;
use service_kit::alert::Sink;
use service_kit::config::{item_key, ConfigError};

use super::deploy::DeployAction;
use super::{notify_sinks, verify_mode};
use crate::config::{Config, HookConfig, NotifyTargets, NotifyWhen, Provider, VerifyMode};
use crate::filter::HookFilter;
use crate::network::parse_networks;
use crate::verify::{StandardKey, Verifier};
use service_kit::secret::Secret;

/// The id of the spec's single hook, served at `POST /`.
pub const DEFAULT_HOOK_ID: &str = "default";

/// A hook, ready to receive.
#[derive(Debug, Clone)]
pub struct Hook {
    /// Its id; `default` for the spec's single hook.
    pub id: String,
    /// Where it is served: `/` or `/hooks/ID`.
    pub path: String,
    /// Who sends it.
    pub provider: Provider,
    /// How deliveries are verified.
    pub verifier: Verifier,
    /// Which verified deliveries it acts on.
    pub filter: HookFilter,
    /// What an accepted delivery runs.
    pub action: Action,
    /// Working directory of its commands.
    pub working_dir: Option<PathBuf>,
    /// Extra environment variables of its commands.
    pub env: Vec<(String, String)>,
    /// Where job outcomes go.
    pub notify: Vec<Sink>,
    /// Which outcomes go there.
    pub notify_on: Vec<NotifyWhen>,
    /// Longest a job may run before its process group is killed.
    pub timeout: Duration,
    /// Further attempts after a failed one.
    pub retries: u32,
    /// Sender networks allowed (empty: any).
    pub allowed_ips: Vec<IpNet>,
}

/// What an accepted delivery runs.
#[derive(Debug, Clone)]
pub enum Action {
    /// Nothing: the delivery is recorded and notified.
    None,
    /// A program with its arguments, without a shell.
    Command(Vec<String>),
    /// `pull` then `up -d` of some Compose services.
    Compose(ComposeAction),
    /// A health-gated Compose deploy that rolls back by itself.
    Deploy(Box<DeployAction>),
}

impl Action {
    /// What it runs, in a few words for the dashboard and `GET /hooks`.
    pub fn describe(&self) -> String {
        match self {
            Action::None => "nothing (record and notify)".to_string(),
            Action::Command(argv) => argv.join(" "),
            Action::Compose(compose) => format!(
                "compose {} {}",
                compose.file.display(),
                if compose.services.is_empty() {
                    "(all services)".to_string()
                } else {
                    compose.services.join(", ")
                }
            ),
            Action::Deploy(deploy) => format!(
                "deploy {} ({}) by {}, gated by {}{}",
                deploy.services.join(", "),
                deploy.target.describe(),
                deploy.update.describe(),
                deploy.health.name(),
                if deploy.rollback { ", rolls back" } else { "" }
            ),
        }
    }

    /// The Compose services it touches (none for commands: what a script does is its own).
    pub fn services(&self) -> &[String] {
        match self {
            Action::Compose(compose) => &compose.services,
            Action::Deploy(deploy) => &deploy.services,
            _ => &[],
        }
    }

    /// The name the spec's log line gives it: `Running deploy.sh...`.
    pub fn program_name(&self) -> String {
        match self {
            Action::None => "nothing".to_string(),
            Action::Command(argv) => Path::new(&argv[0])
                .file_name()
                .map_or_else(|| argv[0].clone(), |n| n.to_string_lossy().into_owned()),
            Action::Compose(_) => "docker compose".to_string(),
            Action::Deploy(deploy) => format!("deploy of {}", deploy.services.join(", ")),
        }
    }
}

/// A Compose action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComposeAction {
    /// The Compose file.
    pub file: PathBuf,
    /// The project name, when not Compose's own rule.
    pub project: Option<String>,
    /// The services pulled and recreated (empty: all).
    pub services: Vec<String>,
    /// Pull before `up`.
    pub pull: bool,
}

/// The spec's single hook at `POST /`, when `[server] secret` (`WEBHOOK_SECRET`) or
/// `[actions] push_event_script` (`ACTION_SCRIPT`) is set: GitHub-style signatures, the
/// `[filters]`, the script for `push` events, `notify_webhook` for outcomes.
pub fn default_hook(config: &Config) -> Result<Option<Hook>, ConfigError> {
    let secret = config
        .server
        .secret
        .as_ref()
        .map(Secret::expose)
        .filter(|s| !s.is_empty());
    let script = config
        .actions
        .push_event_script
        .as_deref()
        .filter(|s| !s.trim().is_empty());
    if secret.is_none() && script.is_none() {
        return Ok(None);
    }
    let Some(secret) = secret else {
        return Err(ConfigError::new(
            "server.secret",
            "is required when actions.push_event_script is set (env WEBHOOK_SECRET): \
             deliveries to POST / are verified with it",
        ));
    };
    let secret = Secret::new(secret);
    let action = match script {
        Some(script) => Action::Command(vec![check_program(script, "actions.push_event_script")?]),
        None => Action::None,
    };
    let filter = HookFilter::new(
        &config.filters.allowed_events,
        &config.filters.allowed_repos,
        &[],
        Some(vec!["push".to_string()]),
    )
    .map_err(|e| ConfigError::new(format!("filters.allowed_repos[{}]", e.index), e.problem))?;
    let notify = match &config.actions.notify_webhook {
        Some(url) if !url.trim().is_empty() => notify_sinks(
            config,
            "actions.notify_webhook",
            &NotifyTargets::Many(vec![url.clone()]),
        )
        .map_err(|e| ConfigError::new("actions.notify_webhook", e.problem))?,
        _ => Vec::new(),
    };
    Ok(Some(Hook {
        id: DEFAULT_HOOK_ID.to_string(),
        path: "/".to_string(),
        provider: Provider::Github,
        verifier: Verifier::Github {
            sha256: Verifier::sha256_key(&secret),
            sha1: None,
        },
        filter,
        action,
        working_dir: None,
        env: Vec::new(),
        notify,
        notify_on: vec![NotifyWhen::Success, NotifyWhen::Failure],
        timeout: Duration::from_secs(600),
        retries: 0,
        allowed_ips: Vec::new(),
    }))
}

/// Builds `[[hooks]]` entry `index`.
pub fn build(config: &Config, index: usize, raw: &HookConfig) -> Result<Hook, ConfigError> {
    let key = |field: &str| item_key("hooks", index, &raw.id, field);
    let id_ok = !raw.id.is_empty()
        && raw
            .id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !id_ok {
        return Err(ConfigError::new(
            key("id"),
            "must be letters, digits, '-' or '_' (it is the URL path /hooks/ID)",
        ));
    }
    let mode = verify_mode(raw.provider, raw.verify);
    let verifier = verifier(raw, mode, &key)?;
    if raw.header.is_some() && raw.provider != Provider::Generic {
        return Err(ConfigError::new(
            key("header"),
            "only generic hooks take a header; the provider's own header is used",
        ));
    }
    let filter = HookFilter::new(&raw.events, &raw.repos, &raw.branches, None)
        .map_err(|e| ConfigError::new(key(&format!("{}[{}]", e.list, e.index)), e.problem))?;
    let action = action(raw, &key)?;
    if let Some(dir) = &raw.working_dir {
        if !Path::new(dir).is_dir() {
            return Err(ConfigError::new(
                key("working_dir"),
                format!("{dir:?} is not a directory"),
            ));
        }
    }
    let notify = match &raw.notify {
        Some(targets) => notify_sinks(config, &key("notify"), targets)?,
        None => Vec::new(),
    };
    if raw.timeout_secs == 0 {
        return Err(ConfigError::new(key("timeout_secs"), "must be at least 1"));
    }
    let allowed_ips = parse_networks(&raw.allowed_ips)
        .map_err(|(i, problem)| ConfigError::new(key(&format!("allowed_ips[{i}]")), problem))?;
    Ok(Hook {
        id: raw.id.clone(),
        path: format!("/hooks/{}", raw.id),
        provider: raw.provider,
        verifier,
        filter,
        action,
        working_dir: raw.working_dir.as_ref().map(PathBuf::from),
        env: raw
            .env
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        notify,
        notify_on: raw.notify_on.clone(),
        timeout: Duration::from_secs(raw.timeout_secs),
        retries: raw.retries,
        allowed_ips,
    })
}

/// The hook's secret from `secret`, `secret_env` or `secret_file` (exactly one).
fn load_secret(
    raw: &HookConfig,
    key: &dyn Fn(&str) -> String,
) -> Result<Option<Secret>, ConfigError> {
    let given = [
        raw.secret.is_some(),
        raw.secret_env.is_some(),
        raw.secret_file.is_some(),
    ]
    .iter()
    .filter(|set| **set)
    .count();
    if given > 1 {
        return Err(ConfigError::new(
            key("secret"),
            "set only one of secret, secret_env and secret_file",
        ));
    }
    let secret = if let Some(value) = &raw.secret {
        value.clone()
    } else if let Some(var) = &raw.secret_env {
        match std::env::var(var) {
            Ok(value) if !value.trim().is_empty() => Secret::new(&value),
            _ => {
                return Err(ConfigError::new(
                    key("secret_env"),
                    format!("the environment variable {var} is not set or empty"),
                ))
            }
        }
    } else if let Some(path) = &raw.secret_file {
        let value = std::fs::read_to_string(path).map_err(|e| {
            ConfigError::new(key("secret_file"), format!("cannot read {path}: {e}"))
        })?;
        Secret::new(&value)
    } else {
        return Ok(None);
    };
    if secret.is_empty() {
        return Err(ConfigError::new(key("secret"), "must not be empty"));
    }
    Ok(Some(secret))
}

fn verifier(
    raw: &HookConfig,
    mode: VerifyMode,
    key: &dyn Fn(&str) -> String,
) -> Result<Verifier, ConfigError> {
    let secret = load_secret(raw, key)?;
    let secret = match (mode, secret) {
        (VerifyMode::None, None) => return Ok(Verifier::None),
        (VerifyMode::None, Some(_)) => {
            return Err(ConfigError::new(
                key("verify"),
                "is \"none\" but a secret is set; remove one of them",
            ))
        }
        (_, Some(secret)) => secret,
        (_, None) => {
            return Err(ConfigError::new(
                key("secret"),
                "is required (or secret_env, or secret_file); set verify = \"none\" to accept \
                 unsigned deliveries from anyone",
            ))
        }
    };
    let header = |default: &'static str| -> Result<HeaderName, ConfigError> {
        let name = raw.header.as_deref().unwrap_or(default);
        HeaderName::try_from(name)
            .map_err(|_| ConfigError::new(key("header"), format!("{name:?} is not a header name")))
    };
    Ok(match (raw.provider, mode) {
        (Provider::Generic, VerifyMode::Token) => Verifier::HeaderToken {
            header: header("x-webhook-token")?,
            token: secret,
        },
        (Provider::Generic, VerifyMode::HmacSha256) => Verifier::HeaderHmac {
            header: header("x-signature-256")?,
            key: Verifier::sha256_key(&secret),
        },
        (Provider::Generic, _) => {
            return Err(ConfigError::new(
                key("verify"),
                "generic hooks verify with \"token\", \"hmac-sha256\" or \"none\"",
            ))
        }
        (_, VerifyMode::Token | VerifyMode::HmacSha256) => {
            return Err(ConfigError::new(
                key("verify"),
                "only generic hooks take \"token\" or \"hmac-sha256\"; leave it out for the \
                 provider's own scheme",
            ))
        }
        (Provider::Github, _) => Verifier::Github {
            sha256: Verifier::sha256_key(&secret),
            sha1: raw.allow_sha1.then(|| Verifier::sha1_key(&secret)),
        },
        (Provider::Gitea, _) => Verifier::Gitea {
            key: Verifier::sha256_key(&secret),
        },
        (Provider::Gitlab, _) => Verifier::GitlabToken { token: secret },
        (Provider::Standard, _) => Verifier::Standard {
            key: StandardKey::from_secret(secret.expose()).ok_or_else(|| {
                ConfigError::new(
                    key("secret"),
                    "a Standard Webhooks secret is whsec_ followed by base64",
                )
            })?,
        },
    })
}

fn action(raw: &HookConfig, key: &dyn Fn(&str) -> String) -> Result<Action, ConfigError> {
    let given = [
        raw.command.is_some(),
        raw.script.is_some(),
        raw.compose.is_some(),
        raw.deploy.is_some(),
    ]
    .iter()
    .filter(|set| **set)
    .count();
    if given > 1 {
        return Err(ConfigError::new(
            key("command"),
            "set only one of command, script, compose and deploy",
        ));
    }
    if let Some(deploy) = &raw.deploy {
        return Ok(Action::Deploy(Box::new(super::deploy::build(deploy, key)?)));
    }
    if let Some(argv) = &raw.command {
        let Some(program) = argv.first().filter(|p| !p.trim().is_empty()) else {
            return Err(ConfigError::new(key("command"), "must name a program"));
        };
        let mut argv = argv.clone();
        argv[0] = check_program(program, &key("command"))?;
        return Ok(Action::Command(argv));
    }
    if let Some(script) = &raw.script {
        return Ok(Action::Command(vec![check_program(
            script,
            &key("script"),
        )?]));
    }
    if let Some(compose) = &raw.compose {
        if !Path::new(&compose.file).is_file() {
            return Err(ConfigError::new(
                key("compose.file"),
                format!("{:?} does not exist", compose.file),
            ));
        }
        if let Some(i) = compose.services.iter().position(|s| s.trim().is_empty()) {
            return Err(ConfigError::new(
                key(&format!("compose.services[{i}]")),
                "must not be empty",
            ));
        }
        return Ok(Action::Compose(ComposeAction {
            file: PathBuf::from(&compose.file),
            project: compose.project.clone().filter(|p| !p.trim().is_empty()),
            services: compose.services.clone(),
            pull: compose.pull,
        }));
    }
    Ok(Action::None)
}

/// A program must exist (a path), or be found on `PATH` (a bare name), and be executable:
/// a missing deploy script is a start-up error, not a failed job at the first push.
fn check_program(program: &str, key: &str) -> Result<String, ConfigError> {
    use std::os::unix::fs::PermissionsExt;
    let program = program.trim();
    let path = if program.contains('/') {
        PathBuf::from(program)
    } else {
        std::env::var_os("PATH")
            .and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|dir| dir.join(program))
                    .find(|candidate| candidate.is_file())
            })
            .ok_or_else(|| ConfigError::new(key, format!("{program:?} is not found on PATH")))?
    };
    let metadata = std::fs::metadata(&path)
        .map_err(|e| ConfigError::new(key, format!("{}: {e}", path.display())))?;
    if !metadata.is_file() {
        return Err(ConfigError::new(
            key,
            format!("{} is not a file", path.display()),
        ));
    }
    if metadata.permissions().mode() & 0o111 == 0 {
        return Err(ConfigError::new(
            key,
            format!("{} is not executable (chmod +x)", path.display()),
        ));
    }
    Ok(program.to_string())
}
