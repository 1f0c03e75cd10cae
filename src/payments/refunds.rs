//! Refunds, asked of the platform by a durable job: the refund row is written first (in the transaction that
//! decided it), and the job sends it with its `out_refund_no` as the idempotency key, so a retry after a lost answer
//! never refunds twice. WeChat Pay answers "processing" and tells the end by a refund notification (or the job's
//! next query); Alipay answers synchronously.
//!
//! A refund ends once (a conditional state change inside a transaction): a staff refund that succeeds makes its bills
//! owe again what it took back, shrinks the payment's credit by its surplus part and queues its `payment.refunded`
//! write-back in that same transaction; one that fails leaves the payment standing on its bills. A surplus refund
//! that fails keeps the money as a credit on the account.

use super::channel::{Channel, ChannelError};
use crate::db::ids::next_id;
use crate::db::orders;
use crate::db::payments as repo;
use crate::db::refunds::{
    self as refund_repo, RefundRecord, STATE_FAILED, STATE_PENDING, STATE_PROCESSING, STATE_SUCCEEDED,
};
use crate::domain::refund::{refund_event_id, RefundEvent, RefundKind, PAYMENT_REFUNDED};
use crate::domain::user::Platform;
use crate::jobs::queue::{self, ClaimedJob, NewJob};
use crate::jobs::writeback::WRITEBACK_QUEUE;
use crate::jobs::{run_worker, Backoff, JobError, WorkerOptions, WorkerReport};
use crate::platform::alipay::TradeRefund;
use crate::platform::wechatpay::{RefundRequest, RefundStatus};
use crate::state::AppState;
use serde::{Deserialize, Serialize};
use sqlx::AnyConnection;
use std::time::Duration;

pub const REFUND_QUEUE: &str = "refund";
/// Attempts before a refund is left failed for staff: with the backoff below, about a day.
pub const MAX_ATTEMPTS: i64 = 40;

/// The refund job's payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundJob {
    pub refund_id: String,
}

/// The reason the payer is shown for a staff refund: staff's own reason is for the audit log, not for the payer.
pub const STAFF_REFUND_PAYER_REASON: &str = "电费退款";

/// The refund number sent to the platform: `RF` and the refund id.
pub fn out_refund_no(refund_id: i64) -> String {
    format!("RF{refund_id}")
}

/// Why a refund's end could not be recorded.
#[derive(Debug, thiserror::Error)]
pub enum RefundError {
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error("cannot write the write-back event: {0}")]
    Event(#[from] serde_json::Error),
}

/// Queues the job that sends `refund`, in the caller's transaction (the one that wrote the refund).
pub async fn queue_refund(conn: &mut AnyConnection, refund: &RefundRecord, now_ms: i64) -> Result<(), RefundError> {
    let job = NewJob::json(REFUND_QUEUE, &RefundJob { refund_id: refund.id.to_string() }, now_ms)?
        .dedupe_key(refund.out_refund_no.clone())
        .max_attempts(MAX_ATTEMPTS);
    queue::enqueue(conn, &job, now_ms).await?;
    Ok(())
}

/// What the payer is shown as the refund's reason.
fn payer_reason(refund: &RefundRecord) -> &str {
    match refund.kind {
        RefundKind::Surplus => &refund.reason,
        RefundKind::Staff => STAFF_REFUND_PAYER_REASON,
    }
}

/// The refund worker's settings: refunds wait for the platform, so the backoff grows to 30 minutes.
pub fn worker_options() -> WorkerOptions {
    WorkerOptions {
        batch: 4,
        concurrency: 4,
        lease: Duration::from_secs(120),
        idle_sleep: Duration::from_secs(2),
        backoff: Backoff { base: Duration::from_secs(15), max: Duration::from_secs(1800) },
    }
}

/// Works the refund queue until `shutdown`.
pub async fn run(state: AppState, shutdown: tokio::sync::watch::Receiver<bool>) -> WorkerReport {
    let owner = queue::worker_owner("refund");
    let options = worker_options();
    run_worker(&state.db, state.clock.as_ref(), REFUND_QUEUE, &owner, &options, |job| process(&state, job), shutdown)
        .await
}

