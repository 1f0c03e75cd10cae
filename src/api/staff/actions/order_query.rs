//! `POST /staff/v1/orders/{order_no}/query`: asks the order's platform where it stands, for a caller who paid but whose
//! bill still shows unpaid. A verified "paid" answer is settled by the settlement the polling job uses (exactly once:
//! a payment already recorded changes nothing); a pending order the platform closed is closed here, as the polling
//! job would. Staff learn what the platform said and what came of it.

use super::{refused, ActionRequest};
use crate::api::staff::auth::StaffAuth;
use crate::api::staff::lookups::pages::order_page;
use crate::api::staff::lookups::views::{Disclosure, OrderView};
use crate::db::audit::OUTCOME_FAILED;
use crate::db::orders::{self, StoredOrder};
use crate::domain::order::{is_order_no, OrderState};
use crate::domain::staff::{Permission, Reason};
use crate::error::{ApiError, ErrorBody};
use crate::payments::channel::{paid_at_or, Channel, ChannelError, TradeLookup};
use crate::payments::settlement::{settle_with_trail, ConfirmedPayment, PaymentSource, Settlement, Trail};
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{post, web, HttpResponse};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

const ACTION: &str = "query_order";

#[derive(Debug, Serialize, ToSchema)]
pub struct OrderQueryAnswer {
    /// What the platform said: paid | open | closed | not_found.
    pub platform_state: String,
    /// Whether this query recorded a payment (the order is settled, or the money is kept as surplus, or the order
    /// is flagged for a wrong amount; `settlement` says which).
    pub settled: bool,
    /// settled | duplicate | amount_mismatch | already_recorded; null unless the platform said paid.
    pub settlement: Option<String>,
    /// The order as it stands now; payer masked.
    pub order: OrderView,
}

/// The answer for a platform call that gave nothing we can act on.
fn platform_error(error: ChannelError) -> ApiError {
    match error {
        ChannelError::NotConfigured(_) => ApiError::unavailable("PLATFORM_NOT_CONFIGURED", error.to_string()),
        ChannelError::Transient(detail) => ApiError::unavailable(
            "PLATFORM_UNAVAILABLE",
            format!("the payment platform did not answer; try again shortly ({detail})"),
        ),
        ChannelError::Refused(detail) => ApiError::new(
            StatusCode::BAD_GATEWAY,
            "PLATFORM_REFUSED",
            format!("the payment platform refused or answered something unreadable ({detail})"),
        ),
    }
}

fn platform_state(lookup: &TradeLookup) -> &'static str {
    match lookup {
        TradeLookup::Paid { .. } => "paid",
        TradeLookup::Open => "open",
        TradeLookup::Closed => "closed",
        TradeLookup::NotFound => "not_found",
    }
}

/// Audits a query that came to nothing, and answers it.
async fn failed(
    state: &AppState,
    staff: &StaffAuth,
    order: &StoredOrder,
    reason: &Reason,
    error: ApiError,
) -> Result<HttpResponse, ApiError> {
    let entry = staff
        .entry(ACTION, "order", &order.order_no)
        .reason(reason.as_str())
        .outcome(OUTCOME_FAILED)
        .detail(json!({ "account_no": order.account_no, "error": error.code() }));
    staff.record(state, &entry).await?;
    Err(error)
}

/// Asks the order's platform where the order stands and settles a verified payment.
#[utoipa::path(post, path = "/staff/v1/orders/{order_no}/query", tag = "staff", params(("order_no" = String, Path)),
    request_body = ActionRequest,
    responses((status = 200, body = OrderQueryAnswer), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 502, description = "PLATFORM_REFUSED", body = ErrorBody),
        (status = 503, description = "PLATFORM_UNAVAILABLE or PLATFORM_NOT_CONFIGURED", body = ErrorBody)))]
#[post("/orders/{order_no}/query")]
pub async fn query_order(
    state: web::Data<AppState>,
    staff: StaffAuth,
    order_no: web::Path<String>,
    body: web::Json<ActionRequest>,
) -> Result<HttpResponse, ApiError> {
    staff.require(&state, Permission::QueryOrder, ACTION, "order", &order_no).await?;
    let reason = body.reason()?;
    let found = if is_order_no(&order_no) { orders::find_by_no(state.db.pool(), &order_no).await? } else { None };
    let Some(order) = found else {
        let error = ApiError::not_found("no such order");
        return refused(&state, &staff, ACTION, "order", &order_no, &reason, error).await;
    };
    let asked = match Channel::for_platform(&state, order.platform) {
        Ok(channel) => channel.lookup(&order.order_no).await,
        Err(error) => Err(error),
    };
    let lookup = match asked {
        Ok(lookup) => lookup,
        Err(error) => {
            tracing::warn!(order_no = %order.order_no, %error, "staff query of an order failed");
            return failed(&state, &staff, &order, &reason, platform_error(error)).await;
        }
    };
    let now = state.now_ms();
    let platform_state = platform_state(&lookup);
    let entry = staff.entry(ACTION, "order", &order.order_no).reason(reason.as_str()).detail(json!({
        "account_no": order.account_no,
        "platform_state": platform_state,
    }));
    // What the answer changes is written with the audit entry, in one transaction; an answer that changes nothing
    // is audited on its own.
    let (settlement, audited) = match &lookup {
        TradeLookup::Paid { transaction_id, amount, paid_at_ms } => {
            let payment = ConfirmedPayment {
                platform: order.platform,
                order_no: order.order_no.clone(),
                transaction_id: transaction_id.clone(),
                amount: *amount,
                paid_at_ms: paid_at_or(*paid_at_ms, now),
                source: PaymentSource::Query,
            };
            match settle_with_trail(&state, &payment, Trail { audit: Some(&entry), notify: None }).await {
                Ok(settlement) => (Some(settlement), settlement != Settlement::AlreadyRecorded),
                Err(error) => return failed(&state, &staff, &order, &reason, ApiError::internal(error)).await,
            }
        }
        TradeLookup::Closed if order.state == OrderState::Pending => {
            let to = if now >= order.expires_at { OrderState::Expired } else { OrderState::Closed };
            (None, orders::finish_unpaid_audited(&state.db, order.id, to, now, Some(&entry)).await?)
        }
        _ => (None, false),
    };
    let settled = matches!(
        settlement,
        Some(Settlement::Settled { .. } | Settlement::Duplicate { .. } | Settlement::AmountMismatch { .. })
    );
    let settlement = settlement.map(|s| s.as_str().to_owned());
    if !audited {
        let mut detail = entry.detail.clone().unwrap_or_default();
        detail["settlement"] = json!(settlement);
        staff.record(&state, &entry.clone().detail(detail)).await?;
    }
    // The order as the settlement (or the closing) left it.
    let order = order_page(&state, &order.order_no, Disclosure::Masked)
        .await?
        .ok_or_else(|| ApiError::internal("an order queried is gone"))?
        .order;
    Ok(HttpResponse::Ok().json(OrderQueryAnswer { platform_state: platform_state.into(), settled, settlement, order }))
}
