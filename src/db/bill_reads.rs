//! Reading bills back for the customer's views: one bill, an account's bills newest first with a cursor, and the
//! monthly usage series. (The feed's batch writes live in `bills.rs`.)

use crate::domain::account::{AccountNo, AccountType};
use crate::domain::bill::{Bill, BillStatus, MeterReading};
use crate::domain::calendar::{parse_date, BillingPeriod};
use crate::domain::money::Fen;
use sqlx::{AnyPool, Row};

/// A bill as stored, with its id and where it stands.
#[derive(Debug, Clone)]
pub struct StoredBill {
    pub id: i64,
    pub bill: Bill,
    pub status: BillStatus,
    pub updated_at: i64,
}

const COLUMNS: &str =
    "id, account_no, period, issue_date, due_date, revision, reading_start, reading_end, multiplier, \
                       usage_kwh, tier_lines, tou_lines, other_charges, total_fen, paid_fen, status, updated_at";

fn decode<T: serde::de::DeserializeOwned>(row: &sqlx::any::AnyRow, column: &str) -> Result<T, sqlx::Error> {
    let text: String = row.try_get(column)?;
    serde_json::from_str(&text).map_err(|e| sqlx::Error::Decode(format!("{column}: {e}").into()))
}

fn bad(what: &str) -> sqlx::Error {
    sqlx::Error::Decode(format!("stored bill has an invalid {what}").into())
}

