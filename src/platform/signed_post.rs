//! One signed JSON POST to a partner system (the marketing system's write-back, the SMS gateway): the body is
//! serialized once and signed like our inbound feed (HMAC-SHA256 over `"{timestamp}\n{body}"`, `feed::signature`, in
//! `X-Ebill-Timestamp` / `X-Ebill-Signature`), with an `Idempotency-Key` so that a repeat after a lost answer is booked
//! once. Answers are classified the same way for every partner, and errors name the partner's host and port only:
//! its URL may carry credentials.

use crate::config::Secret;
use crate::feed::signature::{self, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use reqwest::header::{HeaderValue, CONTENT_TYPE};
use reqwest::{StatusCode, Url};
use std::time::Duration;

/// Carries the id of what is sent: a receiver books each key once.
pub const IDEMPOTENCY_KEY_HEADER: &str = "Idempotency-Key";

/// How much of an answer's body is read.
const MAX_ANSWER_BYTES: usize = 4 * 1024;

/// What the receiver's status says of a POST.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// 2xx: the receiver has it.
    Delivered,
    /// 408, 425, 429, 5xx: the receiver is busy or down; another attempt may succeed. Also 1xx and 3xx, which a
    /// receiver should never answer (our client follows no redirect): a moved endpoint is fixed in the configuration,
    /// not in what is sent, so it waits for that.
    Retry,
    /// Any other 4xx: the receiver refuses this, and will refuse it again.
    Refused,
}

/// Classifies the receiver's answer.
pub fn verdict(status: StatusCode) -> Verdict {
    match status.as_u16() {
        200..=299 => Verdict::Delivered,
        408 | 425 | 429 => Verdict::Retry,
        400..=499 => Verdict::Refused,
        _ => Verdict::Retry,
    }
}

/// Why a POST did not get through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PostError {
    /// Worth another attempt later (transport failure, busy or down receiver, a configuration to fix).
    Transient(String),
    /// The receiver refuses it (or it cannot be sent at all).
    Permanent(String),
}

/// One POST: to whom, signed with what, and how errors name it.
pub struct SignedPost<'a> {
    /// How errors name the partner: `write-back`, `SMS`.
    pub what: &'a str,
    pub url: &'a str,
    pub secret: &'a Secret,
    pub timeout: Duration,
    pub idempotency_key: &'a str,
    /// More headers, e.g. the kind of event.
    pub headers: &'a [(&'static str, &'static str)],
    /// How much of an answer a reply or an error quotes.
    pub max_answer_chars: usize,
}

/// Sends `body` (JSON, the exact bytes signed) stamped `now_ms`; answers the receiver's answer as one line.
pub async fn send(
    http: &reqwest::Client,
    post: &SignedPost<'_>,
    body: Vec<u8>,
    now_ms: i64,
) -> Result<String, PostError> {
    let what = post.what;
    if post.idempotency_key.is_empty() {
        return Err(PostError::Permanent(format!("the {what} has no idempotency key")));
    }
    let idempotency_key = HeaderValue::from_str(post.idempotency_key)
        .map_err(|_| PostError::Permanent(format!("the {what}'s idempotency key cannot travel in an HTTP header")))?;
    let url = Url::parse(post.url)
        .map_err(|_| PostError::Transient(format!("the configured {what} URL is not a valid URL")))?;
    let host = host_of(&url);
    let timestamp = now_ms.div_euclid(1000).to_string();
    let signature = signature::sign(post.secret.expose(), &timestamp, &body);
    let mut request = http
        .post(url)
        .timeout(post.timeout)
        .header(CONTENT_TYPE, "application/json")
        .header(TIMESTAMP_HEADER, timestamp)
        .header(SIGNATURE_HEADER, signature)
        .header(IDEMPOTENCY_KEY_HEADER, idempotency_key);
    for (name, value) in post.headers {
        request = request.header(*name, *value);
    }
    let mut response = request.body(body).send().await.map_err(|e| {
        PostError::Transient(format!("{what} to {host} {}", transport_failure(e, post.max_answer_chars)))
    })?;
    let status = response.status();
    // Read (within a bound) even on success, so the connection can serve the next POST.
    let answer = snippet(&read_bounded(&mut response).await, post.max_answer_chars);
    let verdict = verdict(status);
    if verdict == Verdict::Delivered {
        return Ok(answer);
    }
    let answer = if answer.is_empty() {
        format!("HTTP {}", status.as_u16())
    } else {
        format!("HTTP {}: {answer}", status.as_u16())
    };
    Err(match verdict {
        Verdict::Refused => PostError::Permanent(format!("{what} refused by {host}: {answer}")),
        _ => PostError::Transient(format!("{what} to {host} answered {answer}")),
    })
}

