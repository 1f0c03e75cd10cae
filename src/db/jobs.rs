//! The jobs repository: the SQL of the durable job queues (`crate::jobs::queue` is the API the rest of the code uses).
//!
//! A job is `pending` until a worker claims it, `leased` while the worker runs it, then `done`, or back to `pending`
//! with a later `run_at` after a transient failure, or `failed` for good. A lease is named by the claim that made it
//! (`lease_owner` is the worker's name and a random suffix drawn by each claim, `worker#9f0c...`) and by the attempt
//! number the claim gave it, so a worker whose lease ran out and was taken over can no longer complete or fail the
//! job, even when the same worker claimed it again.

use super::sql::{claim_candidates, rows_per_statement};
use super::Database;
use crate::db::ids::next_id;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

/// What `last_error` says of a job whose lease ran out before its worker completed or failed it.
pub const LEASE_EXPIRED: &str = "lease expired: the worker stopped or ran past its lease";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    Pending,
    Leased,
    Done,
    Failed,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Pending => "pending",
            JobState::Leased => "leased",
            JobState::Done => "done",
            JobState::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<JobState> {
        match s {
            "pending" => Some(JobState::Pending),
            "leased" => Some(JobState::Leased),
            "done" => Some(JobState::Done),
            "failed" => Some(JobState::Failed),
            _ => None,
        }
    }
}

/// A job to enqueue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewJob {
    pub queue: String,
    /// JSON, as the queue's handler reads it.
    pub payload: String,
    /// At most one job per queue and key, whatever its state (a done job still holds its key).
    pub dedupe_key: Option<String>,
    /// Not before this instant (UTC epoch ms).
    pub run_at: i64,
    /// Attempts before a transient failure becomes final; at least 1.
    pub max_attempts: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnqueueOutcome {
    Created(i64),
    /// A job with the same queue and dedupe key existed: its id; nothing was written.
    AlreadyQueued(i64),
}

impl EnqueueOutcome {
    pub fn id(self) -> i64 {
        match self {
            EnqueueOutcome::Created(id) | EnqueueOutcome::AlreadyQueued(id) => id,
        }
    }
}

/// The proof that a worker holds a job: only the holder of the current lease may complete, fail, release or extend it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub job_id: i64,
    /// The claiming worker's name and the claim's random suffix, as stored in `lease_owner`.
    pub owner: String,
    /// The attempt this lease runs (the job's `attempts` after the claim).
    pub attempt: i64,
}

/// A job as a claim hands it to a worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedJob {
    pub id: i64,
    pub queue: String,
    pub payload: String,
    /// Attempts including this one (1 on the first run).
    pub attempts: i64,
    pub max_attempts: i64,
    pub run_at: i64,
    pub dedupe_key: Option<String>,
    pub created_at: i64,
    pub lease: Lease,
}

impl ClaimedJob {
    /// Whether a transient failure of this attempt is final.
    pub fn is_last_attempt(&self) -> bool {
        self.attempts >= self.max_attempts
    }
}

/// A job as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub id: i64,
    pub queue: String,
    pub payload: String,
    pub state: JobState,
    pub attempts: i64,
    pub max_attempts: i64,
    pub run_at: i64,
    pub lease_owner: Option<String>,
    pub leased_until: Option<i64>,
    pub last_error: Option<String>,
    pub dedupe_key: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Jobs of a queue by state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueCounts {
    pub pending: i64,
    pub leased: i64,
    pub done: i64,
    pub failed: i64,
}

/// Which failed jobs to put back: every condition given must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetryFilter {
    pub job_id: Option<i64>,
    /// A substring of the last error (LIKE: case-sensitive on PostgreSQL, ASCII case-insensitive on SQLite).
    pub error_contains: Option<String>,
    /// A substring of the JSON payload, e.g. `"platform":"wechat"`.
    pub payload_contains: Option<String>,
}

/// What became of a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailOutcome {
    /// Back to pending, to run again at this instant.
    Retrying { run_at: i64 },
    /// Failed for good: permanent, or the last attempt.
    Failed,
    /// The lease was no longer this worker's: nothing changed.
    LeaseLost,
}

const JOB_COLUMNS: &str = "id, queue, payload, state, attempts, max_attempts, run_at, lease_owner, leased_until, \
                           last_error, dedupe_key, created_at, updated_at";

