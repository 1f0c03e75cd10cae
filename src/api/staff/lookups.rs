//! Customer service's lookups: the search box (`search`), the account, user and order pages, masked
//! (`GET /staff/v1/accounts/{account_no}`, `/users/{user_id}`, `/orders/{order_no}`), and the same pages unmasked
//! (`POST /staff/v1/reveal`, operators only, with a reason). Every lookup leaves an audit entry before its answer
//! leaves, a lookup that finds nothing included.

pub mod pages;
pub mod search;
pub mod views;

use self::pages::{page, Page, RecordKind};
use self::views::{AccountPage, Disclosure, OrderPage, UserPage};
use super::auth::StaffAuth;
use crate::db::audit::OUTCOME_FAILED;
use crate::domain::staff::{Permission, Reason};
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;
use actix_web::{get, post, web, HttpResponse};
use serde::Deserialize;
use utoipa::ToSchema;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(search::search).service(account).service(user).service(order).service(reveal);
}

/// What the audit log names a lookup of `kind`: `view_account`, `reveal_user`, ...
fn action(verb: &str, kind: RecordKind) -> String {
    format!("{verb}_{}", kind.as_str())
}

fn not_found(kind: RecordKind) -> ApiError {
    ApiError::not_found(format!("no such {}", kind.as_str()))
}

/// Looks record `key` of `kind` up, audits the look (found or not) and answers the page.
async fn look_up(
    state: &AppState,
    staff: &StaffAuth,
    kind: RecordKind,
    key: &str,
    disclosure: Disclosure,
    reason: Option<&Reason>,
) -> Result<Page, ApiError> {
    let verb = if disclosure.is_masked() { "view" } else { "reveal" };
    let action = action(verb, kind);
    let found = page(state, kind, key, disclosure).await?;
    let mut entry = staff.entry(&action, kind.as_str(), key);
    if let Some(reason) = reason {
        entry = entry.reason(reason.as_str());
    }
    match &found {
        Some(Page::Order(shown)) => entry = entry.detail(serde_json::json!({ "account_no": shown.order.account_no })),
        Some(_) => {}
        None => entry = entry.outcome(OUTCOME_FAILED).detail(serde_json::json!({ "error": "NOT_FOUND" })),
    }
    staff.record(state, &entry).await?;
    found.ok_or_else(|| not_found(kind))
}

async fn view(state: &AppState, staff: &StaffAuth, kind: RecordKind, key: &str) -> Result<HttpResponse, ApiError> {
    staff.require(state, Permission::Lookup, &action("view", kind), kind.as_str(), key).await?;
    let page = look_up(state, staff, kind, key, Disclosure::Masked, None).await?;
    Ok(HttpResponse::Ok().json(page))
}

/// An account with who is bound to it, its latest bills, orders and messages; personal data masked.
#[utoipa::path(get, path = "/staff/v1/accounts/{account_no}", tag = "staff", params(("account_no" = String, Path)),
    responses((status = 200, body = AccountPage), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[get("/accounts/{account_no}")]
pub async fn account(
    state: web::Data<AppState>,
    staff: StaffAuth,
    account_no: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    view(&state, &staff, RecordKind::Account, &account_no).await
}

/// A user with every account they hold, their orders and messages; personal data masked.
#[utoipa::path(get, path = "/staff/v1/users/{user_id}", tag = "staff", params(("user_id" = String, Path)),
    responses((status = 200, body = UserPage), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[get("/users/{user_id}")]
pub async fn user(
    state: web::Data<AppState>,
    staff: StaffAuth,
    user_id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    view(&state, &staff, RecordKind::User, &user_id).await
}

/// An order with its bills, payments (and their write-back), refunds and the platforms' notifies; payer masked.
#[utoipa::path(get, path = "/staff/v1/orders/{order_no}", tag = "staff", params(("order_no" = String, Path)),
    responses((status = 200, body = OrderPage), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[get("/orders/{order_no}")]
pub async fn order(
    state: web::Data<AppState>,
    staff: StaffAuth,
    order_no: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    view(&state, &staff, RecordKind::Order, &order_no).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevealRequest {
    /// account | user | order.
    pub kind: String,
    /// The account number, user id or order number.
    pub key: String,
    /// Why the data is needed, 4 to 500 characters; kept in the audit log.
    #[serde(default)]
    pub reason: Option<String>,
}

/// The page of an account, user or order with its personal data unmasked (`masked: false`): operators only, with a
/// reason.
#[utoipa::path(post, path = "/staff/v1/reveal", tag = "staff", request_body = RevealRequest,
    responses((status = 200, body = Page), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
#[post("/reveal")]
pub async fn reveal(
    state: web::Data<AppState>,
    staff: StaffAuth,
    body: web::Json<RevealRequest>,
) -> Result<HttpResponse, ApiError> {
    let kind = RecordKind::parse(&body.kind)
        .ok_or_else(|| ApiError::bad_request("INVALID_KIND", "kind is account, user or order"))?;
    let key = body.key.trim();
    staff.require(&state, Permission::Reveal, &action("reveal", kind), kind.as_str(), key).await?;
    let reason = Reason::parse(body.reason.as_deref().unwrap_or_default())
        .map_err(|message| ApiError::bad_request("INVALID_REASON", message))?;
    let page = look_up(&state, &staff, kind, key, Disclosure::Revealed, Some(&reason)).await?;
    Ok(HttpResponse::Ok().json(page))
}

#[cfg(test)]
mod tests {
    use utoipa::OpenApi;

    #[test]
    fn the_lookups_and_actions_are_documented_with_their_shapes() {
        #[derive(OpenApi)]
        #[openapi(paths(
            super::search::search,
            super::account,
            super::user,
            super::order,
            super::reveal,
            crate::api::staff::actions::unbind,
            crate::api::staff::actions::resend,
            crate::api::staff::actions::order_query::query_order
        ))]
        struct Documented;
        let doc = serde_json::to_value(Documented::openapi()).unwrap();
        assert_eq!(doc["paths"].as_object().unwrap().len(), 8);
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        for name in ["SearchAnswer", "AccountPage", "UserPage", "OrderPage", "MessageView", "Page", "OrderQueryAnswer"]
        {
            assert!(schemas.contains_key(name), "{name} is documented");
        }
        assert!(doc["paths"]["/staff/v1/orders/{order_no}/query"]["post"]["tags"] == serde_json::json!(["staff"]));
    }
}
