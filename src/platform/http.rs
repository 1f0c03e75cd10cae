//! One outbound platform call on the wire, as both clients make it: send with a timeout, treat 5xx and 429 as the
//! platform being unavailable, read a body of bounded size, and describe transport failures without the URL (the
//! URL can hold a secret: WeChat's AppSecret and access tokens travel in query strings).

use std::time::Duration;

/// Why a call produced no usable body; each client maps it onto its own error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpFailure {
    /// Timed out, unreachable, 5xx or 429: worth one more try.
    Unavailable(String),
    /// Another status, or a body over the limit.
    Malformed(String),
}

/// Sends `request` and returns the body of a 2xx answer, at most `max_bytes` long.
pub async fn send_bounded(
    request: reqwest::RequestBuilder,
    timeout: Duration,
    max_bytes: usize,
) -> Result<Vec<u8>, HttpFailure> {
    let mut response = request.timeout(timeout).send().await.map_err(transport_failure)?;
    let status = response.status();
    if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
        return Err(HttpFailure::Unavailable(format!("HTTP {}", status.as_u16())));
    }
    if !status.is_success() {
        return Err(HttpFailure::Malformed(format!("HTTP {}", status.as_u16())));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(transport_failure)? {
        if body.len() + chunk.len() > max_bytes {
            return Err(HttpFailure::Malformed(format!("the body exceeds {max_bytes} bytes")));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn transport_failure(error: reqwest::Error) -> HttpFailure {
    HttpFailure::Unavailable(describe_transport_failure(error))
}

/// A transport failure in words, without the URL (which reqwest's own message names).
pub fn describe_transport_failure(error: reqwest::Error) -> String {
    if error.is_timeout() {
        "timed out".to_owned()
    } else if error.is_connect() {
        "connection failed".to_owned()
    } else {
        format!("transport error: {}", error.without_url())
    }
}
