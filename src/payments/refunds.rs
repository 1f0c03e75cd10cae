//! Refunds, asked of the platform by a durable job: the refund row is written first (in the transaction that
//! decided it), and the job sends it with its `out_refund_no` as the idempotency key, so a retry after a lost answer
//! never refunds twice. WeChat Pay answers "processing" and tells the end by a refund notification (or the job's
//! next query); Alipay answers synchronously, and an answer without `fund_change` Y is confirmed by its refund query.
//!
//! Only an explicit refusal by the platform (or a refund it reports closed) fails a refund: an answer we cannot
//! verify or read is asked again under the same number, the refund staying reserved (see [`process`]). A success
//! reported for a refund already failed changes nothing but is reported to staff as an incident.
//!
//! A refund ends once (a conditional state change inside a transaction): a staff refund that succeeds makes its bills
//! owe again what it took back, shrinks the payment's credit by its surplus part and queues its `payment.refunded`
//! write-back in that same transaction; one that fails leaves the payment standing on its bills. A surplus refund
//! that fails keeps the money as a credit on the account.

use super::channel::{Channel, ChannelError};
use super::refund_outcomes::{fail_refund, record_unconfirmed, refund_succeeded};
use super::refund_refusals::{alipay_refused, wechat_refused};
use crate::db::orders;
use crate::db::payments as repo;
use crate::db::refunds::{
    self as refund_repo, RefundRecord, STATE_FAILED, STATE_PENDING, STATE_PROCESSING, STATE_SUCCEEDED,
};
use crate::domain::refund::RefundKind;
use crate::domain::user::Platform;
use crate::jobs::queue::{self, ClaimedJob, NewJob};
use crate::jobs::{run_worker, Backoff, JobError, WorkerOptions, WorkerReport};
use crate::platform::alipay::{RefundQueryAnswer, TradeRefund};
use crate::platform::wechatpay::{RefundAnswer as WechatRefundAnswer, RefundRequest, RefundStatus};
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
///
/// Only an explicit business refusal by the platform ([`wechat_refused`], [`alipay_refused`]) or a refund the platform
/// reports closed marks it failed (and releases its amount). An answer we cannot verify or read (a bad or stale
/// signature, a platform key we do not hold yet after a rotation, an unexpected body) may hide a refund the platform
/// made: it is retried, with the same `out_refund_no` (`out_request_no` on Alipay), which the platforms treat as the
/// same refund, and the refund stays reserved. A refund still not confirmed when the job's last attempt fails (after
/// about a day) is left pending or processing, never failed: the job fails in the jobs table and staff get a
/// `refund_unconfirmed` incident, recorded by that last attempt (see [`record_unconfirmed`]).
pub async fn process(state: &AppState, job: ClaimedJob) -> Result<(), JobError> {
    let payload: RefundJob = job.payload_as().map_err(|e| JobError::Permanent(format!("bad payload: {e}")))?;
    let refund_id: i64 = payload.refund_id.parse().map_err(|_| JobError::Permanent("bad refund id".into()))?;
    let result = follow_up(state, refund_id).await;
    if let Err(JobError::Retry(error)) = &result {
        if job.is_last_attempt() {
            if let Err(recording) = record_unconfirmed(state, refund_id, job.attempts, error).await {
                tracing::error!(refund_id, %recording, "recording an unconfirmed refund's incident failed");
            }
        }
    }
    result
}

