//! The bills repository: bills as the marketing system issues and revises them.

use super::ids::next_id;
use super::sql::{keys_per_lookup, placeholder_list, reuse_lookup_statements, rows_per_statement, values_tuples};
use crate::domain::bill::{Bill, BillStatus};
use crate::domain::feed::{ItemOutcome, Rejection};
use crate::domain::money::Fen;
use sqlx::{AnyConnection, Row};
use std::collections::{HashMap, HashSet};

/// What the batch logic needs to know of a stored bill.
#[derive(Debug, Clone)]
struct Known {
    id: i64,
    revision: i64,
    content_hash: String,
    status: BillStatus,
    /// Created by this batch (inserted at the end) rather than already stored.
    is_new: bool,
}

/// Creates, revises or leaves unchanged a batch of validated bills inside the caller's transaction; one outcome per
/// item, in order. A bill needs its account; only a higher revision replaces a bill; a paid bill is never revised.
pub async fn upsert_batch(
    conn: &mut AnyConnection,
    bills: &[Bill],
    now_ms: i64,
) -> Result<Vec<ItemOutcome>, sqlx::Error> {
    let account_keys: Vec<&str> = {
        let unique: HashSet<&str> = bills.iter().map(|b| b.account_no.as_str()).collect();
        unique.into_iter().collect()
    };
    let periods = periods_of(bills.iter());
    let (accounts, mut known) = lookup(conn, &account_keys, &periods).await?;
    let hashes: Vec<String> = bills.iter().map(Bill::content_hash).collect();

    let mut outcomes = Vec::with_capacity(bills.len());
    // key -> index of the content to write
    let mut writes: HashMap<(String, String), usize> = HashMap::new();
    for (index, bill) in bills.iter().enumerate() {
        if !accounts.contains(bill.account_no.as_str()) {
            outcomes.push(ItemOutcome::Rejected(Rejection::new(
                "UNKNOWN_ACCOUNT",
                format!("account {} has not been fed", bill.account_no),
            )));
            continue;
        }
        let key = (bill.account_no.as_str().to_string(), bill.period.to_string());
        let hash = hashes[index].clone();
        let outcome = match known.get_mut(&key) {
            None => {
                known.insert(
                    key.clone(),
                    Known {
                        id: next_id(now_ms),
                        revision: bill.revision,
                        content_hash: hash,
                        status: bill.status(),
                        is_new: true,
                    },
                );
                writes.insert(key, index);
                ItemOutcome::Created
            }
            Some(stored) => match decide_revision(stored, bill, &hash) {
                Ok(outcome) => {
                    if outcome == ItemOutcome::Updated {
                        stored.revision = bill.revision;
                        stored.content_hash = hash;
                        stored.status = bill.status();
                        writes.insert(key, index);
                    }
                    outcome
                }
                Err(rejection) => ItemOutcome::Rejected(rejection),
            },
        };
        outcomes.push(outcome);
    }

    let mut inserts: Vec<(i64, usize)> = Vec::new();
    for (key, index) in &writes {
        let stored = &known[key];
        if stored.is_new {
            inserts.push((stored.id, *index));
        } else if !revise(conn, stored.id, &bills[*index], &hashes[*index], now_ms).await? {
            // Paid or revised by someone else since we read it: report it, write nothing.
            outcomes[*index] = concurrent_update();
        }
    }
    inserts.sort_unstable();
    let lost = insert_many(conn, bills, &hashes, &inserts, now_ms).await?;
    if !lost.is_empty() {
        // Another request created these bills after we looked (on PostgreSQL both may look at once): decide again
        // against what it stored, as if this batch had come second.
        let lost_accounts: HashSet<&str> = lost.iter().map(|i| bills[*i].account_no.as_str()).collect();
        let lost_periods = periods_of(lost.iter().map(|i| &bills[*i]));
        let (_, stored_now) = lookup(conn, &lost_accounts.into_iter().collect::<Vec<_>>(), &lost_periods).await?;
        for index in lost {
            let bill = &bills[index];
            let key = (bill.account_no.as_str().to_string(), bill.period.to_string());
            outcomes[index] = match stored_now.get(&key).map(|s| (s, decide_revision(s, bill, &hashes[index]))) {
                Some((stored, Ok(ItemOutcome::Updated))) => {
                    if revise(conn, stored.id, bill, &hashes[index], now_ms).await? {
                        ItemOutcome::Updated
                    } else {
                        concurrent_update()
                    }
                }
                Some((_, Ok(outcome))) => outcome,
                Some((_, Err(rejection))) => ItemOutcome::Rejected(rejection),
                None => concurrent_update(),
            };
        }
    }
    Ok(outcomes)
}

