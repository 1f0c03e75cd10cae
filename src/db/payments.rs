//! The payments repository: confirmed payments, what they did to bills, credits and the incidents staff must look
//! at (refunds are in `db::refunds`). The statements that change money run on the caller's transaction
//! (`payments::settlement` holds it).

use super::orders::{from_row as order_from_row, StoredOrder, COLUMNS as ORDER_COLUMNS};
use super::sql::{for_no_key_update, for_update};
use crate::domain::money::Fen;
use crate::domain::order::{BillApplication, BillAtSettlement, OrderLine, OrderState};
use crate::domain::user::Platform;
use sqlx::{AnyConnection, AnyPool, Row};

/// Order `order_no`, locked for the rest of the transaction (PostgreSQL row lock; SQLite's write transaction).
pub async fn lock_order(conn: &mut AnyConnection, order_no: &str) -> Result<Option<StoredOrder>, sqlx::Error> {
    let sql = format!("SELECT {ORDER_COLUMNS} FROM orders WHERE order_no = $1{}", for_update(conn));
    let row = sqlx::query(&sql).bind(order_no.to_string()).fetch_optional(&mut *conn).await?;
    row.as_ref().map(order_from_row).transpose()
}

/// The outcome recorded for a platform's transaction, if it was recorded.
pub async fn recorded_outcome(
    conn: &mut AnyConnection,
    platform: Platform,
    transaction_id: &str,
) -> Result<Option<String>, sqlx::Error> {
    let row = sqlx::query("SELECT outcome FROM payments WHERE platform = $1 AND transaction_id = $2")
        .bind(platform.as_str())
        .bind(transaction_id.to_string())
        .fetch_optional(&mut *conn)
        .await?;
    row.map(|row| row.try_get("outcome")).transpose()
}

/// The order's bills as they stand, locked, with their periods.
pub async fn bills_of_order(
    conn: &mut AnyConnection,
    order_id: i64,
) -> Result<Vec<(BillAtSettlement, String)>, sqlx::Error> {
    let lock = match for_no_key_update(conn) {
        "" => String::new(),
        lock => format!("{lock} OF b"),
    };
    let sql = format!(
        "SELECT ob.bill_id, ob.principal_fen, ob.late_fee_fen, b.total_fen, b.paid_fen, b.period \
         FROM order_bills ob JOIN bills b ON b.id = ob.bill_id WHERE ob.order_id = $1 ORDER BY ob.bill_id{lock}"
    );
    let rows = sqlx::query(&sql).bind(order_id).fetch_all(&mut *conn).await?;
    rows.iter()
        .map(|row| {
            let bill = BillAtSettlement {
                line: OrderLine {
                    bill_id: row.try_get("bill_id")?,
                    principal: Fen::new(row.try_get("principal_fen")?),
                    late_fee: Fen::new(row.try_get("late_fee_fen")?),
                },
                total: Fen::new(row.try_get("total_fen")?),
                paid: Fen::new(row.try_get("paid_fen")?),
            };
            Ok((bill, row.try_get("period")?))
        })
        .collect()
}

/// Writes a bill's new amount paid and the status that follows from it.
pub async fn apply_to_bill(
    conn: &mut AnyConnection,
    application: &BillApplication,
    total: Fen,
    now_ms: i64,
) -> Result<(), sqlx::Error> {
    super::bills::set_paid(conn, application.bill_id, total, application.new_paid, now_ms).await
}

