//! Background jobs: the durable queue (`queue`), retry backoff (`backoff`) and a worker loop that the job kinds
//! (write-back, pushes, ...) run in `ebill serve` or `ebill worker`.

pub mod backoff;
pub mod queue;
pub mod runner;
pub mod writeback;

pub use backoff::Backoff;

use crate::clock::Clock;
use crate::db::Database;
use futures_util::{FutureExt, StreamExt};
use queue::{ClaimedJob, FailOutcome};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::time::Duration;
use tokio::sync::watch;

/// Why a handler did not finish its job. The message is stored as the job's last error: sanitize it (no secrets).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JobError {
    /// Worth another attempt later (a timeout, a 5xx, a busy platform).
    #[error("{0}")]
    Retry(String),
    /// No attempt will ever succeed (a rejected request, a revoked permission).
    #[error("{0}")]
    Permanent(String),
}

#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// Jobs claimed at a time, at most `concurrency` (more would wait out their lease in the worker's backlog).
    pub batch: usize,
    /// How long a claim holds its jobs; longer than the slowest handler, or a job runs twice (a handler that may
    /// take longer calls `queue::extend`).
    pub lease: Duration,
    /// The wait when no job is due (and after a database error).
    pub idle_sleep: Duration,
    /// Handlers running at once.
    pub concurrency: usize,
    pub backoff: Backoff,
}

impl Default for WorkerOptions {
    fn default() -> WorkerOptions {
        WorkerOptions {
            batch: 8,
            lease: Duration::from_secs(120),
            idle_sleep: Duration::from_secs(1),
            concurrency: 8,
            backoff: Backoff::default(),
        }
    }
}

/// What a worker loop did, for logs and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WorkerReport {
    pub claimed: u64,
    pub completed: u64,
    /// Transient failures scheduled for another attempt.
    pub retried: u64,
    /// Jobs failed for good.
    pub failed: u64,
    /// Handlers that finished after their lease was taken over: their outcome was discarded.
    pub lease_lost: u64,
    /// Claimed jobs given back unrun at shutdown.
    pub released: u64,
    /// Database errors (the jobs concerned run again when their leases expire).
    pub errors: u64,
}

enum Outcome {
    Completed,
    Retried,
    Failed,
    LeaseLost,
    Released,
    Error,
}

/// Works `queue` until `shutdown` turns true (or its sender is dropped): claims up to `options.batch` (and never more
/// than `options.concurrency`) due jobs, runs
/// `handler` on them with at most `options.concurrency` at once, completes or fails each, and sleeps
/// `options.idle_sleep` when nothing is due. On shutdown the running handlers finish and the claimed jobs not yet
/// started are given back. `owner` names this loop's leases and must be unique to it ([`queue::worker_owner`]).
///
/// A panicking handler counts as a transient failure. Handlers must be idempotent: delivery is at least once.
pub async fn run_worker<H, F>(
    db: &Database,
    clock: &dyn Clock,
    queue_name: &str,
    owner: &str,
    options: &WorkerOptions,
    handler: H,
    mut shutdown: watch::Receiver<bool>,
) -> WorkerReport
where
    H: Fn(ClaimedJob) -> F,
    F: Future<Output = Result<(), JobError>>,
{
    let mut report = WorkerReport::default();
    while !stopping(&shutdown) {
        // Claim no more than can run at once: every claimed job starts at once, so no job waits out its lease in
        // the worker's own backlog (and gets claimed and run again by another worker meanwhile).
        let take = options.batch.min(options.concurrency).max(1);
        let claimed = queue::claim(db, queue_name, owner, take, options.lease, clock.now_ms()).await;
        let jobs = match claimed {
            Ok(jobs) => jobs,
            Err(error) => {
                report.errors += 1;
                tracing::warn!(queue = queue_name, %error, "claiming jobs failed");
                Vec::new()
            }
        };
        if jobs.is_empty() {
            if wait_or_stop(&mut shutdown, options.idle_sleep).await {
                break;
            }
            continue;
        }
        report.claimed += jobs.len() as u64;
        let shutdown_now = &shutdown;
        let handler = &handler;
        let outcomes: Vec<Outcome> = futures_util::stream::iter(jobs)
            .map(|job| run_one(db, clock, queue_name, options, handler, job, shutdown_now))
            .buffer_unordered(options.concurrency.max(1))
            .collect()
            .await;
        for outcome in outcomes {
            match outcome {
                Outcome::Completed => report.completed += 1,
                Outcome::Retried => report.retried += 1,
                Outcome::Failed => report.failed += 1,
                Outcome::LeaseLost => report.lease_lost += 1,
                Outcome::Released => report.released += 1,
                Outcome::Error => report.errors += 1,
            }
        }
    }
    report
}

async fn run_one<H, F>(
    db: &Database,
    clock: &dyn Clock,
    queue_name: &str,
    options: &WorkerOptions,
    handler: &H,
    job: ClaimedJob,
    shutdown: &watch::Receiver<bool>,
) -> Outcome
where
    H: Fn(ClaimedJob) -> F,
    F: Future<Output = Result<(), JobError>>,
{
    let lease = job.lease.clone();
    let job_id = job.id;
    if stopping(shutdown) {
        return match queue::release(db, &lease, clock.now_ms()).await {
            Ok(_) => Outcome::Released,
            Err(error) => {
                tracing::warn!(queue = queue_name, job_id, %error, "releasing a job failed; its lease will expire");
                Outcome::Error
            }
        };
    }
    let result = AssertUnwindSafe(async { handler(job).await })
        .catch_unwind()
        .await
        .unwrap_or_else(|_| Err(JobError::Retry("the handler panicked".into())));
    let now_ms = clock.now_ms();
    let recorded = match &result {
        Ok(()) => {
            queue::complete(db, &lease, now_ms)
                .await
                .map(|held| if held { Outcome::Completed } else { Outcome::LeaseLost })
        }
        Err(JobError::Retry(message)) => {
            queue::fail(db, &lease, message, &options.backoff, now_ms).await.map(fail_outcome)
        }
        Err(JobError::Permanent(message)) => {
            queue::fail_permanently(db, &lease, message, now_ms).await.map(fail_outcome)
        }
    };
    match recorded {
        Ok(Outcome::LeaseLost) => {
            tracing::warn!(
                queue = queue_name,
                job_id,
                "a job's lease was taken over before it finished; outcome dropped"
            );
            Outcome::LeaseLost
        }
        Ok(outcome) => {
            if let Err(error) = &result {
                tracing::info!(queue = queue_name, job_id, attempt = lease.attempt, %error, "job attempt failed");
            }
            outcome
        }
        Err(error) => {
            tracing::warn!(queue = queue_name, job_id, %error, "recording a job's outcome failed; its lease will expire");
            Outcome::Error
        }
    }
}

fn fail_outcome(outcome: FailOutcome) -> Outcome {
    match outcome {
        FailOutcome::Retrying { .. } => Outcome::Retried,
        FailOutcome::Failed => Outcome::Failed,
        FailOutcome::LeaseLost => Outcome::LeaseLost,
    }
}

/// Shutdown was asked for, or nobody is left to ask for it.
fn stopping(shutdown: &watch::Receiver<bool>) -> bool {
    *shutdown.borrow() || shutdown.has_changed().is_err()
}

/// Sleeps `idle`, waking early on a shutdown; true when the loop must stop.
async fn wait_or_stop(shutdown: &mut watch::Receiver<bool>, idle: Duration) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(idle) => stopping(shutdown),
        changed = shutdown.changed() => changed.is_err() || *shutdown.borrow(),
    }
}