fn concurrent_update() -> ItemOutcome {
    ItemOutcome::Rejected(Rejection::new(
        "CONCURRENT_UPDATE",
        "the bill changed while this batch was applied; send it again",
    ))
}

/// Unchanged, an accepted revision, or why the revision is refused.
fn decide_revision(stored: &Known, bill: &Bill, hash: &str) -> Result<ItemOutcome, Rejection> {
    if stored.content_hash == hash {
        return Ok(ItemOutcome::Unchanged);
    }
    if stored.status == BillStatus::Paid {
        return Err(Rejection::new("BILL_ALREADY_PAID", "the bill is paid; a paid bill cannot be revised"));
    }
    if bill.revision < stored.revision {
        return Err(Rejection::new(
            "STALE_REVISION",
            format!("revision {} is older than the stored revision {}", bill.revision, stored.revision),
        ));
    }
    if bill.revision == stored.revision {
        return Err(Rejection::new(
            "REVISION_CONFLICT",
            format!("revision {} is stored with other content; a change needs a higher revision", bill.revision),
        ));
    }
    Ok(ItemOutcome::Updated)
}

/// The distinct periods of some bills, as stored.
fn periods_of<'a>(bills: impl Iterator<Item = &'a Bill>) -> Vec<String> {
    let unique: HashSet<_> = bills.map(|b| b.period).collect();
    unique.into_iter().map(|p| p.to_string()).collect()
}

/// Stored bills by (account_no, period).
type KnownBills = HashMap<(String, String), Known>;

/// A batch normally spans one or two periods; past this many, the lookup reads all the accounts' bills instead.
const MAX_PERIODS_IN_FILTER: usize = 24;

/// Which of `account_keys` exist, and their stored bills for `periods` (the only ones a batch's decisions need), with
/// one query per chunk of accounts.
async fn lookup(
    conn: &mut AnyConnection,
    account_keys: &[&str],
    periods: &[String],
) -> Result<(HashSet<String>, KnownBills), sqlx::Error> {
    let mut accounts = HashSet::with_capacity(account_keys.len());
    let mut found = HashMap::with_capacity(account_keys.len());
    let periods = if periods.len() <= MAX_PERIODS_IN_FILTER { periods } else { &[] };
    let reuse = reuse_lookup_statements(conn);
    for chunk in account_keys.chunks(keys_per_lookup(conn)) {
        let period_filter = if periods.is_empty() {
            String::new()
        } else {
            format!(" AND b.period IN ({})", placeholder_list(1, periods.len()))
        };
        let sql = format!(
            "SELECT a.account_no AS account_no, b.id AS id, b.period AS period, b.revision AS revision, \
             b.content_hash AS content_hash, b.status AS status \
             FROM accounts a LEFT JOIN bills b ON b.account_no = a.account_no{period_filter} \
             WHERE a.account_no IN ({})",
            placeholder_list(periods.len() + 1, chunk.len())
        );
        let mut query = sqlx::query(&sql).persistent(reuse);
        for period in periods {
            query = query.bind(period.as_str());
        }
        for key in chunk {
            query = query.bind(*key);
        }
        for row in query.fetch_all(&mut *conn).await? {
            let account_no: String = row.try_get("account_no")?;
            if let Some(id) = row.try_get::<Option<i64>, _>("id")? {
                let status: String = row.try_get("status")?;
                found.insert(
                    (account_no.clone(), row.try_get("period")?),
                    Known {
                        id,
                        revision: row.try_get("revision")?,
                        content_hash: row.try_get("content_hash")?,
                        status: BillStatus::parse(&status).unwrap_or(BillStatus::Unpaid),
                        is_new: false,
                    },
                );
            }
            accounts.insert(account_no);
        }
    }
    Ok((accounts, found))
}

const COLUMNS: usize = 20;

