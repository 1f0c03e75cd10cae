//! The refunds repository: refunds asked of a platform (of a payment's surplus, or by staff), what a staff refund
//! takes back from each bill, and what a succeeded one does to those bills. The statements that decide or apply a
//! refund run on the caller's transaction (`payments::staff_refunds` and `payments::refunds` hold it).

use super::sql::{for_no_key_update, placeholder_list};
use crate::domain::money::Fen;
use crate::domain::refund::{BillTakeBack, PaidOnBill, RefundBasis, RefundKind};
use sqlx::{AnyConnection, AnyPool, Row};
use std::collections::HashMap;

/// A refund to ask of a platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundRecord {
    pub id: i64,
    pub payment_id: i64,
    pub out_refund_no: String,
    pub amount: Fen,
    pub reason: String,
    /// `pending` | `processing` | `succeeded` | `failed`.
    pub state: String,
    pub platform_refund_id: Option<String>,
    /// `system` (a surplus refund) or the staff member's name.
    pub requested_by: String,
    pub last_error: Option<String>,
    pub kind: RefundKind,
    /// The part of `amount` that comes out of the payment's surplus; the rest comes off bills (`refund_bills`).
    pub from_surplus: Fen,
    pub created_at: i64,
    pub updated_at: i64,
}

pub const STATE_PENDING: &str = "pending";
pub const STATE_PROCESSING: &str = "processing";
pub const STATE_SUCCEEDED: &str = "succeeded";
pub const STATE_FAILED: &str = "failed";

const REFUND_COLUMNS: &str = "id, payment_id, out_refund_no, amount_fen, reason, state, platform_refund_id, \
                              requested_by, last_error, kind, from_surplus_fen, created_at, updated_at";

