//! Keeps secrets out of JSON, pages, alerts and logs: credentials inside URLs (Postgres DSNs,
//! `https://user:pass@host`), secret-looking query and key/value pairs (`?token=...`,
//! `password=...`), credential headers and secret command arguments are replaced by `***`
//! before they are shown anywhere.

/// Returns `url` with any password replaced by `***` (and the user kept), for display.
///
/// Works on any `scheme://user:pass@host...` string, including DSNs that URL parsers reject,
/// and also masks `password=...` key/value pairs (libpq keyword DSNs and query strings).
pub fn redact_url(url: &str) -> String {
    let masked = match url.find("://") {
        Some(scheme_end) => {
            let rest_start = scheme_end + 3;
            let rest = &url[rest_start..];
            let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
            let authority = &rest[..authority_end];
            match authority.rfind('@') {
                Some(at) => {
                    let userinfo = &authority[..at];
                    let user = userinfo.split(':').next().unwrap_or("");
                    let shown = if userinfo.contains(':') {
                        format!("{user}:***")
                    } else {
                        "***".to_string()
                    };
                    format!(
                        "{}{}@{}{}",
                        &url[..rest_start],
                        shown,
                        &authority[at + 1..],
                        &rest[authority_end..]
                    )
                }
                None => url.to_string(),
            }
        }
        None => url.to_string(),
    };
    mask_password_pairs(&masked)
}

/// Names whose values are secrets wherever they stand as `NAME=value` (query strings, DSNs,
/// command arguments), compared without case.
pub const SECRET_NAMES: [&str; 10] = [
    "token",
    "access_token",
    "api_key",
    "apikey",
    "key",
    "secret",
    "sig",
    "signature",
    "password",
    "passwd",
];

/// Whether `name` (a query parameter, a `--flag`, an env-style name) holds a secret:
/// one of [`SECRET_NAMES`], or a name ending in `token`, `secret`, `password` or `_key`
/// (`GITHUB_TOKEN`, `PGPASSWORD`, `webhook_secret`, `aws_access_key`).
pub fn is_secret_name(name: &str) -> bool {
    let name = name
        .trim_start_matches('-')
        .to_ascii_lowercase()
        .replace('-', "_");
    SECRET_NAMES.contains(&name.as_str())
        || ["token", "secret", "password", "passwd", "_key"]
            .iter()
            .any(|suffix| name.ends_with(suffix))
}

/// Masks the values of secret `name=value` pairs, as in `host=db password=secret`,
/// `?token=abc&x=1` or `--api-key=abc`: a name starts after `?`, `&`, `;`, a space or the
/// start, and its value ends at the next of `&`, `;`, `#`, a space or the end.
fn mask_password_pairs(text: &str) -> String {
    let is_start = |c: char| matches!(c, '?' | '&' | ';' | ' ');
    let is_end = |c: char| matches!(c, '&' | ';' | '#' | ' ');
    let mut out = String::with_capacity(text.len());
    let mut cursor = 0;
    for (at, c) in text.char_indices() {
        if c != '=' || at < cursor {
            continue;
        }
        let name_start = text[..at].rfind(is_start).map_or(0, |i| i + 1);
        if name_start < cursor || !is_secret_name(&text[name_start..at]) {
            continue;
        }
        let value_start = at + 1;
        let value_end = text[value_start..]
            .find(is_end)
            .map_or(text.len(), |i| value_start + i);
        out.push_str(&text[cursor..value_start]);
        out.push_str("***");
        cursor = value_end;
    }
    out.push_str(&text[cursor..]);
    out
}

/// A header's value as it may be shown: credential headers keep only their scheme
/// (`Bearer ***`), others stay as they are.
pub fn redact_header(name: &str, value: &str) -> String {
    let name = name.to_ascii_lowercase();
    let credential = matches!(
        name.as_str(),
        "authorization" | "proxy-authorization" | "cookie" | "set-cookie"
    ) || is_secret_name(&name.replace('-', "_"));
    if !credential {
        return value.to_string();
    }
    match value.split_once(' ') {
        Some((scheme, _)) if name.ends_with("authorization") => format!("{scheme} ***"),
        _ => "***".to_string(),
    }
}

/// A command's words as they may be shown: `NAME=value` words with a secret name, and the
/// word after a `--password`-like flag, become `***`; URLs inside lose their credentials.
pub fn redact_args(argv: &[String]) -> Vec<String> {
    let mut shown = Vec::with_capacity(argv.len());
    let mut hide_next = false;
    for word in argv {
        if hide_next {
            shown.push("***".to_string());
            hide_next = false;
            continue;
        }
        hide_next = word.starts_with('-') && !word.contains('=') && is_secret_name(word);
        shown.push(redact_url(word));
    }
    shown
}

/// Removes every occurrence of `secret` from `text` (for error messages that echo a DSN).
pub fn scrub(text: &str, secret: &str) -> String {
    if secret.is_empty() {
        text.to_string()
    } else {
        text.replace(secret, "***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_dsn_password_is_masked_and_user_kept() {
        assert_eq!(
            redact_url("postgres://myuser:mypassword@db:5432/mydb"),
            "postgres://myuser:***@db:5432/mydb"
        );
    }

    #[test]
    fn url_without_credentials_is_unchanged() {
        assert_eq!(redact_url("http://web:3000/"), "http://web:3000/");
    }

    #[test]
    fn token_only_userinfo_is_masked_whole() {
        assert_eq!(redact_url("https://tok@h/x"), "https://***@h/x");
    }

    #[test]
    fn secret_query_parameters_are_masked_and_others_kept() {
        assert_eq!(
            redact_url("https://api.example.com/health?token=abc&verbose=1&access_token=x#top"),
            "https://api.example.com/health?token=***&verbose=1&access_token=***#top"
        );
        assert_eq!(
            redact_url("http://h/?API_KEY=1&monkey=2&sig=3&signature=4&key=5"),
            "http://h/?API_KEY=***&monkey=2&sig=***&signature=***&key=***"
        );
    }

    #[test]
    fn credential_headers_keep_only_their_scheme() {
        assert_eq!(
            redact_header("Authorization", "Bearer abc.def"),
            "Bearer ***"
        );
        assert_eq!(redact_header("X-Api-Key", "k"), "***");
        assert_eq!(
            redact_header("Accept", "application/json"),
            "application/json"
        );
    }

    #[test]
    fn secret_command_arguments_are_masked() {
        let argv: Vec<String> = [
            "pg_isready",
            "--password",
            "hunter2",
            "--token=abc",
            "PGPASSWORD=x",
            "postgres://u:p@db/x",
            "-h",
            "db",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(
            redact_args(&argv),
            [
                "pg_isready",
                "--password",
                "***",
                "--token=***",
                "PGPASSWORD=***",
                "postgres://u:***@db/x",
                "-h",
                "db"
            ]
        );
    }

    #[test]
    fn keyword_passwords_are_masked() {
        assert_eq!(
            redact_url("host=db password=s3cret user=me"),
            "host=db password=*** user=me"
        );
        assert_eq!(
            redact_url("postgres://db/x?password=abc&sslmode=disable"),
            "postgres://db/x?password=***&sslmode=disable"
        );
    }
}
