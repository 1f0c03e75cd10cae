//! The write-back of settlements to the marketing system (营销系统): the settlement enqueues each settled payment's
//! [`PaymentEvent`] on [`WRITEBACK_QUEUE`] inside its own transaction (the event id is the dedupe key), and this
//! worker POSTs it to the configured endpoint, signed like our inbound feed (HMAC-SHA256 over
//! `"{timestamp}\n{body}"`, `feed::signature`), with the event id as `Idempotency-Key`, until the receiver takes it.
//!
//! Delivery is at least once (a lost answer means a second POST), so the receiver books each key once. A refusal
//! (a 4xx other than 408, 425, 429) fails the job for good: it stays `failed` in the jobs table, with the
//! receiver's answer as its last error, until an operator puts it back.

use super::queue::{self, ClaimedJob};
use super::{run_worker, Backoff, JobError, WorkerOptions, WorkerReport};
use crate::config::Settings;
use crate::domain::order::{PaymentEvent, PAYMENT_SETTLED};
use crate::feed::signature::{self, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use crate::state::AppState;
use reqwest::header::{HeaderValue, CONTENT_TYPE};
use reqwest::{StatusCode, Url};
use std::time::Duration;
use tokio::sync::watch;

/// The queue the settlement enqueues payment events on.
pub const WRITEBACK_QUEUE: &str = "writeback";
/// Carries the event id: a receiver books each key once.
pub const IDEMPOTENCY_KEY_HEADER: &str = "Idempotency-Key";
/// Names the kind of event the body holds.
pub const EVENT_HEADER: &str = "X-Ebill-Event";

/// How much of a refusal's body is read, and how much of it the job's last error keeps.
const MAX_ANSWER_BYTES: usize = 4 * 1024;
const MAX_SNIPPET_CHARS: usize = 200;

/// What the receiver's status says of a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// 2xx: the receiver has the event.
    Delivered,
    /// 408, 425, 429, 5xx: the receiver is busy or down; another attempt may succeed. Also 1xx and 3xx, which a
    /// receiver should never answer (our client follows no redirect): a moved endpoint is fixed in the configuration,
    /// not in the event, so the event waits for it.
    Retry,
    /// Any other 4xx: the receiver refuses this event, and will refuse it again.
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

/// Delivers one job's event. Idempotent on the receiver's side: the same event id is booked once.
pub async fn deliver(state: &AppState, job: &ClaimedJob) -> Result<(), JobError> {
    let event: PaymentEvent =
        job.payload_as().map_err(|e| JobError::Permanent(format!("the job's payload is not a payment event: {e}")))?;
    if event.event_type != PAYMENT_SETTLED {
        return Err(JobError::Permanent(format!(
            "the write-back queue carries {PAYMENT_SETTLED} events, not {:?}",
            event.event_type.chars().take(40).collect::<String>()
        )));
    }
    if event.event_id.is_empty() {
        return Err(JobError::Permanent("the payment event has no event_id".into()));
    }
    let idempotency_key = HeaderValue::from_str(&event.event_id)
        .map_err(|_| JobError::Permanent("the event_id cannot travel in an HTTP header".into()))?;
    let Some(target) = &state.credentials.writeback else {
        return Err(JobError::Retry("no write-back endpoint configured".into()));
    };
    let url = Url::parse(&target.url)
        .map_err(|_| JobError::Retry("the configured write-back URL is not a valid URL".into()))?;
    let host = host_of(&url);

    // Serialized once: the bytes sent are the bytes signed.
    let body = serde_json::to_vec(&event)
        .map_err(|e| JobError::Permanent(format!("the payment event cannot be serialized: {e}")))?;
    let timestamp = state.now_ms().div_euclid(1000).to_string();
    let signature = signature::sign(target.secret.expose(), &timestamp, &body);
    let request = state
        .http
        .post(url)
        .timeout(target.timeout)
        .header(CONTENT_TYPE, "application/json")
        .header(TIMESTAMP_HEADER, timestamp)
        .header(SIGNATURE_HEADER, signature)
        .header(IDEMPOTENCY_KEY_HEADER, idempotency_key)
        .header(EVENT_HEADER, PAYMENT_SETTLED)
        .body(body);
    let mut response =
        request.send().await.map_err(|e| JobError::Retry(format!("write-back to {host} {}", transport_failure(e))))?;
    let status = response.status();
    let verdict = verdict(status);
    if verdict == Verdict::Delivered {
        // Drained (within a bound) so the connection can serve the next delivery.
        read_bounded(&mut response).await;
        return Ok(());
    }
    let snippet = snippet(&read_bounded(&mut response).await);
    let answer = if snippet.is_empty() {
        format!("HTTP {}", status.as_u16())
    } else {
        format!("HTTP {}: {snippet}", status.as_u16())
    };
    Err(match verdict {
        Verdict::Refused => JobError::Permanent(format!("write-back refused by {host}: {answer}")),
        _ => JobError::Retry(format!("write-back to {host} answered {answer}")),
    })
}

/// Worker settings for the write-back: a few deliveries at once, a lease well past the delivery timeout, and a backoff
/// from 10 seconds doubling to half an hour (with the default 30 attempts, about half a day of trying).
pub fn worker_options(settings: &Settings) -> WorkerOptions {
    let timeout = Duration::from_secs(settings.writeback.timeout_secs.max(1));
    WorkerOptions {
        batch: 4,
        concurrency: 4,
        lease: timeout.saturating_add(Duration::from_secs(60)),
        idle_sleep: Duration::from_secs(1),
        backoff: Backoff { base: Duration::from_secs(10), max: Duration::from_secs(30 * 60) },
    }
}

/// Delivers write-back jobs until `shutdown` turns true (or its sender is dropped).
pub async fn run(state: AppState, mut shutdown: watch::Receiver<bool>) -> WorkerReport {
    if state.credentials.writeback.is_none() {
        // Nothing can be delivered: the events wait in the queue, attempts untouched, until an endpoint is set.
        tracing::warn!("no write-back endpoint configured (writeback.url): settlement events wait in the queue");
        while !*shutdown.borrow() {
            if shutdown.changed().await.is_err() {
                break;
            }
        }
        return WorkerReport::default();
    }
    let options = worker_options(&state.settings);
    let owner = queue::worker_owner("writeback");
    let shared = &state;
    let handler = move |job: ClaimedJob| async move { deliver(shared, &job).await };
    run_worker(&state.db, &*state.clock, WRITEBACK_QUEUE, &owner, &options, handler, shutdown).await
}

/// The endpoint as errors may name it: host and port, never user info, path or query (which can hold credentials).
fn host_of(url: &Url) -> String {
    let host = url.host_str().unwrap_or("the write-back endpoint");
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    }
}