/// Inserts the bills at the given (new id, index) pairs; returns the indexes of those that another request inserted
/// first (left untouched).
async fn insert_many(
    conn: &mut AnyConnection,
    bills: &[Bill],
    hashes: &[String],
    inserts: &[(i64, usize)],
    now_ms: i64,
) -> Result<Vec<usize>, sqlx::Error> {
    let mut lost = Vec::new();
    for chunk in inserts.chunks(rows_per_statement(conn, COLUMNS)) {
        let sql = format!(
            "INSERT INTO bills (id, account_no, period, issue_date, due_date, revision, reading_start, reading_end, \
             multiplier, usage_kwh, tier_lines, tou_lines, other_charges, total_fen, paid_fen, status, content_hash, \
             created_at, updated_at, notify_pending) VALUES {} ON CONFLICT (account_no, period) DO NOTHING RETURNING id",
            values_tuples(chunk.len(), COLUMNS)
        );
        let mut query = sqlx::query(&sql);
        for (id, index) in chunk {
            let bill = &bills[*index];
            query = query.bind(*id).bind(bill.account_no.as_str().to_string()).bind(bill.period.to_string());
            // A new bill is pushed to its account's users, unless it arrives paid already.
            let notify = i64::from(bill.status() != BillStatus::Paid);
            query = bind_content(query, bill, &hashes[*index]).bind(now_ms).bind(now_ms).bind(notify);
        }
        let rows = query.fetch_all(&mut *conn).await?;
        if rows.len() != chunk.len() {
            let inserted: HashSet<i64> = rows.iter().filter_map(|r| r.try_get("id").ok()).collect();
            lost.extend(chunk.iter().filter(|(id, _)| !inserted.contains(id)).map(|(_, index)| *index));
        }
    }
    Ok(lost)
}

/// Replaces a bill's content with a higher revision, unless it was paid or revised meanwhile. True when applied.
async fn revise(
    conn: &mut AnyConnection,
    id: i64,
    bill: &Bill,
    content_hash: &str,
    now_ms: i64,
) -> Result<bool, sqlx::Error> {
    let query = sqlx::query(
        "UPDATE bills SET issue_date = $1, due_date = $2, revision = $3, reading_start = $4, reading_end = $5, \
         multiplier = $6, usage_kwh = $7, tier_lines = $8, tou_lines = $9, other_charges = $10, total_fen = $11, \
         paid_fen = $12, status = $13, content_hash = $14, updated_at = $15, \
         notify_pending = CASE WHEN total_fen <> $11 AND $13 <> 'paid' THEN 1 ELSE notify_pending END \
         WHERE id = $16 AND revision < $17 AND status <> 'paid'",
    );
    let result =
        bind_content(query, bill, content_hash).bind(now_ms).bind(id).bind(bill.revision).execute(&mut *conn).await?;
    Ok(result.rows_affected() == 1)
}

/// Binds the 14 content columns, in the order both the INSERT and the UPDATE name them: issue_date, due_date,
/// revision, readings (start, end, multiplier), usage_kwh, the three line lists, total_fen, paid_fen, status and
/// content_hash.
fn bind_content<'q>(
    query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    bill: &Bill,
    content_hash: &str,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    query
        .bind(bill.issue_date.to_string())
        .bind(bill.due_date.to_string())
        .bind(bill.revision)
        .bind(bill.meter.start)
        .bind(bill.meter.end)
        .bind(bill.meter.multiplier)
        .bind(bill.usage_kwh)
        .bind(to_json(&bill.tier_lines))
        .bind(to_json(&bill.tou_lines))
        .bind(to_json(&bill.other_charges))
        .bind(bill.total.value())
        .bind(bill.paid.value())
        .bind(bill.status().as_str())
        .bind(content_hash.to_string())
}

fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "[]".into())
}

pub async fn count(pool: &sqlx::AnyPool) -> Result<i64, sqlx::Error> {
    sqlx::query("SELECT COUNT(*) AS n FROM bills").fetch_one(pool).await?.try_get("n")
}

/// Writes a bill's amount paid (a settlement adding to it, a refund taking from it) and the status that follows.
pub async fn set_paid(
    conn: &mut AnyConnection,
    bill_id: i64,
    total: Fen,
    paid: Fen,
    now_ms: i64,
) -> Result<(), sqlx::Error> {
    let status = BillStatus::from_amounts(total, paid);
    sqlx::query("UPDATE bills SET paid_fen = $2, status = $3, updated_at = $4 WHERE id = $1")
        .bind(bill_id)
        .bind(paid.value())
        .bind(status.as_str())
        .bind(now_ms)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
