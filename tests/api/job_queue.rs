//! The durable job queue against the test's real database (SQLite, or PostgreSQL in the CI pass): claims, leases,
//! retries with backoff, dedupe, concurrent claimers and the worker loop.

use crate::helpers::{spawn_app, TestApp};
use ebill::db::jobs::LEASE_EXPIRED;
use ebill::jobs::queue::{self, ClaimedJob, EnqueueOutcome, FailOutcome, JobState, NewJob, RetryFilter};
use ebill::jobs::{run_worker, Backoff, JobError, WorkerOptions};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const LEASE: Duration = Duration::from_secs(30);

fn job(queue: &str, n: i64, run_at: i64) -> NewJob {
    NewJob::json(queue, &serde_json::json!({ "n": n }), run_at).unwrap()
}

async fn enqueue(app: &TestApp, new: &NewJob) -> EnqueueOutcome {
    let mut conn = app.state.db.pool().acquire().await.unwrap();
    queue::enqueue(&mut conn, new, app.clock_now_ms()).await.unwrap()
}

async fn claim(app: &TestApp, owner: &str, max: usize, now_ms: i64) -> Vec<ClaimedJob> {
    queue::claim(&app.state.db, "test", owner, max, LEASE, now_ms).await.unwrap()
}

#[tokio::test]
async fn an_enqueued_job_is_claimed_once_then_completed() {
    let app = spawn_app().await;
    let now = app.clock_now_ms();
    let id = match enqueue(&app, &job("test", 1, now)).await {
        EnqueueOutcome::Created(id) => id,
        other => panic!("{other:?}"),
    };
    // Another queue's job is not this queue's.
    enqueue(&app, &job("other", 2, now)).await;

    let jobs = claim(&app, "w1", 10, now).await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].id, id);
    assert_eq!(jobs[0].attempts, 1);
    assert_eq!(jobs[0].payload_as::<serde_json::Value>().unwrap()["n"], 1);
    assert!(claim(&app, "w2", 10, now).await.is_empty(), "a leased job is not claimed again");
    let stored = queue::find(&app.state.db, id).await.unwrap().unwrap();
    assert_eq!(stored.state, JobState::Leased);
    assert!(stored.lease_owner.as_deref().unwrap().starts_with("w1#"));
    assert_eq!(stored.leased_until, Some(now + 30_000));

    assert!(queue::complete(&app.state.db, &jobs[0].lease, now + 1).await.unwrap());
    assert!(!queue::complete(&app.state.db, &jobs[0].lease, now + 2).await.unwrap(), "completes once");
    assert_eq!(queue::find(&app.state.db, id).await.unwrap().unwrap().state, JobState::Done);
    let counts = queue::counts(&app.state.db, "test").await.unwrap();
    assert_eq!((counts.pending, counts.leased, counts.done, counts.failed), (0, 0, 1, 0));
    assert_eq!(queue::counts(&app.state.db, "other").await.unwrap().pending, 1);
    assert!(claim(&app, "w1", 10, now + 3_600_000).await.is_empty(), "a done job never runs again");
}

#[tokio::test]
async fn enqueue_belongs_to_the_callers_transaction() {
    let app = spawn_app().await;
    let now = app.clock_now_ms();
    let mut tx = app.state.db.begin_write().await.unwrap();
    queue::enqueue(&mut tx, &job("test", 1, now), now).await.unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(app.count("jobs").await, 0);

    let mut tx = app.state.db.begin_write().await.unwrap();
    let outcome = queue::enqueue(&mut tx, &job("test", 2, now).dedupe_key("k"), now).await.unwrap();
    let again = queue::enqueue(&mut tx, &job("test", 3, now).dedupe_key("k"), now).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(again, EnqueueOutcome::AlreadyQueued(outcome.id()));
    assert_eq!(app.count("jobs").await, 1);
}

