//! The secret values one check carries, found once when its probe is built: the password and
//! secret query values of its URL (`?token=`, `api_key=`, ... as
//! [`service_kit::redact::is_secret_name`] knows them), the values of credential headers
//! (`Authorization: Bearer ...`), secret command arguments (`--token=x`, `--password x`,
//! `PGPASSWORD=x`, also inside a `sh -c` script) and a DSN's password.
//!
//! Masking what is *shown* of a target is [`service_kit::redact`]'s job; this is the second
//! line: every text a probe produces (an error quoting the URL, a command echoing its
//! arguments) is scrubbed of these values before it reaches state, history, alerts or logs,
//! whatever shape the text has. The check itself keeps using the real values.

use std::fmt;

use service_kit::redact::{is_secret_name, redact_args, redact_header};

/// Values shorter than this are not scrubbed: replacing every `1` or `ok` in an error text
/// would make it unreadable, and such values are no secrets worth the name.
const MIN_SECRET_CHARS: usize = 3;

/// The secret values of one check; `Debug` shows only how many there are.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secrets(Vec<String>);

impl Secrets {
    /// No secrets.
    pub fn new() -> Secrets {
        Secrets::default()
    }

    /// Remembers `value` (and its percent-decoded form) as a secret.
    pub fn add(&mut self, value: &str) {
        for form in [value.to_string(), percent_decoded(value)] {
            if form.chars().count() >= MIN_SECRET_CHARS && !self.0.contains(&form) {
                self.0.push(form);
            }
        }
        // Longest first, so a secret containing another is replaced whole.
        self.0.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }

    /// Adds the secrets inside `url`: its password and the values of secret query
    /// parameters (and those of `key=value` pairs, as in keyword DSNs).
    pub fn add_url(&mut self, url: &str) {
        if let Ok(parsed) = reqwest::Url::parse(url) {
            if let Some(password) = parsed.password() {
                self.add(password);
            }
        }
        if let Some(userinfo) = userinfo_password(url) {
            self.add(userinfo);
        }
        for word in url.split(['?', '&', ';', ' ', '#']) {
            if let Some((name, value)) = word.split_once('=') {
                if is_secret_name(name) && !value.is_empty() {
                    self.add(value);
                }
            }
        }
    }

    /// Adds the value of header `name` when it carries credentials, with and without its
    /// scheme (`Bearer x` and `x`).
    pub fn add_header(&mut self, name: &str, value: &str) {
        if redact_header(name, value) == value {
            return;
        }
        self.add(value);
        if let Some((_, credential)) = value.split_once(' ') {
            self.add(credential.trim());
        }
    }

    /// Adds the secret arguments of a command: `NAME=value` and `--flag=value` with a secret
    /// name, the word after a secret `--flag`, URLs' credentials, and the same inside any
    /// argument that is itself a command line (`sh -c "curl --token=x ..."`).
    pub fn add_args(&mut self, argv: &[String]) {
        let mut next_is_secret = false;
        for word in argv {
            if next_is_secret {
                self.add(word);
            }
            next_is_secret = word.starts_with('-') && !word.contains('=') && is_secret_name(word);
            if let Some((name, value)) = word.split_once('=') {
                if is_secret_name(name) && !value.is_empty() && !name.contains(char::is_whitespace)
                {
                    self.add(value);
                }
            }
            if word.contains("://") && !word.contains(char::is_whitespace) {
                self.add_url(word);
            }
            if word.contains(char::is_whitespace) {
                let inner = shlex::split(word)
                    .unwrap_or_else(|| word.split_whitespace().map(str::to_string).collect());
                if inner.len() > 1 {
                    self.add_args(&inner);
                }
            }
        }
    }

    /// `text` with every secret replaced by `***`.
    pub fn scrub(&self, text: &str) -> String {
        let mut text = text.to_string();
        for secret in &self.0 {
            if text.contains(secret.as_str()) {
                text = text.replace(secret.as_str(), "***");
            }
        }
        text
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secrets({} hidden)", self.0.len())
    }
}

/// A command as it may be shown: secret arguments masked (`--token=***`, `--password ***`,
/// URL passwords), also inside an argument that is a script (`sh -c "curl --token=..."`),
/// then every secret value found in it scrubbed wherever else it stands.
pub fn shown_command(argv: &[String]) -> String {
    let words: Vec<String> = argv
        .iter()
        .map(|word| match shlex::split(word) {
            Some(inner) if inner.len() > 1 => redact_args(&inner).join(" "),
            _ => word.clone(),
        })
        .collect();
    let mut secrets = Secrets::new();
    secrets.add_args(argv);
    secrets.scrub(&redact_args(&words).join(" "))
}

/// The password of `scheme://user:password@host`, also where URL parsers give up (DSNs
/// with several hosts).
fn userinfo_password(url: &str) -> Option<&str> {
    let rest = &url[url.find("://")? + 3..];
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let userinfo = &authority[..authority.rfind('@')?];
    userinfo
        .split_once(':')
        .map(|(_, password)| password)
        .filter(|p| !p.is_empty())
}

/// `%XX` sequences decoded (as the server and the URL parser see the value).
fn percent_decoded(value: &str) -> String {
    form_urlencoded::parse(format!("v={value}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn url_passwords_and_secret_query_values_are_found() {
        let mut secrets = Secrets::new();
        secrets.add_url("http://user:pa%24ss@h:1/x?token=SEKRIT&x=1&api_key=K3Y#f");
        let text = "GET http://user:pa%24ss@h:1/x?token=SEKRIT&x=1&api_key=K3Y said pa$ss";
        assert_eq!(
            secrets.scrub(text),
            "GET http://user:***@h:1/x?token=***&x=1&api_key=*** said ***"
        );
    }

    #[test]
    fn credential_headers_are_found_with_and_without_their_scheme() {
        let mut secrets = Secrets::new();
        secrets.add_header("Authorization", "Bearer SEKRIT");
        secrets.add_header("X-Api-Key", "K3YVALUE");
        secrets.add_header("Accept", "application/json");
        assert_eq!(
            secrets.scrub("got SEKRIT and K3YVALUE as application/json"),
            "got *** and *** as application/json"
        );
    }

    #[test]
    fn command_arguments_are_found_also_inside_a_shell_script() {
        let mut secrets = Secrets::new();
        secrets.add_args(&args(&[
            "sh",
            "-c",
            "curl --token=SEKRIT1 --password 'SEKRIT 2' https://u:SEKRIT3@h/ && PGPASSWORD=SEKRIT4 psql",
        ]));
        secrets.add_args(&args(&["tool", "--api-key", "SEKRIT5", "-v"]));
        let scrubbed =
            secrets.scrub("SEKRIT1 SEKRIT 2 SEKRIT3 SEKRIT4 SEKRIT5 -v curl psql https://h/");
        assert_eq!(scrubbed, "*** *** *** *** *** -v curl psql https://h/");
    }

    #[test]
    fn short_values_are_left_alone_and_debug_shows_only_a_count() {
        let mut secrets = Secrets::new();
        secrets.add_url("http://h/?token=ab&key=LONGER");
        assert_eq!(secrets.scrub("ab LONGER"), "ab ***");
        assert_eq!(format!("{secrets:?}"), "Secrets(1 hidden)");
    }
}
