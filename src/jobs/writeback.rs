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
use crate::platform::signed_post::{self, PostError, SignedPost};
use crate::state::AppState;
use std::time::Duration;
use tokio::sync::watch;

/// The queue the settlement enqueues payment events on.
pub const WRITEBACK_QUEUE: &str = "writeback";
/// Names the kind of event the body holds.
pub const EVENT_HEADER: &str = "X-Ebill-Event";

/// How much of a refusal's body the job's last error keeps.
const MAX_SNIPPET_CHARS: usize = 200;

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
    let Some(target) = &state.credentials.writeback else {
        return Err(JobError::Retry("no write-back endpoint configured".into()));
    };
    // Serialized once: the bytes sent are the bytes signed.
    let body = serde_json::to_vec(&event)
        .map_err(|e| JobError::Permanent(format!("the payment event cannot be serialized: {e}")))?;
    let post = SignedPost {
        what: "write-back",
        url: &target.url,
        secret: &target.secret,
        timeout: target.timeout,
        idempotency_key: &event.event_id,
        headers: &[(EVENT_HEADER, PAYMENT_SETTLED)],
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backoff_grows_to_minutes() {
        let options = worker_options(&Settings::default());
        assert_eq!(options.backoff.ceiling(1), Duration::from_secs(10));
        assert_eq!(options.backoff.ceiling(30), Duration::from_secs(1800));
        assert!(options.lease > Duration::from_secs(Settings::default().writeback.timeout_secs));
    }
}