#[tokio::test]
async fn a_dedupe_key_makes_enqueue_idempotent() {
    let app = spawn_app().await;
    let now = app.clock_now_ms();
    let first = enqueue(&app, &job("test", 1, now).dedupe_key("settlement:42")).await;
    assert!(matches!(first, EnqueueOutcome::Created(_)));
    let second = enqueue(&app, &job("test", 2, now).dedupe_key("settlement:42")).await;
    assert_eq!(second, EnqueueOutcome::AlreadyQueued(first.id()));
    // The same key in another queue, and jobs without a key, are distinct.
    assert!(matches!(
        enqueue(&app, &job("other", 1, now).dedupe_key("settlement:42")).await,
        EnqueueOutcome::Created(_)
    ));
    enqueue(&app, &job("test", 3, now)).await;
    enqueue(&app, &job("test", 4, now)).await;
    assert_eq!(queue::counts(&app.state.db, "test").await.unwrap().pending, 3);

    // Still deduplicated after the job ran.
    let jobs = claim(&app, "w", 10, now).await;
    for job in &jobs {
        queue::complete(&app.state.db, &job.lease, now).await.unwrap();
    }
    let third = enqueue(&app, &job("test", 5, now).dedupe_key("settlement:42")).await;
    assert_eq!(third, EnqueueOutcome::AlreadyQueued(first.id()));

    // Many at once: taken keys and keys repeated within the batch are skipped.
    let batch: Vec<NewJob> = (0..600)
        .map(|n| job("test", n, now).dedupe_key(format!("bulk:{}", n % 400)))
        .chain(std::iter::once(job("test", 0, now).dedupe_key("settlement:42")))
        .collect();
    let mut conn = app.state.db.pool().acquire().await.unwrap();
    assert_eq!(queue::enqueue_many(&mut conn, &batch, now).await.unwrap(), 400);
    assert_eq!(queue::enqueue_many(&mut conn, &batch, now).await.unwrap(), 0);
    assert_eq!(queue::counts(&app.state.db, "test").await.unwrap().pending, 400);
}

#[tokio::test]
async fn a_job_is_not_claimed_before_its_run_at() {
    let app = spawn_app().await;
    let now = app.clock_now_ms();
    let later = enqueue(&app, &job("test", 1, now + 60_000)).await.id();
    let due = enqueue(&app, &job("test", 2, now - 1)).await.id();
    let jobs = claim(&app, "w", 10, now).await;
    assert_eq!(jobs.iter().map(|j| j.id).collect::<Vec<_>>(), vec![due]);
    assert!(queue::complete(&app.state.db, &jobs[0].lease, now).await.unwrap());
    assert!(claim(&app, "w", 10, now + 59_999).await.is_empty());
    let jobs = claim(&app, "w", 10, now + 60_000).await;
    assert_eq!(jobs.iter().map(|j| j.id).collect::<Vec<_>>(), vec![later]);
}

#[tokio::test]
async fn jobs_are_claimed_oldest_run_at_first_up_to_the_batch_size() {
    let app = spawn_app().await;
    let now = app.clock_now_ms();
    let c = enqueue(&app, &job("test", 3, now - 1_000)).await.id();
    let a = enqueue(&app, &job("test", 1, now - 3_000)).await.id();
    let b = enqueue(&app, &job("test", 2, now - 2_000)).await.id();
    let first = claim(&app, "w", 2, now).await;
    assert_eq!(first.iter().map(|j| j.id).collect::<Vec<_>>(), vec![a, b]);
    let second = claim(&app, "w", 2, now).await;
    assert_eq!(second.iter().map(|j| j.id).collect::<Vec<_>>(), vec![c]);
}

#[tokio::test]
async fn concurrent_claimers_never_share_a_job_and_together_take_all() {
    let app = spawn_app().await;
    let now = app.clock_now_ms();
    let batch: Vec<NewJob> = (0..300).map(|n| job("test", n, now - 300 + n)).collect();
    let mut conn = app.state.db.pool().acquire().await.unwrap();
    assert_eq!(queue::enqueue_many(&mut conn, &batch, now).await.unwrap(), 300);
    drop(conn);

    let mut claimers = Vec::new();
    for worker in 0..4 {
        let db = app.state.db.clone();
        claimers.push(tokio::spawn(async move {
            let owner = format!("worker-{worker}");
            let mut taken = Vec::new();
            loop {
                let jobs = queue::claim(&db, "test", &owner, 7, LEASE, now).await.unwrap();
                if jobs.is_empty() {
                    let counts = queue::counts(&db, "test").await.unwrap();
                    if counts.pending == 0 {
                        break;
                    }
                    tokio::task::yield_now().await;
                    continue;
                }
                for job in jobs {
                    assert_eq!(job.attempts, 1, "no job is claimed twice");
                    assert!(queue::complete(&db, &job.lease, now).await.unwrap());
                    taken.push(job.id);
                }
            }
            taken
        }));
    }
    let mut all = Vec::new();
    let mut per_worker = Vec::new();
    for claimer in claimers {
        let taken = claimer.await.unwrap();
        per_worker.push(taken.len());
        all.extend(taken);
    }
    let distinct: HashSet<i64> = all.iter().copied().collect();
    assert_eq!(all.len(), 300, "every job claimed exactly once (per worker: {per_worker:?})");
    assert_eq!(distinct.len(), 300);
    let counts = queue::counts(&app.state.db, "test").await.unwrap();
    assert_eq!((counts.pending, counts.leased, counts.done), (0, 0, 300));
}

