//! `POST /api/v1/payments`: open (or hand out again) an order for one or all unpaid bills of a bound account, with
//! what the mini-program pays it with. `GET /api/v1/payments/{order_no}`: where the order stands, asking the
//! platform when it is still pending. The mini-program's own "paid" signal (`requestPayment` success, Alipay
//! `resultCode` 9000) settles nothing: only the platforms' verified messages do.

use super::auth::CustomerAuth;
use crate::db::orders::{self, StoredOrder};
use crate::db::payments::{self as payment_repo, PaymentRecord};
use crate::domain::order::{is_order_no, OrderLine, OrderState};
use crate::error::{ApiError, ErrorBody};
use crate::payments::channel::PayParams;
use crate::payments::ordering::{open_order, MAX_BILLS_PER_ORDER};
use crate::payments::polling::check_order;
use crate::platform::wechatpay::RequestPayment;
use crate::state::AppState;
use actix_web::{get, post, web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// How often `GET /api/v1/payments/{order_no}` may ask the platform about one pending order.
const ASK_INTERVAL: std::time::Duration = std::time::Duration::from_secs(3);

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentRequest {
    /// The bound account (户号).
    pub account_no: String,
    /// The bills to pay (ids as strings); all unpaid bills of the account when absent.
    pub bill_ids: Option<Vec<String>>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct OrderBillView {
    pub bill_id: String,
    /// The unpaid principal asked for, in fen.
    pub principal_fen: i64,
    /// The late fee asked for, in fen.
    pub late_fee_fen: i64,
}

/// What the mini-program calls: `wx.requestPayment(wechat)` or `my.tradePay(alipay)`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PayView {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wechat: Option<RequestPayment>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alipay: Option<AlipayPay>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AlipayPay {
    #[serde(rename = "tradeNO")]
    pub trade_no: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PaymentView {
    pub transaction_id: String,
    pub amount_fen: i64,
    /// `settled`, `duplicate` (paid for bills already settled) or `amount_mismatch` (under review by staff).
    pub outcome: String,
    /// Money not applied to bills, in fen, and what became of it (`credit` or `refund`).
    pub surplus_fen: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub surplus_handling: Option<String>,
    pub paid_at: i64,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct OrderView {
    pub order_no: String,
    /// `pending`, `paid`, `closed`, `expired`, `failed` or `flagged` (paid a different amount; staff review it).
    pub state: String,
    /// `wechat` or `alipay`.
    pub platform: String,
    pub account_no: String,
    /// What the order asks for, late fees included, in fen.
    pub amount_fen: i64,
    pub bills: Vec<OrderBillView>,
    pub created_at: i64,
    /// After this (UTC epoch milliseconds) the order can no longer be paid.
    pub expires_at: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paid_at: Option<i64>,
    /// Present on a pending order just opened or handed out again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pay: Option<PayView>,
    /// True when an open order for the same bills and amounts was handed out again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reused: Option<bool>,
    pub payments: Vec<PaymentView>,
}

pub fn order_view(order: &StoredOrder, lines: &[OrderLine], payments: &[PaymentRecord]) -> OrderView {
    OrderView {
        order_no: order.order_no.clone(),
        state: order.state.as_str().into(),
        platform: order.platform.as_str().into(),
        account_no: order.account_no.clone(),
        amount_fen: order.amount.value(),
        bills: lines
            .iter()
            .map(|line| OrderBillView {
                bill_id: line.bill_id.to_string(),
                principal_fen: line.principal.value(),
                late_fee_fen: line.late_fee.value(),
            })
            .collect(),
        created_at: order.created_at,
        expires_at: order.expires_at,
        paid_at: order.paid_at,
        pay: None,
        reused: None,
        payments: payments.iter().map(payment_view).collect(),
    }
}

pub fn payment_view(payment: &PaymentRecord) -> PaymentView {
    PaymentView {
        transaction_id: payment.transaction_id.clone(),
        amount_fen: payment.amount.value(),
        outcome: payment.outcome.clone(),
        surplus_fen: payment.surplus.value(),
        surplus_handling: payment.surplus_handling.clone(),
        paid_at: payment.paid_at,
    }
}

fn parse_bill_ids(ids: &[String]) -> Result<Vec<i64>, ApiError> {
    if ids.is_empty() || ids.len() > MAX_BILLS_PER_ORDER {
        return Err(ApiError::bad_request(
            "INVALID_BILL_IDS",
            format!("bill_ids must name 1 to {MAX_BILLS_PER_ORDER} bills, or be left out for all unpaid bills"),
        ));
    }
    let mut parsed = Vec::with_capacity(ids.len());
    for id in ids {
        let id: i64 = id
            .parse()
            .ok()
            .filter(|id: &i64| *id > 0)
            .ok_or_else(|| ApiError::bad_request("INVALID_BILL_IDS", format!("{id:?} is not a bill id")))?;
        if parsed.contains(&id) {
            return Err(ApiError::bad_request("INVALID_BILL_IDS", format!("bill {id} is named twice")));
        }
        parsed.push(id);
    }
    Ok(parsed)
}

/// Opens an order for the bills and answers what to pay it with.
#[utoipa::path(post, path = "/api/v1/payments", tag = "customer", security(("customer_token" = [])),
    request_body = PaymentRequest,
    responses((status = 201, body = OrderView, description = "a new order"),
        (status = 200, body = OrderView, description = "the open order for the same bills, handed out again"),
        (status = 400, body = ErrorBody, description = "MALFORMED_JSON, INVALID_BILL_IDS"),
        (status = 404, body = ErrorBody, description = "not bound to this account, or no such bill on it"),
        (status = 409, body = ErrorBody, description = "NOTHING_TO_PAY, BILL_ALREADY_PAID, BILLS_CHANGED, ORDER_IN_PROGRESS"),
        (status = 502, body = ErrorBody, description = "PLATFORM_ERROR"),
        (status = 503, body = ErrorBody, description = "PLATFORM_UNAVAILABLE, PAYMENTS_NOT_CONFIGURED")))]
#[post("/payments")]
pub async fn create(
    state: web::Data<AppState>,
    auth: CustomerAuth,
    request: web::Json<PaymentRequest>,
) -> Result<HttpResponse, ApiError> {
    let bill_ids = request.bill_ids.as_deref().map(parse_bill_ids).transpose()?;
    let opened = open_order(&state, auth.user_id, &request.account_no, bill_ids.as_deref()).await?;
    let mut view = order_view(&opened.order, &opened.lines, &[]);
    view.pay = Some(match opened.pay {
        PayParams::Wechat(params) => PayView { wechat: Some(params), alipay: None },
        PayParams::Alipay { trade_no } => PayView { wechat: None, alipay: Some(AlipayPay { trade_no }) },
    });
    view.reused = Some(opened.reused);
    Ok(if opened.reused { HttpResponse::Ok() } else { HttpResponse::Created() }.json(view))
}

/// Where an order stands; a pending one is asked about on its platform first.
#[utoipa::path(get, path = "/api/v1/payments/{order_no}", tag = "customer", security(("customer_token" = [])),
    params(("order_no" = String, Path)),
    responses((status = 200, body = OrderView),
        (status = 404, body = ErrorBody, description = "no such order among the user's or their accounts'")))]
