//! What the account and bill feeds share: body limit, signature and replay check, per-item parsing, one transaction,
//! and a report with one result per item.

use crate::api::body::{parse_json, read_limited};
use crate::domain::feed::{ItemOutcome, OutcomeTally, Rejection};
use crate::error::ApiError;
use crate::feed::signature::{self, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use crate::feed::{self, ApplyError, FeedItem, ReplayGuard};
use crate::state::AppState;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Deserialize)]
struct Batch {
    items: Vec<serde_json::Value>,
}

/// The result for one item, in the order sent.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ItemReport {
    pub index: usize,
    /// The item's key as sent: the account number, or `account_no/period` for a bill.
    pub key: String,
    /// `created`, `updated`, `unchanged` or `rejected`.
    pub result: String,
    /// Why a rejected item was refused: a stable code ...
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// ... and a sentence.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BatchReport {
    pub summary: Tally,
    pub results: Vec<ItemReport>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Tally {
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub rejected: u64,
}

/// Serves one feed request for items of type `T`.
pub async fn serve<T: FeedItem>(
    state: &AppState,
    req: &HttpRequest,
    payload: web::Payload,
    parse_item: fn(serde_json::Value) -> Result<T, Rejection>,
    key_of: fn(&serde_json::Value) -> String,
) -> Result<HttpResponse, ApiError> {
    let limits = &state.settings.feed;
    let body = read_limited(req, payload, limits.max_body_bytes).await?;
    let Some(secret) = &state.feed_secret else {
        return Err(ApiError::unavailable("FEED_NOT_CONFIGURED", "no feed secret is configured on this instance"));
    };
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    let now_ms = state.now_ms();
    let checked_signature = signature::verify(
        secret.expose(),
        header(TIMESTAMP_HEADER),
        header(SIGNATURE_HEADER),
        &body,
        now_ms,
        limits.max_clock_skew_secs,
    )
    .map_err(|e| {
        tracing::warn!(reason = %e, "feed request refused");
        ApiError::from(e)
    })?;

    let batch: Batch = parse_json(&body)?;
    drop(body);
    if batch.items.len() > limits.max_batch_items {
        return Err(ApiError::new(
            actix_web::http::StatusCode::PAYLOAD_TOO_LARGE,
            "BATCH_TOO_LARGE",
            format!("a batch holds at most {} items; this one has {}", limits.max_batch_items, batch.items.len()),
        ));
    }
    let keys: Vec<String> = batch.items.iter().map(key_of).collect();
    let items: Vec<Result<T, Rejection>> = batch.items.into_iter().map(parse_item).collect();
    let guard = ReplayGuard {
        signature: &checked_signature,
        forget_before_ms: now_ms - 2 * limits.max_clock_skew_secs * 1000 - 60_000,
    };
    let outcomes = feed::apply(&state.db, items, now_ms, Some(guard)).await.map_err(|e| match e {
        ApplyError::Replayed => ApiError::unauthorized("REPLAYED_REQUEST", "this signed request was already served"),
        ApplyError::Database(e) => ApiError::from(e),
    })?;
    Ok(HttpResponse::Ok().json(report(keys, outcomes)))
}

fn report(keys: Vec<String>, outcomes: Vec<ItemOutcome>) -> BatchReport {
    let mut tally = OutcomeTally::default();
    let results = keys
        .into_iter()
        .zip(outcomes)
        .enumerate()
        .map(|(index, (key, outcome))| {
            tally.add(&outcome);
            let (code, reason) = match &outcome {
                ItemOutcome::Rejected(r) => (Some(r.code.to_string()), Some(r.reason.clone())),
                _ => (None, None),
            };
            ItemReport { index, key, result: outcome.label().to_string(), code, reason }
        })
        .collect();
    let OutcomeTally { created, updated, unchanged, rejected } = tally;
    BatchReport { summary: Tally { created, updated, unchanged, rejected }, results }
}

/// A string field of a raw item, shortened, for the report's key.
pub fn text_of(value: &serde_json::Value, field: &str) -> String {
    match value.get(field) {
        Some(serde_json::Value::String(s)) => s.chars().take(32).collect(),
        Some(other) => other.to_string().chars().take(32).collect(),
        None => String::new(),
    }
}
