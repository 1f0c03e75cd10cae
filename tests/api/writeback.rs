//! The write-back of settlements to the marketing system: the real worker delivering payment events over HTTP to the
//! sandbox's simulated marketing system (or to a bare receiver recording the wire), retrying after its backoff,
//! failing refused events for good, and the receiver booking each event once and refusing what is not signed.

use crate::helpers::{spawn_app, spawn_app_with, TestApp};
use actix_web::{web, HttpRequest, HttpResponse};
use ebill::domain::order::{payment_event_id, PaidBill, PaymentEvent, PAYMENT_SETTLED};
use ebill::feed::signature::{self, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use ebill::jobs::queue::{self, ClaimedJob, EnqueueOutcome, Job, JobState, NewJob};
use ebill::jobs::writeback::{self, EVENT_HEADER, WRITEBACK_QUEUE};
use ebill::jobs::{JobError, WorkerReport};
use ebill::platform::signed_post::IDEMPOTENCY_KEY_HEADER;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

fn event(payment_id: i64) -> PaymentEvent {
    PaymentEvent {
        event_id: payment_event_id(payment_id),
        event_type: PAYMENT_SETTLED.into(),
        account_no: "3100012345".into(),
        order_no: "EB7012345678901234567".into(),
        platform: "wechat".into(),
        transaction_id: "4200001234202606011234567890".into(),
        amount_fen: 13935,
        paid_at_ms: 1_780_000_000_000,
        bills: vec![PaidBill {
            bill_id: "7012345678901234000".into(),
            period: "2026-05".into(),
            principal_fen: 13923,
            late_fee_fen: 12,
        }],
        surplus_fen: 0,
        surplus_handling: None,
    }
}

/// Enqueues the event the way the settlement does.
async fn enqueue(app: &TestApp, event: &PaymentEvent) -> EnqueueOutcome {
    let now = app.clock_now_ms();
    let job = NewJob::json(WRITEBACK_QUEUE, event, now)
        .unwrap()
        .dedupe_key(event.event_id.clone())
        .max_attempts(app.state.settings.writeback.max_attempts);
    let mut conn = app.state.db.pool().acquire().await.unwrap();
    queue::enqueue(&mut conn, &job, now).await.unwrap()
}

async fn claim_one(app: &TestApp) -> ClaimedJob {
    let lease = writeback::worker_options(&app.state.settings).lease;
    let mut jobs = queue::claim(&app.state.db, WRITEBACK_QUEUE, "test", 1, lease, app.clock_now_ms()).await.unwrap();
    assert_eq!(jobs.len(), 1, "one write-back job is due");
    jobs.remove(0)
}

async fn stored(app: &TestApp, id: i64) -> Job {
    queue::find(&app.state.db, id).await.unwrap().expect("the job exists")
}

/// Polls the job until `condition` holds.
async fn wait_for_job(app: &TestApp, id: i64, condition: impl Fn(&Job) -> bool) -> Job {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let job = stored(app, id).await;
        if condition(&job) {
            return job;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting; the job is {job:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// What the simulated marketing system has received.
async fn received(app: &TestApp) -> (Vec<PaymentEvent>, u64) {
    let response = app.get("/sandbox/marketing/payments").await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    (serde_json::from_value(body["events"].clone()).unwrap(), body["deliveries"].as_u64().unwrap())
}

struct Worker {
    stop: watch::Sender<bool>,
    handle: tokio::task::JoinHandle<WorkerReport>,
}

/// The write-back worker as `ebill serve` runs it.
fn start_worker(app: &TestApp) -> Worker {
    let (stop, shutdown) = watch::channel(false);
    Worker { stop, handle: tokio::spawn(writeback::run(app.state.clone(), shutdown)) }
}

impl Worker {
    async fn stop(self) -> WorkerReport {
        self.stop.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(10), self.handle).await.expect("the worker stops").unwrap()
    }
}

/// Posts `body` to the simulated receiver with the given headers.
async fn post_to_receiver(
    app: &TestApp,
    body: &[u8],
    timestamp: &str,
    signature: &str,
    idempotency_key: &str,
) -> (u16, Value) {
    let response = app
        .client
        .post(app.url("/sandbox/marketing/payments"))
        .header("content-type", "application/json")
        .header(TIMESTAMP_HEADER, timestamp)
        .header(SIGNATURE_HEADER, signature)
        .header(IDEMPOTENCY_KEY_HEADER, idempotency_key)
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

fn writeback_secret(app: &TestApp) -> Vec<u8> {
    app.state.credentials.writeback.as_ref().expect("sandbox mode has a write-back target").secret.expose().to_vec()
}

fn now_secs(app: &TestApp) -> String {
    (app.clock_now_ms() / 1000).to_string()
}

#[tokio::test]
async fn a_settled_payment_is_booked_by_the_marketing_system() {
    let app = spawn_app().await;
    let event = event(1);
    let id = enqueue(&app, &event).await.id();
    let worker = start_worker(&app);
    let done = wait_for_job(&app, id, |job| job.state == JobState::Done).await;
    let report = worker.stop().await;
    assert_eq!((report.claimed, report.completed, report.retried, report.failed), (1, 1, 0, 0));
    assert_eq!((done.attempts, done.last_error), (1, None));
    assert_eq!(received(&app).await, (vec![event], 1));
}

#[tokio::test]
async fn a_delivery_is_signed_over_the_exact_bytes_sent() {
    let (url, captured) = recording_receiver().await;
    let app = spawn_app_with(|settings| settings.writeback.url = Some(url)).await;
    let event = event(2);
    enqueue(&app, &event).await;
    let job = claim_one(&app).await;
    assert_eq!(writeback::deliver(&app.state, &job).await, Ok(()));

    let requests = captured.lock().unwrap().clone();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(
        (request.method.as_str(), request.path_and_query.as_str()),
        ("POST", "/marketing/payments?channel=ebill")
    );
    let header = |name: &str| request.headers.get(&name.to_ascii_lowercase()).map(String::as_str);
    assert_eq!(header("content-type"), Some("application/json"));
    assert_eq!(header(EVENT_HEADER), Some("payment.settled"));
    assert_eq!(header(IDEMPOTENCY_KEY_HEADER), Some(event.event_id.as_str()));
    assert_eq!(header(TIMESTAMP_HEADER), Some(now_secs(&app).as_str()));
    let checked = signature::verify(
        &writeback_secret(&app),
        header(TIMESTAMP_HEADER),
        header(SIGNATURE_HEADER),
        &request.body,
        app.clock_now_ms(),
        300,
    );
    assert!(checked.is_ok(), "{checked:?}");
    assert_eq!(serde_json::from_slice::<PaymentEvent>(&request.body).unwrap(), event);
}

#[tokio::test]
async fn the_same_event_enqueued_twice_is_one_job() {
    let app = spawn_app().await;
    let first = enqueue(&app, &event(3)).await;
    assert!(matches!(first, EnqueueOutcome::Created(_)));
    assert_eq!(enqueue(&app, &event(3)).await, EnqueueOutcome::AlreadyQueued(first.id()));
    let counts = queue::counts(&app.state.db, WRITEBACK_QUEUE).await.unwrap();
    assert_eq!((counts.pending, counts.leased, counts.done, counts.failed), (1, 0, 0, 0));
    assert_eq!(stored(&app, first.id()).await.max_attempts, app.state.settings.writeback.max_attempts);
}

#[tokio::test]
async fn an_event_delivered_again_after_a_lost_answer_is_booked_once() {
    let app = spawn_app().await;
    let event = event(4);
    let id = enqueue(&app, &event).await.id();
    // A worker delivers, then dies before recording it: the answer is lost with it.
    let job = claim_one(&app).await;
    assert_eq!(writeback::deliver(&app.state, &job).await, Ok(()));
    // Its lease runs out and the job is delivered again.
    let lease = writeback::worker_options(&app.state.settings).lease;
    app.clock.advance_ms(lease.as_millis() as i64 + 1_000);
    let worker = start_worker(&app);
    let done = wait_for_job(&app, id, |job| job.state == JobState::Done).await;
    worker.stop().await;
    assert_eq!(done.attempts, 2);
    assert_eq!(received(&app).await, (vec![event], 2));
}

#[tokio::test]
async fn a_failing_receiver_is_retried_after_the_backoff_until_it_books() {
    let app = spawn_app().await;
    let response = app.post_json("/sandbox/marketing/failures", &json!({ "count": 2 })).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<Value>().await.unwrap(), json!({ "pending_failures": 2 }));
    let event = event(5);
    let id = enqueue(&app, &event).await.id();
    let worker = start_worker(&app);

    // Attempt 1 meets a 503 and waits 5 to 10 s (the clock stands still meanwhile).
    let failed_at = app.clock_now_ms();
    let first = wait_for_job(&app, id, |job| job.attempts == 1 && job.state == JobState::Pending).await;
    let error = first.last_error.clone().unwrap();
    assert!(error.starts_with("write-back to 127.0.0.1:"), "{error}");
    assert!(error.contains("HTTP 503") && error.contains("SANDBOX_INJECTED_FAILURE"), "{error}");
    assert!(!error.contains("/sandbox/marketing"), "no path in the stored error: {error}");
    assert!((failed_at + 5_000..=failed_at + 10_000).contains(&first.run_at), "{first:?}");

    // Attempt 2, once the clock reaches the new run_at, fails again and waits 10 to 20 s.
    app.clock.set(first.run_at);
    let second = wait_for_job(&app, id, |job| job.attempts == 2 && job.state == JobState::Pending).await;
    assert!((first.run_at + 10_000..=first.run_at + 20_000).contains(&second.run_at), "{second:?}");
    assert!(second.last_error.unwrap().contains("HTTP 503"));

    app.clock.set(second.run_at);
    let done = wait_for_job(&app, id, |job| job.state == JobState::Done).await;
    let report = worker.stop().await;
    assert_eq!(done.attempts, 3);
    assert_eq!((report.claimed, report.completed, report.retried, report.failed), (3, 1, 2, 0));
    assert_eq!(received(&app).await, (vec![event], 3));
}

#[tokio::test]
async fn an_event_the_receiver_refuses_fails_for_good_with_its_reason() {
    let app = spawn_app().await;
    let refused = PaymentEvent { amount_fen: 0, ..event(6) };
    let id = enqueue(&app, &refused).await.id();
    let worker = start_worker(&app);
    let failed = wait_for_job(&app, id, |job| job.state == JobState::Failed).await;
    let report = worker.stop().await;
    assert_eq!((report.completed, report.retried, report.failed), (0, 0, 1));
    assert_eq!(failed.attempts, 1, "a refusal is not retried");
    let error = failed.last_error.unwrap();
    assert!(error.starts_with("write-back refused by 127.0.0.1:"), "{error}");
    assert!(error.contains("HTTP 400") && error.contains("INVALID_EVENT"), "{error}");
    assert!(error.contains("amount_fen must be positive"), "{error}");
    assert!(!error.contains(&String::from_utf8_lossy(&writeback_secret(&app)).to_string()));
    assert_eq!(received(&app).await, (vec![], 1));
}

#[tokio::test]
async fn without_an_endpoint_the_event_waits_for_one() {
    let app = spawn_app().await;
    enqueue(&app, &event(7)).await;
    let job = claim_one(&app).await;
    let mut state = app.state.clone();
    let mut credentials = (*state.credentials).clone();
    credentials.writeback = None;
    state.credentials = Arc::new(credentials);
    assert_eq!(
        writeback::deliver(&state, &job).await,
        Err(JobError::Retry("no write-back endpoint configured".into()))
    );
}

#[tokio::test]
async fn an_unreachable_endpoint_is_retried_and_its_url_kept_out_of_the_error() {
    // Port 9 (discard) is closed on test machines: the connection is refused.
    let url = "http://operator:hunter2@127.0.0.1:9/private/path?token=s3cr3t".to_string();
    let app = spawn_app_with(|settings| settings.writeback.url = Some(url)).await;
    enqueue(&app, &event(8)).await;
    let job = claim_one(&app).await;
    let Err(JobError::Retry(error)) = writeback::deliver(&app.state, &job).await else {
        panic!("a transport failure is retried");
    };
    assert!(error.starts_with("write-back to 127.0.0.1:9 "), "{error}");
    for secret in ["operator", "hunter2", "private", "token", "s3cr3t"] {
        assert!(!error.contains(secret), "{error}");
    }
}

#[tokio::test]
async fn a_receiver_hanging_up_is_retried_and_its_url_kept_out_of_the_error() {
    let port = misbehaving_receiver(false).await;
    let url = format!("http://127.0.0.1:{port}/private/path?token=s3cr3t");
    let app = spawn_app_with(|settings| settings.writeback.url = Some(url)).await;
    enqueue(&app, &event(11)).await;
    let job = claim_one(&app).await;
    let Err(JobError::Retry(error)) = writeback::deliver(&app.state, &job).await else {
        panic!("a connection closed without an answer is retried");
    };
    assert!(error.starts_with(&format!("write-back to 127.0.0.1:{port} failed: ")), "{error}");
    for secret in ["private", "token", "s3cr3t", "http://"] {
        assert!(!error.contains(secret), "{error}");
    }
}

#[tokio::test]
async fn a_silent_receiver_times_out_and_is_retried() {
    let port = misbehaving_receiver(true).await;
    let url = format!("http://127.0.0.1:{port}/payments");
    let app = spawn_app_with(|settings| {
        settings.writeback.url = Some(url);
        settings.writeback.timeout_secs = 1;
    })
    .await;
    enqueue(&app, &event(12)).await;
    let job = claim_one(&app).await;
    let outcome = tokio::time::timeout(Duration::from_secs(10), writeback::deliver(&app.state, &job)).await;
    assert_eq!(
        outcome.expect("the delivery's own timeout fires"),
        Err(JobError::Retry(format!("write-back to 127.0.0.1:{port} timed out")))
    );
}

#[tokio::test]
async fn the_receiver_refuses_forged_stale_and_unsigned_events() {
    let app = spawn_app().await;
    let event = event(9);
    let body = serde_json::to_vec(&event).unwrap();
    let now = now_secs(&app);

    let forged = signature::sign(b"not-the-write-back-secret", &now, &body);
    let (status, answer) = post_to_receiver(&app, &body, &now, &forged, &event.event_id).await;
    assert_eq!((status, answer["code"].as_str()), (401, Some("BAD_SIGNATURE")));
    assert!(answer["message"].is_string());

    let stale = (app.clock_now_ms() / 1000 - 301).to_string();
    let signed_stale = signature::sign(&writeback_secret(&app), &stale, &body);
    let (status, answer) = post_to_receiver(&app, &body, &stale, &signed_stale, &event.event_id).await;
    assert_eq!((status, answer["code"].as_str()), (401, Some("STALE_TIMESTAMP")));

    let response = app.client.post(app.url("/sandbox/marketing/payments")).body(body.clone()).send().await.unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(response.json::<Value>().await.unwrap()["code"], "MISSING_SIGNATURE");

    // A signed body changed on the way.
    let signature = signature::sign(&writeback_secret(&app), &now, &body);
    let tampered = serde_json::to_vec(&PaymentEvent { amount_fen: 1, ..event.clone() }).unwrap();
    let (status, answer) = post_to_receiver(&app, &tampered, &now, &signature, &event.event_id).await;
    assert_eq!((status, answer["code"].as_str()), (401, Some("BAD_SIGNATURE")));

    assert_eq!(received(&app).await, (vec![], 4));
}

#[tokio::test]
async fn the_receiver_books_each_idempotency_key_once() {
    let app = spawn_app().await;
    let secret = writeback_secret(&app);
    let now = now_secs(&app);
    let event = event(10);
    let body = serde_json::to_vec(&event).unwrap();
    let signature = signature::sign(&secret, &now, &body);

    let (status, answer) = post_to_receiver(&app, &body, &now, &signature, "payment-999").await;
    assert_eq!((status, answer["code"].as_str()), (400, Some("IDEMPOTENCY_KEY_MISMATCH")));
    let malformed = b"{\"event_id\": \"payment-10\"}";
    let signed_malformed = signature::sign(&secret, &now, malformed);
    let (status, answer) = post_to_receiver(&app, malformed, &now, &signed_malformed, &event.event_id).await;
    assert_eq!((status, answer["code"].as_str()), (400, Some("MALFORMED_JSON")));

    let (status, answer) = post_to_receiver(&app, &body, &now, &signature, &event.event_id).await;
    assert_eq!((status, answer), (200, json!({ "status": "booked" })));
    let (status, answer) = post_to_receiver(&app, &body, &now, &signature, &event.event_id).await;
    assert_eq!((status, answer), (200, json!({ "status": "duplicate" })));
    // Another event under a key already booked is a producer's bug, not a repeat.
    let other = serde_json::to_vec(&PaymentEvent { amount_fen: 1, ..event.clone() }).unwrap();
    let signed_other = signature::sign(&secret, &now, &other);
    let (status, answer) = post_to_receiver(&app, &other, &now, &signed_other, &event.event_id).await;
    assert_eq!((status, answer["code"].as_str()), (409, Some("IDEMPOTENCY_KEY_REUSED")));

    assert_eq!(received(&app).await, (vec![event], 5));
    let response = app.post_json("/sandbox/marketing/failures", &json!({ "count": 1_000_000 })).await;
    assert_eq!(response.status(), 400);
}

/// One request as a bare receiver saw it.
#[derive(Clone)]
struct Recorded {
    method: String,
    path_and_query: String,
    /// By lower-case name.
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

/// A receiver that records every request and answers 200; its URL carries a path and a query of its own.
async fn recording_receiver() -> (String, Arc<Mutex<Vec<Recorded>>>) {
    let captured = Arc::new(Mutex::new(Vec::new()));
    let sink = captured.clone();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = actix_web::HttpServer::new(move || {
        let sink = sink.clone();
        actix_web::App::new().default_service(web::to(move |req: HttpRequest, body: web::Bytes| {
            let sink = sink.clone();
            async move {
                let headers = req
                    .headers()
                    .iter()
                    .map(|(name, value)| (name.as_str().to_owned(), value.to_str().unwrap_or_default().to_owned()))
                    .collect();
                let path_and_query = req.uri().path_and_query().map(|p| p.to_string()).unwrap_or_default();
                sink.lock().unwrap().push(Recorded {
                    method: req.method().to_string(),
                    path_and_query,
                    headers,
                    body: body.to_vec(),
                });
                HttpResponse::Ok().json(json!({ "status": "booked" }))
            }
        }))
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    tokio::spawn(server);
    (format!("http://127.0.0.1:{port}/marketing/payments?channel=ebill"), captured)
}

/// A receiver that reads each request and then hangs up, or (`silent`) keeps the connection open without answering.
async fn misbehaving_receiver(silent: bool) -> u16 {
    use tokio::io::AsyncReadExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut request = [0u8; 4096];
                let _ = socket.read(&mut request).await;
                if silent {
                    tokio::time::sleep(Duration::from_secs(30)).await;
                }
            });
        }
    });
    port
}