/// The endpoint as errors may name it: host and port, never user info, path or query (which can hold credentials).
pub fn host_of(url: &Url) -> String {
    let host = url.host_str().unwrap_or("the endpoint");
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    }
}

/// A transport failure in words, without the URL (which reqwest's own message names).
fn transport_failure(error: reqwest::Error, max_chars: usize) -> String {
    if error.is_timeout() {
        return "timed out".into();
    }
    if error.is_connect() {
        return "failed: connection failed".into();
    }
    let error = error.without_url();
    let mut words = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        words.push_str(": ");
        words.push_str(&cause.to_string());
        source = cause.source();
    }
    format!("failed: {}", words.chars().take(max_chars).collect::<String>())
}

/// Up to [`MAX_ANSWER_BYTES`] of the answer's body; what cannot be read is left out.
async fn read_bounded(response: &mut reqwest::Response) -> Vec<u8> {
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        let room = MAX_ANSWER_BYTES - body.len();
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() >= MAX_ANSWER_BYTES {
            break;
        }
    }
    body
}

/// A body as a reply or an error may quote it: one line of printable text, cut after `max_chars` characters with
/// an ellipsis.
pub fn snippet(body: &[u8], max_chars: usize) -> String {
    let text = String::from_utf8_lossy(body);
    let mut line = String::new();
    for word in text.split(|c: char| c.is_whitespace() || c.is_control()).filter(|w| !w.is_empty()) {
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    match line.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: u16) -> StatusCode {
        StatusCode::from_u16(code).unwrap()
    }

    #[test]
    fn success_statuses_deliver() {
        for code in [200, 201, 202, 204] {
            assert_eq!(verdict(status(code)), Verdict::Delivered, "{code}");
        }
    }

    #[test]
    fn busy_and_down_receivers_are_retried() {
        for code in [408, 425, 429, 500, 502, 503, 504] {
            assert_eq!(verdict(status(code)), Verdict::Retry, "{code}");
        }
    }

    #[test]
    fn other_client_errors_are_refusals() {
        for code in [400, 401, 403, 404, 409, 410, 413, 415, 422] {
            assert_eq!(verdict(status(code)), Verdict::Refused, "{code}");
        }
    }

    #[test]
    fn redirects_wait_for_the_configuration() {
        for code in [301, 302, 307, 308] {
            assert_eq!(verdict(status(code)), Verdict::Retry, "{code}");
        }
    }

    #[test]
    fn errors_name_the_host_and_port_only() {
        let url = Url::parse("https://user:pass@marketing.example.com:8443/payments?token=abc").unwrap();
        assert_eq!(host_of(&url), "marketing.example.com:8443");
        assert_eq!(host_of(&Url::parse("https://marketing.example.com/p").unwrap()), "marketing.example.com");
    }

    #[test]
    fn snippets_are_one_short_printable_line() {
        assert_eq!(
            snippet(b"{\"code\": \"X\",\n\t\"message\": \"no\"}\r\n", 200),
            "{\"code\": \"X\", \"message\": \"no\"}"
        );
        assert_eq!(snippet(b"a\x00b\x1bc", 200), "a b c");
        assert_eq!(snippet(b"", 200), "");
        let long = snippet("错".repeat(205).as_bytes(), 200);
        assert_eq!(long.chars().count(), 201);
        assert!(long.ends_with('…'));
        assert_eq!(snippet(&[0xff, b'o', b'k'], 200), "\u{fffd}ok");
    }
}