/// Sends one refund, or follows it up.
pub async fn process(state: &AppState, job: ClaimedJob) -> Result<(), JobError> {
    let payload: RefundJob = job.payload_as().map_err(|e| JobError::Permanent(format!("bad payload: {e}")))?;
    let refund_id: i64 = payload.refund_id.parse().map_err(|_| JobError::Permanent("bad refund id".into()))?;
    let db_error = |e: sqlx::Error| JobError::Retry(format!("database: {e}"));
    let refund = refund_repo::find_refund(state.db.pool(), refund_id).await.map_err(db_error)?;
    let refund = refund.ok_or_else(|| JobError::Permanent("no such refund".into()))?;
    if refund.state == STATE_SUCCEEDED || refund.state == STATE_FAILED {
        return Ok(());
    }
    let payment = repo::find_payment(state.db.pool(), refund.payment_id).await.map_err(db_error)?;
    let payment = payment.ok_or_else(|| JobError::Permanent("the refund's payment is gone".into()))?;
    let order = orders::find_by_id(state.db.pool(), payment.order_id).await.map_err(db_error)?;
    let order = order.ok_or_else(|| JobError::Permanent("the refund's order is gone".into()))?;
    let channel = Channel::for_platform(state, payment.platform).map_err(|e| JobError::Retry(e.to_string()))?;
    let outcome = match &channel {
        Channel::Wechat(client) => {
            let request = RefundRequest {
                out_trade_no: &order.order_no,
                out_refund_no: &refund.out_refund_no,
                reason: payer_reason(&refund),
                refund_fen: refund.amount.value(),
                total_fen: payment.amount.value(),
            };
            // A refund already sent is followed up by a query; the first attempt (or a lost answer) sends it again,
            // which the out_refund_no makes harmless.
            let answer = match refund.state.as_str() {
                STATE_PROCESSING => client.query_refund(&refund.out_refund_no).await,
                _ => client.refund(&request).await.map(Some),
            };
            match answer.map_err(ChannelError::from) {
                Ok(Some(answer)) => match answer.status {
                    RefundStatus::Success => Step::Succeeded(answer.refund_id),
                    RefundStatus::Processing | RefundStatus::Unknown => Step::Processing(answer.refund_id),
                    RefundStatus::Closed | RefundStatus::Abnormal => {
                        Step::Failed(format!("WeChat Pay reports the refund {:?}", answer.status))
                    }
                },
                Ok(None) => Step::Resend,
                Err(ChannelError::Refused(detail)) => Step::Failed(detail),
                Err(error) => return Err(JobError::Retry(error.to_string())),
            }
        }
        Channel::Alipay(client) => {
            let request = TradeRefund {
                out_trade_no: &order.order_no,
                refund_fen: refund.amount.value(),
                out_request_no: &refund.out_refund_no,
                reason: payer_reason(&refund),
            };
            match client.trade_refund(&request).await.map_err(ChannelError::from) {
                Ok(answer) => Step::Succeeded(answer.trade_no),
                Err(ChannelError::Refused(detail)) => Step::Failed(detail),
                Err(error) => return Err(JobError::Retry(error.to_string())),
            }
        }
    };
    apply_step(state, &refund, payment.platform, outcome).await
}

enum Step {
    Succeeded(String),
    Processing(String),
    /// The platform does not know the refund we thought was sent: send it again.
    Resend,
    Failed(String),
}

async fn apply_step(state: &AppState, refund: &RefundRecord, platform: Platform, step: Step) -> Result<(), JobError> {
    let now = state.now_ms();
    let db_error = |e: sqlx::Error| JobError::Retry(format!("database: {e}"));
    match step {
        Step::Succeeded(platform_id) => {
            refund_succeeded(state, refund, &platform_id).await.map_err(|e| JobError::Retry(e.to_string()))?;
            Ok(())
        }
        Step::Processing(platform_id) => {
            let mut conn = state.db.pool().acquire().await.map_err(db_error)?;
            refund_repo::update_refund(&mut conn, refund.id, STATE_PROCESSING, Some(&platform_id), None, now)
                .await
                .map_err(db_error)?;
            Err(JobError::Retry("the platform is processing the refund".into()))
        }
        Step::Resend => {
            let mut conn = state.db.pool().acquire().await.map_err(db_error)?;
            refund_repo::update_refund(&mut conn, refund.id, STATE_PENDING, None, None, now).await.map_err(db_error)?;
            Err(JobError::Retry("the platform does not know the refund yet; sending it again".into()))
        }
        Step::Failed(detail) => {
            let detail = crate::jobs::queue::truncate_error(&detail);
            fail_refund(state, refund, platform, None, &detail).await.map_err(db_error)?;
            Err(JobError::Permanent(detail))
        }
    }
}

/// The platform confirmed the refund: in one transaction, and only if it was not final yet, it is marked succeeded
/// and, for a staff refund, taken off the bills and the credit and queued for the write-back. False when it was
/// final already (a replayed notify, a late answer): nothing changes.
pub async fn refund_succeeded(
    state: &AppState,
    refund: &RefundRecord,
    platform_refund_id: &str,
) -> Result<bool, RefundError> {
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
        return Ok(false);
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
    Ok(true)
}

/// A refund that ended without the money going back: in one transaction it is marked failed and staff get an
/// incident. The money of a surplus refund is kept as a credit on the account (never lost); that of a staff refund
/// never left the payment, which still stands on its bills (and its credit). False when it was final already.
async fn fail_refund(
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
        RefundStatus::Success => {
            if refund_succeeded(state, &refund, refund_id).await? {
                RefundNotified::Succeeded
            } else {
                RefundNotified::AlreadyEnded
            }
        }
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