/// A transport failure in words, without the URL (which reqwest's own message names).
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
    format!("failed: {}", words.chars().take(MAX_SNIPPET_CHARS).collect::<String>())
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

/// A body as a job's last error may quote it: one line of printable text, at most [`MAX_SNIPPET_CHARS`] characters.
fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut line = String::new();
    for word in text.split(|c: char| c.is_whitespace() || c.is_control()).filter(|w| !w.is_empty()) {
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    match line.char_indices().nth(MAX_SNIPPET_CHARS) {
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
        assert_eq!(snippet(b"{\"code\": \"X\",\n\t\"message\": \"no\"}\r\n"), "{\"code\": \"X\", \"message\": \"no\"}");
        assert_eq!(snippet(b"a\x00b\x1bc"), "a b c");
        assert_eq!(snippet(b""), "");
        let long = snippet("错".repeat(MAX_SNIPPET_CHARS + 5).as_bytes());
        assert_eq!(long.chars().count(), MAX_SNIPPET_CHARS + 1);
        assert!(long.ends_with('…'));
        assert_eq!(snippet(&[0xff, b'o', b'k']), "\u{fffd}ok");
    }

    #[test]
    fn the_backoff_grows_to_minutes() {
        let options = worker_options(&Settings::default());
        assert_eq!(options.backoff.ceiling(1), Duration::from_secs(10));
        assert_eq!(options.backoff.ceiling(30), Duration::from_secs(1800));
        assert!(options.lease > Duration::from_secs(Settings::default().writeback.timeout_secs));
    }
}
