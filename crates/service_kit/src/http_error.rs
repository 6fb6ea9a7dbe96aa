//! The error type every HTTP handler returns: client faults become a 4xx with the reason,
//! internal faults a 500 that is logged once; both as `{"error": "..."}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

/// An error answered to an HTTP client as JSON `{"error": "..."}`.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is malformed (400).
    #[error("{0}")]
    BadRequest(String),
    /// Credentials are missing or wrong (401).
    #[error("{0}")]
    Unauthorized(String),
    /// Credentials are fine but this may not be done, or not from there (403).
    #[error("{0}")]
    Forbidden(String),
    /// The named thing does not exist (404).
    #[error("{0}")]
    NotFound(String),
    /// The client took too long to send its request (408).
    #[error("{0}")]
    RequestTimeout(String),
    /// The request conflicts with the state of the thing (409).
    #[error("{0}")]
    Conflict(String),
    /// The body is larger than allowed (413).
    #[error("{0}")]
    PayloadTooLarge(String),
    /// The body is in a format the route does not take (415).
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// The service cannot answer right now (503).
    #[error("{0}")]
    Unavailable(String),
    /// Something broke on our side (500); the detail is logged, not sent.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    /// The HTTP status this error is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let message = match &self {
            ApiError::Internal(detail) => {
                tracing::error!(detail = %detail, "Request failed with an internal error.");
                "internal error".to_string()
            }
            other => other.to_string(),
        };
        let mut response = (status, Json(serde_json::json!({ "error": message }))).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            // Busy, not broken: well-behaved clients come back a little later.
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static(RETRY_AFTER_SECS),
            );
        }
        response
    }
}

/// Seconds a 503 answer asks the client to wait before trying again.
pub const RETRY_AFTER_SECS: &str = "5";

/// axum middleware, the last resort behind every route: a handler that panics answers 500
/// `{"error": "internal error"}` (the panic is logged once) instead of dropping the
/// connection, and the service goes on.
pub async fn catch_panic(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    use futures_util::FutureExt;
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    match std::panic::AssertUnwindSafe(next.run(request))
        .catch_unwind()
        .await
    {
        Ok(response) => response,
        Err(panic) => ApiError::Internal(format!(
            "{method} {path} panicked: {}",
            panic_message(panic.as_ref())
        ))
        .into_response(),
    }
}

/// What a caught panic said (its `&str` or `String` payload), for the log line about it.
pub fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "(no message)".to_string())
}

/// A 405 for a known route asked with another method, in the same JSON shape.
pub async fn method_not_allowed() -> Response {
    (
        StatusCode::METHOD_NOT_ALLOWED,
        Json(serde_json::json!({ "error": "method not allowed on this route" })),
    )
        .into_response()
}

/// A 404 for any route the router does not know, in the same JSON shape.
pub async fn not_found() -> ApiError {
    ApiError::NotFound("no such endpoint".to_string())
}