#[get("/payments/{order_no}")]
pub async fn show(
    state: web::Data<AppState>,
    auth: CustomerAuth,
    order_no: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let no_such_order = || ApiError::not_found("no such order");
    if !is_order_no(&order_no) {
        return Err(no_such_order());
    }
    let pool = state.db.pool();
    let mut order = orders::find_for_user(pool, &order_no, auth.user_id).await?.ok_or_else(no_such_order)?;
    // A mini-program polling this page asks the platform at most every few seconds per order.
    let ask_key = format!("payments:asked:{}", order.order_no);
    let may_ask = || async { state.cache.set_if_absent(&ask_key, "1", ASK_INTERVAL).await.unwrap_or(true) };
    if order.state == OrderState::Pending && may_ask().await {
        match check_order(&state, &order).await {
            Ok(_) => order = orders::find_by_no(pool, &order.order_no).await?.ok_or_else(no_such_order)?,
            // The stored state is still true; the platform's answer can come with the next look.
            Err(error) => tracing::warn!(order_no = %order.order_no, %error, "order query failed"),
        }
    }
    let lines = orders::lines(pool, order.id).await?;
    let payments = payment_repo::for_orders(pool, &[order.id]).await?;
    Ok(HttpResponse::Ok().json(order_view(&order, &lines, &payments)))
}

/// An order that asked for a bill, with the payments recorded for it (the bill detail lists them).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BillOrderView {
    pub order_no: String,
    pub state: String,
    pub platform: String,
    /// What the order asked for this bill, in fen.
    pub principal_fen: i64,
    pub late_fee_fen: i64,
    pub created_at: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paid_at: Option<i64>,
    pub payments: Vec<PaymentView>,
}

/// The orders (newest first) and payments that touched bill `bill_id`.
pub async fn orders_of_bill(state: &AppState, bill_id: i64) -> Result<Vec<BillOrderView>, ApiError> {
    let pool = state.db.pool();
    let orders = orders::for_bill(pool, bill_id).await?;
    let order_ids: Vec<i64> = orders.iter().map(|(order, _)| order.id).collect();
    let payments = payment_repo::for_orders(pool, &order_ids).await?;
    Ok(orders
        .iter()
        .map(|(order, line)| BillOrderView {
            order_no: order.order_no.clone(),
            state: order.state.as_str().into(),
            platform: order.platform.as_str().into(),
            principal_fen: line.principal.value(),
            late_fee_fen: line.late_fee.value(),
            created_at: order.created_at,
            paid_at: order.paid_at,
            payments: payments.iter().filter(|p| p.order_id == order.id).map(payment_view).collect(),
        })
        .collect())
}
