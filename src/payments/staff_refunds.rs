//! Refunds staff ask for. One write transaction decides and records everything: it locks the order (a row lock on
//! PostgreSQL; SQLite's write transaction is already the only writer), reads what the payment can still give back,
//! plans where the money comes from (`domain::refund::plan`), writes the refund and what it takes back from each
//! bill, queues the job that sends it, and appends the audit entry. Concurrent requests are serialized by the lock,
//! so together they never refund more than was paid; a refusal writes nothing.

use super::refunds::{self, queue_refund, RefundError};
use crate::db::audit::{self, AuditEntry};
use crate::db::ids::next_id;
use crate::db::payments::{self as repo, PaymentRecord};
use crate::db::refunds::{self as refund_repo, RefundRecord, STATE_PENDING};
use crate::domain::money::Fen;
use crate::domain::order::OrderState;
use crate::domain::refund::{plan, PlanRefusal, RefundKind};
use crate::domain::staff::Reason;
use crate::state::AppState;
use serde_json::json;

/// A refund a member of staff asks for.
#[derive(Debug, Clone)]
pub struct RefundAsk {
    pub order_no: String,
    /// Which of the order's payments; may be left out when the order has exactly one.
    pub payment_id: Option<i64>,
    pub amount: Fen,
    pub reason: Reason,
}

/// Why a refund was not recorded.
#[derive(Debug, thiserror::Error)]
pub enum RefundRefusal {
    #[error("no such order")]
    UnknownOrder,
    #[error("the order has no payment that can be refunded")]
    NotPaid,
    #[error("the order has no such payment")]
    UnknownPayment,
    #[error("the order has several payments: name one with payment_id")]
    PaymentRequired { payment_ids: Vec<i64> },
    #[error("a refund is at least 1 fen")]
    InvalidAmount,
    #[error("at most {refundable} yuan of this payment can still be refunded")]
    ExceedsRefundable { refundable: Fen },
    /// The payment's record does not say which bills it paid (settled before that was kept).
    #[error("this payment's bills are not known: refund it by hand")]
    Unattributed,
    #[error(transparent)]
    Failed(#[from] RefundError),
}

impl From<sqlx::Error> for RefundRefusal {
    fn from(error: sqlx::Error) -> RefundRefusal {
        RefundRefusal::Failed(RefundError::Db(error))
    }
}

impl From<serde_json::Error> for RefundRefusal {
    fn from(error: serde_json::Error) -> RefundRefusal {
        RefundRefusal::Failed(RefundError::Event(error))
    }
}

/// Records the refund `ask` (pending, its job queued) with `audit` (its detail filled in here), all or nothing.
pub async fn request_refund(
    state: &AppState,
    ask: &RefundAsk,
    audit: AuditEntry,
) -> Result<RefundRecord, RefundRefusal> {
    if ask.amount.value() <= 0 {
        return Err(RefundRefusal::InvalidAmount);
    }
    let now = state.now_ms();
    let mut tx = state.db.begin_write().await?;
    let order = repo::lock_order(&mut tx, &ask.order_no).await?.ok_or(RefundRefusal::UnknownOrder)?;
    if !matches!(order.state, OrderState::Paid | OrderState::Flagged) {
        return Err(RefundRefusal::NotPaid);
    }
    let payments = repo::of_order(&mut tx, order.id).await?;
    let payment = pick_payment(&payments, ask.payment_id)?;
    let basis = refund_repo::refund_basis(&mut tx, payment.id, payment.amount, payment.surplus).await?;
    let planned = plan(&basis, ask.amount).map_err(|refusal| match refusal {
        PlanRefusal::NotPositive => RefundRefusal::InvalidAmount,
        PlanRefusal::ExceedsRefundable { refundable } => RefundRefusal::ExceedsRefundable { refundable },
        PlanRefusal::Unattributed { .. } => RefundRefusal::Unattributed,
    })?;
    let id = next_id(now);
    let refund = RefundRecord {
        id,
        payment_id: payment.id,
        out_refund_no: refunds::out_refund_no(id),
        amount: planned.amount,
        reason: ask.reason.as_str().to_owned(),
        state: STATE_PENDING.into(),
        platform_refund_id: None,
        requested_by: audit.staff_name.clone(),
        last_error: None,
        kind: RefundKind::Staff,
        from_surplus: planned.from_surplus,
        created_at: now,
        updated_at: now,
    };
    refund_repo::insert_refund(&mut tx, &refund).await?;
    refund_repo::insert_refund_bills(&mut tx, id, &planned.bills).await?;
    queue_refund(&mut tx, &refund, now).await?;
    let entry = audit.reason(ask.reason.as_str()).detail(json!({
        "out_refund_no": refund.out_refund_no,
        "amount_fen": refund.amount.value(),
        "payment_id": payment.id.to_string(),
        "from_surplus_fen": refund.from_surplus.value(),
    }));
    audit::append(&mut tx, &entry, now).await?;
    tx.commit().await?;
    tracing::info!(
        order_no = %order.order_no,
        out_refund_no = %refund.out_refund_no,
        amount_fen = refund.amount.value(),
        staff = %refund.requested_by,
        "staff refund recorded"
    );
    Ok(refund)
}

/// The payment `asked` names among the order's, or its only one.
fn pick_payment(payments: &[PaymentRecord], asked: Option<i64>) -> Result<&PaymentRecord, RefundRefusal> {
    match (asked, payments) {
        (Some(id), _) => payments.iter().find(|payment| payment.id == id).ok_or(RefundRefusal::UnknownPayment),
        (None, []) => Err(RefundRefusal::NotPaid),
        (None, [only]) => Ok(only),
        (None, several) => {
            Err(RefundRefusal::PaymentRequired { payment_ids: several.iter().map(|payment| payment.id).collect() })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::user::Platform;

    fn payment(id: i64) -> PaymentRecord {
        PaymentRecord {
            id,
            order_id: 1,
            platform: Platform::Wechat,
            transaction_id: format!("42000{id}"),
            amount: Fen::new(100),
            applied: Fen::new(100),
            surplus: Fen::ZERO,
            outcome: "settled".into(),
            surplus_handling: None,
            source: "notify".into(),
            paid_at: 0,
            received_at: 0,
        }
    }

    #[test]
    fn the_only_payment_is_picked_unless_another_is_named() {
        let one = [payment(7)];
        assert_eq!(pick_payment(&one, None).map(|p| p.id).ok(), Some(7));
        assert_eq!(pick_payment(&one, Some(7)).map(|p| p.id).ok(), Some(7));
        assert!(matches!(pick_payment(&one, Some(8)), Err(RefundRefusal::UnknownPayment)));
        assert!(matches!(pick_payment(&[], None), Err(RefundRefusal::NotPaid)));
        let two = [payment(7), payment(9)];
        assert!(matches!(
            pick_payment(&two, None),
            Err(RefundRefusal::PaymentRequired { payment_ids }) if payment_ids == [7, 9]
        ));
        assert_eq!(pick_payment(&two, Some(9)).map(|p| p.id).ok(), Some(9));
    }
}
