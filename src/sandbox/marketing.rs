//! The simulated marketing system (营销系统) under `/sandbox/marketing`: the receiver of our write-back, checking
//! what the real one would check, so that `jobs::writeback` is exercised over real HTTP.
//!
//! - `POST payments`: a write-back event (`payment.settled`, or `payment.refunded` for a staff refund that went
//!   through), signed with the write-back secret like our feed (`X-Ebill-Timestamp` within 300 s,
//!   `X-Ebill-Signature`), with `Idempotency-Key` equal to the event's `event_id` and `X-Ebill-Event`, when sent,
//!   equal to its `event_type`. A refund's parts (surplus and bills) must add up to its amount. Each key is booked once:
//!   200 `{"status":"booked"}` the first time, 200 `{"status":"duplicate"}` for the same event again, 409 for another
//!   event under a key already booked; 401 for a bad signature or timestamp, 400 for a malformed event.
//! - `GET payments` → `{"events": [booked events, oldest first], "deliveries": POSTs received, "pending_failures"}`.
//! - `POST failures {"count": n}` → the next `n` POSTs are answered 503, to exercise retries.
//!
//! It also issues bills, as the real one does through our feed (for the demo's "new bill" button):
//! - `POST issue-bill {"account_no"}` builds the account's next bill (see [`next_bill`]) and POSTs it, signed with
//!   the feed secret, to this instance's `/integration/v1/bills`; answers 200 `{"bill": the item sent, "feed_status":
//!   our feed's HTTP status, "feed_reply": our feed's JSON answer}`, 404 `UNKNOWN_ACCOUNT`, 502 `FEED_UNREACHABLE`.
//!
//! Memory is bounded: beyond [`MAX_BOOKED`] events the oldest are forgotten (a late repeat of one of those is booked
//! again).

