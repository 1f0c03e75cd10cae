//! The orders repository: orders placed on a platform for an account's bills, the bills each asks for, and the
//! one-open-order-per-bill locks (`open_bill_orders`).

use super::Database;
use crate::domain::money::Fen;
use crate::domain::order::{OrderLine, OrderState};
use crate::domain::user::Platform;
use sqlx::{AnyConnection, AnyPool, Row};

/// An order as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredOrder {
    pub id: i64,
    pub order_no: String,
    pub user_id: i64,
    pub account_no: String,
    pub platform: Platform,
    pub payer: String,
    pub amount: Fen,
    pub fingerprint: String,
    pub state: OrderState,
    pub platform_ref: Option<String>,
    pub expires_at: i64,
    pub paid_at: Option<i64>,
    pub flag: Option<String>,
    /// While pending: when the polling job next asks the platform about it.
    pub next_poll_at: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

pub(crate) const COLUMNS: &str = "id, order_no, user_id, account_no, platform, payer, amount_fen, fingerprint, state, \
                                  platform_ref, expires_at, paid_at, flag, next_poll_at, created_at, updated_at";

fn bad(what: &str) -> sqlx::Error {
    sqlx::Error::Decode(format!("stored order has an invalid {what}").into())
}

pub(crate) fn from_row(row: &sqlx::any::AnyRow) -> Result<StoredOrder, sqlx::Error> {
    let platform: String = row.try_get("platform")?;
    let state: String = row.try_get("state")?;
    Ok(StoredOrder {
        id: row.try_get("id")?,
        order_no: row.try_get("order_no")?,
        user_id: row.try_get("user_id")?,
        account_no: row.try_get("account_no")?,
        platform: Platform::parse(&platform).ok_or_else(|| bad("platform"))?,
        payer: row.try_get("payer")?,
        amount: Fen::new(row.try_get("amount_fen")?),
        fingerprint: row.try_get("fingerprint")?,
        state: OrderState::parse(&state).ok_or_else(|| bad("state"))?,
        platform_ref: row.try_get("platform_ref")?,
        expires_at: row.try_get("expires_at")?,
        paid_at: row.try_get("paid_at")?,
        flag: row.try_get("flag")?,
        next_poll_at: row.try_get("next_poll_at")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// Why a new order could not be written.
#[derive(Debug, thiserror::Error)]
pub enum InsertError {
    /// Another open order took one of the bills first (a concurrent request).
    #[error("a bill is already in another open order")]
    BillTaken,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Writes a pending order with its lines and takes each bill's open-order lock, all on `conn` (the caller's
/// transaction). A lock already held means another open order has the bill: nothing is kept when the caller rolls
/// back.
pub async fn insert(conn: &mut AnyConnection, order: &StoredOrder, lines: &[OrderLine]) -> Result<(), InsertError> {
    let sql = format!(
        "INSERT INTO orders ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
    );
    sqlx::query(&sql)
        .bind(order.id)
        .bind(order.order_no.clone())
        .bind(order.user_id)
        .bind(order.account_no.clone())
        .bind(order.platform.as_str())
        .bind(order.payer.clone())
        .bind(order.amount.value())
        .bind(order.fingerprint.clone())
        .bind(order.state.as_str())
        .bind(order.platform_ref.clone())
        .bind(order.expires_at)
        .bind(order.paid_at)
        .bind(order.flag.clone())
        .bind(order.next_poll_at)
        .bind(order.created_at)
        .bind(order.updated_at)
        .execute(&mut *conn)
        .await?;
    // Bills locked in id order, so that two requests naming overlapping bills cannot deadlock each other.
    let mut sorted: Vec<&OrderLine> = lines.iter().collect();
    sorted.sort_by_key(|line| line.bill_id);
    for line in sorted {
        sqlx::query("INSERT INTO order_bills (order_id, bill_id, principal_fen, late_fee_fen) VALUES ($1, $2, $3, $4)")
            .bind(order.id)
            .bind(line.bill_id)
            .bind(line.principal.value())
            .bind(line.late_fee.value())
            .execute(&mut *conn)
            .await?;
        let locked = sqlx::query(
            "INSERT INTO open_bill_orders (bill_id, order_id) VALUES ($1, $2) ON CONFLICT (bill_id) DO NOTHING",
        )
        .bind(line.bill_id)
        .bind(order.id)
        .execute(&mut *conn)
        .await?;
        if locked.rows_affected() == 0 {
            return Err(InsertError::BillTaken);
        }
    }
    Ok(())
}

/// True when every line's bill still lacks exactly the principal the line asks for (nothing was paid meanwhile),
/// read on the caller's transaction.
pub async fn bills_unchanged(conn: &mut AnyConnection, lines: &[OrderLine]) -> Result<bool, sqlx::Error> {
    let sql = format!(
        "SELECT id, total_fen, paid_fen FROM bills WHERE id IN ({})",
        super::sql::placeholder_list(1, lines.len())
    );
    let mut query = sqlx::query(&sql);
    for line in lines {
        query = query.bind(line.bill_id);
    }
    let rows = query.fetch_all(&mut *conn).await?;
    let mut unchanged = rows.len() == lines.len();
    for row in &rows {
        let id: i64 = row.try_get("id")?;
        let outstanding = row.try_get::<i64, _>("total_fen")?.checked_sub(row.try_get::<i64, _>("paid_fen")?);
        unchanged &= lines.iter().any(|line| line.bill_id == id && Some(line.principal.value()) == outstanding);
    }
    Ok(unchanged)
}

pub async fn find_by_no(pool: &AnyPool, order_no: &str) -> Result<Option<StoredOrder>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM orders WHERE order_no = $1");
    let row = sqlx::query(&sql).bind(order_no.to_string()).fetch_optional(pool).await?;
    row.as_ref().map(from_row).transpose()
}

/// Order `order_no` when `user_id` placed it, or is bound to its account (a family member sees the household's
/// orders); otherwise `None`, like an order that does not exist.
pub async fn find_for_user(pool: &AnyPool, order_no: &str, user_id: i64) -> Result<Option<StoredOrder>, sqlx::Error> {
    let columns: Vec<String> = COLUMNS.split(", ").map(|c| format!("o.{}", c.trim())).collect();
    let sql = format!(
        "SELECT {} FROM orders o WHERE o.order_no = $1 AND (o.user_id = $2 OR EXISTS \
         (SELECT 1 FROM bindings g WHERE g.account_no = o.account_no AND g.user_id = $2))",
        columns.join(", ")
    );
    let row = sqlx::query(&sql).bind(order_no.to_string()).bind(user_id).fetch_optional(pool).await?;
    row.as_ref().map(from_row).transpose()
}

/// The lines of an order.
pub async fn lines(pool: &AnyPool, order_id: i64) -> Result<Vec<OrderLine>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT bill_id, principal_fen, late_fee_fen FROM order_bills WHERE order_id = $1 ORDER BY bill_id",
    )
    .bind(order_id)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(OrderLine {
                bill_id: row.try_get("bill_id")?,
                principal: Fen::new(row.try_get("principal_fen")?),
                late_fee: Fen::new(row.try_get("late_fee_fen")?),
            })
        })
        .collect()
}