#[tokio::test]
async fn a_dead_workers_job_is_claimed_again_only_after_its_lease_expires() {
    let app = spawn_app().await;
    let t0 = app.clock_now_ms();
    let id = enqueue(&app, &job("test", 1, t0)).await.id();
    let dead = claim(&app, "dead", 10, t0).await;
    assert_eq!(dead.len(), 1);

    // The lease runs 30 s: until then nobody else takes the job.
    assert!(claim(&app, "alive", 10, t0 + 10_000).await.is_empty());
    assert!(claim(&app, "alive", 10, t0 + 30_000).await.is_empty());
    let alive = claim(&app, "alive", 10, t0 + 30_001).await;
    assert_eq!(alive.len(), 1);
    assert_eq!(alive[0].id, id);
    assert_eq!(alive[0].attempts, 2);
    let stored = queue::find(&app.state.db, id).await.unwrap().unwrap();
    assert!(stored.lease_owner.as_deref().unwrap().starts_with("alive#"));

    // The dead worker comes back late: it can neither complete nor fail the job.
    let db = &app.state.db;
    assert!(!queue::complete(db, &dead[0].lease, t0 + 31_000).await.unwrap());
    let late_fail = queue::fail(db, &dead[0].lease, "late", &Backoff::default(), t0 + 31_000).await.unwrap();
    assert_eq!(late_fail, FailOutcome::LeaseLost);
    assert!(!queue::extend(db, &dead[0].lease, LEASE, t0 + 31_000).await.unwrap());
    assert_eq!(queue::find(db, id).await.unwrap().unwrap().state, JobState::Leased);

    // Even the same owner's old lease is refused once the job was claimed again.
    let again = claim(&app, "alive", 10, t0 + 30_001 + 30_001).await;
    assert_eq!(again[0].attempts, 3);
    assert!(!queue::complete(db, &alive[0].lease, t0 + 70_000).await.unwrap());
    assert!(queue::extend(db, &again[0].lease, LEASE, t0 + 70_000).await.unwrap());
    assert!(claim(&app, "other", 10, t0 + 90_000).await.is_empty(), "the extended lease holds");
    assert!(queue::complete(db, &again[0].lease, t0 + 90_000).await.unwrap());
    assert_eq!(queue::find(db, id).await.unwrap().unwrap().state, JobState::Done);
}

#[tokio::test]
async fn a_lease_expiring_on_the_last_attempt_fails_the_job() {
    let app = spawn_app().await;
    let t0 = app.clock_now_ms();
    let id = enqueue(&app, &job("test", 1, t0).max_attempts(1)).await.id();
    assert_eq!(claim(&app, "dead", 10, t0).await.len(), 1);
    assert!(claim(&app, "alive", 10, t0 + 60_000).await.is_empty());
    let stored = queue::find(&app.state.db, id).await.unwrap().unwrap();
    assert_eq!(stored.state, JobState::Failed);
    assert_eq!(stored.last_error.as_deref(), Some(LEASE_EXPIRED));
}

#[tokio::test]
async fn a_released_job_is_claimable_at_once_without_using_an_attempt() {
    let app = spawn_app().await;
    let t0 = app.clock_now_ms();
    enqueue(&app, &job("test", 1, t0)).await;
    let jobs = claim(&app, "w", 10, t0).await;
    assert!(queue::release(&app.state.db, &jobs[0].lease, t0).await.unwrap());
    let again = claim(&app, "w", 10, t0).await;
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].attempts, 1);
    assert!(!queue::complete(&app.state.db, &jobs[0].lease, t0).await.unwrap(), "the released lease is gone");
}

