//! Our client of the SMS gateway, the paid fallback when a customer has no mini-program to reach: one JSON request per
//! message, signed like the write-back (HMAC-SHA256 over `"{timestamp}\n{body}"`, `feed::signature`, in
//! `X-Ebill-Timestamp` / `X-Ebill-Signature`) with the message id as `Idempotency-Key`, so that a repeat after a lost
//! answer is not sent twice.
//!
//! Answers are classified like the write-back's ([`crate::jobs::writeback::verdict`]): 2xx sent; 408, 425, 429, 5xx
//! and transport failures transient; any other 4xx permanent. Errors name the gateway's host and port only: its URL
//! may carry credentials.

use crate::clock::{SharedClock, SystemClock};
use crate::config::Secret;
use crate::feed::signature::{self, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use crate::jobs::writeback::{verdict, Verdict, IDEMPOTENCY_KEY_HEADER};
use reqwest::header::{HeaderValue, CONTENT_TYPE};
use reqwest::Url;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// How much of the gateway's answer is read, and how much of it a reply or an error keeps.
const MAX_ANSWER_BYTES: usize = 4 * 1024;
pub const MAX_REPLY_CHARS: usize = 500;

/// One text message to a phone.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SmsRequest {
    /// Our id of the message: the gateway sends each id once.
    pub message_id: String,
    pub phone: String,
    /// The gateway's template the text was made from (operators must register SMS templates).
    pub template: String,
    pub text: String,
}

/// Why a message was not handed over.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SmsError {
    /// The gateway is busy, down or unreachable: try again later.
    #[error("{0}")]
    Transient(String),
    /// The gateway refuses this message (or it cannot be sent at all): it will refuse it again.
    #[error("{0}")]
    Permanent(String),
}

impl SmsError {
    pub fn is_transient(&self) -> bool {
        matches!(self, SmsError::Transient(_))
    }
}

/// The SMS gateway's endpoint and the secret requests are signed with.
#[derive(Clone)]
pub struct SmsGateway {
    pub url: String,
    pub secret: Secret,
    pub timeout: Duration,
    clock: SharedClock,
}

impl fmt::Debug for SmsGateway {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let host = Url::parse(&self.url).map(|url| host_of(&url)).unwrap_or_default();
        f.debug_struct("SmsGateway").field("host", &host).field("timeout", &self.timeout).finish()
    }
}

impl SmsGateway {
    /// A gateway whose requests are stamped with the system clock; see [`SmsGateway::with_clock`].
    pub fn new(url: impl Into<String>, secret: Secret, timeout: Duration) -> SmsGateway {
        SmsGateway { url: url.into(), secret, timeout, clock: Arc::new(SystemClock) }
    }

    /// Stamps requests (`X-Ebill-Timestamp`) with `clock`, e.g. the application's, which tests set.
    pub fn with_clock(mut self, clock: SharedClock) -> SmsGateway {
        self.clock = clock;
        self
    }

    /// Hands `request` to the gateway, stamped with the gateway's clock. Returns the gateway's answer (one line, at
    /// most [`MAX_REPLY_CHARS`]).
    pub async fn send(&self, http: &reqwest::Client, request: &SmsRequest) -> Result<String, SmsError> {
        self.send_at(http, request, self.clock.now_ms()).await
    }

    /// [`SmsGateway::send`], stamped `now_ms` (e.g. the application's clock, which tests set): the gateway refuses a
    /// timestamp more than a few minutes from its own clock.
    pub async fn send_at(&self, http: &reqwest::Client, request: &SmsRequest, now_ms: i64) -> Result<String, SmsError> {
        if request.message_id.is_empty() {
            return Err(SmsError::Permanent("the SMS has no message_id".into()));
        }
        let idempotency_key = HeaderValue::from_str(&request.message_id)
            .map_err(|_| SmsError::Permanent("the message_id cannot travel in an HTTP header".into()))?;
        let url = Url::parse(&self.url)
            .map_err(|_| SmsError::Transient("the configured SMS gateway URL is not a valid URL".into()))?;
        let host = host_of(&url);
        // Serialized once: the bytes sent are the bytes signed.
        let body = serde_json::to_vec(request)
            .map_err(|e| SmsError::Permanent(format!("the SMS cannot be serialized: {e}")))?;
        let timestamp = now_ms.div_euclid(1000).to_string();
        let signature = signature::sign(self.secret.expose(), &timestamp, &body);
        let mut response = http
            .post(url)
            .timeout(self.timeout)
            .header(CONTENT_TYPE, "application/json")
            .header(TIMESTAMP_HEADER, timestamp)
            .header(SIGNATURE_HEADER, signature)
            .header(IDEMPOTENCY_KEY_HEADER, idempotency_key)
            .body(body)
            .send()
            .await
            .map_err(|e| SmsError::Transient(format!("SMS to {host} {}", transport_failure(e))))?;
        let status = response.status();
        let answer = snippet(&read_bounded(&mut response).await);
        match verdict(status) {
            Verdict::Delivered => Ok(answer),
            verdict => {
                let answer = if answer.is_empty() {
                    format!("HTTP {}", status.as_u16())
                } else {
                    format!("HTTP {}: {answer}", status.as_u16())
                };
                Err(match verdict {
                    Verdict::Refused => SmsError::Permanent(format!("SMS refused by {host}: {answer}")),
                    _ => SmsError::Transient(format!("SMS to {host} answered {answer}")),
                })
            }
        }
    }
}

