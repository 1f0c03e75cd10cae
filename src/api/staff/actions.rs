//! Customer service's actions, operators and up, each with a reason and an audit entry: force-unbind a binding
//! (`POST /staff/v1/bindings/{id}/unbind`), put a failed message back in the queue
//! (`POST /staff/v1/messages/{id}/resend`), and ask an order's platform where it stands
//! (`POST /staff/v1/orders/{order_no}/query`, in `order_query`). A change and its audit entry are written in one
//! transaction: there is never one without the other. An attempt a role may not make, or that finds nothing to act on,
//! is audited too (a malformed request, such as one without a reason, is only answered 400).

pub mod order_query;

use super::auth::StaffAuth;
use super::lookups::views::{Disclosure, MessageView};
use crate::db::audit::{self, OUTCOME_FAILED};
use crate::db::ids::next_id;
use crate::db::{bindings, messages, users};
use crate::domain::staff::{Permission, Reason};
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;
use actix_web::{post, web, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(unbind).service(resend).service(order_query::query_order);
}

/// The body of every action: why it is done.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionRequest {
    /// 4 to 500 characters; kept in the audit log.
    #[serde(default)]
    pub reason: Option<String>,
}

impl ActionRequest {
    pub fn reason(&self) -> Result<Reason, ApiError> {
        Reason::parse(self.reason.as_deref().unwrap_or_default())
            .map_err(|message| ApiError::bad_request("INVALID_REASON", message))
    }
}

/// Audits an attempt that found nothing to act on, and answers it.
pub async fn refused(
    state: &AppState,
    staff: &StaffAuth,
    action: &str,
    record_kind: &str,
    record_id: &str,
    reason: &Reason,
    error: ApiError,
) -> Result<HttpResponse, ApiError> {
    let entry = staff
        .entry(action, record_kind, record_id)
        .reason(reason.as_str())
        .outcome(OUTCOME_FAILED)
        .detail(json!({ "error": error.code() }));
    staff.record(state, &entry).await?;
    Err(error)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UnboundBinding {
    pub id: String,
    pub account_no: String,
    pub user_id: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UnbindAnswer {
    pub unbound: UnboundBinding,
}

/// Removes a binding whoever holds it, as the customer's own unbinding does (the same trail in `binding_events`).
#[utoipa::path(post, path = "/staff/v1/bindings/{id}/unbind", tag = "staff", params(("id" = String, Path)),
    request_body = ActionRequest,
    responses((status = 200, body = UnbindAnswer), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
#[post("/bindings/{id}/unbind")]
pub async fn unbind(
    state: web::Data<AppState>,
    staff: StaffAuth,
    id: web::Path<String>,
    body: web::Json<ActionRequest>,
) -> Result<HttpResponse, ApiError> {
    const ACTION: &str = "unbind";
    staff.require(&state, Permission::Unbind, ACTION, "binding", &id).await?;
    let reason = body.reason()?;
    let no_such = || ApiError::not_found("no such binding");
    let Ok(binding_id) = id.parse::<i64>() else {
        return refused(&state, &staff, ACTION, "binding", &id, &reason, no_such()).await;
    };
    let now = state.now_ms();
    let mut tx = state.db.begin_write().await?;
    // The holder's row lock, as the customer's unbinding takes it: one user's bindings change one at a time.
    let holder = match bindings::find(&mut tx, binding_id).await? {
        Some(found) if users::lock(&mut tx, found.user_id).await? => {
            bindings::find_for_user(&mut tx, found.user_id, binding_id).await?
        }
        _ => None,
    };
    let Some(binding) = holder else {
        drop(tx);
        return refused(&state, &staff, ACTION, "binding", &id, &reason, no_such()).await;
    };
    bindings::delete(&mut tx, binding.user_id, binding.id).await?;
    if binding.is_default {
        if let Some(next) = bindings::oldest_for_user(&mut tx, binding.user_id).await? {
            bindings::set_default(&mut tx, binding.user_id, next).await?;
        }
    }
    bindings::record_event(&mut tx, next_id(now), binding.user_id, &binding.account_no, "unbound", "none", now).await?;
    let entry = staff
        .entry(ACTION, "binding", &binding.id.to_string())
        .reason(reason.as_str())
        .detail(json!({ "account_no": binding.account_no, "user_id": binding.user_id.to_string() }));
    audit::append(&mut tx, &entry, now).await?;
    tx.commit().await?;
    let unbound = UnboundBinding {
        id: binding.id.to_string(),
        account_no: binding.account_no,
        user_id: binding.user_id.to_string(),
    };
    Ok(HttpResponse::Ok().json(UnbindAnswer { unbound }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ResendAnswer {
    pub message: MessageView,
}

/// Puts a failed message back in the queue, due now, with its attempts reset (as `ebill push retry --id` does).
#[utoipa::path(post, path = "/staff/v1/messages/{id}/resend", tag = "staff", params(("id" = String, Path)),
    request_body = ActionRequest,
    responses((status = 200, body = ResendAnswer), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, description = "NOT_FAILED: only a failed message is resent",
        body = ErrorBody)))]
#[post("/messages/{id}/resend")]
pub async fn resend(
    state: web::Data<AppState>,
    staff: StaffAuth,
    id: web::Path<String>,
    body: web::Json<ActionRequest>,
) -> Result<HttpResponse, ApiError> {
    const ACTION: &str = "resend_message";
    staff.require(&state, Permission::Resend, ACTION, "message", &id).await?;
    let reason = body.reason()?;
    let no_such = || ApiError::not_found("no such message");
    let Ok(message_id) = id.parse::<i64>() else {
        return refused(&state, &staff, ACTION, "message", &id, &reason, no_such()).await;
    };
    let now = state.now_ms();
    let mut tx = state.db.begin_write().await?;
    let Some(message) = messages::resend_failed(&mut tx, message_id, now).await? else {
        let found = messages::find(&mut tx, message_id).await?;
        drop(tx);
        let error = match found {
            Some(message) => ApiError::conflict(
                "NOT_FAILED",
                format!("only a failed message is resent; this one is {}", message.state),
            ),
            None => no_such(),
        };
        return refused(&state, &staff, ACTION, "message", &id, &reason, error).await;
    };
    let entry = staff.entry(ACTION, "message", &message.id.to_string()).reason(reason.as_str()).detail(json!({
        "account_no": message.account_no,
        "kind": message.kind,
        "channel": message.channel,
        "last_error": message.last_error,
    }));
    audit::append(&mut tx, &entry, now).await?;
    tx.commit().await?;
    Ok(HttpResponse::Ok().json(ResendAnswer { message: MessageView::of(message, Disclosure::Masked) }))
}
