//! Settlement, exactly once: a payment a platform confirmed (a verified notify, or a verified query answer) moves
//! its order to paid, marks its bills paid and queues the write-back event, in one transaction that holds the
//! order's lock. The payment's unique (platform, transaction id) makes every repeat a no-op, so duplicates, replays
//! and concurrent deliveries of the same notify settle once on SQLite and on PostgreSQL.
//!
//! The cases money brings: a paid amount other than the order's flags the order for staff and pays no bill; money
//! for an order already settled (paid twice, or on both platforms) is surplus, credited to the account or refunded;
//! a success for an order we had closed or expired settles (the money arrived); an unknown order number is recorded
//! for staff and refused, so that the platform retries.

use super::refunds;
use crate::config::DuplicatePaymentPolicy;
use crate::db::audit::AuditEntry;
use crate::db::ids::next_id;
use crate::db::notifies::ReceivedNotify;
use crate::db::orders::StoredOrder;
use crate::db::payments::{self as repo, PaymentRecord};
use crate::db::refunds::{self as refund_repo, RefundRecord, STATE_PENDING};
use crate::domain::money::Fen;
use crate::domain::order::{
    allocate, payment_event_id, Allocation, OrderState, PaidBill, PaymentEvent, PAYMENT_SETTLED,
};
use crate::domain::refund::RefundKind;
use crate::domain::user::Platform;
use crate::jobs::queue::{self, NewJob};
use crate::jobs::writeback::WRITEBACK_QUEUE;
use crate::state::AppState;
use serde_json::json;
use sqlx::AnyConnection;

/// A payment the platform confirmed through a verified message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfirmedPayment {
    pub platform: Platform,
    pub order_no: String,
    /// WeChat `transaction_id`, Alipay `trade_no`.
    pub transaction_id: String,
    pub amount: Fen,
    /// When the platform took the money (epoch milliseconds).
    pub paid_at_ms: i64,
    pub source: PaymentSource,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentSource {
    Notify,
    Query,
}

impl PaymentSource {
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentSource::Notify => "notify",
            PaymentSource::Query => "query",
        }
    }
}

/// What a confirmed payment did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settlement {
    /// The order is paid now, its bills settled; `surplus` went to a credit or a refund.
    Settled { payment_id: i64, surplus: Fen },
    /// Money for an order already settled: all of it is surplus.
    Duplicate { payment_id: i64, surplus: Fen },
    /// Not the order's amount: the order is flagged for staff and no bill is marked paid.
    AmountMismatch { payment_id: i64 },
    /// This transaction was recorded before: nothing changes.
    AlreadyRecorded,
    /// No order has this number (on this platform): recorded for staff; the platform should retry.
    UnknownOrder,
}

