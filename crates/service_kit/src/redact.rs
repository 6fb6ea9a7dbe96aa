//! Keeps secrets out of JSON, pages and logs: credentials inside URLs (Postgres DSNs,
//! `https://user:pass@host`) are replaced before a URL is shown anywhere.

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

/// Masks `password=value` pairs, as in `host=db password=secret` or `?password=secret&x=1`.
fn mask_password_pairs(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut cursor = 0;
    while let Some(found) = lower[cursor..].find("password=") {
        let value_start = cursor + found + "password=".len();
        out.push_str(&text[cursor..value_start]);
        out.push_str("***");
        let value_end = text[value_start..]
            .find([' ', '&', ';'])
            .map(|i| value_start + i)
            .unwrap_or(text.len());
        cursor = value_end;
    }
    out.push_str(&text[cursor..]);
    out
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
