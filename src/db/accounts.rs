//! The accounts repository: utility accounts as the marketing system feeds them.

use super::sql::{keys_per_lookup, placeholder_list, reuse_lookup_statements, rows_per_statement, values_tuples};
use crate::domain::account::{Account, AccountNo, AccountType};
use crate::domain::feed::ItemOutcome;
use sqlx::{AnyConnection, Row};
use std::collections::{HashMap, HashSet};

/// An account as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAccount {
    pub account: Account,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Creates or updates a batch of validated accounts inside the caller's transaction; one outcome per item, in order.
/// An account whose content is unchanged is not written.
pub async fn upsert_batch(
    conn: &mut AnyConnection,
    accounts: &[Account],
    now_ms: i64,
) -> Result<Vec<ItemOutcome>, sqlx::Error> {
    let keys: Vec<&str> = accounts.iter().map(|a| a.account_no.as_str()).collect();
    // account_no -> content hash, as stored or as this batch leaves it.
    let mut known = existing_hashes(conn, &keys).await?;
    let mut outcomes = Vec::with_capacity(accounts.len());
    // account_no -> (index of the content to write, whether the row is new)
    let mut writes: HashMap<&str, (usize, bool)> = HashMap::new();
    for (index, account) in accounts.iter().enumerate() {
        let key = account.account_no.as_str();
        let hash = account.content_hash();
        let outcome = match known.get(key) {
            Some(stored) if *stored == hash => ItemOutcome::Unchanged,
            Some(_) => {
                let is_new = writes.get(key).is_some_and(|(_, new)| *new);
                writes.insert(key, (index, is_new));
                ItemOutcome::Updated
            }
            None => {
                writes.insert(key, (index, true));
                ItemOutcome::Created
            }
        };
        known.insert(key.to_string(), hash);
        outcomes.push(outcome);
    }

    let mut inserts: Vec<&Account> = Vec::new();
    for (index, is_new) in writes.values() {
        if *is_new {
            inserts.push(&accounts[*index]);
        } else {
            update(conn, &accounts[*index], now_ms).await?;
        }
    }
    inserts.sort_by(|a, b| a.account_no.cmp(&b.account_no));
    for lost in insert_many(conn, &inserts, now_ms).await? {
        // Another request created this account after we looked: it is unchanged if that request stored the same.
        let index = writes[lost.account_no.as_str()].0;
        let stored = existing_hashes(conn, &[lost.account_no.as_str()]).await?;
        outcomes[index] = if stored.get(lost.account_no.as_str()) == Some(&lost.content_hash()) {
            ItemOutcome::Unchanged
        } else {
            update(conn, lost, now_ms).await?;
            ItemOutcome::Updated
        };
    }
    Ok(outcomes)
}

async fn existing_hashes(conn: &mut AnyConnection, keys: &[&str]) -> Result<HashMap<String, String>, sqlx::Error> {
    let mut found = HashMap::with_capacity(keys.len());
    let reuse = reuse_lookup_statements(conn);
    for chunk in keys.chunks(keys_per_lookup(conn)) {
        let sql = format!(
            "SELECT account_no, content_hash FROM accounts WHERE account_no IN ({})",
            placeholder_list(1, chunk.len())
        );
        let mut query = sqlx::query(&sql).persistent(reuse);
        for key in chunk {
            query = query.bind(*key);
        }
        for row in query.fetch_all(&mut *conn).await? {
            found.insert(row.try_get("account_no")?, row.try_get("content_hash")?);
        }
    }
    Ok(found)
}

const COLUMNS: usize = 9;

/// Inserts new accounts; returns those another request inserted first (left untouched).
async fn insert_many<'a>(
    conn: &mut AnyConnection,
    accounts: &[&'a Account],
    now_ms: i64,
) -> Result<Vec<&'a Account>, sqlx::Error> {
    let mut lost = Vec::new();
    for chunk in accounts.chunks(rows_per_statement(conn, COLUMNS)) {
        let sql = format!(
            "INSERT INTO accounts (account_no, holder_name, address, phone, account_type, supply_unit, content_hash, \
             created_at, updated_at) VALUES {} ON CONFLICT (account_no) DO NOTHING RETURNING account_no",
            values_tuples(chunk.len(), COLUMNS)
        );
        let mut query = sqlx::query(&sql);
        for account in chunk {
            query =
                bind_content(query.bind(account.account_no.as_str().to_string()), account).bind(now_ms).bind(now_ms);
        }
        let rows = query.fetch_all(&mut *conn).await?;
        if rows.len() != chunk.len() {
            let inserted: HashSet<String> = rows.iter().filter_map(|r| r.try_get("account_no").ok()).collect();
            lost.extend(chunk.iter().filter(|a| !inserted.contains(a.account_no.as_str())).copied());
        }
    }
    Ok(lost)
}