impl Settlement {
    /// Whether the platform should be told "done" (every case but an unknown order).
    pub fn acknowledged(self) -> bool {
        !matches!(self, Settlement::UnknownOrder)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Settlement::Settled { .. } => "settled",
            Settlement::Duplicate { .. } => "duplicate",
            Settlement::AmountMismatch { .. } => "amount_mismatch",
            Settlement::AlreadyRecorded => "already_recorded",
            Settlement::UnknownOrder => "unknown_order",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SettleError {
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error("amounts overflow")]
    Overflow,
    #[error("cannot write the write-back event: {0}")]
    Event(#[from] serde_json::Error),
}

impl From<refunds::RefundError> for SettleError {
    fn from(error: refunds::RefundError) -> SettleError {
        match error {
            refunds::RefundError::Db(e) => SettleError::Db(e),
            refunds::RefundError::Event(e) => SettleError::Event(e),
        }
    }
}

/// What a settlement writes beside the payment, in its own transaction, once its outcome is known: the audit entry
/// of the staff action that brought the payment, the verified notify that brought it (its `outcome` set to the
/// settlement's). Nothing of it is written when the payment was recorded already (that transaction is dropped): the
/// caller keeps them on its own then.
#[derive(Debug, Clone, Copy, Default)]
pub struct Trail<'a> {
    pub audit: Option<&'a AuditEntry>,
    pub notify: Option<&'a ReceivedNotify>,
}

/// Applies a confirmed payment, once.
pub async fn settle(state: &AppState, payment: &ConfirmedPayment) -> Result<Settlement, SettleError> {
    settle_with_trail(state, payment, Trail::default()).await
}

/// [`settle`], writing `trail` in the same transaction: what it changed never goes without its trace, and a notify
/// costs one commit, not two.
pub async fn settle_with_trail(
    state: &AppState,
    payment: &ConfirmedPayment,
    trail: Trail<'_>,
) -> Result<Settlement, SettleError> {
    let now = state.now_ms();
    let mut tx = state.db.begin_write().await?;
    let order = match repo::lock_order(&mut tx, &payment.order_no).await? {
        Some(order) if order.platform == payment.platform => order,
        found => {
            let detail = json!({
                "transaction_id": payment.transaction_id,
                "amount_fen": payment.amount.value(),
                "order_platform": found.map(|order| order.platform.as_str()),
            });
            let reference = payment.order_no.as_str();
            let kind = repo::INCIDENT_UNKNOWN_ORDER;
            repo::record_incident(&mut tx, next_id(now), kind, payment.platform, reference, &detail.to_string(), now)
                .await?;
            write_trail(&mut tx, trail, Settlement::UnknownOrder, now).await?;
            tx.commit().await?;
            return Ok(Settlement::UnknownOrder);
        }
    };
    let outcome = if !order.state.awaits_money() {
        settle_duplicate(state, &mut tx, &order, payment, now).await?
    } else if payment.amount != order.amount {
        settle_mismatch(state, &mut tx, &order, payment, now).await?
    } else {
        settle_order(state, &mut tx, &order, payment, now).await?
    };
    match outcome {
        // The transaction id was recorded already: drop everything this attempt wrote.
        Settlement::AlreadyRecorded => tx.rollback().await?,
        _ => {
            write_trail(&mut tx, trail, outcome, now).await?;
            tx.commit().await?
        }
    }
    Ok(outcome)
}

async fn write_trail(
    tx: &mut AnyConnection,
    trail: Trail<'_>,
    outcome: Settlement,
    now: i64,
) -> Result<(), sqlx::Error> {
    if let Some(entry) = trail.audit {
        let mut detail = entry.detail.clone().unwrap_or_else(|| json!({}));
        if let Some(object) = detail.as_object_mut() {
            object.insert("settlement".into(), json!(outcome.as_str()));
        }
        crate::db::audit::append(tx, &entry.clone().detail(detail), now).await?;
    }
    if let Some(notify) = trail.notify {
        let notify = ReceivedNotify { outcome: outcome.as_str().to_owned(), ..notify.clone() };
        crate::db::notifies::record(&mut *tx, &notify, now).await?;
    }
    Ok(())
}

fn payment_record(
    id: i64,
    order: &StoredOrder,
    payment: &ConfirmedPayment,
    outcome: &str,
    allocation: &Allocation,
    handling: Option<DuplicatePaymentPolicy>,
    now: i64,
) -> PaymentRecord {
    PaymentRecord {
        id,
        order_id: order.id,
        platform: payment.platform,
        transaction_id: payment.transaction_id.clone(),
        amount: payment.amount,
        applied: allocation.applied_total,
        surplus: allocation.surplus,
        outcome: outcome.to_owned(),
        surplus_handling: handling.filter(|_| allocation.surplus.value() > 0).map(|p| p.as_str().to_owned()),
        source: payment.source.as_str().to_owned(),
        paid_at: payment.paid_at_ms,
        received_at: now,
    }
}

/// The usual case: a pending (or closed, expired) order paid in full.
async fn settle_order(
    state: &AppState,
    tx: &mut AnyConnection,
    order: &StoredOrder,
    payment: &ConfirmedPayment,
    now: i64,
) -> Result<Settlement, SettleError> {
    let bills = repo::bills_of_order(tx, order.id).await?;
    let at_settlement: Vec<_> = bills.iter().map(|(bill, _)| *bill).collect();
    let allocation = allocate(&at_settlement).ok_or(SettleError::Overflow)?;
    let policy = state.settings.payments.duplicate_payments;
    let payment_id = next_id(now);
    let record = payment_record(payment_id, order, payment, "settled", &allocation, Some(policy), now);
    if !repo::insert_payment(tx, &record).await? {
        return Ok(Settlement::AlreadyRecorded);
    }
    for application in &allocation.applied {
        let total = at_settlement
            .iter()
            .find(|bill| bill.line.bill_id == application.bill_id)
            .map(|bill| bill.total)
            .ok_or(SettleError::Overflow)?;
        repo::apply_to_bill(tx, application, total, now).await?;
    }
    repo::record_payment_bills(tx, payment_id, &allocation.applied).await?;
    repo::mark_order_paid(tx, order.id, OrderState::Paid, payment.paid_at_ms, None, now).await?;
    repo::release_bills(tx, order.id).await?;
    if order.state != OrderState::Pending {
        // A closed or expired order paid after all: a newer order may hold these bills and must not be paid too.
        let settled: Vec<i64> = allocation.applied.iter().map(|application| application.bill_id).collect();
        repo::end_other_orders(tx, &settled, order.id, now).await?;
    }
    if allocation.surplus.value() > 0 {
        keep_surplus(state, tx, order, &record, now).await?;
    }
    let paid_bills = allocation
        .applied
        .iter()
        .map(|application| PaidBill {
            bill_id: application.bill_id.to_string(),
            period: bills
                .iter()
                .find(|(bill, _)| bill.line.bill_id == application.bill_id)
                .map(|(_, period)| period.clone())
                .unwrap_or_default(),
            principal_fen: application.principal.value(),
            late_fee_fen: application.late_fee.value(),
        })
        .collect();
    queue_writeback(state, tx, order, &record, paid_bills, now).await?;
    Ok(Settlement::Settled { payment_id, surplus: allocation.surplus })
}

/// Money that is not what the order asked: flag the order, pay no bill, free the bills (the account can be paid
/// properly while staff sort it out), record the incident, and tell the marketing system the money is held for review.
async fn settle_mismatch(
    state: &AppState,
    tx: &mut AnyConnection,
    order: &StoredOrder,
    payment: &ConfirmedPayment,
    now: i64,
) -> Result<Settlement, SettleError> {
    let payment_id = next_id(now);
    // All of it is held (applied to no bill) until staff decide.
    let held = Allocation { applied: Vec::new(), applied_total: Fen::ZERO, surplus: payment.amount };
    let mut record = payment_record(payment_id, order, payment, "amount_mismatch", &held, None, now);
    record.surplus_handling = Some("review".into());
    if !repo::insert_payment(tx, &record).await? {
        return Ok(Settlement::AlreadyRecorded);
    }
    repo::mark_order_paid(tx, order.id, OrderState::Flagged, payment.paid_at_ms, Some("amount_mismatch"), now).await?;
    repo::release_bills(tx, order.id).await?;
    let detail = json!({
        "transaction_id": payment.transaction_id,
        "expected_fen": order.amount.value(),
        "paid_fen": payment.amount.value(),
        "payment_id": payment_id.to_string(),
    });
    let kind = repo::INCIDENT_AMOUNT_MISMATCH;
    repo::record_incident(tx, next_id(now), kind, order.platform, &order.order_no, &detail.to_string(), now).await?;
    // The marketing system learns of the money too, applied to no bill until staff decide.
    queue_writeback(state, tx, order, &record, Vec::new(), now).await?;
    tracing::warn!(
        order_no = %order.order_no,
        expected_fen = order.amount.value(),
        paid_fen = payment.amount.value(),
        "payment amount differs from the order: flagged for staff"
    );
    Ok(Settlement::AmountMismatch { payment_id })
}

/// A second payment for an order already settled (another transaction id): never lost, all of it surplus.
async fn settle_duplicate(
    state: &AppState,
    tx: &mut AnyConnection,
    order: &StoredOrder,
    payment: &ConfirmedPayment,
    now: i64,
) -> Result<Settlement, SettleError> {
    let policy = state.settings.payments.duplicate_payments;
    let allocation = Allocation { applied: Vec::new(), applied_total: Fen::ZERO, surplus: payment.amount };
    let payment_id = next_id(now);
    let record = payment_record(payment_id, order, payment, "duplicate", &allocation, Some(policy), now);
    if !repo::insert_payment(tx, &record).await? {
        return Ok(Settlement::AlreadyRecorded);
    }
    if payment.amount.value() > 0 {
        keep_surplus(state, tx, order, &record, now).await?;
    }
    queue_writeback(state, tx, order, &record, Vec::new(), now).await?;
    Ok(Settlement::Duplicate { payment_id, surplus: payment.amount })
}

/// Credits the surplus to the account or queues its refund, as configured, and records the incident for staff.
async fn keep_surplus(
    state: &AppState,
    tx: &mut AnyConnection,
    order: &StoredOrder,
    record: &PaymentRecord,
    now: i64,
) -> Result<(), SettleError> {
    match state.settings.payments.duplicate_payments {
        DuplicatePaymentPolicy::Credit => {
            repo::insert_credit(tx, next_id(now), &order.account_no, record.id, record.surplus, now).await?;
        }
        DuplicatePaymentPolicy::Refund => {
            let refund_id = next_id(now);
            let refund = RefundRecord {
                id: refund_id,
                payment_id: record.id,
                out_refund_no: refunds::out_refund_no(refund_id),
                amount: record.surplus,
                reason: "重复缴费退款".into(),
                state: STATE_PENDING.into(),
                platform_refund_id: None,
                requested_by: "system".into(),
                last_error: None,
                kind: RefundKind::Surplus,
                from_surplus: record.surplus,
                created_at: now,
                updated_at: now,
            };
            refund_repo::insert_refund(tx, &refund).await?;
            refunds::queue_refund(tx, &refund, now).await?;
        }
    }
    let detail = json!({
        "transaction_id": record.transaction_id,
        "payment_id": record.id.to_string(),
        "surplus_fen": record.surplus.value(),
        "handling": state.settings.payments.duplicate_payments.as_str(),
    });
    let kind = repo::INCIDENT_DUPLICATE_PAYMENT;
    repo::record_incident(tx, next_id(now), kind, order.platform, &record.transaction_id, &detail.to_string(), now)
        .await?;
    tracing::warn!(
        order_no = %order.order_no,
        surplus_fen = record.surplus.value(),
        handling = state.settings.payments.duplicate_payments.as_str(),
        "payment for bills already settled"
    );
    Ok(())
}

/// Queues the settlement event for the marketing system, in the settlement's transaction.
async fn queue_writeback(
    state: &AppState,
    tx: &mut AnyConnection,
    order: &StoredOrder,
    record: &PaymentRecord,
    bills: Vec<PaidBill>,
    now: i64,
) -> Result<(), SettleError> {
    let event = PaymentEvent {
        event_id: payment_event_id(record.id),
        event_type: PAYMENT_SETTLED.into(),
        account_no: order.account_no.clone(),
        order_no: order.order_no.clone(),
        platform: order.platform.as_str().into(),
        transaction_id: record.transaction_id.clone(),
        amount_fen: record.amount.value(),
        paid_at_ms: record.paid_at,
        bills,
        surplus_fen: record.surplus.value(),
        surplus_handling: record.surplus_handling.clone(),
    };
    let job = NewJob::json(WRITEBACK_QUEUE, &event, now)?
        .dedupe_key(event.event_id.clone())
        .max_attempts(state.settings.writeback.max_attempts);
    queue::enqueue(tx, &job, now).await?;
    Ok(())
}