fn refund_from_row(row: &sqlx::any::AnyRow) -> Result<RefundRecord, sqlx::Error> {
    let kind: String = row.try_get("kind")?;
    Ok(RefundRecord {
        id: row.try_get("id")?,
        payment_id: row.try_get("payment_id")?,
        out_refund_no: row.try_get("out_refund_no")?,
        amount: Fen::new(row.try_get("amount_fen")?),
        reason: row.try_get("reason")?,
        state: row.try_get("state")?,
        platform_refund_id: row.try_get("platform_refund_id")?,
        requested_by: row.try_get("requested_by")?,
        last_error: row.try_get("last_error")?,
        kind: RefundKind::parse(&kind)
            .ok_or_else(|| sqlx::Error::Decode("stored refund has an invalid kind".into()))?,
        from_surplus: Fen::new(row.try_get("from_surplus_fen")?),
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

pub async fn insert_refund(conn: &mut AnyConnection, refund: &RefundRecord) -> Result<(), sqlx::Error> {
    let sql = format!(
        "INSERT INTO refunds ({REFUND_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
    );
    sqlx::query(&sql)
        .bind(refund.id)
        .bind(refund.payment_id)
        .bind(refund.out_refund_no.clone())
        .bind(refund.amount.value())
        .bind(refund.reason.clone())
        .bind(refund.state.clone())
        .bind(refund.platform_refund_id.clone())
        .bind(refund.requested_by.clone())
        .bind(refund.last_error.clone())
        .bind(refund.kind.as_str())
        .bind(refund.from_surplus.value())
        .bind(refund.created_at)
        .bind(refund.updated_at)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub async fn find_refund(pool: &AnyPool, id: i64) -> Result<Option<RefundRecord>, sqlx::Error> {
    let sql = format!("SELECT {REFUND_COLUMNS} FROM refunds WHERE id = $1");
    let row = sqlx::query(&sql).bind(id).fetch_optional(pool).await?;
    row.as_ref().map(refund_from_row).transpose()
}

pub async fn find_refund_by_no(pool: &AnyPool, out_refund_no: &str) -> Result<Option<RefundRecord>, sqlx::Error> {
    let sql = format!("SELECT {REFUND_COLUMNS} FROM refunds WHERE out_refund_no = $1");
    let row = sqlx::query(&sql).bind(out_refund_no.to_string()).fetch_optional(pool).await?;
    row.as_ref().map(refund_from_row).transpose()
}

/// The refunds of the payments `payment_ids`, oldest first.
pub async fn refunds_for_payments(pool: &AnyPool, payment_ids: &[i64]) -> Result<Vec<RefundRecord>, sqlx::Error> {
    if payment_ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT {REFUND_COLUMNS} FROM refunds WHERE payment_id IN ({}) ORDER BY id",
        placeholder_list(1, payment_ids.len())
    );
    let mut query = sqlx::query(&sql);
    for id in payment_ids {
        query = query.bind(*id);
    }
    let rows = query.fetch_all(pool).await?;
    rows.iter().map(refund_from_row).collect()
}

/// Per payment of `payment_ids` that has refunds: (reserved, succeeded), where reserved is the sum of its refunds
/// that have not failed (pending, processing or succeeded: what can no longer be refunded) and succeeded the sum of
/// those the platform confirmed.
pub async fn refund_totals(pool: &AnyPool, payment_ids: &[i64]) -> Result<HashMap<i64, (Fen, Fen)>, sqlx::Error> {
    let mut totals = HashMap::new();
    for chunk in payment_ids.chunks(250) {
        let sql = format!(
            "SELECT payment_id, \
             CAST(COALESCE(SUM(CASE WHEN state <> 'failed' THEN amount_fen ELSE 0 END), 0) AS BIGINT) AS reserved, \
             CAST(COALESCE(SUM(CASE WHEN state = 'succeeded' THEN amount_fen ELSE 0 END), 0) AS BIGINT) AS succeeded \
             FROM refunds WHERE payment_id IN ({}) GROUP BY payment_id",
            placeholder_list(1, chunk.len())
        );
        let mut query = sqlx::query(&sql);
        for id in chunk {
            query = query.bind(*id);
        }
        for row in query.fetch_all(pool).await? {
            let reserved = Fen::new(row.try_get("reserved")?);
            let succeeded = Fen::new(row.try_get("succeeded")?);
            totals.insert(row.try_get("payment_id")?, (reserved, succeeded));
        }
    }
    Ok(totals)
}

/// Moves a refund along, from a state that is not final; false when it was final already (nothing changes).
pub async fn update_refund(
    conn: &mut AnyConnection,
    id: i64,
    state: &str,
    platform_refund_id: Option<&str>,
    last_error: Option<&str>,
    now_ms: i64,
) -> Result<bool, sqlx::Error> {
    let result = sqlx::query(
        "UPDATE refunds SET state = $2, platform_refund_id = COALESCE($3, platform_refund_id), last_error = $4, \
         updated_at = $5 WHERE id = $1 AND state IN ('pending', 'processing')",
    )
    .bind(id)
    .bind(state.to_string())
    .bind(platform_refund_id.map(str::to_owned))
    .bind(last_error.map(str::to_owned))
    .bind(now_ms)
    .execute(conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// A payment as a new refund of it must see it: `paid` is its amount and `surplus` its surplus, as recorded; the
/// rest is read here, on the caller's transaction (which holds the order's lock).
pub async fn refund_basis(
    conn: &mut AnyConnection,
    payment_id: i64,
    paid: Fen,
    surplus: Fen,
) -> Result<RefundBasis, sqlx::Error> {
    let row = sqlx::query(
        "SELECT CAST(COALESCE(SUM(amount_fen), 0) AS BIGINT) AS reserved, \
         CAST(COALESCE(SUM(from_surplus_fen), 0) AS BIGINT) AS from_surplus \
         FROM refunds WHERE payment_id = $1 AND state <> 'failed'",
    )
    .bind(payment_id)
    .fetch_one(&mut *conn)
    .await?;
    let reserved = Fen::new(row.try_get("reserved")?);
    let surplus_taken = Fen::new(row.try_get("from_surplus")?);
    let rows = sqlx::query(
        "SELECT pb.bill_id, b.period, pb.principal_fen, pb.late_fee_fen, \
         CAST(COALESCE(SUM(rb.principal_fen), 0) AS BIGINT) AS principal_back, \
         CAST(COALESCE(SUM(rb.late_fee_fen), 0) AS BIGINT) AS late_fee_back \
         FROM payment_bills pb JOIN bills b ON b.id = pb.bill_id \
         LEFT JOIN refund_bills rb ON rb.bill_id = pb.bill_id \
           AND rb.refund_id IN (SELECT id FROM refunds WHERE payment_id = $1 AND state <> 'failed') \
         WHERE pb.payment_id = $1 \
         GROUP BY pb.bill_id, b.period, pb.principal_fen, pb.late_fee_fen ORDER BY pb.bill_id",
    )
    .bind(payment_id)
    .fetch_all(&mut *conn)
    .await?;
    let overflow = || sqlx::Error::Decode("refund amounts overflow".into());
    let bills = rows
        .iter()
        .map(|row| {
            let left = |paid: &str, back: &str| -> Result<Fen, sqlx::Error> {
                let left =
                    Fen::new(row.try_get(paid)?).checked_sub(Fen::new(row.try_get(back)?)).ok_or_else(overflow)?;
                Ok(left.max(Fen::ZERO))
            };
            Ok(PaidOnBill {
                bill_id: row.try_get("bill_id")?,
                period: row.try_get("period")?,
                principal: left("principal_fen", "principal_back")?,
                late_fee: left("late_fee_fen", "late_fee_back")?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    let surplus_left = surplus.checked_sub(surplus_taken).ok_or_else(overflow)?.max(Fen::ZERO);
    Ok(RefundBasis { paid, reserved, surplus_left, bills })
}

/// Records what a staff refund takes back from each bill.
pub async fn insert_refund_bills(
    conn: &mut AnyConnection,
    refund_id: i64,
    bills: &[BillTakeBack],
) -> Result<(), sqlx::Error> {
    for bill in bills {
        sqlx::query(
            "INSERT INTO refund_bills (refund_id, bill_id, principal_fen, late_fee_fen) VALUES ($1, $2, $3, $4)",
        )
        .bind(refund_id)
        .bind(bill.bill_id)
        .bind(bill.principal.value())
        .bind(bill.late_fee.value())
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// What a refund takes back from each bill, latest period first.
pub async fn refund_bills(conn: &mut AnyConnection, refund_id: i64) -> Result<Vec<BillTakeBack>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT rb.bill_id, b.period, rb.principal_fen, rb.late_fee_fen FROM refund_bills rb \
         JOIN bills b ON b.id = rb.bill_id WHERE rb.refund_id = $1 ORDER BY b.period DESC, rb.bill_id DESC",
    )
    .bind(refund_id)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(BillTakeBack {
                bill_id: row.try_get("bill_id")?,
                period: row.try_get("period")?,
                principal: Fen::new(row.try_get("principal_fen")?),
                late_fee: Fen::new(row.try_get("late_fee_fen")?),
            })
        })
        .collect()
}

/// A succeeded refund makes its bills owe again what it took back of their principal (never below nothing paid);
/// each bill's status follows from its new amount paid. The late fee was never part of a bill's amount paid.
///
/// The bills are locked and updated in ascending `bill_id` order, whatever order `bills` comes in (latest period
/// first, from [`refund_bills`]): the settlement locks bills by `bill_id` ascending too (`bills_of_order`), so a
/// refund succeeding while the same bills are being settled waits for it instead of deadlocking on PostgreSQL.
pub async fn take_back_from_bills(
    conn: &mut AnyConnection,
    bills: &[BillTakeBack],
    now_ms: i64,
) -> Result<(), sqlx::Error> {
    let lock = for_no_key_update(conn);
    let mut in_lock_order: Vec<&BillTakeBack> = bills.iter().filter(|bill| bill.principal.value() > 0).collect();
    in_lock_order.sort_by_key(|bill| bill.bill_id);
    for bill in in_lock_order {
        let sql = format!("SELECT total_fen, paid_fen FROM bills WHERE id = $1{lock}");
        let Some(row) = sqlx::query(&sql).bind(bill.bill_id).fetch_optional(&mut *conn).await? else {
            continue;
        };
        let total = Fen::new(row.try_get("total_fen")?);
        let paid = Fen::new(row.try_get("paid_fen")?);
        let new_paid = paid.checked_sub(bill.principal).unwrap_or(Fen::ZERO).max(Fen::ZERO);
        super::bills::set_paid(conn, bill.bill_id, total, new_paid, now_ms).await?;
    }
    Ok(())
}
