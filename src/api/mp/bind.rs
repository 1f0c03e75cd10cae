//! `POST /api/v1/bindings`: bind an electricity account with a proof only its holder can give. "No such account"
//! and "wrong proof" answer the same `BINDING_REJECTED`; failed attempts are limited per user per hour and per
//! account per day through the shared cache (so every instance counts together), counted before the proof is
//! checked so that concurrent guesses cannot slip past; every attempt is recorded.

use super::auth::CustomerAuth;
use super::bindings::{parse_label, view_of, BindingView};
use crate::db::bindings::{self, Binding};
use crate::db::{accounts, ids::next_id, users};
use crate::domain::account::AccountNo;
use crate::domain::binding_proof::{proves, Holder, Proof};
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;
use actix_web::{post, web, HttpResponse};
use serde::Deserialize;
use std::time::Duration;
use utoipa::ToSchema;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BindRequest {
    /// The electricity account number (户号).
    pub account_no: String,
    /// The account holder's name as the utility has it.
    pub holder_name: String,
    /// The last four digits of the account's registered phone, or `verified_phone` to use the phone number the
    /// platform verified for this customer (`POST /api/v1/me/phone`).
    pub proof: String,
    /// The customer's name for the account (家, 店铺).
    pub label: Option<String>,
}

const USER_WINDOW: Duration = Duration::from_secs(3600);
const ACCOUNT_WINDOW: Duration = Duration::from_secs(86_400);

fn user_key(user_id: i64) -> String {
    format!("binding-failures:user:{user_id}")
}

fn account_key(account_no: &AccountNo) -> String {
    format!("binding-failures:account:{account_no}")
}

fn cache_error(e: crate::cache::CacheError) -> ApiError {
    tracing::error!(error = %e, "cache unavailable during binding");
    ApiError::unavailable("CACHE_UNAVAILABLE", "binding is unavailable for a moment; try again shortly")
}

async fn record(state: &AppState, user_id: i64, account_no: &str, event: &str, proof: &str) -> Result<(), ApiError> {
    let now_ms = state.now_ms();
    let mut conn = state.db.pool().acquire().await?;
    bindings::record_event(&mut conn, next_id(now_ms), user_id, account_no, event, proof, now_ms).await?;
    Ok(())
}

/// Counts this attempt against both limits before the proof is looked at, so that concurrent guesses cannot all
/// slip under a limit; a successful binding takes its count back (only failures count). Answers the time until a
/// limit frees up when this attempt is over one.
async fn count_attempt(state: &AppState, user_id: i64, account_no: &AccountNo) -> Result<Option<Duration>, ApiError> {
    let limits = &state.settings.bindings;
    let user = state.cache.incr_window(&user_key(user_id), USER_WINDOW).await.map_err(cache_error)?;
    let account = state.cache.incr_window(&account_key(account_no), ACCOUNT_WINDOW).await.map_err(cache_error)?;
    let mut wait = None;
    if user.count > limits.max_failures_per_user_hour {
        wait = Some(user.resets_in);
    }
    if account.count > limits.max_failures_per_account_day {
        wait = Some(wait.unwrap_or_default().max(account.resets_in));
    }
    Ok(wait)
}

/// Takes back the count of an attempt that was not a failure.
async fn uncount_attempt(state: &AppState, user_id: i64, account_no: &AccountNo) -> Result<(), ApiError> {
    state.cache.add_to_window(&user_key(user_id), -1, USER_WINDOW).await.map_err(cache_error)?;
    state.cache.add_to_window(&account_key(account_no), -1, ACCOUNT_WINDOW).await.map_err(cache_error)?;
    Ok(())
}

/// Binds an account to the customer; binding one already held answers it again (200).
#[utoipa::path(post, path = "/api/v1/bindings", tag = "customer", security(("customer_token" = [])),
    request_body = BindRequest,
    responses(
        (status = 201, body = BindingView, description = "Bound"),
        (status = 200, body = BindingView, description = "Already bound"),
        (status = 400, body = ErrorBody, description = "INVALID_ACCOUNT_NO, INVALID_PROOF, INVALID_LABEL"),
        (status = 409, body = ErrorBody, description = "BINDING_LIMIT_REACHED, ACCOUNT_BINDING_LIMIT_REACHED"),
        (status = 422, body = ErrorBody, description = "BINDING_REJECTED: no such account or a wrong proof"),
        (status = 429, body = ErrorBody, description = "BINDING_RATE_LIMITED, with Retry-After"),
    ))]