/// Keeps what a payment paid on each bill it settled (principal and late fee), for refunds to take back.
pub async fn record_payment_bills(
    conn: &mut AnyConnection,
    payment_id: i64,
    applied: &[BillApplication],
) -> Result<(), sqlx::Error> {
    for application in applied {
        sqlx::query(
            "INSERT INTO payment_bills (payment_id, bill_id, principal_fen, late_fee_fen) VALUES ($1, $2, $3, $4)",
        )
        .bind(payment_id)
        .bind(application.bill_id)
        .bind(application.principal.value())
        .bind(application.late_fee.value())
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Moves a locked order to `paid` or `flagged`.
pub async fn mark_order_paid(
    conn: &mut AnyConnection,
    order_id: i64,
    state: OrderState,
    paid_at: i64,
    flag: Option<&str>,
    now_ms: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE orders SET state = $2, paid_at = $3, flag = $4, updated_at = $5 WHERE id = $1")
        .bind(order_id)
        .bind(state.as_str())
        .bind(paid_at)
        .bind(flag.map(str::to_owned))
        .bind(now_ms)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Other pending orders holding any of `bill_ids` (settled now by another order) are due to end: their bills are
/// freed and the polling job closes them on their platform at once, so they cannot be paid a second time.
pub async fn end_other_orders(
    conn: &mut AnyConnection,
    bill_ids: &[i64],
    except_order: i64,
    now_ms: i64,
) -> Result<(), sqlx::Error> {
    if bill_ids.is_empty() {
        return Ok(());
    }
    let list = super::sql::placeholder_list(3, bill_ids.len());
    let holders = format!("SELECT order_id FROM open_bill_orders WHERE bill_id IN ({list}) AND order_id <> $2");
    let sql = format!(
        "UPDATE orders SET expires_at = $1, next_poll_at = $1, updated_at = $1 \
         WHERE state = 'pending' AND id IN ({holders})"
    );
    let mut query = sqlx::query(&sql).bind(now_ms).bind(except_order);
    for id in bill_ids {
        query = query.bind(*id);
    }
    query.execute(&mut *conn).await?;
    let list = super::sql::placeholder_list(2, bill_ids.len());
    let sql = format!("DELETE FROM open_bill_orders WHERE bill_id IN ({list}) AND order_id <> $1");
    let mut query = sqlx::query(&sql).bind(except_order);
    for id in bill_ids {
        query = query.bind(*id);
    }
    query.execute(&mut *conn).await?;
    Ok(())
}

/// Frees the bills an order held.
pub async fn release_bills(conn: &mut AnyConnection, order_id: i64) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM open_bill_orders WHERE order_id = $1").bind(order_id).execute(&mut *conn).await?;
    Ok(())
}

/// A payment a platform confirmed, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentRecord {
    pub id: i64,
    pub order_id: i64,
    pub platform: Platform,
    pub transaction_id: String,
    pub amount: Fen,
    pub applied: Fen,
    pub surplus: Fen,
    /// `settled` | `duplicate` | `amount_mismatch`.
    pub outcome: String,
    /// `credit` | `refund`, when there is surplus.
    pub surplus_handling: Option<String>,
    /// `notify` | `query`.
    pub source: String,
    pub paid_at: i64,
    pub received_at: i64,
}

const PAYMENT_COLUMNS: &str = "id, order_id, platform, transaction_id, amount_fen, applied_fen, surplus_fen, outcome, \
                               surplus_handling, source, paid_at, received_at";

fn payment_from_row(row: &sqlx::any::AnyRow) -> Result<PaymentRecord, sqlx::Error> {
    let platform: String = row.try_get("platform")?;
    Ok(PaymentRecord {
        id: row.try_get("id")?,
        order_id: row.try_get("order_id")?,
        platform: Platform::parse(&platform)
            .ok_or_else(|| sqlx::Error::Decode("stored payment has an invalid platform".into()))?,
        transaction_id: row.try_get("transaction_id")?,
        amount: Fen::new(row.try_get("amount_fen")?),
        applied: Fen::new(row.try_get("applied_fen")?),
        surplus: Fen::new(row.try_get("surplus_fen")?),
        outcome: row.try_get("outcome")?,
        surplus_handling: row.try_get("surplus_handling")?,
        source: row.try_get("source")?,
        paid_at: row.try_get("paid_at")?,
        received_at: row.try_get("received_at")?,
    })
}

/// Records a payment. False when the platform's transaction was recorded already (the unique key decides).
pub async fn insert_payment(conn: &mut AnyConnection, payment: &PaymentRecord) -> Result<bool, sqlx::Error> {
    let sql = format!(
        "INSERT INTO payments ({PAYMENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
         ON CONFLICT (platform, transaction_id) DO NOTHING"
    );
    let result = sqlx::query(&sql)
        .bind(payment.id)
        .bind(payment.order_id)
        .bind(payment.platform.as_str())
        .bind(payment.transaction_id.clone())
        .bind(payment.amount.value())
        .bind(payment.applied.value())
        .bind(payment.surplus.value())
        .bind(payment.outcome.clone())
        .bind(payment.surplus_handling.clone())
        .bind(payment.source.clone())
        .bind(payment.paid_at)
        .bind(payment.received_at)
        .execute(&mut *conn)
        .await?;
    Ok(result.rows_affected() == 1)
}

/// The payments recorded for the orders `order_ids`, oldest first.
pub async fn for_orders(pool: &AnyPool, order_ids: &[i64]) -> Result<Vec<PaymentRecord>, sqlx::Error> {
    if order_ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT {PAYMENT_COLUMNS} FROM payments WHERE order_id IN ({}) ORDER BY id",
        super::sql::placeholder_list(1, order_ids.len())
    );
    let mut query = sqlx::query(&sql);
    for id in order_ids {
        query = query.bind(*id);
    }
    let rows = query.fetch_all(pool).await?;
    rows.iter().map(payment_from_row).collect()
}

