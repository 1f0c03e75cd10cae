//! The write-back to the marketing system (营销系统): the settlement enqueues each settled payment's [`PaymentEvent`]
//! (`payment.settled`), and a staff refund that succeeds its [`RefundEvent`] (`payment.refunded`), on
//! [`WRITEBACK_QUEUE`] inside its own transaction (the event id is the dedupe key), and this worker POSTs it to the
//! configured endpoint, signed like our inbound feed (HMAC-SHA256 over `"{timestamp}\n{body}"`, `feed::signature`),
//! with the event id as `Idempotency-Key` and its type as `X-Ebill-Event`, until the receiver takes it.
//!
//! Delivery is at least once (a lost answer means a second POST), so the receiver books each key once. A refusal
//! (a 4xx other than 408, 425, 429) fails the job for good: it stays `failed` in the jobs table, with the
//! receiver's answer as its last error, until an operator puts it back.

use super::queue::{self, ClaimedJob};
use super::{run_worker, Backoff, JobError, WorkerOptions, WorkerReport};
use crate::config::Settings;
use crate::domain::order::{PaymentEvent, PAYMENT_SETTLED};
use crate::domain::refund::{RefundEvent, PAYMENT_REFUNDED};
use crate::platform::signed_post::{self, PostError, SignedPost};
use crate::state::AppState;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use tokio::sync::watch;

/// The queue the settlement (and a staff refund's end) enqueues events on.
pub const WRITEBACK_QUEUE: &str = "writeback";
/// Names the kind of event the body holds.
pub const EVENT_HEADER: &str = "X-Ebill-Event";

/// How much of a refusal's body the job's last error keeps.
const MAX_SNIPPET_CHARS: usize = 200;

/// An event the write-back carries, serialized as the event itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum WritebackEvent {
    Settled(PaymentEvent),
    Refunded(RefundEvent),
}

impl WritebackEvent {
    /// Reads an event by its `event_type`.
    pub fn from_json(text: &[u8]) -> Result<WritebackEvent, String> {
        #[derive(Deserialize)]
        struct Typed {
            event_type: String,
        }
        let typed: Typed = serde_json::from_slice(text).map_err(|e| format!("not an event: {e}"))?;
        match typed.event_type.as_str() {
            PAYMENT_SETTLED => serde_json::from_slice(text).map(WritebackEvent::Settled),
            PAYMENT_REFUNDED => serde_json::from_slice(text).map(WritebackEvent::Refunded),
            other => {
                return Err(format!(
                    "event_type must be {PAYMENT_SETTLED} or {PAYMENT_REFUNDED}, not {:?}",
                    other.chars().take(40).collect::<String>()
                ))
            }
        }
        .map_err(|e| format!("not a {} event: {e}", typed.event_type))
    }

    pub fn event_id(&self) -> &str {
        match self {
            WritebackEvent::Settled(event) => &event.event_id,
            WritebackEvent::Refunded(event) => &event.event_id,
        }
    }

    /// `payment.settled` | `payment.refunded`.
    pub fn event_type(&self) -> &'static str {
        match self {
            WritebackEvent::Settled(_) => PAYMENT_SETTLED,
            WritebackEvent::Refunded(_) => PAYMENT_REFUNDED,
        }
    }
}

/// Delivers one job's event. Idempotent on the receiver's side: the same event id is booked once.
pub async fn deliver(state: &AppState, job: &ClaimedJob) -> Result<(), JobError> {
    let event = WritebackEvent::from_json(job.payload.as_bytes())
        .map_err(|e| JobError::Permanent(format!("the job's payload is not a write-back event: {e}")))?;
    if event.event_id().is_empty() {
        return Err(JobError::Permanent("the event has no event_id".into()));
    }
    let Some(target) = &state.credentials.writeback else {
        return Err(JobError::Retry("no write-back endpoint configured".into()));
    };
    // Serialized once: the bytes sent are the bytes signed.
    let body =
        serde_json::to_vec(&event).map_err(|e| JobError::Permanent(format!("the event cannot be serialized: {e}")))?;
    let post = SignedPost {
        what: "write-back",
        url: &target.url,
        secret: &target.secret,
        timeout: target.timeout,
        idempotency_key: event.event_id(),
        headers: &[(EVENT_HEADER, event.event_type())],
        max_answer_chars: MAX_SNIPPET_CHARS,
    };
    match signed_post::send(&state.http, &post, body, state.now_ms()).await {
        Ok(_) => Ok(()),
        Err(PostError::Transient(error)) => Err(JobError::Retry(error)),
        Err(PostError::Permanent(error)) => Err(JobError::Permanent(error)),
    }
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
        tracing::warn!("no write-back endpoint configured (writeback.url): write-back events wait in the queue");
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::order::PaidBill;

    fn refund_event() -> RefundEvent {
        RefundEvent {
            event_id: "refund-7".into(),
            event_type: PAYMENT_REFUNDED.into(),
            account_no: "3100012345".into(),
            order_no: "EB7012345678901234567".into(),
            platform: "alipay".into(),
            transaction_id: "2026120422001000000000000001".into(),
            out_refund_no: "RF7".into(),
            platform_refund_id: Some("2026120422001000000000000001".into()),
            amount_fen: 306,
            refunded_at_ms: 1_780_000_000_000,
            bills: vec![PaidBill {
                bill_id: "7012345678901234000".into(),
                period: "2026-09".into(),
                principal_fen: 0,
                late_fee_fen: 306,
            }],
            from_surplus_fen: 0,
            reason: "滞纳金减免".into(),
        }
    }

    #[test]
    fn events_read_back_by_their_type() {
        let refunded = WritebackEvent::Refunded(refund_event());
        let text = serde_json::to_vec(&refunded).unwrap();
        assert_eq!(serde_json::from_slice::<RefundEvent>(&text).unwrap(), refund_event(), "serialized as itself");
        let read = WritebackEvent::from_json(&text).unwrap();
        assert_eq!((read.event_type(), read.event_id()), (PAYMENT_REFUNDED, "refund-7"));
        assert_eq!(read, refunded);
        let mut other = serde_json::to_value(refund_event()).unwrap();
        other["event_type"] = "payment.voided".into();
        let refused = WritebackEvent::from_json(other.to_string().as_bytes()).unwrap_err();
        assert!(refused.contains("event_type must be"), "{refused}");
        other["event_type"] = PAYMENT_SETTLED.into();
        assert!(WritebackEvent::from_json(other.to_string().as_bytes()).is_err(), "a refund is not a settlement");
    }

    #[test]
    fn the_backoff_grows_to_minutes() {
        let options = worker_options(&Settings::default());
        assert_eq!(options.backoff.ceiling(1), Duration::from_secs(10));
        assert_eq!(options.backoff.ceiling(30), Duration::from_secs(1800));
        assert!(options.lease > Duration::from_secs(Settings::default().writeback.timeout_secs));
    }
}
