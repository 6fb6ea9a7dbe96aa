//! One HTTP POST of a JSON payload, with the answer classified for the retry loop.

use std::time::Duration;

use reqwest::header::RETRY_AFTER;
use reqwest::{Client, Response, Url};
use serde_json::Value;

use super::error::{error_chain, excerpt, AlertError};

/// How much of an error response body is kept for the log.
const BODY_EXCERPT_CHARS: usize = 300;
/// How many bytes of an error response body are read at most.
const BODY_READ_LIMIT: usize = 8 * 1024;

/// Posts `body` to `url`. 2xx is success; any other status becomes [`AlertError::Http`]
/// with a body excerpt and the `Retry-After` delay (seconds form); failures to get an
/// answer become [`AlertError::Timeout`] (after `timeout`) or [`AlertError::Transport`].
pub(crate) async fn post_json(
    client: &Client,
    url: &Url,
    body: &Value,
    timeout: Duration,
) -> Result<(), AlertError> {
    let response = client
        .post(url.clone())
        .json(body)
        .send()
        .await
        .map_err(|err| request_error(err, timeout))?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let retry_after = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let text = read_limited(response).await;
    Err(AlertError::Http {
        status: status.as_u16(),
        body: excerpt(&text, BODY_EXCERPT_CHARS),
        retry_after,
    })
}

/// Maps a reqwest error, leaving out the URL: Slack and Discord URLs embed their secret.
fn request_error(err: reqwest::Error, timeout: Duration) -> AlertError {
    if err.is_timeout() {
        AlertError::Timeout(timeout)
    } else {
        AlertError::Transport(error_chain(&err.without_url()))
    }
}

/// Reads at most [`BODY_READ_LIMIT`] bytes of the body, lossily as UTF-8; a receiver
/// answering with a huge error page must not cost memory.
async fn read_limited(mut response: Response) -> String {
    let mut bytes = Vec::new();
    while bytes.len() < BODY_READ_LIMIT {
        match response.chunk().await {
            Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
            Ok(None) | Err(_) => break,
        }
    }
    bytes.truncate(BODY_READ_LIMIT);
    String::from_utf8_lossy(&bytes).into_owned()
}
