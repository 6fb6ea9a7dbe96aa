//! Query strings, read by hand rather than by a derive so that every way a request can be
//! wrong ends in one `400 {"error": "..."}` naming the parameter, and none can panic or
//! allocate without bound: the string is capped at [`MAX_QUERY_BYTES`], each route lists the
//! parameters it takes, a parameter may appear once, and numbers are range-checked before
//! anything computes with them.

use std::ops::RangeInclusive;

use service_kit::http_error::ApiError;

/// The longest query string any route reads; longer ones are refused before decoding.
pub const MAX_QUERY_BYTES: usize = 2048;

/// Why a query string was refused: the parameter (or `query string`) and the problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{param}: {problem}")]
pub struct QueryError {
    /// The parameter at fault, or `query string` for the string as a whole.
    pub param: String,
    /// What is wrong with it.
    pub problem: String,
}

impl QueryError {
    fn new(param: impl Into<String>, problem: impl Into<String>) -> QueryError {
        QueryError {
            param: param.into(),
            problem: problem.into(),
        }
    }
}

impl From<QueryError> for ApiError {
    fn from(error: QueryError) -> ApiError {
        ApiError::BadRequest(error.to_string())
    }
}

/// The decoded parameters of one request, each known to the route and given at most once.
#[derive(Debug, Default)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    /// Decodes `raw` (the part after `?`, if any), accepting only the names in `allowed`.
    pub fn parse(raw: Option<&str>, allowed: &[&str]) -> Result<Params, QueryError> {
        let raw = raw.unwrap_or("");
        if raw.len() > MAX_QUERY_BYTES {
            return Err(QueryError::new(
                "query string",
                format!("longer than {MAX_QUERY_BYTES} bytes"),
            ));
        }
        let mut pairs: Vec<(String, String)> = Vec::new();
        for (name, value) in form_urlencoded::parse(raw.as_bytes()) {
            if name.is_empty() && value.is_empty() {
                continue;
            }
            if !allowed.contains(&name.as_ref()) {
                let takes = if allowed.is_empty() {
                    "this route takes no parameters".to_string()
                } else {
                    format!("this route takes {}", allowed.join(", "))
                };
                return Err(QueryError::new(
                    shown(&name),
                    format!("unknown parameter; {takes}"),
                ));
            }
            if pairs.iter().any(|(seen, _)| *seen == name) {
                return Err(QueryError::new(name, "given more than once"));
            }
            pairs.push((name.into_owned(), value.into_owned()));
        }
        Ok(Params { pairs })
    }

    /// The raw value of `name`, if given.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// `name` as a whole number within `range`, or `default` when absent.
    pub fn number(
        &self,
        name: &str,
        range: RangeInclusive<u64>,
        default: u64,
    ) -> Result<u64, QueryError> {
        let Some(text) = self.get(name) else {
            return Ok(default);
        };
        let out_of_range = || {
            QueryError::new(
                name,
                format!(
                    "must be a whole number from {} to {}, got {}",
                    range.start(),
                    range.end(),
                    shown(text)
                ),
            )
        };
        // Digits only: no sign, no spaces; a value too large for u64 is out of range too.
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(out_of_range());
        }
        let value: u64 = text.parse().map_err(|_| out_of_range())?;
        if !range.contains(&value) {
            return Err(out_of_range());
        }
        Ok(value)
    }
}

/// A client's text quoted for an error message, cut to a few dozen characters so a huge
/// value is not echoed back whole.
fn shown(text: &str) -> String {
    const MAX_CHARS: usize = 40;
    if text.chars().count() > MAX_CHARS {
        let cut: String = text.chars().take(MAX_CHARS).collect();
        format!("{cut:?}…")
    } else {
        format!("{text:?}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn hours(raw: &str) -> Result<u64, QueryError> {
        Params::parse(Some(raw), &["hours"])?.number("hours", 1..=168, 24)
    }

    #[test]
    fn absurd_numbers_are_refused_naming_the_parameter() {
        for raw in [
            "hours=-1",
            "hours=0",
            "hours=169",
            "hours=99999999999999999",
            "hours=9223372036854775807",
            "hours=184467440737095516150",
            "hours=1e3",
            "hours=%2B5",
            "hours= 5",
            "hours=",
            "hours=100000000d",
        ] {
            let error = hours(raw).unwrap_err();
            assert_eq!(error.param, "hours", "{raw}");
            assert!(error.problem.contains("from 1 to 168"), "{raw}: {error}");
        }
    }

    #[test]
    fn good_values_and_the_default_are_read() {
        assert_eq!(hours("hours=48"), Ok(48));
        assert_eq!(hours(""), Ok(24));
        assert_eq!(hours("&&hours=1&"), Ok(1));
    }

    #[test]
    fn unknown_repeated_and_oversized_queries_are_refused() {
        let unknown = hours("since=5m").unwrap_err();
        assert_eq!(unknown.param, "\"since\"");
        assert!(unknown.problem.contains("this route takes hours"));
        assert_eq!(hours("hours=1&hours=2").unwrap_err().param, "hours");
        let long = format!("hours={}", "9".repeat(MAX_QUERY_BYTES));
        assert_eq!(hours(&long).unwrap_err().param, "query string");
        let echoed = hours(&format!("{}=1", "x".repeat(500))).unwrap_err();
        assert!(echoed.to_string().len() < 150, "{echoed}");
    }

    proptest! {
        #[test]
        fn any_query_string_is_read_or_refused_naming_a_parameter(raw in ".{0,300}") {
            match hours(&raw) {
                Ok(value) => prop_assert!((1..=168).contains(&value)),
                Err(error) => prop_assert!(!error.param.is_empty() && !error.problem.is_empty()),
            }
        }

        #[test]
        fn any_hours_value_is_read_or_refused_naming_hours(value in "[-+0-9a-z%. ]{0,40}") {
            let raw = format!("hours={value}");
            match hours(&raw) {
                Ok(hours) => prop_assert!((1..=168).contains(&hours)),
                Err(error) => prop_assert_eq!(error.param, "hours"),
            }
        }

        #[test]
        fn any_number_is_in_range_or_refused(value: u128) {
            let result = hours(&format!("hours={value}"));
            prop_assert_eq!(result.is_ok(), (1..=168).contains(&value));
        }
    }
}
