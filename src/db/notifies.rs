//! The payment platforms' verified notifies, as received: what each said and what we made of it, for staff answering
//! "I paid but my bill still shows unpaid". Only verified notifies are kept (a forged one is refused before this).

use super::ids::next_id;
use sqlx::{AnyPool, Row};

pub const KIND_PAYMENT: &str = "payment";
pub const KIND_REFUND: &str = "refund";

/// A verified notify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedNotify {
    /// `wechat` | `alipay`.
    pub platform: String,
    /// [`KIND_PAYMENT`] | [`KIND_REFUND`].
    pub kind: String,
    pub order_no: String,
    pub out_refund_no: Option<String>,
    pub transaction_id: Option<String>,
    /// The platform's own word: SUCCESS, TRADE_SUCCESS, REFUND's SUCCESS/CLOSED/ABNORMAL, ...
    pub reported_state: String,
    pub amount_fen: Option<i64>,
    /// What we made of it: settled, duplicate, already_settled, unknown_order, refund_succeeded, ...
    pub outcome: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredNotify {
    pub id: i64,
    pub notify: ReceivedNotify,
    pub received_at: i64,
}

/// Keeps one verified notify, on the pool or inside a transaction (the settlement's). Fields the platform controls are
/// cut to a sane length.
pub async fn record<'e>(
    executor: impl sqlx::Executor<'e, Database = sqlx::Any>,
    notify: &ReceivedNotify,
    now_ms: i64,
) -> Result<(), sqlx::Error> {
    let cut = |text: &str| text.chars().take(128).collect::<String>();
    sqlx::query(
        "INSERT INTO payment_notifies (id, platform, kind, order_no, out_refund_no, transaction_id, reported_state, \
         amount_fen, outcome, received_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(next_id(now_ms))
    .bind(cut(&notify.platform))
    .bind(cut(&notify.kind))
    .bind(cut(&notify.order_no))
    .bind(notify.out_refund_no.as_deref().map(cut))
    .bind(notify.transaction_id.as_deref().map(cut))
    .bind(cut(&notify.reported_state))
    .bind(notify.amount_fen)
    .bind(cut(&notify.outcome))
    .bind(now_ms)
    .execute(executor)
    .await?;
    Ok(())
}

/// The latest `limit` notifies about an order (its payments and refunds), oldest first.
pub async fn for_order(pool: &AnyPool, order_no: &str, limit: i64) -> Result<Vec<StoredNotify>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, platform, kind, order_no, out_refund_no, transaction_id, reported_state, amount_fen, outcome, \
         received_at FROM payment_notifies WHERE order_no = $1 ORDER BY received_at DESC, id DESC LIMIT $2",
    )
    .bind(order_no)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    let mut notifies = rows
        .iter()
        .map(|row| {
            Ok(StoredNotify {
                id: row.try_get("id")?,
                notify: ReceivedNotify {
                    platform: row.try_get("platform")?,
                    kind: row.try_get("kind")?,
                    order_no: row.try_get("order_no")?,
                    out_refund_no: row.try_get("out_refund_no")?,
                    transaction_id: row.try_get("transaction_id")?,
                    reported_state: row.try_get("reported_state")?,
                    amount_fen: row.try_get("amount_fen")?,
                    outcome: row.try_get("outcome")?,
                },
                received_at: row.try_get("received_at")?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    notifies.reverse();
    Ok(notifies)
}
