//! The durable job queue: enqueue (inside the caller's transaction when the job must exist exactly when the caller's
//! change does), claim under a lease, then complete or fail; retries back off; failed jobs stay visible until an
//! operator puts them back.
//!
//! Delivery is at least once: a worker that dies after its side effect but before `complete` leaves a job that runs
//! again when its lease expires, so handlers must be idempotent (send an idempotency key, check before acting).
//!
//! `last_error` is kept for staff and operator commands: callers pass sanitized messages (an error code, an HTTP
//! status, a platform's error message) and never a secret, a signature, a token or a full request or response body.
//! It is cut to [`MAX_ERROR_CHARS`] characters here.

use super::backoff::Backoff;
use crate::db::{jobs as sql, Database};
use serde::Serialize;
use sqlx::AnyConnection;
use std::time::Duration;

pub use crate::db::jobs::{
    ClaimedJob, EnqueueOutcome, FailOutcome, Job, JobState, Lease, NewJob, QueueCounts, RetryFilter,
};

/// Attempts a job gets unless its producer says otherwise: with the default backoff, about two and a half hours.
pub const DEFAULT_MAX_ATTEMPTS: i64 = 12;

/// The longest `last_error` kept, in characters.
pub const MAX_ERROR_CHARS: usize = 500;

impl NewJob {
    /// A job due at `run_at` with a JSON payload, no dedupe key and the default attempts.
    pub fn json(queue: &str, payload: &impl Serialize, run_at: i64) -> Result<NewJob, serde_json::Error> {
        Ok(NewJob {
            queue: queue.to_string(),
            payload: serde_json::to_string(payload)?,
            dedupe_key: None,
            run_at,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
        })
    }

    pub fn dedupe_key(mut self, key: impl Into<String>) -> NewJob {
        self.dedupe_key = Some(key.into());
        self
    }

    pub fn max_attempts(mut self, attempts: i64) -> NewJob {
        self.max_attempts = attempts.max(1);
        self
    }
}

impl ClaimedJob {
    /// The payload read as `T`.
    pub fn payload_as<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_str(&self.payload)
    }
}

/// Enqueues a job on `conn`: pass the caller's transaction to make the job part of its change. With a dedupe key
/// already present in the queue (whatever that job's state), nothing is written and the existing id is answered.
pub async fn enqueue(conn: &mut AnyConnection, job: &NewJob, now_ms: i64) -> Result<EnqueueOutcome, sqlx::Error> {
    sql::insert(conn, job, now_ms).await
}

/// Enqueues many jobs with few statements (skipping taken dedupe keys); answers how many were created.
pub async fn enqueue_many(conn: &mut AnyConnection, jobs: &[NewJob], now_ms: i64) -> Result<u64, sqlx::Error> {
    sql::insert_many(conn, jobs, now_ms).await
}

/// Claims up to `max_jobs` jobs of `queue` due at `now_ms` for `owner` (a worker's name, shown in `lease_owner`;
/// [`worker_owner`] makes a distinct one per loop), each leased for `lease`; each claim's leases are its own. Jobs whose lease expired (a crashed or stalled worker) are claimable again; one whose
/// last attempt's lease expired becomes failed instead. Several claimers never get the same job.
pub async fn claim(
    db: &Database,
    queue: &str,
    owner: &str,
    max_jobs: usize,
    lease: Duration,
    now_ms: i64,
) -> Result<Vec<ClaimedJob>, sqlx::Error> {
    let leased_until = now_ms.saturating_add(duration_ms(lease));
    sql::claim(db, queue, owner, max_jobs.min(i64::MAX as usize) as i64, leased_until, now_ms).await
}

/// Marks the job done. False when the lease was lost (it expired and another worker claimed the job): nothing
/// changes, the other worker's run stands.
pub async fn complete(db: &Database, lease: &Lease, now_ms: i64) -> Result<bool, sqlx::Error> {
    sql::complete(db, lease, now_ms).await
}

/// A transient failure: the job runs again after a backoff, or fails for good when this was its last attempt.
/// `error` must be sanitized (no secrets); it is cut to [`MAX_ERROR_CHARS`].
pub async fn fail(
    db: &Database,
    lease: &Lease,
    error: &str,
    backoff: &Backoff,
    now_ms: i64,
) -> Result<FailOutcome, sqlx::Error> {
    let retry_at = now_ms.saturating_add(duration_ms(backoff.delay(lease.attempt)));
    sql::fail(db, lease, &truncate_error(error), false, retry_at, now_ms).await
}

/// A permanent failure: the job fails for good whatever attempts remain. `error` as for [`fail`].
pub async fn fail_permanently(
    db: &Database,
    lease: &Lease,
    error: &str,
    now_ms: i64,
) -> Result<FailOutcome, sqlx::Error> {
    sql::fail(db, lease, &truncate_error(error), true, now_ms, now_ms).await
}

/// Gives a claimed job back without counting the attempt (a worker shutting down before running it).
pub async fn release(db: &Database, lease: &Lease, now_ms: i64) -> Result<bool, sqlx::Error> {
    sql::release(db, lease, now_ms).await
}

/// Extends a lease to `now_ms + lease` for a handler that runs long; false when the lease was lost.
pub async fn extend(db: &Database, lease_token: &Lease, lease: Duration, now_ms: i64) -> Result<bool, sqlx::Error> {
    sql::extend(db, lease_token, now_ms.saturating_add(duration_ms(lease)), now_ms).await
}

/// Puts the queue's failed jobs matching `filter` back to pending, due now, with fresh attempts; answers how many.
pub async fn retry_failed(db: &Database, queue: &str, filter: &RetryFilter, now_ms: i64) -> Result<u64, sqlx::Error> {
    sql::retry_failed(db, queue, filter, now_ms).await
}

/// The queue's jobs by state.
pub async fn counts(db: &Database, queue: &str) -> Result<QueueCounts, sqlx::Error> {
    sql::counts(db, queue).await
}

/// One job as stored.
pub async fn find(db: &Database, id: i64) -> Result<Option<Job>, sqlx::Error> {
    sql::find(db, id).await
}

/// A lease owner unique to this worker loop: `name`, the process id and a random suffix.
pub fn worker_owner(name: &str) -> String {
    format!("{name}:{}:{:08x}", std::process::id(), rand::random::<u32>())
}

/// The error as stored: at most [`MAX_ERROR_CHARS`] characters, cut on a character boundary.
pub fn truncate_error(error: &str) -> String {
    match error.char_indices().nth(MAX_ERROR_CHARS) {
        Some((cut, _)) => error[..cut].to_string(),
        None => error.to_string(),
    }
}

fn duration_ms(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_cut_on_character_boundaries() {
        let long = "错".repeat(MAX_ERROR_CHARS + 10);
        assert_eq!(truncate_error(&long).chars().count(), MAX_ERROR_CHARS);
        assert_eq!(truncate_error("short"), "short");
    }

    #[test]
    fn owners_differ_between_workers() {
        assert_ne!(worker_owner("push"), worker_owner("push"));
        assert!(worker_owner("push").starts_with("push:"));
    }
}