/// The payments of order `order_id`, oldest first, read on the caller's connection (or transaction).
pub async fn of_order(conn: &mut AnyConnection, order_id: i64) -> Result<Vec<PaymentRecord>, sqlx::Error> {
    let sql = format!("SELECT {PAYMENT_COLUMNS} FROM payments WHERE order_id = $1 ORDER BY id");
    let rows = sqlx::query(&sql).bind(order_id).fetch_all(&mut *conn).await?;
    rows.iter().map(payment_from_row).collect()
}

pub async fn find_payment(pool: &AnyPool, id: i64) -> Result<Option<PaymentRecord>, sqlx::Error> {
    let sql = format!("SELECT {PAYMENT_COLUMNS} FROM payments WHERE id = $1");
    let row = sqlx::query(&sql).bind(id).fetch_optional(pool).await?;
    row.as_ref().map(payment_from_row).transpose()
}

/// Keeps `amount` of a payment as a credit on the account.
pub async fn insert_credit(
    conn: &mut AnyConnection,
    id: i64,
    account_no: &str,
    payment_id: i64,
    amount: Fen,
    now_ms: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO account_credits (id, account_no, payment_id, amount_fen, state, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, 'held', $5, $5)",
    )
    .bind(id)
    .bind(account_no.to_string())
    .bind(payment_id)
    .bind(amount.value())
    .bind(now_ms)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Gives `amount` of a payment's held credit back to the payer (a refund took it): the credit shrinks, and is marked
/// refunded when nothing is left of it. Nothing happens when the payment holds no credit.
pub async fn reduce_credit(
    conn: &mut AnyConnection,
    payment_id: i64,
    amount: Fen,
    now_ms: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE account_credits SET \
         amount_fen = CASE WHEN amount_fen > $2 THEN amount_fen - $2 ELSE 0 END, \
         state = CASE WHEN amount_fen > $2 THEN 'held' ELSE 'refunded' END, updated_at = $3 \
         WHERE payment_id = $1 AND state = 'held'",
    )
    .bind(payment_id)
    .bind(amount.value())
    .bind(now_ms)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The credits held on an account, in fen.