use crate::api::body::{parse_json, read_limited};
use crate::db::accounts;
use crate::db::bill_reads::{self, BillFilter};
use crate::domain::account::{Account, AccountNo, AccountType};
use crate::domain::bill::{Bill, BillInput, MeterReading, TouBand};
use crate::domain::calendar::{beijing_date, BillingPeriod};
use crate::domain::money::{Fen, UnitPrice};
use crate::domain::order::{PaymentEvent, PAYMENT_SETTLED};
use crate::domain::refund::{RefundEvent, PAYMENT_REFUNDED};
use crate::domain::tariff::{tou_lines, TieredTariff};
use crate::domain::user::Platform;
use crate::error::ApiError;
use crate::feed::signature::{self, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use crate::jobs::writeback::{WritebackEvent, EVENT_HEADER};
use crate::platform::signed_post::IDEMPOTENCY_KEY_HEADER;
use crate::sandbox::bounded::Bounded;
use crate::sandbox::failures::{check_failure_count, FailureSwitch, FailuresRequest};
use crate::sandbox::platforms::{lock, SandboxPlatforms};
use crate::sandbox::signed;
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{Days, NaiveDate};
use rand::Rng;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Booked events remembered at most.
pub const MAX_BOOKED: usize = 10_000;
/// The accepted distance between the event's timestamp and our clock.
const MAX_BODY_BYTES: usize = 64 * 1024;
const MAX_EVENT_ID_CHARS: usize = 128;
/// A bill is due this long after it is issued.
const DAYS_TO_PAY: u64 = 20;
/// How long the marketing system waits for our feed.
const FEED_TIMEOUT: Duration = Duration::from_secs(10);
/// A month's consumption of an account without bills yet, in kWh.
const FIRST_USAGE_RESIDENTIAL: i64 = 210;
const FIRST_USAGE_NON_RESIDENTIAL: i64 = 900;

/// What the simulated marketing system remembers.
pub struct MarketingMemory {
    /// Booked events by their key (the event id), at most [`MAX_BOOKED`].
    ledger: Mutex<Bounded<WritebackEvent>>,
    deliveries: AtomicU64,
    failures: FailureSwitch,
}

impl Default for MarketingMemory {
    fn default() -> Self {
        MarketingMemory {
            ledger: Mutex::new(Bounded::with_capacity(MAX_BOOKED)),
            deliveries: AtomicU64::default(),
            failures: FailureSwitch::default(),
        }
    }
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
    pub fn book(&self, event: WritebackEvent) -> Booking {
        let mut ledger = lock(&self.ledger);
        if let Some(booked) = ledger.get(event.event_id()) {
            return if *booked == event { Booking::Duplicate } else { Booking::Conflict };
        }
        ledger.insert_new(event.event_id().to_owned(), event);
        Booking::Booked
    }

    /// The booked events, oldest first.
    pub fn booked(&self) -> Vec<WritebackEvent> {
        lock(&self.ledger).values_in_arrival_order().cloned().collect()
    }

    /// POSTs received, whatever their answer.
    pub fn deliveries(&self) -> u64 {
        self.deliveries.load(Ordering::Relaxed)
    }

    pub fn pending_failures(&self) -> u64 {
        self.failures.pending()
    }

    /// The next `count` deliveries fail (replacing any failures still pending).
    pub fn fail_next(&self, count: u64) {
        self.failures.arm(count, 503);
    }
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/payments", web::post().to(receive))
        .route("/payments", web::get().to(list))
        .route("/failures", web::post().to(fail_next))
        .route("/issue-bill", web::post().to(issue_bill));
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
    if memory.failures.take().is_some() {
        return Err(ApiError::unavailable("SANDBOX_INJECTED_FAILURE", "this delivery fails as asked (failures)"));
    }
    let secret = match &state.credentials.writeback {
        Some(target) => &target.secret,
        None => &sandbox.keys.writeback_secret,
    };
    signed::verify(&req, &body, secret, state.now_ms())?;
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());

    let event = read_event(&body)?;
    match header(IDEMPOTENCY_KEY_HEADER) {
        None => return Err(ApiError::bad_request("MISSING_IDEMPOTENCY_KEY", "send the event_id as Idempotency-Key")),
        Some(key) if key != event.event_id() => {
            return Err(ApiError::bad_request("IDEMPOTENCY_KEY_MISMATCH", "Idempotency-Key must equal the event_id"))
        }
        Some(_) => {}
    }
    if header(EVENT_HEADER).is_some_and(|named| named != event.event_type()) {
        return Err(ApiError::bad_request("EVENT_TYPE_MISMATCH", "X-Ebill-Event must equal the event_type"));
    }
    match &event {
        WritebackEvent::Settled(settled) => check_event(settled)?,
        WritebackEvent::Refunded(refunded) => check_refund_event(refunded)?,
    }
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

/// `POST /sandbox/marketing/failures`: the next `count` deliveries are answered 503.
async fn fail_next(state: web::Data<AppState>, request: web::Json<FailuresRequest>) -> Result<HttpResponse, ApiError> {
    let memory = &SandboxPlatforms::of(&state)?.marketing;
    check_failure_count(request.count)?;
    memory.fail_next(request.count);
    Ok(HttpResponse::Ok().json(json!({ "pending_failures": request.count })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IssueBillRequest {
    account_no: String,
}

/// `POST /sandbox/marketing/issue-bill`: the account's next bill, sent through our feed.
async fn issue_bill(
    state: web::Data<AppState>,
    request: web::Json<IssueBillRequest>,
) -> Result<HttpResponse, ApiError> {
    let sandbox = SandboxPlatforms::of(&state)?;
    let account_no = AccountNo::parse(request.account_no.trim())
        .map_err(|reason| ApiError::bad_request("INVALID_ACCOUNT_NO", reason))?;
    let pool = state.db.pool();
    let account = accounts::find(pool, &account_no)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| {
            ApiError::new(StatusCode::NOT_FOUND, "UNKNOWN_ACCOUNT", "the marketing system has no such account")
        })?
        .account;
    let latest = bill_reads::list_for_account(pool, &account_no, &BillFilter::default(), 1)
        .await
        .map_err(ApiError::internal)?
        .into_iter()
        .next()
        .map(|stored| stored.bill);
    // A month like the last, give or take.
    let percent = rand::thread_rng().gen_range(90..=115);
    let usage_kwh = next_usage(account.account_type, latest.as_ref(), percent);
    let today = beijing_date(state.now_ms());
    let bill = next_bill(&account, latest.as_ref(), today, usage_kwh).ok_or_else(|| {
        ApiError::conflict("NO_NEXT_BILL", "the account's next bill would be out of range (period or readings)")
    })?;
    let item = bill_item(&bill);
    let (feed_status, feed_reply) = feed_bill(&state, sandbox, &item).await?;
    Ok(HttpResponse::Ok().json(json!({ "bill": item, "feed_status": feed_status, "feed_reply": feed_reply })))
}

/// Next month's consumption: `percent` of the latest bill's, or of a typical first month.
fn next_usage(account_type: AccountType, latest: Option<&Bill>, percent: i64) -> i64 {
    let base = match (latest, account_type) {
        (Some(bill), _) if bill.usage_kwh > 0 => bill.usage_kwh,
        (_, AccountType::Residential) => FIRST_USAGE_RESIDENTIAL,
        (_, AccountType::NonResidential) => FIRST_USAGE_NON_RESIDENTIAL,
    };
    (base.saturating_mul(percent) / 100).max(1)
}

/// The bill the marketing system issues next for `account`: the period after `latest` (`today`'s month when there
/// is none), the meter going on from `latest`'s end reading, about `usage_kwh` (whole meter steps) priced like
/// `latest` — its time-of-use bands and prices, else the residential tiered tariff, else a commercial time-of-use
/// tariff — issued `today` (or on the period's first day when the period has not begun: the feed refuses a bill
/// issued before its period), due 20 days later, revision 1, unpaid. `None` when out of range.
fn next_bill(account: &Account, latest: Option<&Bill>, today: NaiveDate, usage_kwh: i64) -> Option<BillInput> {
    let period = match latest {
        Some(bill) => bill.period.plus_months(1)?,
        None => BillingPeriod::of_date(today)?,
    };
    let issued = today.max(period.first_day());
    let due = issued.checked_add_days(Days::new(DAYS_TO_PAY))?;
    let (start, multiplier) = latest.map_or((0, 1), |bill| (bill.meter.end, bill.meter.multiplier.max(1)));
    let steps = (usage_kwh.saturating_add(multiplier / 2) / multiplier).max(1);
    let usage_kwh = steps.checked_mul(multiplier)?;
    let history = latest.map(|bill| bill.tou_lines.as_slice()).unwrap_or_default();
    let (tier_lines, tou) = if !history.is_empty() {
        let history_kwh: i64 = history.iter().map(|line| line.kwh).sum();
        let mut left = usage_kwh;
        let mut bands: Vec<(TouBand, i64, UnitPrice)> = Vec::with_capacity(history.len());
        for (index, line) in history.iter().enumerate() {
            let kwh = if index + 1 == history.len() {
                left
            } else {
                // Each band keeps its share of the latest bill's consumption; the last takes the rest.
                i64::try_from(i128::from(usage_kwh) * i128::from(line.kwh) / i128::from(history_kwh.max(1))).ok()?
            };
            left -= kwh;
            bands.push((line.band, kwh, line.unit_price));
        }
        (Vec::new(), tou_lines(&bands))
    } else if account.account_type == AccountType::Residential {
        (TieredTariff::typical_residential().lines(usage_kwh), Vec::new())
    } else {
        let peak = usage_kwh * 45 / 100;
        let flat = (usage_kwh - peak) / 2;
        let bands = [
            (TouBand::Peak, peak, UnitPrice::from_micros(987_000, 4)),
            (TouBand::Flat, flat, UnitPrice::from_micros(629_000, 4)),
            (TouBand::Valley, usage_kwh - peak - flat, UnitPrice::from_micros(284_000, 4)),
        ];
        (Vec::new(), tou_lines(&bands))
    };
    let total = Fen::checked_sum(tier_lines.iter().map(|l| l.amount_fen).chain(tou.iter().map(|l| l.amount_fen)))?;
    Some(BillInput {
        account_no: account.account_no.as_str().to_owned(),
        period: period.to_string(),
        issue_date: issued.to_string(),
        due_date: due.to_string(),
        revision: 1,
        meter: MeterReading { start, end: start.checked_add(steps)?, multiplier },
        usage_kwh,
        tier_lines,
        tou_lines: tou,
        other_charges: Vec::new(),
        total_fen: total.value(),
        paid_fen: 0,
    })
}

/// A bill as the feed's JSON item.
fn bill_item(bill: &BillInput) -> Value {
    json!({
        "account_no": bill.account_no,
        "period": bill.period,
        "issue_date": bill.issue_date,
        "due_date": bill.due_date,
        "revision": bill.revision,
        "meter": bill.meter,
        "usage_kwh": bill.usage_kwh,
        "tier_lines": bill.tier_lines,
        "tou_lines": bill.tou_lines,
        "other_charges": bill.other_charges,
        "total_fen": bill.total_fen,
        "paid_fen": bill.paid_fen,
    })
}

/// POSTs `{"items": [item]}` to this instance's bill feed, signed now with the feed secret as the marketing system
/// signs; answers the feed's status and JSON answer.
async fn feed_bill(state: &AppState, sandbox: &SandboxPlatforms, item: &Value) -> Result<(u16, Value), ApiError> {
    let secret = state
        .feed_secret
        .as_ref()
        .ok_or_else(|| ApiError::unavailable("FEED_NOT_CONFIGURED", "the feed has no secret: it takes no bills"))?;
    let body = serde_json::to_vec(&json!({ "items": [item] })).map_err(ApiError::internal)?;
    let timestamp = state.now_ms().div_euclid(1000).to_string();
    let signature = signature::sign(secret.expose(), &timestamp, &body);
    let unreachable = |error: reqwest::Error| {
        ApiError::new(
            StatusCode::BAD_GATEWAY,
            "FEED_UNREACHABLE",
            format!("the feed could not be reached: {}", error.without_url()),
        )
    };
    let response = state
        .http
        .post(format!("{}/integration/v1/bills", sandbox.self_base_url))
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(TIMESTAMP_HEADER, timestamp)
        .header(SIGNATURE_HEADER, signature)
        .timeout(FEED_TIMEOUT)
        .body(body)
        .send()
        .await
        .map_err(unreachable)?;
    let status = response.status().as_u16();
    let answer = response.bytes().await.map_err(unreachable)?;
    let reply = serde_json::from_slice(&answer)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&answer).into_owned()));
    Ok((status, reply))
}

