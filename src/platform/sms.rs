//! Our client of the SMS gateway, the paid fallback when a customer has no mini-program to reach: one JSON request per
//! message, signed like the write-back (HMAC-SHA256 over `"{timestamp}\n{body}"`, `feed::signature`, in
//! `X-Ebill-Timestamp` / `X-Ebill-Signature`) with the message id as `Idempotency-Key`, so that a repeat after a lost
//! answer is not sent twice.
//!
//! The POST itself, its signature and the classification of answers are [`crate::platform::signed_post`]'s, shared
//! with the write-back: 2xx sent; 408, 425, 429, 5xx and transport failures transient; any other 4xx permanent.
//! Errors name the gateway's host and port only: its URL may carry credentials.

use crate::clock::{SharedClock, SystemClock};
use crate::config::Secret;
use crate::platform::signed_post::{self, host_of, PostError, SignedPost};
use reqwest::Url;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// How much of the gateway's answer a reply or an error keeps.
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
        // Serialized once: the bytes sent are the bytes signed.
        let body = serde_json::to_vec(request)
            .map_err(|e| SmsError::Permanent(format!("the SMS cannot be serialized: {e}")))?;
        let post = SignedPost {
            what: "SMS",
            url: &self.url,
            secret: &self.secret,
            timeout: self.timeout,
            idempotency_key: &request.message_id,
            headers: &[],
            // The ellipsis of a cut answer makes the last character.
            max_answer_chars: MAX_REPLY_CHARS - 1,
        };
        signed_post::send(http, &post, body, now_ms).await.map_err(|error| match error {
            PostError::Transient(error) => SmsError::Transient(error),
            PostError::Permanent(error) => SmsError::Permanent(error),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let snippet = |body: &[u8]| signed_post::snippet(body, MAX_REPLY_CHARS - 1);
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