pub async fn credit_held(pool: &AnyPool, account_no: &str) -> Result<Fen, sqlx::Error> {
    let row = sqlx::query(
        "SELECT CAST(COALESCE(SUM(amount_fen), 0) AS BIGINT) AS held FROM account_credits \
         WHERE account_no = $1 AND state = 'held'",
    )
    .bind(account_no.to_string())
    .fetch_one(pool)
    .await?;
    Ok(Fen::new(row.try_get("held")?))
}

/// Kinds of [`record_incident`].
pub const INCIDENT_UNKNOWN_ORDER: &str = "unknown_order";
pub const INCIDENT_AMOUNT_MISMATCH: &str = "amount_mismatch";
pub const INCIDENT_DUPLICATE_PAYMENT: &str = "duplicate_payment";
pub const INCIDENT_REFUND_FAILED: &str = "refund_failed";

/// Records (or counts again) something staff must look at. `detail` is JSON without secrets.
pub async fn record_incident(
    conn: &mut AnyConnection,
    id: i64,
    kind: &str,
    platform: Platform,
    reference: &str,
    detail: &str,
    now_ms: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO payment_incidents \
         (id, kind, platform, reference, detail, occurrences, first_seen_at, last_seen_at, resolved_at) \
         VALUES ($1, $2, $3, $4, $5, 1, $6, $6, NULL) \
         ON CONFLICT (kind, platform, reference) DO UPDATE SET occurrences = payment_incidents.occurrences + 1, \
         last_seen_at = excluded.last_seen_at, detail = excluded.detail",
    )
    .bind(id)
    .bind(kind.to_string())
    .bind(platform.as_str())
    .bind(reference.to_string())
    .bind(detail.to_string())
    .bind(now_ms)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// An incident as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incident {
    pub id: i64,
    pub kind: String,
    pub platform: String,
    pub reference: String,
    pub detail: String,
    pub occurrences: i64,
    pub first_seen_at: i64,
    pub last_seen_at: i64,
    pub resolved_at: Option<i64>,
}

/// Open incidents, most recent first.
pub async fn open_incidents(pool: &AnyPool, limit: i64) -> Result<Vec<Incident>, sqlx::Error> {
    let sql = format!(
        "SELECT {INCIDENT_COLUMNS} FROM payment_incidents WHERE resolved_at IS NULL ORDER BY last_seen_at DESC LIMIT $1"
    );
    let rows = sqlx::query(&sql).bind(limit).fetch_all(pool).await?;
    rows.iter().map(incident_from_row).collect()
}

/// The incidents about `references` (an order number, its refunds' numbers), resolved or not, oldest first.
pub async fn incidents_about(pool: &AnyPool, references: &[String]) -> Result<Vec<Incident>, sqlx::Error> {
    if references.is_empty() {
        return Ok(Vec::new());
    }
    let list = super::sql::placeholder_list(1, references.len());
    let sql = format!(
        "SELECT {INCIDENT_COLUMNS} FROM payment_incidents WHERE reference IN ({list}) ORDER BY first_seen_at, id LIMIT 100"
    );
    let mut query = sqlx::query(&sql);
    for reference in references {
        query = query.bind(reference.clone());
    }
    let rows = query.fetch_all(pool).await?;
    rows.iter().map(incident_from_row).collect()
}

const INCIDENT_COLUMNS: &str =
    "id, kind, platform, reference, detail, occurrences, first_seen_at, last_seen_at, resolved_at";

fn incident_from_row(row: &sqlx::any::AnyRow) -> Result<Incident, sqlx::Error> {
    Ok(Incident {
        id: row.try_get("id")?,
        kind: row.try_get("kind")?,
        platform: row.try_get("platform")?,
        reference: row.try_get("reference")?,
        detail: row.try_get("detail")?,
        occurrences: row.try_get("occurrences")?,
        first_seen_at: row.try_get("first_seen_at")?,
        last_seen_at: row.try_get("last_seen_at")?,
        resolved_at: row.try_get("resolved_at")?,
    })
}
