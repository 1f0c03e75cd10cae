//! The bindings repository: which users hold which electricity accounts, and the trail of binding attempts.

use sqlx::{AnyConnection, AnyPool, Row};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    pub id: i64,
    pub user_id: i64,
    pub account_no: String,
    pub label: String,
    pub is_default: bool,
    pub created_at: i64,
}

/// A binding with what the customer's account list shows of its account.
#[derive(Debug, Clone)]
pub struct BindingSummary {
    pub binding: Binding,
    pub holder_name: String,
    pub address: String,
    pub account_type: String,
    pub unpaid_bills: i64,
    /// Unpaid principal over the account's bills, in fen.
    pub arrears_fen: i64,
}

const COLUMNS: &str = "b.id, b.user_id, b.account_no, b.label, b.is_default, b.created_at";

fn binding_from_row(row: &sqlx::any::AnyRow) -> Result<Binding, sqlx::Error> {
    Ok(Binding {
        id: row.try_get("id")?,
        user_id: row.try_get("user_id")?,
        account_no: row.try_get("account_no")?,
        label: row.try_get("label")?,
        is_default: row.try_get::<i64, _>("is_default")? == 1,
        created_at: row.try_get("created_at")?,
    })
}

/// The user's binding `id`; `None` when it does not exist or belongs to someone else.
pub async fn find_for_user(conn: &mut AnyConnection, user_id: i64, id: i64) -> Result<Option<Binding>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM bindings b WHERE b.id = $1 AND b.user_id = $2");
    let row = sqlx::query(&sql).bind(id).bind(user_id).fetch_optional(conn).await?;
    row.as_ref().map(binding_from_row).transpose()
}

pub async fn find_by_account(
    conn: &mut AnyConnection,
    user_id: i64,
    account_no: &str,
) -> Result<Option<Binding>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM bindings b WHERE b.user_id = $1 AND b.account_no = $2");
    let row = sqlx::query(&sql).bind(user_id).bind(account_no.to_string()).fetch_optional(conn).await?;
    row.as_ref().map(binding_from_row).transpose()
}

/// Whether the user holds a binding to the account: the one question every read of an account's data asks.
pub async fn user_holds(pool: &AnyPool, user_id: i64, account_no: &str) -> Result<bool, sqlx::Error> {
    let row = sqlx::query("SELECT 1 AS held FROM bindings WHERE user_id = $1 AND account_no = $2")
        .bind(user_id)
        .bind(account_no.to_string())
        .fetch_optional(pool)
        .await?;
    Ok(row.is_some())
}

/// The user's bindings with their accounts and arrears, the default first, then in the order they were made.
pub async fn list_for_user(pool: &AnyPool, user_id: i64) -> Result<Vec<BindingSummary>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS}, a.holder_name, a.address, a.account_type, \
         (SELECT COUNT(*) FROM bills WHERE bills.account_no = b.account_no AND bills.status <> 'paid') AS unpaid_bills, \
         (SELECT CAST(COALESCE(SUM(total_fen - paid_fen), 0) AS BIGINT) FROM bills \
          WHERE bills.account_no = b.account_no AND bills.status <> 'paid') AS arrears_fen \
         FROM bindings b JOIN accounts a ON a.account_no = b.account_no \
         WHERE b.user_id = $1 ORDER BY b.is_default DESC, b.created_at, b.id"
    );
    let rows = sqlx::query(&sql).bind(user_id).fetch_all(pool).await?;
    rows.iter()
        .map(|row| {
            Ok(BindingSummary {
                binding: binding_from_row(row)?,
                holder_name: row.try_get("holder_name")?,
                address: row.try_get("address")?,
                account_type: row.try_get("account_type")?,
                unpaid_bills: row.try_get("unpaid_bills")?,
                arrears_fen: row.try_get("arrears_fen")?,
            })
        })
        .collect()
}

pub async fn count_for_user(conn: &mut AnyConnection, user_id: i64) -> Result<i64, sqlx::Error> {
    sqlx::query("SELECT COUNT(*) AS n FROM bindings WHERE user_id = $1")
        .bind(user_id)
        .fetch_one(conn)
        .await?
        .try_get("n")
}

