//! Refunds, asked of the platform by a durable job: the refund row is written first (in the transaction that
//! decided it), and the job sends it with its `out_refund_no` as the idempotency key, so a retry after a lost answer
//! never refunds twice. WeChat Pay answers "processing" and tells the end by a refund notification (or the job's
//! next query); Alipay answers synchronously.

use super::channel::{Channel, ChannelError};
use crate::db::orders;
use crate::db::payments::{self as repo, RefundRecord};
use crate::jobs::queue::{self, ClaimedJob};
use crate::jobs::{run_worker, Backoff, JobError, WorkerOptions, WorkerReport};
use crate::platform::alipay::TradeRefund;
use crate::platform::wechatpay::{RefundRequest, RefundStatus};
use crate::state::AppState;
use serde::{Deserialize, Serialize};
use std::time::Duration;

pub const REFUND_QUEUE: &str = "refund";
/// Attempts before a refund is left failed for staff: with the backoff below, about a day.
pub const MAX_ATTEMPTS: i64 = 40;

/// The refund job's payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundJob {
    pub refund_id: String,
}

/// The refund number sent to the platform: `RF` and the refund id.
pub fn out_refund_no(refund_id: i64) -> String {
    format!("RF{refund_id}")
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
    let refund = repo::find_refund(state.db.pool(), refund_id).await.map_err(db_error)?;
    let refund = refund.ok_or_else(|| JobError::Permanent("no such refund".into()))?;
    if refund.state == "succeeded" || refund.state == "failed" {
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
                reason: &refund.reason,
                refund_fen: refund.amount.value(),
                total_fen: payment.amount.value(),
            };
            // A refund already sent is followed up by a query; the first attempt (or a lost answer) sends it again,
            // which the out_refund_no makes harmless.
            let answer = match refund.state.as_str() {
                "processing" => client.query_refund(&refund.out_refund_no).await,
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
                reason: &refund.reason,
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

async fn apply_step(
    state: &AppState,
    refund: &RefundRecord,
    platform: crate::domain::user::Platform,
    step: Step,
) -> Result<(), JobError> {
    let now = state.now_ms();
    let db_error = |e: sqlx::Error| JobError::Retry(format!("database: {e}"));
    let mut conn = state.db.pool().acquire().await.map_err(db_error)?;
    match step {
        Step::Succeeded(platform_id) => {
            repo::update_refund(&mut conn, refund.id, "succeeded", Some(&platform_id), None, now)
                .await
                .map_err(db_error)?;
            Ok(())
        }
        Step::Processing(platform_id) => {
            repo::update_refund(&mut conn, refund.id, "processing", Some(&platform_id), None, now)
                .await
                .map_err(db_error)?;
            Err(JobError::Retry("the platform is processing the refund".into()))
        }
        Step::Resend => {
            repo::update_refund(&mut conn, refund.id, "pending", None, None, now).await.map_err(db_error)?;
            Err(JobError::Retry("the platform does not know the refund yet; sending it again".into()))
        }
        Step::Failed(detail) => {
            let detail = crate::jobs::queue::truncate_error(&detail);
            drop(conn);
            fail_refund(state, refund, platform, None, &detail).await.map_err(db_error)?;
            Err(JobError::Permanent(detail))
        }
    }
}

/// A refund that ended without the money going back: in one transaction it is marked failed, the money is kept as a
/// credit on the account (never lost), and staff get an incident.
async fn fail_refund(
    state: &AppState,
    refund: &RefundRecord,
    platform: crate::domain::user::Platform,
    platform_refund_id: Option<&str>,
    detail: &str,
) -> Result<(), sqlx::Error> {
    let now = state.now_ms();
    let payment = repo::find_payment(state.db.pool(), refund.payment_id).await?;
    let order = match &payment {
        Some(payment) => orders::find_by_id(state.db.pool(), payment.order_id).await?,
        None => None,
    };
    let mut tx = state.db.begin_write().await?;
    if !repo::update_refund(&mut tx, refund.id, "failed", platform_refund_id, Some(detail), now).await? {
        return Ok(());
    }
    if let Some(order) = &order {
        let id = crate::db::ids::next_id(now);
        repo::insert_credit(&mut tx, id, &order.account_no, refund.payment_id, refund.amount, now).await?;
    }
    let incident = serde_json::json!({
        "refund_id": refund.id.to_string(),
        "amount_fen": refund.amount.value(),
        "error": detail,
        "kept_as_credit": order.is_some(),
    })
    .to_string();
    let kind = repo::INCIDENT_REFUND_FAILED;
    let id = crate::db::ids::next_id(now);
    repo::record_incident(&mut tx, id, kind, platform, &refund.out_refund_no, &incident, now).await?;
    tx.commit().await
}

/// A refund notification (verified) tells how a refund ended.
pub async fn refund_notified(
    state: &AppState,
    out_refund_no: &str,
    status: RefundStatus,
    refund_id: &str,
) -> Result<bool, sqlx::Error> {
    let Some(refund) = repo::find_refund_by_no(state.db.pool(), out_refund_no).await? else {
        return Ok(false);
    };
    let now = state.now_ms();
    match status {
        RefundStatus::Success => {
            let mut conn = state.db.pool().acquire().await?;
            repo::update_refund(&mut conn, refund.id, "succeeded", Some(refund_id), None, now).await?;
        }
        RefundStatus::Closed | RefundStatus::Abnormal => {
            let error = format!("WeChat Pay notified the refund {status:?}");
            fail_refund(state, &refund, crate::domain::user::Platform::Wechat, Some(refund_id), &error).await?;
        }
        RefundStatus::Processing | RefundStatus::Unknown => {}
    }
    Ok(true)
}