/// An event by its `event_type`: 400 `MALFORMED_JSON` when it is not one, `INVALID_EVENT` for another type.
fn read_event(body: &[u8]) -> Result<WritebackEvent, ApiError> {
    #[derive(Deserialize)]
    struct Typed {
        event_type: String,
    }
    let typed: Typed = parse_json(body)?;
    match typed.event_type.as_str() {
        PAYMENT_SETTLED => parse_json(body).map(WritebackEvent::Settled),
        PAYMENT_REFUNDED => parse_json(body).map(WritebackEvent::Refunded),
        _ => Err(ApiError::bad_request("INVALID_EVENT", "event_type must be payment.settled or payment.refunded")),
    }
}

/// What the marketing system checks of a refund before booking it: the payment it names, and parts (surplus and
/// bills) that add up to its amount.
fn check_refund_event(event: &RefundEvent) -> Result<(), ApiError> {
    let invalid = |message: &str| Err(ApiError::bad_request("INVALID_EVENT", message));
    if !(1..=MAX_EVENT_ID_CHARS).contains(&event.event_id.chars().count()) {
        return invalid("event_id must be 1 to 128 characters");
    }
    if event.event_type != PAYMENT_REFUNDED {
        return invalid("event_type must be payment.refunded");
    }
    if [&event.account_no, &event.order_no, &event.transaction_id, &event.out_refund_no].iter().any(|f| f.is_empty()) {
        return invalid("account_no, order_no, transaction_id and out_refund_no are required");
    }
    if Platform::parse(&event.platform).is_none() {
        return invalid("platform must be wechat or alipay");
    }
    if event.amount_fen <= 0 {
        return invalid("amount_fen must be positive");
    }
    if event.from_surplus_fen < 0 || event.bills.iter().any(|bill| bill.principal_fen < 0 || bill.late_fee_fen < 0) {
        return invalid("principal_fen, late_fee_fen and from_surplus_fen cannot be negative");
    }
    if event.bills.iter().any(|bill| bill.bill_id.is_empty() || bill.period.is_empty()) {
        return invalid("each bill needs its bill_id and period");
    }
    let parts = event.bills.iter().try_fold(event.from_surplus_fen, |sum, bill| {
        sum.checked_add(bill.principal_fen)?.checked_add(bill.late_fee_fen)
    });
    if parts != Some(event.amount_fen) {
        return invalid("from_surplus_fen and the bills' parts must add up to amount_fen");
    }
    Ok(())
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

    fn settled(id: &str) -> WritebackEvent {
        WritebackEvent::Settled(event(id))
    }

    fn refund(id: &str) -> RefundEvent {
        RefundEvent {
            event_id: id.into(),
            event_type: PAYMENT_REFUNDED.into(),
            account_no: "3100012345".into(),
            order_no: "EB7012345678901234567".into(),
            platform: "wechat".into(),
            transaction_id: "4200001234202606011234567890".into(),
            out_refund_no: "RF7012345678901234999".into(),
            platform_refund_id: Some("50300001234202606011234567890".into()),
            amount_fen: 1012,
            refunded_at_ms: 1_780_000_000_000,
            bills: vec![PaidBill {
                bill_id: "7012345678901234000".into(),
                period: "2026-05".into(),
                principal_fen: 1000,
                late_fee_fen: 12,
            }],
            from_surplus_fen: 0,
            reason: "客户申请部分退款".into(),
        }
    }

    #[test]
    fn an_event_is_booked_once_per_key() {
        let memory = MarketingMemory::default();
        assert_eq!(memory.book(settled("payment-1")), Booking::Booked);
        assert_eq!(memory.book(settled("payment-1")), Booking::Duplicate);
        let changed = PaymentEvent { amount_fen: 1, ..event("payment-1") };
        assert_eq!(memory.book(WritebackEvent::Settled(changed)), Booking::Conflict);
        assert_eq!(memory.book(WritebackEvent::Refunded(refund("refund-1"))), Booking::Booked);
        assert_eq!(memory.booked(), vec![settled("payment-1"), WritebackEvent::Refunded(refund("refund-1"))]);
    }

    #[test]
    fn the_oldest_events_are_forgotten_beyond_the_bound() {
        let memory = MarketingMemory::default();
        for n in 0..=MAX_BOOKED {
            memory.book(settled(&format!("payment-{n}")));
        }
        let booked = memory.booked();
        assert_eq!(booked.len(), MAX_BOOKED);
        assert_eq!(booked[0].event_id(), "payment-1");
        assert_eq!(booked[MAX_BOOKED - 1].event_id(), format!("payment-{MAX_BOOKED}"));
    }

    #[test]
    fn events_are_read_by_their_type() {
        let body = serde_json::to_vec(&refund("refund-1")).unwrap();
        assert_eq!(read_event(&body).unwrap(), WritebackEvent::Refunded(refund("refund-1")));
        let body = serde_json::to_vec(&event("payment-1")).unwrap();
        assert_eq!(read_event(&body).unwrap(), settled("payment-1"));
        assert_eq!(read_event(br#"{"event_id":"x"}"#).unwrap_err().code(), "MALFORMED_JSON");
        assert_eq!(read_event(br#"{"event_type":"payment.voided"}"#).unwrap_err().code(), "INVALID_EVENT");
    }

    #[test]
    fn malformed_refunds_are_refused() {
        assert!(check_refund_event(&refund("refund-1")).is_ok());
        let refused = |e: RefundEvent| check_refund_event(&e).unwrap_err().code();
        assert_eq!(refused(RefundEvent { amount_fen: 1013, ..refund("refund-1") }), "INVALID_EVENT");
        assert_eq!(refused(RefundEvent { amount_fen: 0, bills: vec![], ..refund("refund-1") }), "INVALID_EVENT");
        assert_eq!(refused(RefundEvent { from_surplus_fen: -1, ..refund("refund-1") }), "INVALID_EVENT");
        assert_eq!(refused(RefundEvent { out_refund_no: String::new(), ..refund("refund-1") }), "INVALID_EVENT");
        assert_eq!(refused(RefundEvent { platform: "unionpay".into(), ..refund("refund-1") }), "INVALID_EVENT");
        let from_surplus = RefundEvent { from_surplus_fen: 1012, bills: vec![], ..refund("refund-1") };
        assert!(check_refund_event(&from_surplus).is_ok());
    }

    #[test]
    fn failures_are_taken_one_per_delivery() {
        let memory = MarketingMemory::default();
        memory.fail_next(2);
        assert!(memory.failures.take().is_some());
        assert!(memory.failures.take().is_some());
        assert!(memory.failures.take().is_none());
        assert_eq!(memory.pending_failures(), 0);
    }

    fn account(account_type: AccountType) -> Account {
        Account {
            account_no: AccountNo::parse("3100012345").unwrap(),
            holder_name: "张三".into(),
            address: "上海市浦东新区世纪大道100号".into(),
            phone: "13812341234".into(),
            account_type,
            supply_unit: "浦东供电公司".into(),
        }
    }

    fn date(text: &str) -> NaiveDate {
        crate::domain::calendar::parse_date(text).unwrap()
    }

    #[test]
    fn the_next_bill_follows_the_latest_and_validates() {
        let residential = account(AccountType::Residential);
        let latest = next_bill(&residential, None, date("2026-10-20"), 280).unwrap().validate().unwrap();
        assert_eq!((latest.period.to_string(), latest.meter.start, latest.meter.end), ("2026-10".into(), 0, 280));
        let next = next_bill(&residential, Some(&latest), date("2026-11-03"), 300).unwrap();
        assert_eq!(
            (next.period.as_str(), next.issue_date.as_str(), next.due_date.as_str()),
            ("2026-11", "2026-11-03", "2026-11-23")
        );
        assert_eq!((next.meter.start, next.meter.end, next.usage_kwh), (280, 580, 300));
        assert_eq!(next.tier_lines.iter().map(|l| l.kwh).collect::<Vec<_>>(), [230, 70]);
        assert_eq!((next.revision, next.paid_fen), (1, 0));
        assert_eq!(next.validate().unwrap().total, Fen::new(11231 + 3768));
    }

    #[test]
    fn a_period_not_yet_begun_is_issued_on_its_first_day() {
        let residential = account(AccountType::Residential);
        let latest = next_bill(&residential, None, date("2026-10-20"), 280).unwrap().validate().unwrap();
        let next = next_bill(&residential, Some(&latest), date("2026-10-20"), 280).unwrap();
        assert_eq!((next.period.as_str(), next.issue_date.as_str()), ("2026-11", "2026-11-01"));
        assert!(next.validate().is_ok());
    }

    #[test]
    fn time_of_use_bands_and_prices_carry_over() {
        let shop = account(AccountType::NonResidential);
        let first = next_bill(&shop, None, date("2026-10-20"), 1000).unwrap();
        assert_eq!(first.tou_lines.iter().map(|l| l.kwh).collect::<Vec<_>>(), [450, 275, 275]);
        assert!(first.tier_lines.is_empty());
        let latest = first.validate().unwrap();
        let next = next_bill(&shop, Some(&latest), date("2026-11-20"), 2000).unwrap();
        assert_eq!(next.tou_lines.iter().map(|l| (l.kwh, l.unit_price)).collect::<Vec<_>>(), {
            let prices: Vec<_> = latest.tou_lines.iter().map(|l| l.unit_price).collect();
            vec![(900, prices[0]), (550, prices[1]), (550, prices[2])]
        });
        assert!(next.validate().is_ok());
    }

    #[test]
    fn usage_follows_the_latest_bill_or_a_typical_first_month() {
        assert_eq!(next_usage(AccountType::Residential, None, 100), FIRST_USAGE_RESIDENTIAL);
        assert_eq!(next_usage(AccountType::NonResidential, None, 110), 990);
        let latest = next_bill(&account(AccountType::Residential), None, date("2026-10-20"), 280).unwrap();
        assert_eq!(next_usage(AccountType::Residential, Some(&latest.validate().unwrap()), 90), 252);
    }

    #[test]
    fn the_feed_item_is_what_the_feed_parses() {
        let bill = next_bill(&account(AccountType::Residential), None, date("2026-10-20"), 280).unwrap();
        let parsed = crate::feed::bill_from_json(bill_item(&bill)).unwrap();
        assert_eq!(parsed, bill.validate().unwrap());
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