#[tokio::test]
async fn failures_back_off_then_fail_for_good_and_retry_failed_revives() {
    let app = spawn_app().await;
    let db = &app.state.db;
    let backoff = Backoff { base: Duration::from_secs(10), max: Duration::from_secs(3600) };
    let t0 = app.clock_now_ms();
    let id = enqueue(&app, &job("test", 1, t0).max_attempts(3)).await.id();

    let mut now = t0;
    let mut waits = Vec::new();
    for attempt in 1..=2 {
        let jobs = claim(&app, "w", 10, now).await;
        assert_eq!(jobs.len(), 1);
        assert_eq!(jobs[0].attempts, attempt);
        let outcome = queue::fail(db, &jobs[0].lease, "receiver answered 503", &backoff, now).await.unwrap();
        let FailOutcome::Retrying { run_at } = outcome else { panic!("{outcome:?}") };
        let ceiling = 10_000 << (attempt - 1);
        assert!(run_at - now >= ceiling / 2 && run_at - now <= ceiling, "attempt {attempt}: {}", run_at - now);
        let stored = queue::find(db, id).await.unwrap().unwrap();
        assert_eq!((stored.state, stored.run_at), (JobState::Pending, run_at));
        assert_eq!(stored.last_error.as_deref(), Some("receiver answered 503"));
        assert!(claim(&app, "w", 10, run_at - 1).await.is_empty(), "not before the backoff ends");
        waits.push(run_at - now);
        now = run_at;
    }
    assert!(waits[1] >= waits[0], "the wait grows: {waits:?}");

    let jobs = claim(&app, "w", 10, now).await;
    assert_eq!(jobs[0].attempts, 3);
    assert!(jobs[0].is_last_attempt());
    let long_error = "x".repeat(800);
    assert_eq!(queue::fail(db, &jobs[0].lease, &long_error, &backoff, now).await.unwrap(), FailOutcome::Failed);
    let stored = queue::find(db, id).await.unwrap().unwrap();
    assert_eq!(stored.state, JobState::Failed);
    assert_eq!(stored.attempts, 3);
    assert_eq!(stored.last_error.as_ref().map(|e| e.chars().count()), Some(queue::MAX_ERROR_CHARS));
    assert!(claim(&app, "w", 10, now + 86_400_000).await.is_empty(), "a failed job stays failed");

    // A permanent failure fails at once.
    let other = enqueue(&app, &job("test", 2, now).max_attempts(5)).await.id();
    let jobs = claim(&app, "w", 10, now).await;
    assert_eq!(queue::fail_permanently(db, &jobs[0].lease, "43101 no credit", now).await.unwrap(), FailOutcome::Failed);
    assert_eq!(queue::counts(db, "test").await.unwrap().failed, 2);

    // The operator revives what the filter names, with fresh attempts.
    let filter = |error: &str| RetryFilter { error_contains: Some(error.into()), ..RetryFilter::default() };
    assert_eq!(queue::retry_failed(db, "test", &filter("no such error"), now).await.unwrap(), 0);
    assert_eq!(queue::retry_failed(db, "other", &filter("43101"), now).await.unwrap(), 0);
    assert_eq!(queue::retry_failed(db, "test", &filter("43101"), now).await.unwrap(), 1);
    let jobs = claim(&app, "w", 10, now).await;
    assert_eq!((jobs.len(), jobs[0].id, jobs[0].attempts), (1, other, 1));
    let by_id = RetryFilter { job_id: Some(id), payload_contains: Some("\"n\":1".into()), ..RetryFilter::default() };
    assert_eq!(queue::retry_failed(db, "test", &by_id, now).await.unwrap(), 1);
    let jobs = claim(&app, "w", 10, now).await;
    assert_eq!((jobs.len(), jobs[0].id, jobs[0].attempts), (1, id, 1));
}

