//! The simulated marketing system (营销系统) under `/sandbox/marketing`: the receiver of our write-back, checking
//! what the real one would check, so that `jobs::writeback` is exercised over real HTTP.
//!
//! - `POST payments`: a payment event, signed with the write-back secret like our feed (`X-Ebill-Timestamp` within
//!   300 s, `X-Ebill-Signature`), with `Idempotency-Key` equal to the event's `event_id`. Each key is booked once:
//!   200 `{"status":"booked"}` the first time, 200 `{"status":"duplicate"}` for the same event again, 409 for another
//!   event under a key already booked; 401 for a bad signature or timestamp, 400 for a malformed event.
//! - `GET payments` → `{"events": [booked events, oldest first], "deliveries": POSTs received, "pending_failures"}`.
//! - `POST failures {"count": n}` → the next `n` POSTs are answered 503, to exercise retries.
//!
//! Memory is bounded: beyond [`MAX_BOOKED`] events the oldest are forgotten (a late repeat of one of those is booked
//! again).

use crate::api::body::{parse_json, read_limited};
use crate::domain::order::{PaymentEvent, PAYMENT_SETTLED};
use crate::domain::user::Platform;
use crate::error::ApiError;
use crate::feed::signature::{self, SignatureError, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use crate::jobs::writeback::IDEMPOTENCY_KEY_HEADER;
use crate::sandbox::platforms::{lock, SandboxPlatforms};
use crate::state::AppState;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::json;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Booked events remembered at most.
pub const MAX_BOOKED: usize = 10_000;
/// Failures that can be asked for at once.
pub const MAX_PENDING_FAILURES: u64 = 1_000;
/// The accepted distance between the event's timestamp and our clock.
const MAX_SKEW_SECS: i64 = 300;
const MAX_BODY_BYTES: usize = 64 * 1024;
const MAX_EVENT_ID_CHARS: usize = 128;

/// What the simulated marketing system remembers.
#[derive(Default)]
pub struct MarketingMemory {
    ledger: Mutex<Ledger>,
    deliveries: AtomicU64,
    pending_failures: AtomicU64,
}

#[derive(Default)]
struct Ledger {
    by_key: HashMap<String, PaymentEvent>,
    /// Keys in booking order, oldest first.
    order: VecDeque<String>,
}

/// What booking an event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Booking {
    Booked,
    /// The same event was booked before under its key.
    Duplicate,
    /// Another event was booked before under the same key.
    Conflict,
}

impl MarketingMemory {
    /// Books `event` under its id, once.
    pub fn book(&self, event: PaymentEvent) -> Booking {
        let mut ledger = lock(&self.ledger);
        if let Some(booked) = ledger.by_key.get(&event.event_id) {
            return if *booked == event { Booking::Duplicate } else { Booking::Conflict };
        }
        while ledger.order.len() >= MAX_BOOKED {
            if let Some(oldest) = ledger.order.pop_front() {
                ledger.by_key.remove(&oldest);
            }
        }
        ledger.order.push_back(event.event_id.clone());
        ledger.by_key.insert(event.event_id.clone(), event);
        Booking::Booked
    }

    /// The booked events, oldest first.
    pub fn booked(&self) -> Vec<PaymentEvent> {
        let ledger = lock(&self.ledger);
        ledger.order.iter().filter_map(|key| ledger.by_key.get(key).cloned()).collect()
    }

    /// POSTs received, whatever their answer.
    pub fn deliveries(&self) -> u64 {
        self.deliveries.load(Ordering::Relaxed)
    }

    pub fn pending_failures(&self) -> u64 {
        self.pending_failures.load(Ordering::Relaxed)
    }

    /// The next `count` deliveries fail (replacing any failures still pending).
    pub fn fail_next(&self, count: u64) {
        self.pending_failures.store(count, Ordering::Relaxed);
    }

    /// Takes one pending failure: true when this delivery must fail.
    fn take_failure(&self) -> bool {
        self.pending_failures.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1)).is_ok()
    }
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/payments", web::post().to(receive))
        .route("/payments", web::get().to(list))
        .route("/failures", web::post().to(fail_next));
}

/// `POST /sandbox/marketing/payments`: one write-back delivery.
async fn receive(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let sandbox = SandboxPlatforms::of(&state)?;
    let memory = &sandbox.marketing;
    memory.deliveries.fetch_add(1, Ordering::Relaxed);
    let body = read_limited(&req, payload, MAX_BODY_BYTES).await?;
    if memory.take_failure() {
        return Err(ApiError::unavailable("SANDBOX_INJECTED_FAILURE", "this delivery fails as asked (failures)"));
    }
    let secret = match &state.credentials.writeback {
        Some(target) => &target.secret,
        None => &sandbox.keys.writeback_secret,
    };
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    signature::verify(
        secret.expose(),
        header(TIMESTAMP_HEADER),
        header(SIGNATURE_HEADER),
        &body,
        state.now_ms(),
        MAX_SKEW_SECS,
    )
    .map_err(signature_error)?;

    let event: PaymentEvent = parse_json(&body)?;
    match header(IDEMPOTENCY_KEY_HEADER) {
        None => return Err(ApiError::bad_request("MISSING_IDEMPOTENCY_KEY", "send the event_id as Idempotency-Key")),
        Some(key) if key != event.event_id => {
            return Err(ApiError::bad_request("IDEMPOTENCY_KEY_MISMATCH", "Idempotency-Key must equal the event_id"))
        }
        Some(_) => {}
    }
    check_event(&event)?;
    match memory.book(event) {
        Booking::Booked => Ok(HttpResponse::Ok().json(json!({ "status": "booked" }))),
        Booking::Duplicate => Ok(HttpResponse::Ok().json(json!({ "status": "duplicate" }))),
        Booking::Conflict => Err(ApiError::conflict(
            "IDEMPOTENCY_KEY_REUSED",
            "another event was already booked under this Idempotency-Key",
        )),
    }
}