async fn update(conn: &mut AnyConnection, account: &Account, now_ms: i64) -> Result<(), sqlx::Error> {
    let query = sqlx::query(
        "UPDATE accounts SET holder_name = $1, address = $2, phone = $3, account_type = $4, supply_unit = $5, \
         content_hash = $6, updated_at = $7 WHERE account_no = $8",
    );
    bind_content(query, account).bind(now_ms).bind(account.account_no.as_str().to_string()).execute(&mut *conn).await?;
    Ok(())
}

/// Binds the content columns in the order both the INSERT and the UPDATE name them: holder_name, address, phone,
/// account_type, supply_unit, content_hash.
fn bind_content<'q>(
    query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    account: &Account,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    query
        .bind(account.holder_name.clone())
        .bind(account.address.clone())
        .bind(account.phone.clone())
        .bind(account.account_type.as_str())
        .bind(account.supply_unit.clone())
        .bind(account.content_hash())
}

/// The account numbers among `keys` that exist.
pub async fn existing_numbers(conn: &mut AnyConnection, keys: &[&str]) -> Result<Vec<String>, sqlx::Error> {
    Ok(existing_hashes(conn, keys).await?.into_keys().collect())
}

pub async fn find(pool: &sqlx::AnyPool, account_no: &AccountNo) -> Result<Option<StoredAccount>, sqlx::Error> {
    let row = sqlx::query(&format!("SELECT {STORED_COLUMNS} FROM accounts WHERE account_no = $1"))
        .bind(account_no.as_str().to_string())
        .fetch_optional(pool)
        .await?;
    row.as_ref().map(stored_from_row).transpose()
}

/// Takes the account's row lock for the rest of the transaction, so that bindings to it are counted one at a time.
pub async fn lock(conn: &mut AnyConnection, account_no: &str) -> Result<bool, sqlx::Error> {
    let result = sqlx::query("UPDATE accounts SET updated_at = updated_at WHERE account_no = $1")
        .bind(account_no.to_string())
        .execute(conn)
        .await?;
    Ok(result.rows_affected() == 1)
}

pub async fn count(pool: &sqlx::AnyPool) -> Result<i64, sqlx::Error> {
    sqlx::query("SELECT COUNT(*) AS n FROM accounts").fetch_one(pool).await?.try_get("n")
}

/// Accounts registered with `phone`, by account number, at most `limit` (customer service looks callers up by it).
pub async fn with_phone(pool: &sqlx::AnyPool, phone: &str, limit: i64) -> Result<Vec<StoredAccount>, sqlx::Error> {
    let rows =
        sqlx::query(&format!("SELECT {STORED_COLUMNS} FROM accounts WHERE phone = $1 ORDER BY account_no LIMIT $2"))
            .bind(phone.to_string())
            .bind(limit)
            .fetch_all(pool)
            .await?;
    rows.iter().map(stored_from_row).collect()
}

const STORED_COLUMNS: &str =
    "account_no, holder_name, address, phone, account_type, supply_unit, created_at, updated_at";

fn stored_from_row(row: &sqlx::any::AnyRow) -> Result<StoredAccount, sqlx::Error> {
    let account_no: String = row.try_get("account_no")?;
    let account_type: String = row.try_get("account_type")?;
    Ok(StoredAccount {
        account: Account {
            account_no: AccountNo::parse(&account_no).map_err(|e| sqlx::Error::Decode(e.into()))?,
            holder_name: row.try_get("holder_name")?,
            address: row.try_get("address")?,
            phone: row.try_get("phone")?,
            account_type: AccountType::parse(&account_type).map_err(|e| sqlx::Error::Decode(e.into()))?,
            supply_unit: row.try_get("supply_unit")?,
        },
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}