#[tokio::test]
async fn the_worker_loop_retries_transient_failures_and_stops_on_shutdown() {
    let app = spawn_app().await;
    let now = app.clock_now_ms();
    let mut ids = Vec::new();
    for n in 0..6 {
        ids.push(enqueue(&app, &job("test", n, now)).await.id());
    }
    let poison = enqueue(&app, &NewJob::json("test", &serde_json::json!({ "poison": true }), now).unwrap()).await.id();

    // Each job fails transiently on its first run and succeeds on its second; the poison job fails for good.
    let runs: Arc<Mutex<HashMap<i64, u32>>> = Arc::default();
    let handler_runs = runs.clone();
    let handler = move |job: ClaimedJob| {
        let runs = handler_runs.clone();
        async move {
            let run = {
                let mut runs = runs.lock().unwrap();
                let run = runs.entry(job.id).or_insert(0);
                *run += 1;
                *run
            };
            tokio::time::sleep(Duration::from_millis(5)).await;
            if job.payload.contains("poison") {
                Err(JobError::Permanent("rejected".into()))
            } else if run == 1 {
                Err(JobError::Retry("timeout".into()))
            } else {
                Ok(())
            }
        }
    };
    let options = WorkerOptions {
        batch: 3,
        lease: LEASE,
        idle_sleep: Duration::from_millis(20),
        concurrency: 2,
        backoff: Backoff { base: Duration::from_secs(10), max: Duration::from_secs(60) },
    };
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let db = app.state.db.clone();
    let clock = app.clock.clone();
    let worker = tokio::spawn(async move {
        let owner = queue::worker_owner("test");
        run_worker(&db, &*clock, "test", &owner, &options, handler, shutdown).await
    });

    // The clock stands still: every job runs once and waits for its backoff.
    wait_until(|| async { runs.lock().unwrap().len() == 7 }).await;
    wait_until(|| async { queue::counts(&app.state.db, "test").await.unwrap().leased == 0 }).await;
    let counts = queue::counts(&app.state.db, "test").await.unwrap();
    assert_eq!((counts.pending, counts.failed, counts.done), (6, 1, 0));

    app.clock.advance_ms(60_000);
    wait_until(|| async { queue::counts(&app.state.db, "test").await.unwrap().done == 6 }).await;
    stop.send(true).unwrap();
    let report = tokio::time::timeout(Duration::from_secs(10), worker).await.expect("the worker stops").unwrap();
    assert_eq!((report.claimed, report.completed, report.retried, report.failed), (13, 6, 6, 1));
    assert_eq!((report.lease_lost, report.errors), (0, 0));
    for id in ids {
        assert_eq!(runs.lock().unwrap()[&id], 2);
        assert_eq!(queue::find(&app.state.db, id).await.unwrap().unwrap().state, JobState::Done);
    }
    assert_eq!(queue::find(&app.state.db, poison).await.unwrap().unwrap().last_error.as_deref(), Some("rejected"));
}

#[tokio::test]
async fn a_worker_claims_only_what_it_can_run_and_stops_cleanly() {
    let app = spawn_app().await;
    let now = app.clock_now_ms();
    for n in 0..4 {
        enqueue(&app, &job("test", n, now)).await;
    }
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let stop = Arc::new(stop);
    let handler_stop = stop.clone();
    // The first job to run asks for shutdown. With one job at a time the worker claims one, whatever the batch, so the
    // others are never held in its backlog (where their lease could run out).
    let handler = move |_job: ClaimedJob| {
        let stop = handler_stop.clone();
        async move {
            stop.send(true).unwrap();
            Ok(())
        }
    };
    let options = WorkerOptions { batch: 4, concurrency: 1, ..WorkerOptions::default() };
    let report = tokio::time::timeout(
        Duration::from_secs(10),
        run_worker(&app.state.db, &*app.clock, "test", "w", &options, handler, shutdown),
    )
    .await
    .expect("the worker stops");
    assert_eq!((report.claimed, report.completed, report.released), (1, 1, 0));
    let counts = queue::counts(&app.state.db, "test").await.unwrap();
    assert_eq!((counts.pending, counts.leased, counts.done), (3, 0, 1));
    let jobs = claim(&app, "w2", 10, now).await;
    assert!(jobs.iter().all(|j| j.attempts == 1), "the others were never claimed");
}

async fn wait_until<F, Fut>(condition: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !condition().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
