//! The customer's bindings: `GET /api/v1/bindings`, `PATCH|DELETE /api/v1/bindings/{id}`. Another user's binding
//! id answers 404, exactly like one that does not exist.

use super::auth::CustomerAuth;
use crate::db::{bindings, ids::next_id, users};
use crate::domain::masking::{mask_address, mask_name};
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;
use actix_web::{delete, get, patch, web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A binding as the customer sees it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BindingView {
    /// A 64-bit id, as a string (JavaScript numbers cannot hold it).
    pub id: String,
    pub account_no: String,
    pub label: String,
    pub is_default: bool,
    /// When it was bound, UTC epoch milliseconds.
    pub bound_at: i64,
    pub account: AccountView,
    pub arrears: ArrearsView,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AccountView {
    /// Masked: 张*.
    pub holder_name: String,
    /// Masked after the district.
    pub address: String,
    pub account_type: String,
}

/// What is owed on the account now. Late fees are not included yet (they come with the bill views).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ArrearsView {
    pub unpaid_bills: i64,
    pub principal_fen: i64,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BindingList {
    pub bindings: Vec<BindingView>,
}

pub fn view(summary: bindings::BindingSummary) -> BindingView {
    BindingView {
        id: summary.binding.id.to_string(),
        account_no: summary.binding.account_no,
        label: summary.binding.label,
        is_default: summary.binding.is_default,
        bound_at: summary.binding.created_at,
        account: AccountView {
            holder_name: mask_name(&summary.holder_name),
            address: mask_address(&summary.address),
            account_type: summary.account_type,
        },
        arrears: ArrearsView { unpaid_bills: summary.unpaid_bills, principal_fen: summary.arrears_fen },
    }
}

/// The user's binding `id` as a view; 404 when it is not theirs.
pub async fn view_of(state: &AppState, user_id: i64, id: i64) -> Result<BindingView, ApiError> {
    bindings::list_for_user(state.db.pool(), user_id)
        .await?
        .into_iter()
        .find(|s| s.binding.id == id)
        .map(view)
        .ok_or_else(|| ApiError::not_found("no such binding"))
}

/// The accounts the customer has bound, the default first.
#[utoipa::path(get, path = "/api/v1/bindings", tag = "customer", security(("customer_token" = [])),
    responses((status = 200, body = BindingList), (status = 401, body = ErrorBody)))]
#[get("/bindings")]
pub async fn list(state: web::Data<AppState>, auth: CustomerAuth) -> Result<HttpResponse, ApiError> {
    let bindings = bindings::list_for_user(state.db.pool(), auth.user_id).await?.into_iter().map(view).collect();
    Ok(HttpResponse::Ok().json(BindingList { bindings }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BindingChange {
    /// The customer's name for the account (家, 店铺), at most 16 characters.
    pub label: Option<String>,
    /// `true` makes this the account the mini-program opens first.
    pub is_default: Option<bool>,
}

/// A label of at most 16 printable characters.
pub fn parse_label(label: &str) -> Result<String, ApiError> {
    let label = label.trim();
    if label.chars().count() > 16 || label.chars().any(char::is_control) {
        return Err(ApiError::bad_request("INVALID_LABEL", "a label has at most 16 printable characters"));
    }
    Ok(label.to_string())
}

fn binding_id(path: &str) -> Result<i64, ApiError> {
    path.parse().map_err(|_| ApiError::not_found("no such binding"))
}

/// Renames a binding or makes it the default.
#[utoipa::path(patch, path = "/api/v1/bindings/{id}", tag = "customer", security(("customer_token" = [])),
    params(("id" = String, Path)), request_body = BindingChange,
    responses((status = 200, body = BindingView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[patch("/bindings/{id}")]
pub async fn change(
    state: web::Data<AppState>,
    auth: CustomerAuth,
    id: web::Path<String>,
    change: web::Json<BindingChange>,
) -> Result<HttpResponse, ApiError> {
    let id = binding_id(&id)?;
    let label = change.label.as_deref().map(parse_label).transpose()?;
    if change.is_default == Some(false) {
        return Err(ApiError::bad_request("INVALID_CHANGE", "make another binding the default instead"));
    }
    let mut tx = state.db.begin_write().await?;
    // The user's row lock: one user's bindings (and which is the default) change one request at a time.
    users::lock(&mut tx, auth.user_id).await?;
    if bindings::find_for_user(&mut tx, auth.user_id, id).await?.is_none() {
        return Err(ApiError::not_found("no such binding"));
    }
    if let Some(label) = &label {
        bindings::set_label(&mut tx, id, label).await?;
    }
    if change.is_default == Some(true) {
        bindings::set_default(&mut tx, auth.user_id, id).await?;
    }
    tx.commit().await?;
    Ok(HttpResponse::Ok().json(view_of(&state, auth.user_id, id).await?))
}

/// Unbinds an account from the customer.
#[utoipa::path(delete, path = "/api/v1/bindings/{id}", tag = "customer", security(("customer_token" = [])),
    params(("id" = String, Path)),
    responses((status = 204, description = "Unbound"), (status = 404, body = ErrorBody)))]
#[delete("/bindings/{id}")]
pub async fn remove(
    state: web::Data<AppState>,
    auth: CustomerAuth,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = binding_id(&id)?;
    let now_ms = state.now_ms();
    let mut tx = state.db.begin_write().await?;
    users::lock(&mut tx, auth.user_id).await?;
    let Some(binding) = bindings::find_for_user(&mut tx, auth.user_id, id).await? else {
        return Err(ApiError::not_found("no such binding"));
    };
    bindings::delete(&mut tx, auth.user_id, id).await?;
    if binding.is_default {
        if let Some(next) = bindings::oldest_for_user(&mut tx, auth.user_id).await? {
            bindings::set_default(&mut tx, auth.user_id, next).await?;
        }
    }
    bindings::record_event(&mut tx, next_id(now_ms), auth.user_id, &binding.account_no, "unbound", "none", now_ms)
        .await?;
    tx.commit().await?;
    Ok(HttpResponse::NoContent().finish())
}