pub async fn count_for_account(conn: &mut AnyConnection, account_no: &str) -> Result<i64, sqlx::Error> {
    sqlx::query("SELECT COUNT(*) AS n FROM bindings WHERE account_no = $1")
        .bind(account_no.to_string())
        .fetch_one(conn)
        .await?
        .try_get("n")
}

/// Inserts a binding; false when the user already holds the account.
pub async fn insert(conn: &mut AnyConnection, binding: &Binding) -> Result<bool, sqlx::Error> {
    let result = sqlx::query(
        "INSERT INTO bindings (id, user_id, account_no, label, is_default, created_at) VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (user_id, account_no) DO NOTHING",
    )
    .bind(binding.id)
    .bind(binding.user_id)
    .bind(binding.account_no.clone())
    .bind(binding.label.clone())
    .bind(i64::from(binding.is_default))
    .bind(binding.created_at)
    .execute(conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

pub async fn set_label(conn: &mut AnyConnection, id: i64, label: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE bindings SET label = $1 WHERE id = $2").bind(label.to_string()).bind(id).execute(conn).await?;
    Ok(())
}

/// Makes `id` the user's only default binding.
pub async fn set_default(conn: &mut AnyConnection, user_id: i64, id: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE bindings SET is_default = CASE WHEN id = $1 THEN 1 ELSE 0 END WHERE user_id = $2")
        .bind(id)
        .bind(user_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Deletes the user's binding; false when it was not theirs.
pub async fn delete(conn: &mut AnyConnection, user_id: i64, id: i64) -> Result<bool, sqlx::Error> {
    let result =
        sqlx::query("DELETE FROM bindings WHERE id = $1 AND user_id = $2").bind(id).bind(user_id).execute(conn).await?;
    Ok(result.rows_affected() == 1)
}

/// The user's oldest binding, to become the default when the default is removed.
pub async fn oldest_for_user(conn: &mut AnyConnection, user_id: i64) -> Result<Option<i64>, sqlx::Error> {
    let row = sqlx::query("SELECT id FROM bindings WHERE user_id = $1 ORDER BY created_at, id LIMIT 1")
        .bind(user_id)
        .fetch_optional(conn)
        .await?;
    row.map(|r| r.try_get("id")).transpose()
}

/// Appends to the binding trail.
pub async fn record_event(
    conn: &mut AnyConnection,
    id: i64,
    user_id: i64,
    account_no: &str,
    event: &str,
    proof_kind: &str,
    now_ms: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO binding_events (id, user_id, account_no, event, proof_kind, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id)
    .bind(user_id)
    .bind(account_no.to_string())
    .bind(event.to_string())
    .bind(proof_kind.to_string())
    .bind(now_ms)
    .execute(conn)
    .await?;
    Ok(())
}

/// Binding `id`, whoever holds it (customer service's force-unbind), on the caller's connection or transaction.
pub async fn find(conn: &mut AnyConnection, id: i64) -> Result<Option<Binding>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM bindings b WHERE b.id = $1");
    let row = sqlx::query(&sql).bind(id).fetch_optional(conn).await?;
    row.as_ref().map(binding_from_row).transpose()
}

/// A binding with the platform identity of the user who holds it, for customer service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountBinding {
    pub binding: Binding,
    /// `wechat` | `alipay`.
    pub platform: String,
    /// The user's WeChat openid, or Alipay user_id / open_id.
    pub subject: String,
    pub last_login_at: i64,
}

/// Who is bound to `account_no`, in the order they bound it.
pub async fn for_account(pool: &AnyPool, account_no: &str) -> Result<Vec<AccountBinding>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS}, u.platform, u.subject, u.last_login_at FROM bindings b JOIN users u ON u.id = b.user_id \
         WHERE b.account_no = $1 ORDER BY b.created_at, b.id"
    );
    let rows = sqlx::query(&sql).bind(account_no.to_string()).fetch_all(pool).await?;
    rows.iter()
        .map(|row| {
            Ok(AccountBinding {
                binding: binding_from_row(row)?,
                platform: row.try_get("platform")?,
                subject: row.try_get("subject")?,
                last_login_at: row.try_get("last_login_at")?,
            })
        })
        .collect()
}
