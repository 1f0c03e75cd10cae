//! How a refund ends, once: succeeded (a staff refund's bills owe again what it took back, its credit shrinks and its
//! `payment.refunded` write-back is queued, in the same transaction), failed (an incident; a surplus refund's money
//! is kept as a credit), a success reported after we had failed it, or given up on unconfirmed (incidents for staff),
//! and what a verified WeChat Pay refund notification does.

use crate::db::ids::next_id;
use crate::db::orders;
use crate::db::payments as repo;
use crate::db::refunds::{self as refund_repo, RefundRecord, STATE_FAILED, STATE_SUCCEEDED};
use crate::domain::money::Fen;
use crate::domain::refund::{refund_event_id, RefundEvent, RefundKind, PAYMENT_REFUNDED};
use crate::domain::user::Platform;
use crate::jobs::queue::{self, NewJob};
use crate::jobs::writeback::WRITEBACK_QUEUE;
use crate::platform::wechatpay::RefundStatus;
use crate::state::AppState;

use super::refunds::RefundError;

/// Incident kind: a refund the job gave up on without the platform confirming or refusing it. It is still reserved
/// (pending or processing), so nothing can refund the same money again until staff settle it.
pub const INCIDENT_REFUND_UNCONFIRMED: &str = "refund_unconfirmed";
/// Incident kind: the platform reports a refund succeeded that we had marked failed (and whose amount was released
/// or, for a surplus refund, kept as a credit).
pub const INCIDENT_REFUND_SUCCEEDED_AFTER_FAILURE: &str = "refund_succeeded_after_failure";

/// The job's last attempt failed and the refund is still neither succeeded nor failed: staff get a
/// `refund_unconfirmed` incident. The job then fails in the jobs table (an operator can put it back); the refund row
/// is left as it is, reserved.
///
/// Recorded by the last attempt itself (the runner gives handlers no hook after a final failure). A last attempt
/// that never reports (its worker died and its lease expired) records nothing: the job is failed by the next claim.
pub(super) async fn record_unconfirmed(
    state: &AppState,
    refund_id: i64,
    attempts: i64,
    error: &str,
) -> Result<(), sqlx::Error> {
    let Some(refund) = refund_repo::find_refund(state.db.pool(), refund_id).await? else {
        return Ok(());
    };
    if refund.state == STATE_SUCCEEDED || refund.state == STATE_FAILED {
        return Ok(());
    }
    let Some(payment) = repo::find_payment(state.db.pool(), refund.payment_id).await? else {
        return Ok(());
    };
    let now = state.now_ms();
    let detail = serde_json::json!({
        "refund_id": refund.id.to_string(),
        "payment_id": refund.payment_id.to_string(),
        "kind": refund.kind.as_str(),
        "state": refund.state,
        "amount_fen": refund.amount.value(),
        "from_surplus_fen": refund.from_surplus.value(),
        "attempts": attempts,
        "error": crate::jobs::queue::truncate_error(error),
        "note": "the platform neither confirmed nor refused this refund; it stays reserved (not failed). Check it on \
                 the merchant platform by its out_refund_no, then retry the refund job or resolve by hand",
    })
    .to_string();
    let mut tx = state.db.begin_write().await?;
    let kind = INCIDENT_REFUND_UNCONFIRMED;
    repo::record_incident(&mut tx, next_id(now), kind, payment.platform, &refund.out_refund_no, &detail, now).await?;
    tx.commit().await?;
    tracing::error!(out_refund_no = %refund.out_refund_no, attempts, "refund left unconfirmed for staff");
    Ok(())
}

/// How recording a platform's "refund succeeded" went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SuccessRecorded {
    /// The refund succeeded now.
    Now,
    /// It had succeeded already (a replayed notify, a late answer): nothing changes.
    AlreadySucceeded,
    /// We had marked it failed: nothing changes on the bills or the credit, staff got a
    /// `refund_succeeded_after_failure` incident to reconcile.
    AfterFailure,
}

