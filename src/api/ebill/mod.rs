//! The e-bill: `POST /api/v1/bills/{id}/share` gives a bound customer a signed link that expires;
//! `GET /e-bill/{id}?exp=&sig=` serves that one bill's page to whoever holds the link (a family member, an SMS),
//! without a login. A tampered or expired link gets a plain HTML refusal that tells nothing about the bill.

mod chart;
mod document;

use crate::api::mp::auth::CustomerAuth;
use crate::api::mp::bill_views::detail;
use crate::api::mp::bills::{bound_bill, usage_history};
use crate::db::{accounts, bill_reads};
use crate::domain::assessment::assess;
use crate::domain::calendar::beijing_date;
use crate::domain::masking::{mask_address, mask_name};
use crate::error::{ApiError, ErrorBody};
use crate::sessions::links::LinkError;
use crate::state::AppState;
use actix_web::http::{header, StatusCode};
use actix_web::{get, post, web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ShareLink {
    /// The full link to the bill's page.
    pub url: String,
    /// When it stops working, UTC epoch milliseconds.
    pub expires_at: i64,
}

/// A link to the bill's printable page, valid for the configured number of days (7 by default).
#[utoipa::path(post, path = "/api/v1/bills/{id}/share", tag = "customer", security(("customer_token" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = ShareLink), (status = 404, body = ErrorBody)))]
#[post("/bills/{id}/share")]
pub async fn share(
    state: web::Data<AppState>,
    auth: CustomerAuth,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (stored, _) = bound_bill(&state, auth.user_id, &id).await?;
    let expires_at = state.now_ms().div_euclid(1000) + state.settings.ebill.link_ttl_days as i64 * 86_400;
    let path = state.bill_links.path(stored.id, expires_at);
    Ok(HttpResponse::Ok()
        .json(ShareLink { url: format!("{}{path}", state.settings.public_base_url()), expires_at: expires_at * 1000 }))
}

#[derive(Debug, Deserialize)]
pub struct LinkQuery {
    exp: Option<String>,
    sig: Option<String>,
}

fn html(status: StatusCode, body: String) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'self'; img-src 'self'; frame-ancestors 'none'",
        ))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .content_type("text/html; charset=utf-8")
        .body(body)
}

fn refusal(status: StatusCode, message: &str) -> HttpResponse {
    html(
        status,
        format!(
            "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" \
             content=\"width=device-width, initial-scale=1\"><title>电费账单</title>\
             <link rel=\"stylesheet\" href=\"/static/ebill-page.css\"></head><body><main class=\"ebill\">\
             <h1>电费账单</h1><p class=\"refusal\">{message}</p></main></body></html>"
        ),
    )
}

/// The bill's page, for the holder of a valid link.
#[get("/e-bill/{id}")]
pub async fn page(state: web::Data<AppState>, id: web::Path<String>, query: web::Query<LinkQuery>) -> HttpResponse {
    match render(&state, &id, &query).await {
        Ok(page) => html(StatusCode::OK, page),
        Err(Some(LinkError::Expired)) => refusal(StatusCode::GONE, "此账单链接已过期，请在小程序中重新查看。"),
        Err(Some(LinkError::Invalid)) | Err(None) => refusal(StatusCode::NOT_FOUND, "链接无效。"),
    }
}

/// `Err(None)`: a failure of ours or a bill that vanished, answered like an invalid link.
async fn render(state: &AppState, id: &str, query: &LinkQuery) -> Result<String, Option<LinkError>> {
    let invalid = Some(LinkError::Invalid);
    let id: i64 = id.parse().map_err(|_| invalid)?;
    let expires_at: i64 = query.exp.as_deref().and_then(|e| e.parse().ok()).ok_or(invalid)?;
    let sig = query.sig.as_deref().ok_or(invalid)?;
    let now_ms = state.now_ms();
    state.bill_links.verify(id, expires_at, sig, now_ms).map_err(Some)?;
    let logged = |e: &dyn std::fmt::Display| tracing::error!(error = %e, "e-bill page");
    let stored = bill_reads::find(state.db.pool(), id).await.map_err(|e| logged(&e)).ok().flatten().ok_or(None)?;
    let account = accounts::find(state.db.pool(), &stored.bill.account_no)
        .await
        .map_err(|e| logged(&e))
        .ok()
        .flatten()
        .ok_or(None)?
        .account;
    let today = beijing_date(now_ms);
    let view = detail(&stored, assess(&state.late_fee_rules, account.account_type, &stored.bill, stored.status, today));
    // The chart ends with this bill's own month: the link shows nothing issued after it.
    let usage = usage_history(state, &stored.bill.account_no, Some(stored.bill.period), 12).await.map_err(|e| {
        logged(&e);
        None
    })?;
    let holder = mask_name(&account.holder_name);
    let address = mask_address(&account.address);
    Ok(document::render(
        &view,
        &document::PageContext {
            holder_name_masked: &holder,
            address_masked: &address,
            supply_unit: &account.supply_unit,
            usage: &usage,
            today: &today.to_string(),
        },
    ))
}