fn from_row(row: &sqlx::any::AnyRow) -> Result<StoredBill, sqlx::Error> {
    let account_no: String = row.try_get("account_no")?;
    let period: String = row.try_get("period")?;
    let issue_date: String = row.try_get("issue_date")?;
    let due_date: String = row.try_get("due_date")?;
    let status: String = row.try_get("status")?;
    Ok(StoredBill {
        id: row.try_get("id")?,
        bill: Bill {
            account_no: AccountNo::parse(&account_no).map_err(|_| bad("account number"))?,
            period: BillingPeriod::parse(&period).ok_or_else(|| bad("period"))?,
            issue_date: parse_date(&issue_date).ok_or_else(|| bad("issue date"))?,
            due_date: parse_date(&due_date).ok_or_else(|| bad("due date"))?,
            revision: row.try_get("revision")?,
            meter: MeterReading {
                start: row.try_get("reading_start")?,
                end: row.try_get("reading_end")?,
                multiplier: row.try_get("multiplier")?,
            },
            usage_kwh: row.try_get("usage_kwh")?,
            tier_lines: decode(row, "tier_lines")?,
            tou_lines: decode(row, "tou_lines")?,
            other_charges: decode(row, "other_charges")?,
            total: Fen::new(row.try_get("total_fen")?),
            paid: Fen::new(row.try_get("paid_fen")?),
        },
        status: BillStatus::parse(&status).ok_or_else(|| bad("status"))?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// Bill `id` and its account's type, only when `user_id` is bound to the account: one query, so that a bill that
/// is not the user's and one that does not exist cost the same.
pub async fn find_for_user(
    pool: &AnyPool,
    id: i64,
    user_id: i64,
) -> Result<Option<(StoredBill, AccountType)>, sqlx::Error> {
    let columns: Vec<String> = COLUMNS.split(", ").map(|c| format!("b.{c}")).collect();
    let sql = format!(
        "SELECT {}, a.account_type FROM bills b \
         JOIN bindings g ON g.account_no = b.account_no AND g.user_id = $2 \
         JOIN accounts a ON a.account_no = b.account_no WHERE b.id = $1",
        columns.join(", ")
    );
    let row = sqlx::query(&sql).bind(id).bind(user_id).fetch_optional(pool).await?;
    row.map(|row| {
        let account_type: String = row.try_get("account_type")?;
        Ok((from_row(&row)?, AccountType::parse(&account_type).map_err(|_| bad("account type"))?))
    })
    .transpose()
}

pub async fn find(pool: &AnyPool, id: i64) -> Result<Option<StoredBill>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM bills WHERE id = $1");
    let row = sqlx::query(&sql).bind(id).fetch_optional(pool).await?;
    row.as_ref().map(from_row).transpose()
}

/// Which of an account's bills to list.
#[derive(Debug, Clone, Default)]
pub struct BillFilter {
    /// Only bills in this status; `overdue` means unpaid or partially paid with the due date before `today`.
    pub status: Option<StatusFilter>,
    pub year: Option<i32>,
    /// Only periods before this one (the cursor: the last period of the previous page).
    pub before: Option<BillingPeriod>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusFilter {
    /// Nothing paid and not yet overdue on `today` (a Beijing date): the bills the views label `unpaid`.
    Unpaid {
        today: chrono::NaiveDate,
    },
    /// Partly paid and not yet overdue on `today`.
    PartiallyPaid {
        today: chrono::NaiveDate,
    },
    Paid,
    /// Not fully paid and past the due date on `today`.
    Overdue {
        today: chrono::NaiveDate,
    },
}

/// An account's bills, newest period first, at most `limit`.
pub async fn list_for_account(
    pool: &AnyPool,
    account_no: &AccountNo,
    filter: &BillFilter,
    limit: i64,
) -> Result<Vec<StoredBill>, sqlx::Error> {
    let mut sql = format!("SELECT {COLUMNS} FROM bills WHERE account_no = $1");
    let mut args: Vec<String> = vec![account_no.as_str().to_string()];
    let mut push = |clause: &str, value: String, args: &mut Vec<String>| {
        args.push(value);
        sql.push_str(&clause.replace("$?", &format!("${}", args.len())));
    };
    match filter.status {
        Some(StatusFilter::Unpaid { today }) => {
            push(" AND status = 'unpaid' AND due_date >= $?", today.to_string(), &mut args)
        }
        Some(StatusFilter::PartiallyPaid { today }) => {
            push(" AND status = 'partially_paid' AND due_date >= $?", today.to_string(), &mut args)
        }
        Some(StatusFilter::Paid) => push(" AND status = $?", "paid".into(), &mut args),
        Some(StatusFilter::Overdue { today }) => {
            push(" AND status <> 'paid' AND due_date < $?", today.to_string(), &mut args)
        }
        None => {}
    }
    if let Some(year) = filter.year {
        push(" AND period >= $?", format!("{year:04}-01"), &mut args);
        push(" AND period <= $?", format!("{year:04}-12"), &mut args);
    }
    if let Some(before) = filter.before {
        push(" AND period < $?", before.to_string(), &mut args);
    }
    sql.push_str(&format!(" ORDER BY period DESC LIMIT {}", limit.clamp(1, 100)));
    let mut query = sqlx::query(&sql);
    for arg in args {
        query = query.bind(arg);
    }
    let rows = query.fetch_all(pool).await?;
    rows.iter().map(from_row).collect()
}

/// All of an account's bills that are not fully paid, oldest due date first.
pub async fn unpaid_for_account(pool: &AnyPool, account_no: &AccountNo) -> Result<Vec<StoredBill>, sqlx::Error> {
    let sql =
        format!("SELECT {COLUMNS} FROM bills WHERE account_no = $1 AND status <> 'paid' ORDER BY due_date, period");
    let rows = sqlx::query(&sql).bind(account_no.as_str().to_string()).fetch_all(pool).await?;
    rows.iter().map(from_row).collect()
}

/// The account's latest billing period, if it has any bill.
pub async fn latest_period(pool: &AnyPool, account_no: &AccountNo) -> Result<Option<BillingPeriod>, sqlx::Error> {
    let row = sqlx::query("SELECT MAX(period) AS period FROM bills WHERE account_no = $1")
        .bind(account_no.as_str().to_string())
        .fetch_one(pool)
        .await?;
    let period: Option<String> = row.try_get("period")?;
    Ok(period.and_then(|p| BillingPeriod::parse(&p)))
}

/// The account's most recent bill with money paid against it, per the marketing system's records.
pub async fn last_paid(pool: &AnyPool, account_no: &AccountNo) -> Result<Option<StoredBill>, sqlx::Error> {
    let sql =
        format!("SELECT {COLUMNS} FROM bills WHERE account_no = $1 AND paid_fen > 0 ORDER BY period DESC LIMIT 1");
    let row = sqlx::query(&sql).bind(account_no.as_str().to_string()).fetch_optional(pool).await?;
    row.as_ref().map(from_row).transpose()
}

/// One month of consumption.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MonthlyUsage {
    pub period: BillingPeriod,
    pub kwh: i64,
    pub amount: Fen,
}

/// The account's usage and billed amounts for the periods from `first` on, oldest first.
pub async fn usage_since(
    pool: &AnyPool,
    account_no: &AccountNo,
    first: BillingPeriod,
) -> Result<Vec<MonthlyUsage>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT period, usage_kwh, total_fen FROM bills WHERE account_no = $1 AND period >= $2 ORDER BY period",
    )
    .bind(account_no.as_str().to_string())
    .bind(first.to_string())
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            let period: String = row.try_get("period")?;
            Ok(MonthlyUsage {
                period: BillingPeriod::parse(&period).ok_or_else(|| bad("period"))?,
                kwh: row.try_get("usage_kwh")?,
                amount: Fen::new(row.try_get("total_fen")?),
            })
        })
        .collect()
}