/// The platform confirmed the refund: in one transaction, and only if it was not final yet, it is marked succeeded
/// and, for a staff refund, taken off the bills and the credit and queued for the write-back. When it was final
/// already nothing changes; if we had marked it failed, staff get an incident (see [`SuccessRecorded::AfterFailure`]).
pub async fn refund_succeeded(
    state: &AppState,
    refund: &RefundRecord,
    platform_refund_id: &str,
) -> Result<SuccessRecorded, RefundError> {
    // Read before the write transaction: its connection is the only one it may use.
    let (payment, order) = match refund.kind {
        RefundKind::Staff => {
            let payment = repo::find_payment(state.db.pool(), refund.payment_id).await?;
            let order = match &payment {
                Some(payment) => orders::find_by_id(state.db.pool(), payment.order_id).await?,
                None => None,
            };
            (payment, order)
        }
        RefundKind::Surplus => (None, None),
    };
    let now = state.now_ms();
    let mut tx = state.db.begin_write().await?;
    if !refund_repo::update_refund(&mut tx, refund.id, STATE_SUCCEEDED, Some(platform_refund_id), None, now).await? {
        tx.rollback().await?;
        return succeeded_after_the_end(state, refund.id, platform_refund_id).await;
    }
    if refund.kind == RefundKind::Staff {
        let bills = refund_repo::refund_bills(&mut tx, refund.id).await?;
        refund_repo::take_back_from_bills(&mut tx, &bills, now).await?;
        if refund.from_surplus.value() > 0 {
            repo::reduce_credit(&mut tx, refund.payment_id, refund.from_surplus, now).await?;
        }
        if let (Some(payment), Some(order)) = (payment, order) {
            let event = RefundEvent {
                event_id: refund_event_id(refund.id),
                event_type: PAYMENT_REFUNDED.into(),
                account_no: order.account_no.clone(),
                order_no: order.order_no.clone(),
                platform: payment.platform.as_str().into(),
                transaction_id: payment.transaction_id.clone(),
                out_refund_no: refund.out_refund_no.clone(),
                platform_refund_id: Some(platform_refund_id.to_owned()).filter(|id| !id.is_empty()),
                amount_fen: refund.amount.value(),
                refunded_at_ms: now,
                bills: bills.iter().map(|bill| bill.as_paid_bill()).collect(),
                from_surplus_fen: refund.from_surplus.value(),
                reason: refund.reason.clone(),
            };
            let job = NewJob::json(WRITEBACK_QUEUE, &event, now)?
                .dedupe_key(event.event_id.clone())
                .max_attempts(state.settings.writeback.max_attempts);
            queue::enqueue(&mut tx, &job, now).await?;
        }
    }
    tx.commit().await?;
    tracing::info!(out_refund_no = %refund.out_refund_no, kind = refund.kind.as_str(), "refund succeeded");
    Ok(SuccessRecorded::Now)
}

/// A "refund succeeded" for a refund already final. Succeeded: a replay, nothing to do. Failed: the platform did
/// refund after all, and what the failure did stands (the amount released for another refund; for a surplus refund,
/// the money kept as a credit on the account, now given twice): nothing is re-applied automatically, staff get a
/// `refund_succeeded_after_failure` incident with the amounts to reconcile it.
async fn succeeded_after_the_end(
    state: &AppState,
    refund_id: i64,
    platform_refund_id: &str,
) -> Result<SuccessRecorded, RefundError> {
    // A final state never changes: read after the rollback, it is the one that stopped the update.
    let Some(refund) = refund_repo::find_refund(state.db.pool(), refund_id).await? else {
        return Ok(SuccessRecorded::AlreadySucceeded);
    };
    if refund.state != STATE_FAILED {
        return Ok(SuccessRecorded::AlreadySucceeded);
    }
    let payment = repo::find_payment(state.db.pool(), refund.payment_id).await?;
    let totals = refund_repo::refund_totals(state.db.pool(), &[refund.payment_id]).await?;
    let (reserved, succeeded) = totals.get(&refund.payment_id).copied().unwrap_or((Fen::ZERO, Fen::ZERO));
    let paid = payment.as_ref().map(|payment| payment.amount.value());
    // What the platform has given back of the payment by our books, plus this refund: beyond what was paid, the
    // amount this failure released was refunded again.
    let given_back = reserved.value().saturating_add(refund.amount.value());
    let (consequence, money_given_twice) = match refund.kind {
        RefundKind::Surplus => (
            "the platform refunded this surplus after we marked it failed and kept it as a credit on the account: \
             the money is given twice (refund and credit); take the credit back or recover it from the payer",
            true,
        ),
        RefundKind::Staff => (
            "the platform refunded this after we marked it failed: the bills and the credit still count this money \
             as paid and its amount was released for refunding again; reconcile the bills by hand",
            paid.is_some_and(|paid| given_back > paid),
        ),
    };
    let detail = serde_json::json!({
        "refund_id": refund.id.to_string(),
        "payment_id": refund.payment_id.to_string(),
        "kind": refund.kind.as_str(),
        "amount_fen": refund.amount.value(),
        "from_surplus_fen": refund.from_surplus.value(),
        "platform_refund_id": platform_refund_id,
        "failed_with": refund.last_error,
        "payment_amount_fen": paid,
        "other_refunds_reserved_fen": reserved.value(),
        "other_refunds_succeeded_fen": succeeded.value(),
        "kept_as_credit": refund.kind == RefundKind::Surplus,
        "money_given_twice": money_given_twice,
        "consequence": consequence,
    })
    .to_string();
    let platform = payment.as_ref().map(|payment| payment.platform).unwrap_or(Platform::Wechat);
    let now = state.now_ms();
    let mut tx = state.db.begin_write().await?;
    let kind = INCIDENT_REFUND_SUCCEEDED_AFTER_FAILURE;
    repo::record_incident(&mut tx, next_id(now), kind, platform, &refund.out_refund_no, &detail, now).await?;
    tx.commit().await?;
    tracing::error!(
        out_refund_no = %refund.out_refund_no,
        kind = refund.kind.as_str(),
        amount_fen = refund.amount.value(),
        "the platform refunded a refund we had marked failed"
    );
    Ok(SuccessRecorded::AfterFailure)
}