#[post("/bindings")]
pub async fn bind(
    state: web::Data<AppState>,
    auth: CustomerAuth,
    request: web::Json<BindRequest>,
) -> Result<HttpResponse, ApiError> {
    let request = request.into_inner();
    let account_no =
        AccountNo::parse(request.account_no.trim()).map_err(|m| ApiError::bad_request("INVALID_ACCOUNT_NO", m))?;
    let proof = Proof::parse(&request.proof).ok_or_else(|| {
        ApiError::bad_request(
            "INVALID_PROOF",
            "proof is the last four digits of the registered phone, or verified_phone",
        )
    })?;
    let label = parse_label(request.label.as_deref().unwrap_or(""))?;
    let user_id = auth.user_id;

    {
        let mut conn = state.db.pool().acquire().await?;
        if let Some(existing) = bindings::find_by_account(&mut conn, user_id, account_no.as_str()).await? {
            drop(conn);
            record(&state, user_id, account_no.as_str(), "already_bound", proof.kind()).await?;
            return Ok(HttpResponse::Ok().json(view_of(&state, user_id, existing.id).await?));
        }
    }

    if let Some(wait) = count_attempt(&state, user_id, &account_no).await? {
        record(&state, user_id, account_no.as_str(), "rate_limited", proof.kind()).await?;
        return Err(ApiError::too_many_requests(
            "BINDING_RATE_LIMITED",
            "too many failed binding attempts; try again later",
            wait.as_secs() + 1,
        ));
    }

    let user = users::find(state.db.pool(), user_id)
        .await?
        .ok_or_else(|| ApiError::unauthorized("INVALID_TOKEN", "the access token is not valid"))?;
    let account = accounts::find(state.db.pool(), &account_no).await?;
    let holder = account.as_ref().map(|a| Holder { name: &a.account.holder_name, phone: &a.account.phone });
    if !proves(holder.as_ref(), &request.holder_name, &proof, user.phone.as_deref()) {
        record(&state, user_id, account_no.as_str(), "rejected", proof.kind()).await?;
        return Err(ApiError::new(
            actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
            "BINDING_REJECTED",
            "the account number, holder name and proof do not match an account",
        ));
    }

    uncount_attempt(&state, user_id, &account_no).await?;
    let now_ms = state.now_ms();
    let limits = &state.settings.bindings;
    let mut tx = state.db.begin_write().await?;
    // Row locks: one user's bindings, and one account's users, are counted and changed one request at a time.
    users::lock(&mut tx, user_id).await?;
    accounts::lock(&mut tx, account_no.as_str()).await?;
    let held = bindings::count_for_user(&mut tx, user_id).await?;
    let refusal = if held >= limits.max_accounts_per_user {
        Some(ApiError::conflict(
            "BINDING_LIMIT_REACHED",
            format!("a user holds at most {} accounts", limits.max_accounts_per_user),
        ))
    } else if bindings::count_for_account(&mut tx, account_no.as_str()).await? >= limits.max_users_per_account {
        Some(ApiError::conflict(
            "ACCOUNT_BINDING_LIMIT_REACHED",
            format!("an account is bound to at most {} users", limits.max_users_per_account),
        ))
    } else {
        None
    };
    let event_id = next_id(now_ms);
    if let Some(refusal) = refusal {
        bindings::record_event(&mut tx, event_id, user_id, account_no.as_str(), "limit_reached", proof.kind(), now_ms)
            .await?;
        tx.commit().await?;
        return Err(refusal);
    }
    let binding = Binding {
        id: next_id(now_ms),
        user_id,
        account_no: account_no.as_str().to_string(),
        label,
        is_default: held == 0,
        created_at: now_ms,
    };
    let inserted = bindings::insert(&mut tx, &binding).await?;
    let event = if inserted { "bound" } else { "already_bound" };
    bindings::record_event(&mut tx, event_id, user_id, account_no.as_str(), event, proof.kind(), now_ms).await?;
    tx.commit().await?;

    let id = match inserted {
        true => binding.id,
        false => {
            let mut conn = state.db.pool().acquire().await?;
            bindings::find_by_account(&mut conn, user_id, account_no.as_str())
                .await?
                .map(|b| b.id)
                .ok_or_else(|| ApiError::internal("binding vanished"))?
        }
    };
    let view = view_of(&state, user_id, id).await?;
    Ok(if inserted { HttpResponse::Created().json(view) } else { HttpResponse::Ok().json(view) })
}
