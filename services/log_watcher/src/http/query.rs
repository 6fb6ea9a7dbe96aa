//! Query strings, read the same way by every JSON route: [`Params`] takes the whole query
//! (at most [`MAX_QUERY_BYTES`]) into a struct of text fields, and each route checks its
//! fields with the helpers here, so that every problem is a 400 `{"error": "NAME: why"}`
//! naming the parameter, and none is a panic or an overflow.

use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use service_kit::http_error::ApiError;

/// Longest query string taken. Every parameter is short (a service name, a level, a few
/// words to search, a duration): anything longer is a mistake or abuse.
pub const MAX_QUERY_BYTES: usize = 8 * 1024;

/// Longest value of a free-text parameter (`q`, `service`).
pub const MAX_TEXT_BYTES: usize = 1024;

/// The query string of a request as `T` (a struct of `Option<String>` fields with
/// `deny_unknown_fields`); a 400 naming the problem otherwise.
#[derive(Debug)]
pub struct Params<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Params<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let length = parts.uri.query().map_or(0, str::len);
        if length > MAX_QUERY_BYTES {
            return Err(ApiError::BadRequest(format!(
                "query string: {length} bytes; at most {MAX_QUERY_BYTES}"
            )));
        }
        Query::<T>::try_from_uri(&parts.uri)
            .map(|Query(params)| Params(params))
            .map_err(|rejection| ApiError::BadRequest(rejection.body_text()))
    }
}

/// The 400 for parameter `name`: `name: problem`.
pub fn bad(name: &str, problem: impl std::fmt::Display) -> ApiError {
    ApiError::BadRequest(format!("{name}: {problem}"))
}

/// `value` as it is quoted back in an error: at most 64 characters, so that an error about
/// a long value stays short.
pub fn quoted(value: &str) -> String {
    match value.char_indices().nth(64) {
        Some((end, _)) => format!("{:?}...", &value[..end]),
        None => format!("{value:?}"),
    }
}

/// A non-empty value of `name`, or `None` for an absent or empty one.
pub fn non_empty(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|v| !v.is_empty())
}

/// A free-text parameter, at most [`MAX_TEXT_BYTES`] long.
pub fn text<'a>(name: &str, value: &'a Option<String>) -> Result<Option<&'a str>, ApiError> {
    match non_empty(value) {
        Some(text) if text.len() > MAX_TEXT_BYTES => Err(bad(
            name,
            format!("{} bytes; at most {MAX_TEXT_BYTES}", text.len()),
        )),
        other => Ok(other),
    }
}

/// A whole number of `name` from `min` to `max`.
pub fn number(name: &str, value: &str, min: u64, max: u64) -> Result<u64, ApiError> {
    value
        .trim()
        .parse::<u64>()
        .ok()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| {
            bad(
                name,
                format!(
                    "must be a whole number from {min} to {max}, got {}",
                    quoted(value)
                ),
            )
        })
}

/// A duration of `name` (see [`super::duration`]), in seconds.
pub fn duration(name: &str, value: &str) -> Result<i64, ApiError> {
    super::duration::parse_secs(value)
        .map_err(|why| bad(name, format!("{why}, got {}", quoted(value))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_parameter_and_quote_only_the_start_of_a_long_value() {
        let long = "9".repeat(500);
        let error = number("limit", &long, 1, 10).unwrap_err().to_string();
        assert!(error.starts_with("limit: must be a whole number from 1 to 10, got \"999"));
        assert!(error.len() < 150, "{error}");
        assert_eq!(
            number("limit", "-1", 1, 10).unwrap_err().to_string(),
            "limit: must be a whole number from 1 to 10, got \"-1\""
        );
        assert_eq!(number("limit", " 7 ", 1, 10).unwrap(), 7);
        assert!(duration("window", "9223372036854775807s")
            .unwrap_err()
            .to_string()
            .starts_with("window: must be at most 100000 years"));
        let q = Some("x".repeat(MAX_TEXT_BYTES + 1));
        assert!(text("q", &q)
            .unwrap_err()
            .to_string()
            .starts_with("q: 1025 bytes"));
        assert_eq!(text("q", &Some(String::new())).unwrap(), None);
        assert_eq!(quoted("é".repeat(100).as_str()).chars().count(), 64 + 2 + 3);
    }
}