fn job_from_row(row: &AnyRow) -> Result<Job, sqlx::Error> {
    let state: String = row.try_get("state")?;
    Ok(Job {
        id: row.try_get("id")?,
        queue: row.try_get("queue")?,
        payload: row.try_get("payload")?,
        state: JobState::parse(&state)
            .ok_or_else(|| sqlx::Error::Decode(format!("unknown job state {state:?}").into()))?,
        attempts: row.try_get("attempts")?,
        max_attempts: row.try_get("max_attempts")?,
        run_at: row.try_get("run_at")?,
        lease_owner: row.try_get("lease_owner")?,
        leased_until: row.try_get("leased_until")?,
        last_error: row.try_get("last_error")?,
        dedupe_key: row.try_get("dedupe_key")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// Inserts a job inside the caller's transaction (or on its own connection); with a dedupe key already taken in the
/// queue, writes nothing and answers the existing job's id.
pub async fn insert(conn: &mut AnyConnection, job: &NewJob, now_ms: i64) -> Result<EnqueueOutcome, sqlx::Error> {
    let id = next_id(now_ms);
    let inserted = sqlx::query(
        "INSERT INTO jobs (id, queue, payload, state, attempts, max_attempts, run_at, dedupe_key, created_at, \
         updated_at) VALUES ($1, $2, $3, 'pending', 0, $4, $5, $6, $7, $7) \
         ON CONFLICT (queue, dedupe_key) WHERE dedupe_key IS NOT NULL DO NOTHING",
    )
    .bind(id)
    .bind(job.queue.clone())
    .bind(job.payload.clone())
    .bind(job.max_attempts.max(1))
    .bind(job.run_at)
    .bind(job.dedupe_key.clone())
    .bind(now_ms)
    .execute(&mut *conn)
    .await?;
    if inserted.rows_affected() == 1 {
        return Ok(EnqueueOutcome::Created(id));
    }
    // The conflict waited for the other writer to commit, so its row is visible to this statement.
    let existing: i64 = sqlx::query("SELECT id FROM jobs WHERE queue = $1 AND dedupe_key = $2")
        .bind(job.queue.clone())
        .bind(job.dedupe_key.clone())
        .fetch_one(&mut *conn)
        .await?
        .try_get("id")?;
    Ok(EnqueueOutcome::AlreadyQueued(existing))
}

/// Inserts many jobs in multi-row statements inside the caller's transaction; those whose dedupe key is taken are
/// skipped. Answers how many were created.
pub async fn insert_many(conn: &mut AnyConnection, jobs: &[NewJob], now_ms: i64) -> Result<u64, sqlx::Error> {
    const PARAMS_PER_ROW: usize = 7;
    let mut created = 0;
    for chunk in jobs.chunks(rows_per_statement(conn, PARAMS_PER_ROW)) {
        let sql = format!(
            "INSERT INTO jobs (id, queue, payload, state, attempts, max_attempts, run_at, dedupe_key, created_at, \
             updated_at) VALUES {} ON CONFLICT (queue, dedupe_key) WHERE dedupe_key IS NOT NULL DO NOTHING",
            tuples_with_literals(chunk.len())
        );
        let mut query = sqlx::query(&sql);
        for job in chunk {
            query = query
                .bind(next_id(now_ms))
                .bind(job.queue.clone())
                .bind(job.payload.clone())
                .bind(job.max_attempts.max(1))
                .bind(job.run_at)
                .bind(job.dedupe_key.clone())
                .bind(now_ms);
        }
        created += query.execute(&mut *conn).await?.rows_affected();
    }
    Ok(created)
}

/// `($1, $2, $3, 'pending', 0, $4, $5, $6, $7, $7), ...`: seven parameters per row.
fn tuples_with_literals(rows: usize) -> String {
    (0..rows)
        .map(|row| {
            let p = |n: usize| format!("${}", row * 7 + n);
            format!("({}, {}, {}, 'pending', 0, {}, {}, {}, {}, {})", p(1), p(2), p(3), p(4), p(5), p(6), p(7), p(7))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Claims up to `max_jobs` due jobs of `queue` for `owner` until `leased_until`, in one write transaction: first the
/// queue's expired leases go back to pending (or to failed, when their last attempt ran out), then one conditional
/// `UPDATE ... RETURNING` leases the due jobs, oldest `run_at` first.
///
/// Two claimers never get the same job: on SQLite the write transaction (`BEGIN IMMEDIATE`) runs them one at a time;
/// on PostgreSQL the candidates are locked with `FOR UPDATE SKIP LOCKED` (so concurrent claimers take different
/// jobs instead of queueing on the same rows), and the outer `WHERE` repeats the claimable condition, which READ
/// COMMITTED re-checks on the row's latest version, so a job another claimer leased first is left alone.
pub async fn claim(
    db: &Database,
    queue: &str,
    owner: &str,
    max_jobs: i64,
    leased_until: i64,
    now_ms: i64,
) -> Result<Vec<ClaimedJob>, sqlx::Error> {
    // Each claim names its leases afresh, so that a lease given back or lost is never mistaken for a later one of
    // the same owner.
    let lease_owner = format!("{owner}#{:016x}", rand::random::<u64>());
    let mut tx = db.begin_write().await?;
    let expire = format!(
        "UPDATE jobs SET state = CASE WHEN attempts >= max_attempts THEN 'failed' ELSE 'pending' END, \
         lease_owner = NULL, leased_until = NULL, last_error = $1, updated_at = $2 \
         WHERE {} AND state = 'leased' AND leased_until < $2",
        claim_candidates(
            db.backend(),
            "SELECT id FROM jobs WHERE queue = $3 AND state = 'leased' AND leased_until < $2"
        )
    );
    sqlx::query(&expire).bind(LEASE_EXPIRED).bind(now_ms).bind(queue.to_string()).execute(&mut *tx).await?;
    let claim = format!(
        "UPDATE jobs SET state = 'leased', lease_owner = $1, leased_until = $2, attempts = attempts + 1, \
         updated_at = $3 \
         WHERE {} AND state = 'pending' AND run_at <= $3 \
         RETURNING id, queue, payload, attempts, max_attempts, run_at, dedupe_key, created_at",
        claim_candidates(
            db.backend(),
            "SELECT id FROM jobs WHERE queue = $4 AND state = 'pending' AND run_at <= $3 ORDER BY run_at, id LIMIT $5"
        )
    );
    let rows = sqlx::query(&claim)
        .bind(lease_owner.clone())
        .bind(leased_until)
        .bind(now_ms)
        .bind(queue.to_string())
        .bind(max_jobs.max(0))
        .fetch_all(&mut *tx)
        .await?;
    tx.commit().await?;
    let mut jobs = rows
        .iter()
        .map(|row| {
            let id: i64 = row.try_get("id")?;
            let attempts: i64 = row.try_get("attempts")?;
            Ok(ClaimedJob {
                id,
                queue: row.try_get("queue")?,
                payload: row.try_get("payload")?,
                attempts,
                max_attempts: row.try_get("max_attempts")?,
                run_at: row.try_get("run_at")?,
                dedupe_key: row.try_get("dedupe_key")?,
                created_at: row.try_get("created_at")?,
                lease: Lease { job_id: id, owner: lease_owner.clone(), attempt: attempts },
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    jobs.sort_by_key(|job| (job.run_at, job.id));
    Ok(jobs)
}

const HELD: &str = "id = $1 AND state = 'leased' AND lease_owner = $2 AND attempts = $3";

/// Binds `$1..$3` of [`HELD`]: the lease a worker must still hold for its update to apply.
fn bind_held<'q>(
    query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    lease: &Lease,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    query.bind(lease.job_id).bind(lease.owner.clone()).bind(lease.attempt)
}

/// Marks the job done; false when the lease is no longer held (nothing changed).
pub async fn complete(db: &Database, lease: &Lease, now_ms: i64) -> Result<bool, sqlx::Error> {
    let sql = format!(
        "UPDATE jobs SET state = 'done', lease_owner = NULL, leased_until = NULL, updated_at = $4 WHERE {HELD}"
    );
    let done = bind_held(sqlx::query(&sql), lease).bind(now_ms).execute(db.pool()).await?;
    Ok(done.rows_affected() == 1)
}

/// Records a failed attempt: back to pending at `retry_at`, or failed for good when `permanent` or when the attempts
/// are used up. `error` is stored as given (the caller cuts and sanitizes it).
pub async fn fail(
    db: &Database,
    lease: &Lease,
    error: &str,
    permanent: bool,
    retry_at: i64,
    now_ms: i64,
) -> Result<FailOutcome, sqlx::Error> {
    let sql = format!(
        "UPDATE jobs SET \
         state = CASE WHEN $4 = 1 OR attempts >= max_attempts THEN 'failed' ELSE 'pending' END, \
         run_at = CASE WHEN $4 = 1 OR attempts >= max_attempts THEN run_at ELSE $5 END, \
         lease_owner = NULL, leased_until = NULL, last_error = $6, updated_at = $7 \
         WHERE {HELD} RETURNING state, run_at"
    );
    let row = bind_held(sqlx::query(&sql), lease)
        .bind(i64::from(permanent))
        .bind(retry_at)
        .bind(error.to_string())
        .bind(now_ms)
        .fetch_optional(db.pool())
        .await?;
    let Some(row) = row else { return Ok(FailOutcome::LeaseLost) };
    let state: String = row.try_get("state")?;
    Ok(match state.as_str() {
        "pending" => FailOutcome::Retrying { run_at: row.try_get("run_at")? },
        _ => FailOutcome::Failed,
    })
}

/// Gives a claimed job back untouched (the attempt does not count), e.g. when a worker stops before running it.
pub async fn release(db: &Database, lease: &Lease, now_ms: i64) -> Result<bool, sqlx::Error> {
    let sql = format!(
        "UPDATE jobs SET state = 'pending', attempts = attempts - 1, lease_owner = NULL, leased_until = NULL, \
         updated_at = $4 WHERE {HELD}"
    );
    let released = bind_held(sqlx::query(&sql), lease).bind(now_ms).execute(db.pool()).await?;
    Ok(released.rows_affected() == 1)
}

/// Moves the lease's end to `leased_until`, for a handler that needs longer; false when the lease is lost.
pub async fn extend(db: &Database, lease: &Lease, leased_until: i64, now_ms: i64) -> Result<bool, sqlx::Error> {
    let sql = format!("UPDATE jobs SET leased_until = $4, updated_at = $5 WHERE {HELD}");
    let extended = bind_held(sqlx::query(&sql), lease).bind(leased_until).bind(now_ms).execute(db.pool()).await?;
    Ok(extended.rows_affected() == 1)
}

/// `%needle%` for LIKE with `!` as the escape character.
fn like_contains(needle: &str) -> String {
    let mut pattern = String::with_capacity(needle.len() + 2);
    pattern.push('%');
    for c in needle.chars() {
        if matches!(c, '%' | '_' | '!') {
            pattern.push('!');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// Puts the queue's failed jobs that match the filter back to pending, due now, with their attempts reset (the last
/// error stays until the next one). Answers how many.
pub async fn retry_failed(db: &Database, queue: &str, filter: &RetryFilter, now_ms: i64) -> Result<u64, sqlx::Error> {
    let mut sql = String::from(
        "UPDATE jobs SET state = 'pending', attempts = 0, run_at = $1, lease_owner = NULL, leased_until = NULL, \
         updated_at = $1 WHERE queue = $2 AND state = 'failed'",
    );
    let mut next = 3;
    if filter.job_id.is_some() {
        sql.push_str(&format!(" AND id = ${next}"));
        next += 1;
    }
    if filter.error_contains.is_some() {
        sql.push_str(&format!(" AND last_error LIKE ${next} ESCAPE '!'"));
        next += 1;
    }
    if filter.payload_contains.is_some() {
        sql.push_str(&format!(" AND payload LIKE ${next} ESCAPE '!'"));
    }
    let mut query = sqlx::query(&sql).bind(now_ms).bind(queue.to_string());
    if let Some(id) = filter.job_id {
        query = query.bind(id);
    }
    if let Some(needle) = &filter.error_contains {
        query = query.bind(like_contains(needle));
    }
    if let Some(needle) = &filter.payload_contains {
        query = query.bind(like_contains(needle));
    }
    Ok(query.execute(db.pool()).await?.rows_affected())
}

/// The queue's jobs by state.
pub async fn counts(db: &Database, queue: &str) -> Result<QueueCounts, sqlx::Error> {
    let rows = sqlx::query("SELECT state, COUNT(*) AS n FROM jobs WHERE queue = $1 GROUP BY state")
        .bind(queue.to_string())
        .fetch_all(db.pool())
        .await?;
    let mut counts = QueueCounts::default();
    for row in &rows {
        let state: String = row.try_get("state")?;
        let n: i64 = row.try_get("n")?;
        match JobState::parse(&state) {
            Some(JobState::Pending) => counts.pending += n,
            Some(JobState::Leased) => counts.leased += n,
            Some(JobState::Done) => counts.done += n,
            Some(JobState::Failed) => counts.failed += n,
            None => {}
        }
    }
    Ok(counts)
}

pub async fn find(db: &Database, id: i64) -> Result<Option<Job>, sqlx::Error> {
    let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1");
    let row = sqlx::query(&sql).bind(id).fetch_optional(db.pool()).await?;
    row.as_ref().map(job_from_row).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(like_contains("a%b_c!d"), "%a!%b!_c!!d%");
    }

    #[test]
    fn literal_tuples_number_seven_parameters_per_row() {
        assert_eq!(
            tuples_with_literals(2),
            "($1, $2, $3, 'pending', 0, $4, $5, $6, $7, $7), ($8, $9, $10, 'pending', 0, $11, $12, $13, $14, $14)"
        );
    }
}