/// The open orders holding any of `bill_ids`.
pub async fn open_for_bills(pool: &AnyPool, bill_ids: &[i64]) -> Result<Vec<StoredOrder>, sqlx::Error> {
    if bill_ids.is_empty() {
        return Ok(Vec::new());
    }
    let columns: Vec<String> = COLUMNS.split(", ").map(|c| format!("o.{}", c.trim())).collect();
    let sql = format!(
        "SELECT {} FROM orders o WHERE o.id IN (SELECT order_id FROM open_bill_orders WHERE bill_id IN ({})) \
         ORDER BY o.id",
        columns.join(", "),
        super::sql::placeholder_list(1, bill_ids.len())
    );
    let mut query = sqlx::query(&sql);
    for id in bill_ids {
        query = query.bind(*id);
    }
    let rows = query.fetch_all(pool).await?;
    rows.iter().map(from_row).collect()
}

/// Records the platform's reference (prepay_id, trade_no) of an order still pending; false when it is not pending
/// any more (a concurrent request closed it meanwhile).
pub async fn set_platform_ref(pool: &AnyPool, id: i64, platform_ref: &str, now_ms: i64) -> Result<bool, sqlx::Error> {
    let result =
        sqlx::query("UPDATE orders SET platform_ref = $2, updated_at = $3 WHERE id = $1 AND state = 'pending'")
            .bind(id)
            .bind(platform_ref.to_string())
            .bind(now_ms)
            .execute(pool)
            .await?;
    Ok(result.rows_affected() == 1)
}

