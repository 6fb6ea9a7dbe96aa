//! Reading query strings and path ids by hand, so that every bad value is a 400 that says
//! which parameter is wrong and why (never a panic, never a silent default).

use std::collections::HashMap;

use service_kit::http_error::ApiError;

/// Most rows one request may ask for.
pub const MAX_LIMIT: usize = 1000;

/// `limit=N`: 1 to [`MAX_LIMIT`], `default` when absent.
pub fn limit(params: &HashMap<String, String>, default: usize) -> Result<usize, ApiError> {
    match params.get("limit") {
        None => Ok(default),
        Some(text) => match text.trim().parse::<usize>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
            _ => Err(ApiError::BadRequest(format!(
                "limit must be a whole number from 1 to {MAX_LIMIT} (got {text:?})"
            ))),
        },
    }
}

/// A job id from the path.
pub fn job_id(text: &str) -> Result<i64, ApiError> {
    text.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| {
            ApiError::BadRequest(format!("job id must be a positive number (got {text:?})"))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn limits_outside_the_range_are_refused_with_the_reason() {
        assert_eq!(limit(&params(&[]), 50).unwrap(), 50);
        assert_eq!(limit(&params(&[("limit", "7")]), 50).unwrap(), 7);
        for bad in ["0", "-1", "1001", "abc", "99999999999999999999"] {
            let err = limit(&params(&[("limit", bad)]), 50).unwrap_err();
            assert!(err.to_string().contains("limit"), "{bad}: {err}");
        }
    }

    #[test]
    fn job_ids_are_positive_numbers() {
        assert_eq!(job_id("12").unwrap(), 12);
        assert!(job_id("0").is_err());
        assert!(job_id("x").is_err());
    }
}
