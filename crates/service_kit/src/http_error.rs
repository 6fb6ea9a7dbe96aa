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
/// `{"error": "internal error"}` instead of dropping the connection, and the service goes
/// on. The panic is logged once, here, with the request it broke (the panic hook of
/// [`crate::telemetry::init`] leaves panics inside handlers to this).
pub async fn catch_panic(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    use futures_util::FutureExt;
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let handling = InHandler(Box::pin(next.run(request)));
    match std::panic::AssertUnwindSafe(handling).catch_unwind().await {
        Ok(response) => response,
        Err(panic) => ApiError::Internal(format!(
            "{method} {path} panicked: {}",
            panic_message(panic.as_ref())
        ))
        .into_response(),
    }
}

thread_local! {
    /// Whether this thread is running a request handler under [`catch_panic`] right now.
    static IN_HANDLER: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether a panic now happens inside a handler that [`catch_panic`] catches and logs.
pub fn panicking_in_handler() -> bool {
    IN_HANDLER.with(|flag| flag.get())
}

/// A handler's future that marks the thread while it is polled (and unmarks it, also when
/// the poll unwinds).
struct InHandler<F>(std::pin::Pin<Box<F>>);

impl<F: std::future::Future> std::future::Future for InHandler<F> {
    type Output = F::Output;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<F::Output> {
        struct Unmark(bool);
        impl Drop for Unmark {
            fn drop(&mut self) {
                IN_HANDLER.with(|flag| flag.set(self.0));
            }
        }
        let _unmark = Unmark(IN_HANDLER.with(|flag| flag.replace(true)));
        self.0.as_mut().poll(cx)
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

#[cfg(test)]
mod tests {
    use futures_util::FutureExt;

    use super::*;

    #[tokio::test]
    async fn a_handler_is_marked_while_it_runs_and_unmarked_after_it_panicked() {
        assert!(!panicking_in_handler());
        let inside = InHandler(Box::pin(async { panicking_in_handler() })).await;
        assert!(inside, "the panic hook leaves this one to catch_panic");
        assert!(!panicking_in_handler());

        let panicked = std::panic::AssertUnwindSafe(InHandler(Box::pin(async {
            panic!("broken handler");
        })))
        .catch_unwind()
        .await;
        assert_eq!(
            panic_message(panicked.unwrap_err().as_ref()),
            "broken handler"
        );
        assert!(
            !panicking_in_handler(),
            "a panic elsewhere on this thread is logged by the hook again"
        );
    }
}