/// When the polling job asks about a pending order next.
pub async fn set_next_poll(pool: &AnyPool, id: i64, next_poll_at: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE orders SET next_poll_at = $2 WHERE id = $1 AND state = 'pending'")
        .bind(id)
        .bind(next_poll_at)
        .execute(pool)
        .await?;
    Ok(())
}

/// Ends a pending order without payment (`closed`, `expired` or `failed`) and frees its bills, in one transaction.
/// False when the order was no longer pending (a payment or another closer came first): nothing changes then.
pub async fn finish_unpaid(db: &Database, id: i64, to: OrderState, now_ms: i64) -> Result<bool, sqlx::Error> {
    finish_unpaid_audited(db, id, to, now_ms, None).await
}

/// [`finish_unpaid`], appending `audit` (the staff action that ended the order) in the same transaction when the
/// order did end; false (and nothing appended) when it was no longer pending.
pub async fn finish_unpaid_audited(
    db: &Database,
    id: i64,
    to: OrderState,
    now_ms: i64,
    audit: Option<&super::audit::AuditEntry>,
) -> Result<bool, sqlx::Error> {
    debug_assert!(matches!(to, OrderState::Closed | OrderState::Expired | OrderState::Failed));
    let mut tx = db.begin_write().await?;
    let updated = sqlx::query("UPDATE orders SET state = $2, updated_at = $3 WHERE id = $1 AND state = 'pending'")
        .bind(id)
        .bind(to.as_str())
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;
    if updated.rows_affected() == 0 {
        return Ok(false);
    }
    sqlx::query("DELETE FROM open_bill_orders WHERE order_id = $1").bind(id).execute(&mut *tx).await?;
    if let Some(entry) = audit {
        super::audit::append(&mut tx, entry, now_ms).await?;
    }
    tx.commit().await?;
    Ok(true)
}

/// Pending orders due for the polling job at `now_ms`, the longest due first.
pub async fn pending_due(pool: &AnyPool, now_ms: i64, limit: i64) -> Result<Vec<StoredOrder>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM orders WHERE state = 'pending' AND next_poll_at <= $1 ORDER BY next_poll_at LIMIT $2"
    );
    let rows = sqlx::query(&sql).bind(now_ms).bind(limit).fetch_all(pool).await?;
    rows.iter().map(from_row).collect()
}

/// The orders that asked for bill `bill_id`, newest first, with what each asked for it.
pub async fn for_bill(pool: &AnyPool, bill_id: i64) -> Result<Vec<(StoredOrder, OrderLine)>, sqlx::Error> {
    let columns: Vec<String> = COLUMNS.split(", ").map(|c| format!("o.{}", c.trim())).collect();
    let sql = format!(
        "SELECT {}, ob.bill_id, ob.principal_fen, ob.late_fee_fen FROM order_bills ob \
         JOIN orders o ON o.id = ob.order_id WHERE ob.bill_id = $1 ORDER BY o.id DESC LIMIT 50",
        columns.join(", ")
    );
    let rows = sqlx::query(&sql).bind(bill_id).fetch_all(pool).await?;
    rows.iter().map(|row| Ok((from_row(row)?, line_from_row(row)?))).collect()
}

pub async fn find_by_id(pool: &AnyPool, id: i64) -> Result<Option<StoredOrder>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM orders WHERE id = $1");
    let row = sqlx::query(&sql).bind(id).fetch_optional(pool).await?;
    row.as_ref().map(from_row).transpose()
}

/// An order in a list for customer service, with what was refunded of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderSummary {
    pub order_no: String,
    pub platform: String,
    pub amount_fen: i64,
    pub state: String,
    pub created_at: i64,
    pub paid_at: Option<i64>,
    /// What the platforms confirmed refunding of the order's payments.
    pub refunded_fen: i64,
}