/// `GET /sandbox/marketing/payments`: what was booked and how many deliveries came.
async fn list(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let memory = &SandboxPlatforms::of(&state)?.marketing;
    Ok(HttpResponse::Ok().json(json!({
        "events": memory.booked(),
        "deliveries": memory.deliveries(),
        "pending_failures": memory.pending_failures(),
    })))
}

#[derive(Deserialize)]
struct FailuresRequest {
    count: u64,
}

/// `POST /sandbox/marketing/failures`: the next `count` deliveries are answered 503.
async fn fail_next(state: web::Data<AppState>, request: web::Json<FailuresRequest>) -> Result<HttpResponse, ApiError> {
    let memory = &SandboxPlatforms::of(&state)?.marketing;
    if request.count > MAX_PENDING_FAILURES {
        return Err(ApiError::bad_request(
            "INVALID_COUNT",
            format!("`count` must be between 0 and {MAX_PENDING_FAILURES}"),
        ));
    }
    memory.fail_next(request.count);
    Ok(HttpResponse::Ok().json(json!({ "pending_failures": request.count })))
}

fn signature_error(error: SignatureError) -> ApiError {
    let code = match error {
        SignatureError::Missing => "MISSING_SIGNATURE",
        SignatureError::MalformedTimestamp | SignatureError::Stale(_) => "STALE_TIMESTAMP",
        SignatureError::Mismatch => "BAD_SIGNATURE",
    };
    ApiError::unauthorized(code, error.to_string())
}

/// What the marketing system checks of an event before booking it.
fn check_event(event: &PaymentEvent) -> Result<(), ApiError> {
    let invalid = |message: &str| Err(ApiError::bad_request("INVALID_EVENT", message));
    let id_length = event.event_id.chars().count();
    if !(1..=MAX_EVENT_ID_CHARS).contains(&id_length) {
        return invalid("event_id must be 1 to 128 characters");
    }
    if event.event_type != PAYMENT_SETTLED {
        return invalid("event_type must be payment.settled");
    }
    if event.account_no.is_empty() || event.order_no.is_empty() || event.transaction_id.is_empty() {
        return invalid("account_no, order_no and transaction_id are required");
    }
    if Platform::parse(&event.platform).is_none() {
        return invalid("platform must be wechat or alipay");
    }
    if event.amount_fen <= 0 {
        return invalid("amount_fen must be positive");
    }
    if event.surplus_fen < 0 || event.bills.iter().any(|bill| bill.principal_fen < 0 || bill.late_fee_fen < 0) {
        return invalid("principal_fen, late_fee_fen and surplus_fen cannot be negative");
    }
    if event.bills.iter().any(|bill| bill.bill_id.is_empty() || bill.period.is_empty()) {
        return invalid("each bill needs its bill_id and period");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::order::PaidBill;

    fn event(id: &str) -> PaymentEvent {
        PaymentEvent {
            event_id: id.into(),
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

    #[test]
    fn an_event_is_booked_once_per_key() {
        let memory = MarketingMemory::default();
        assert_eq!(memory.book(event("payment-1")), Booking::Booked);
        assert_eq!(memory.book(event("payment-1")), Booking::Duplicate);
        let changed = PaymentEvent { amount_fen: 1, ..event("payment-1") };
        assert_eq!(memory.book(changed), Booking::Conflict);
        assert_eq!(memory.booked(), vec![event("payment-1")]);
    }

    #[test]
    fn the_oldest_events_are_forgotten_beyond_the_bound() {
        let memory = MarketingMemory::default();
        for n in 0..=MAX_BOOKED {
            memory.book(event(&format!("payment-{n}")));
        }
        let booked = memory.booked();
        assert_eq!(booked.len(), MAX_BOOKED);
        assert_eq!(booked[0].event_id, "payment-1");
        assert_eq!(booked[MAX_BOOKED - 1].event_id, format!("payment-{MAX_BOOKED}"));
    }

    #[test]
    fn failures_are_taken_one_per_delivery() {
        let memory = MarketingMemory::default();
        memory.fail_next(2);
        assert!(memory.take_failure());
        assert!(memory.take_failure());
        assert!(!memory.take_failure());
        assert_eq!(memory.pending_failures(), 0);
    }

    #[test]
    fn malformed_events_are_refused() {
        assert!(check_event(&event("payment-1")).is_ok());
        let refused = |e: PaymentEvent| check_event(&e).unwrap_err().code();
        assert_eq!(refused(PaymentEvent { amount_fen: 0, ..event("payment-1") }), "INVALID_EVENT");
        assert_eq!(refused(PaymentEvent { platform: "unionpay".into(), ..event("payment-1") }), "INVALID_EVENT");
        assert_eq!(
            refused(PaymentEvent { event_type: "payment.refunded".into(), ..event("payment-1") }),
            "INVALID_EVENT"
        );
        assert_eq!(refused(event("")), "INVALID_EVENT");
    }
}