/// The endpoint as errors may name it: host and port, never user info, path or query.
fn host_of(url: &Url) -> String {
    let host = url.host_str().unwrap_or("the SMS gateway");
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    }
}

/// A transport failure in words, without the URL.
fn transport_failure(error: reqwest::Error) -> String {
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
    format!("failed: {}", words.chars().take(MAX_REPLY_CHARS).collect::<String>())
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

/// A body as a reply or an error may quote it: one line of printable text, at most [`MAX_REPLY_CHARS`] characters.
fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut line = String::new();
    for word in text.split(|c: char| c.is_whitespace() || c.is_control()).filter(|w| !w.is_empty()) {
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    match line.char_indices().nth(MAX_REPLY_CHARS) {
        Some((cut, _)) => line[..cut].to_owned(),
        None => line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_host_and_port_only() {
        let url = Url::parse("https://user:pass@sms.example.com:8443/send?key=abc").unwrap();
        assert_eq!(host_of(&url), "sms.example.com:8443");
        assert_eq!(host_of(&Url::parse("https://sms.example.com/send").unwrap()), "sms.example.com");
    }

    #[test]
    fn debug_shows_neither_the_secret_nor_the_path() {
        let gateway = SmsGateway::new(
            "https://user:pass@sms.example.com/send?key=abc",
            Secret::new(b"sms-secret-value".to_vec()),
            Duration::from_secs(5),
        );
        let debug = format!("{gateway:?}");
        assert!(debug.contains("sms.example.com"));
        assert!(!debug.contains("sms-secret-value") && !debug.contains("pass") && !debug.contains("key=abc"));
    }

    #[test]
    fn replies_are_one_short_line() {
        assert_eq!(
            snippet(b"{\"status\": \"accepted\",\n \"id\": \"1\"}\r\n"),
            "{\"status\": \"accepted\", \"id\": \"1\"}"
        );
        assert_eq!(snippet("信".repeat(MAX_REPLY_CHARS + 5).as_bytes()).chars().count(), MAX_REPLY_CHARS);
    }

    #[test]
    fn the_request_serializes_with_its_four_fields() {
        let request = SmsRequest {
            message_id: "msg-1".into(),
            phone: "13800138000".into(),
            template: "bill_due".into(),
            text: "您的电费账单将于3日后到期".into(),
        };
        let json: serde_json::Value = serde_json::to_value(&request).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"message_id": "msg-1", "phone": "13800138000", "template": "bill_due",
                "text": "您的电费账单将于3日后到期"})
        );
    }

    #[tokio::test]
    async fn an_unreachable_gateway_is_transient_and_unnamed_beyond_its_host() {
        let gateway = SmsGateway::new(
            "http://127.0.0.1:9/send?key=secret-in-query",
            Secret::new(b"k".to_vec()),
            Duration::from_secs(2),
        );
        let request =
            SmsRequest { message_id: "m1".into(), phone: "13800138000".into(), template: "t".into(), text: "x".into() };
        let error = gateway.send(&reqwest::Client::new(), &request).await.unwrap_err();
        assert!(error.is_transient(), "{error}");
        assert!(error.to_string().contains("127.0.0.1:9"), "{error}");
        assert!(!error.to_string().contains("secret-in-query"), "{error}");
    }

    #[test]
    fn the_send_can_run_on_any_worker_thread() {
        fn assert_send<T: Send>(_: &T) {}
        let gateway = SmsGateway::new("http://127.0.0.1:9/send", Secret::new(b"k".to_vec()), Duration::from_secs(1));
        let (http, request) = (reqwest::Client::new(), SmsRequest::default());
        assert_send(&gateway.send(&http, &request));
    }

    #[tokio::test]
    async fn a_message_id_that_cannot_be_a_header_is_permanent() {
        let gateway = SmsGateway::new("http://127.0.0.1:9/send", Secret::new(b"k".to_vec()), Duration::from_secs(1));
        let request =
            SmsRequest { message_id: "a\nb".into(), phone: "1".into(), template: "t".into(), text: "x".into() };
        assert!(matches!(gateway.send(&reqwest::Client::new(), &request).await, Err(SmsError::Permanent(_))));
    }
}