/// The orders `condition` (on `o`, binding `$1`) selects, newest first, at most `$2`.
fn summaries_sql(condition: &str) -> String {
    format!(
        "SELECT o.order_no, o.platform, o.amount_fen, o.state, o.created_at, o.paid_at, \
         (SELECT CAST(COALESCE(SUM(r.amount_fen), 0) AS BIGINT) FROM refunds r JOIN payments p ON p.id = r.payment_id \
          WHERE p.order_id = o.id AND r.state = 'succeeded') AS refunded_fen \
         FROM orders o WHERE {condition} ORDER BY o.created_at DESC, o.id DESC LIMIT $2"
    )
}

fn summary_from_row(row: &sqlx::any::AnyRow) -> Result<OrderSummary, sqlx::Error> {
    Ok(OrderSummary {
        order_no: row.try_get("order_no")?,
        platform: row.try_get("platform")?,
        amount_fen: row.try_get("amount_fen")?,
        state: row.try_get("state")?,
        created_at: row.try_get("created_at")?,
        paid_at: row.try_get("paid_at")?,
        refunded_fen: row.try_get("refunded_fen")?,
    })
}

/// The account's latest orders, newest first, at most `limit`.
pub async fn summaries_for_account(
    pool: &AnyPool,
    account_no: &str,
    limit: i64,
) -> Result<Vec<OrderSummary>, sqlx::Error> {
    let sql = summaries_sql("o.account_no = $1");
    let rows = sqlx::query(&sql).bind(account_no.to_string()).bind(limit).fetch_all(pool).await?;
    rows.iter().map(summary_from_row).collect()
}

/// The user's latest orders, newest first, at most `limit`.
pub async fn summaries_for_user(pool: &AnyPool, user_id: i64, limit: i64) -> Result<Vec<OrderSummary>, sqlx::Error> {
    let sql = summaries_sql("o.user_id = $1");
    let rows = sqlx::query(&sql).bind(user_id).bind(limit).fetch_all(pool).await?;
    rows.iter().map(summary_from_row).collect()
}

/// The lines of an order with the period of each bill, by bill.
pub async fn lines_with_periods(pool: &AnyPool, order_id: i64) -> Result<Vec<(OrderLine, String)>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT ob.bill_id, ob.principal_fen, ob.late_fee_fen, b.period FROM order_bills ob \
         JOIN bills b ON b.id = ob.bill_id WHERE ob.order_id = $1 ORDER BY b.period, ob.bill_id",
    )
    .bind(order_id)
    .fetch_all(pool)
    .await?;
    rows.iter().map(|row| Ok((line_from_row(row)?, row.try_get("period")?))).collect()
}

/// An order line from a row of `order_bills` (bill_id, principal_fen, late_fee_fen).
fn line_from_row(row: &sqlx::any::AnyRow) -> Result<OrderLine, sqlx::Error> {
    Ok(OrderLine {
        bill_id: row.try_get("bill_id")?,
        principal: Fen::new(row.try_get("principal_fen")?),
        late_fee: Fen::new(row.try_get("late_fee_fen")?),
    })
}

/// Where the write-back of a payment to the marketing system stands: its job's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WritebackState {
    /// `pending` | `leased` | `done` | `failed`.
    pub state: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub updated_at: i64,
}

/// The jobs of `queue` named by `dedupe_keys` (a payment's write-back is the job keyed by its event id), by key.
pub async fn writebacks(
    pool: &AnyPool,
    queue: &str,
    dedupe_keys: &[String],
) -> Result<std::collections::HashMap<String, WritebackState>, sqlx::Error> {
    let mut found = std::collections::HashMap::new();
    for chunk in dedupe_keys.chunks(200) {
        let sql = format!(
            "SELECT dedupe_key, state, attempts, last_error, updated_at FROM jobs WHERE queue = $1 \
             AND dedupe_key IN ({})",
            super::sql::placeholder_list(2, chunk.len())
        );
        let mut query = sqlx::query(&sql).bind(queue.to_string());
        for key in chunk {
            query = query.bind(key.clone());
        }
        for row in query.fetch_all(pool).await? {
            let state = WritebackState {
                state: row.try_get("state")?,
                attempts: row.try_get("attempts")?,
                last_error: row.try_get("last_error")?,
                updated_at: row.try_get("updated_at")?,
            };
            found.insert(row.try_get("dedupe_key")?, state);
        }
    }
    Ok(found)
}
