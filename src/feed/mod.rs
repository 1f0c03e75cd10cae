//! Applying what the marketing system feeds us, by HTTP batch or by bulk import: validated items are written in one
//! transaction, each item gets its own outcome, and one bad item never rejects its neighbours.

pub mod signature;

use crate::db::{accounts, bills, feed_requests, Database};
use crate::domain::account::{Account, AccountInput};
use crate::domain::bill::{Bill, BillInput};
use crate::domain::feed::{ItemOutcome, Rejection};
use futures_util::future::BoxFuture;
use sqlx::AnyConnection;

/// A kind of item the feed carries.
pub trait FeedItem: Sized + Send + Sync {
    /// Writes validated items, one outcome per item in order.
    fn upsert_batch<'a>(
        conn: &'a mut AnyConnection,
        items: &'a [Self],
        now_ms: i64,
    ) -> BoxFuture<'a, Result<Vec<ItemOutcome>, sqlx::Error>>;
}

impl FeedItem for Account {
    fn upsert_batch<'a>(
        conn: &'a mut AnyConnection,
        items: &'a [Self],
        now_ms: i64,
    ) -> BoxFuture<'a, Result<Vec<ItemOutcome>, sqlx::Error>> {
        Box::pin(accounts::upsert_batch(conn, items, now_ms))
    }
}

impl FeedItem for Bill {
    fn upsert_batch<'a>(
        conn: &'a mut AnyConnection,
        items: &'a [Self],
        now_ms: i64,
    ) -> BoxFuture<'a, Result<Vec<ItemOutcome>, sqlx::Error>> {
        Box::pin(bills::upsert_batch(conn, items, now_ms))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("this request was served before (replayed signature)")]
    Replayed,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// A request's signature to record with the batch, so the same request cannot be served twice.
pub struct ReplayGuard<'a> {
    pub signature: &'a str,
    pub forget_before_ms: i64,
}

/// Writes the valid items of a batch in one transaction and merges their outcomes with the items refused before.
/// On any database error nothing of the batch is written.
pub async fn apply<T: FeedItem>(
    db: &Database,
    items: Vec<Result<T, Rejection>>,
    now_ms: i64,
    guard: Option<ReplayGuard<'_>>,
) -> Result<Vec<ItemOutcome>, ApplyError> {
    let mut outcomes: Vec<Option<ItemOutcome>> = Vec::with_capacity(items.len());
    let mut valid = Vec::with_capacity(items.len());
    let mut positions = Vec::with_capacity(items.len());
    for (index, item) in items.into_iter().enumerate() {
        match item {
            Ok(item) => {
                valid.push(item);
                positions.push(index);
                outcomes.push(None);
            }
            Err(rejection) => outcomes.push(Some(ItemOutcome::Rejected(rejection))),
        }
    }
    let mut tx = db.begin_write().await?;
    if let Some(guard) = guard {
        if !feed_requests::record(&mut tx, guard.signature, now_ms, guard.forget_before_ms).await? {
            return Err(ApplyError::Replayed);
        }
    }
    if !valid.is_empty() {
        let written = T::upsert_batch(&mut tx, &valid, now_ms).await?;
        for (position, outcome) in positions.into_iter().zip(written) {
            outcomes[position] = Some(outcome);
        }
    }
    tx.commit().await?;
    Ok(outcomes.into_iter().map(|o| o.unwrap_or(ItemOutcome::Unchanged)).collect())
}

/// Parses and validates one account item of a JSON batch.
pub fn account_from_json(value: serde_json::Value) -> Result<Account, Rejection> {
    serde_json::from_value::<AccountInput>(value)
        .map_err(|e| Rejection::new("INVALID_FIELD", e.to_string()))?
        .validate()
}

/// Parses and validates one bill item of a JSON batch.
pub fn bill_from_json(value: serde_json::Value) -> Result<Bill, Rejection> {
    serde_json::from_value::<BillInput>(value).map_err(|e| Rejection::new("INVALID_FIELD", e.to_string()))?.validate()
}