async fn follow_up(state: &AppState, refund_id: i64) -> Result<(), JobError> {
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
    let sent = refund.state.as_str() == STATE_PROCESSING;
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
            let answer = if sent {
                client.query_refund(&refund.out_refund_no).await
            } else {
                client.refund(&request).await.map(Some)
            };
            match answer {
                Ok(Some(answer)) => wechat_step(answer),
                Ok(None) => Step::Resend,
                // A refusal of the refund itself (a query's errors say nothing of the refund) is believed once
                // WeChat Pay also says it has no refund under this number: a repeat of a refund it made, whose
                // parameters differ from the first attempt's (e.g. the notify URL changed since), is refused too.
                Err(error) if !sent && wechat_refused(&error) => {
                    let refusal = ChannelError::from(error).to_string();
                    match client.query_refund(&refund.out_refund_no).await {
                        Ok(None) => Step::Failed(refusal),
                        Ok(Some(answer)) => wechat_step(answer),
                        Err(error) => Step::Unconfirmed(format!("{refusal}; then {}", ChannelError::from(error))),
                    }
                }
                Err(error) if error.is_transient() => {
                    return Err(JobError::Retry(ChannelError::from(error).to_string()))
                }
                Err(error) => Step::Unconfirmed(ChannelError::from(error).to_string()),
            }
        }
        Channel::Alipay(client) if sent => {
            // `alipay.trade.refund` answered without `fund_change` Y: `alipay.trade.fastpay.refund.query` says
            // whether the refund was done (`refund_status` REFUND_SUCCESS); if not, it is sent again with the same
            // `out_request_no` and amount, as Alipay asks.
            match client.trade_refund_query(&order.order_no, &refund.out_refund_no).await {
                Ok(answer) if answer.succeeded => alipay_done(answer, &refund),
                Ok(_) => Step::Resend,
                Err(error) if error.is_transient() => {
                    return Err(JobError::Retry(ChannelError::from(error).to_string()))
                }
                Err(error) => Step::Unconfirmed(ChannelError::from(error).to_string()),
            }
        }
        Channel::Alipay(client) => {
            let request = TradeRefund {
                out_trade_no: &order.order_no,
                refund_fen: refund.amount.value(),
                out_request_no: &refund.out_refund_no,
                reason: payer_reason(&refund),
            };
            match client.trade_refund(&request).await {
                Ok(answer) if answer.fund_change => Step::Succeeded(answer.trade_no),
                // `fund_change` N does not prove the refund: a repeat of one already done, or one Alipay has not
                // confirmed. The next attempt asks `alipay.trade.fastpay.refund.query`.
                Ok(answer) => Step::Processing(answer.trade_no),
                // Believed once the refund query also finds no refund under this number (as for WeChat Pay).
                Err(error) if alipay_refused(&error) => {
                    let refusal = ChannelError::from(error).to_string();
                    match client.trade_refund_query(&order.order_no, &refund.out_refund_no).await {
                        Ok(answer) if answer.succeeded => alipay_done(answer, &refund),
                        Ok(_) => Step::Failed(refusal),
                        // No such trade: no refund of it either.
                        Err(error) if alipay_refused(&error) => Step::Failed(refusal),
                        Err(error) => Step::Unconfirmed(format!("{refusal}; then {}", ChannelError::from(error))),
                    }
                }
                Err(error) if error.is_transient() => {
                    return Err(JobError::Retry(ChannelError::from(error).to_string()))
                }
                Err(error) => Step::Unconfirmed(ChannelError::from(error).to_string()),
            }
        }
    };
    apply_step(state, &refund, payment.platform, outcome).await
}

/// What a verified WeChat Pay refund answer (of the request or the query) means for the refund.
fn wechat_step(answer: WechatRefundAnswer) -> Step {
    match answer.status {
        RefundStatus::Success => Step::Succeeded(answer.refund_id),
        RefundStatus::Processing | RefundStatus::Unknown => Step::Processing(answer.refund_id),
        RefundStatus::Closed | RefundStatus::Abnormal => {
            Step::Failed(format!("WeChat Pay reports the refund {:?}", answer.status))
        }
    }
}

/// An Alipay refund query that found the refund done (`REFUND_SUCCESS`): succeeded, unless it was for another
/// amount than ours (then not trusted, asked again).
fn alipay_done(answer: RefundQueryAnswer, refund: &RefundRecord) -> Step {
    match answer.refund_fen {
        Some(fen) if fen != refund.amount.value() => Step::Unconfirmed(format!(
            "Alipay reports refund {} of {fen} fen, not {} fen",
            refund.out_refund_no,
            refund.amount.value()
        )),
        _ => Step::Succeeded(answer.trade_no.or_else(|| refund.platform_refund_id.clone()).unwrap_or_default()),
    }
}

enum Step {
    Succeeded(String),
    Processing(String),
    /// The platform does not know the refund we thought was sent: send it again.
    Resend,
    /// The platform refused the refund: nothing was refunded.
    Failed(String),
    /// An answer we cannot verify or read: the platform may have refunded. Asked again later, never failed.
    Unconfirmed(String),
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
        Step::Unconfirmed(detail) => {
            // The state stays (pending or processing): only the reason is kept, for staff.
            let detail = crate::jobs::queue::truncate_error(&format!("unconfirmed, asking again: {detail}"));
            let mut conn = state.db.pool().acquire().await.map_err(db_error)?;
            refund_repo::update_refund(&mut conn, refund.id, &refund.state, None, Some(&detail), now)
                .await
                .map_err(db_error)?;
            tracing::warn!(out_refund_no = %refund.out_refund_no, %detail, "refund answer not trusted; retrying");
            Err(JobError::Retry(detail))
        }
    }
}