/// A refund that ended without the money going back: in one transaction it is marked failed and staff get an
/// incident. The money of a surplus refund is kept as a credit on the account (never lost); that of a staff refund
/// never left the payment, which still stands on its bills (and its credit). False when it was final already.
pub(super) async fn fail_refund(
    state: &AppState,
    refund: &RefundRecord,
    platform: Platform,
    platform_refund_id: Option<&str>,
    detail: &str,
) -> Result<bool, sqlx::Error> {
    let now = state.now_ms();
    let order = match refund.kind {
        RefundKind::Surplus => match repo::find_payment(state.db.pool(), refund.payment_id).await? {
            Some(payment) => orders::find_by_id(state.db.pool(), payment.order_id).await?,
            None => None,
        },
        RefundKind::Staff => None,
    };
    let mut tx = state.db.begin_write().await?;
    if !refund_repo::update_refund(&mut tx, refund.id, STATE_FAILED, platform_refund_id, Some(detail), now).await? {
        tx.rollback().await?;
        return Ok(false);
    }
    if let Some(order) = &order {
        repo::insert_credit(&mut tx, next_id(now), &order.account_no, refund.payment_id, refund.amount, now).await?;
    }
    let incident = serde_json::json!({
        "refund_id": refund.id.to_string(),
        "kind": refund.kind.as_str(),
        "amount_fen": refund.amount.value(),
        "error": detail,
        "kept_as_credit": order.is_some(),
    })
    .to_string();
    let kind = repo::INCIDENT_REFUND_FAILED;
    repo::record_incident(&mut tx, next_id(now), kind, platform, &refund.out_refund_no, &incident, now).await?;
    tx.commit().await?;
    tracing::warn!(out_refund_no = %refund.out_refund_no, kind = refund.kind.as_str(), "refund failed");
    Ok(true)
}

/// What a refund notification did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundNotified {
    /// No refund of ours has this number.
    Unknown,
    /// The refund succeeded now.
    Succeeded,
    /// The refund failed now.
    Failed,
    /// The refund had ended already: nothing changes.
    AlreadyEnded,
    /// A success for a refund we had marked failed: nothing changes, staff got an incident to reconcile it.
    SucceededAfterFailure,
    /// Not an end yet.
    Processing,
}

impl RefundNotified {
    pub fn as_str(self) -> &'static str {
        match self {
            RefundNotified::Unknown => "unknown_refund",
            RefundNotified::Succeeded => "refund_succeeded",
            RefundNotified::Failed => "refund_failed",
            RefundNotified::AlreadyEnded => "already_ended",
            RefundNotified::SucceededAfterFailure => "succeeded_after_failure",
            RefundNotified::Processing => "processing",
        }
    }
}

/// A refund notification (verified) tells how a refund ended.
pub async fn refund_notified(
    state: &AppState,
    out_refund_no: &str,
    status: RefundStatus,
    refund_id: &str,
) -> Result<RefundNotified, RefundError> {
    let Some(refund) = refund_repo::find_refund_by_no(state.db.pool(), out_refund_no).await? else {
        return Ok(RefundNotified::Unknown);
    };
    let ended = match status {
        RefundStatus::Success => match refund_succeeded(state, &refund, refund_id).await? {
            SuccessRecorded::Now => RefundNotified::Succeeded,
            SuccessRecorded::AlreadySucceeded => RefundNotified::AlreadyEnded,
            SuccessRecorded::AfterFailure => RefundNotified::SucceededAfterFailure,
        },
        RefundStatus::Closed | RefundStatus::Abnormal => {
            let error = format!("WeChat Pay notified the refund {status:?}");
            if fail_refund(state, &refund, Platform::Wechat, Some(refund_id), &error).await? {
                RefundNotified::Failed
            } else {
                RefundNotified::AlreadyEnded
            }
        }
        RefundStatus::Processing | RefundStatus::Unknown => RefundNotified::Processing,
    };
    Ok(ended)
}
