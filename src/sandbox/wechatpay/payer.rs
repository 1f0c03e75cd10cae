//! The payer's side, which the real platform keeps to itself: `POST pay` pays an order (and notifies the merchant),
//! `POST notify-again` repeats the success notification as the platform's retries do. Test and demo helpers; their
//! refusals are ordinary sandbox errors, unsigned.

use super::book::{OrderRecord, Refusal};
use super::notify::{deliver, Delivery, Event};
use super::orders::transaction_json;
use crate::error::ApiError;
use crate::platform::wechatpay::TradeState;
use crate::sandbox::notify_log::{NotifyKind, NotifyPlatform, NotifySubject};
use crate::sandbox::platforms::{lock, SandboxPlatforms};
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
pub(super) struct PayRequest {
    out_trade_no: Option<String>,
    prepay_id: Option<String>,
    #[serde(default = "notify_by_default")]
    notify: bool,
    /// What the payer pays; the order's total when absent.
    amount_fen: Option<i64>,
}

fn notify_by_default() -> bool {
    true
}

#[derive(Deserialize)]
pub(super) struct NotifyAgainRequest {
    out_trade_no: String,
}

fn refusal(refusal: Refusal) -> ApiError {
    match refusal {
        Refusal::UnknownOrder => ApiError::bad_request("ORDER_NOT_EXIST", "no such order"),
        Refusal::Closed => ApiError::bad_request("ORDER_CLOSED", "the order is closed"),
        Refusal::Expired => ApiError::bad_request("ORDER_EXPIRED", "the order is past its time_expire"),
        Refusal::Paid => ApiError::bad_request("ORDERPAID", "the order is paid already"),
        other => ApiError::bad_request("INVALID_REQUEST", format!("the order cannot be paid: {other:?}")),
    }
}

/// The `TRANSACTION.SUCCESS` event of a paid order: the same id and transaction every time it is sent.
fn success_event(order: &OrderRecord) -> Option<Event> {
    let payment = order.payment()?;
    Some(Event {
        id: payment.notification_id.clone(),
        create_time: payment.notification_time.clone(),
        event_type: "TRANSACTION.SUCCESS",
        summary: "支付成功",
        original_type: "transaction",
        plaintext: transaction_json(order, TradeState::Success).to_string(),
        subject: NotifySubject {
            platform: NotifyPlatform::Wechatpay,
            kind: NotifyKind::Payment,
            out_trade_no: order.placed.out_trade_no.clone(),
            transaction_id: payment.transaction_id.clone(),
            amount_fen: payment.paid_fen,
        },
    })
}

/// Notifies the merchant of `order`'s payment, and answers what it said.
async fn notify_and_answer(
    state: &AppState,
    sandbox: &SandboxPlatforms,
    order: &OrderRecord,
    notify: bool,
) -> HttpResponse {
    let event = success_event(order);
    let delivery = match (&event, notify) {
        (Some(event), true) => deliver(state, sandbox, &order.placed.notify_url, event).await,
        _ => Delivery::default(),
    };
    HttpResponse::Ok().json(json!({
        "transaction_id": order.payment().map(|payment| payment.transaction_id.as_str()),
        "notify_status": delivery.notify_status,
        "notify_body": delivery.notify_body,
        "notify_error": delivery.notify_error,
    }))
}

/// `POST /sandbox/wechatpay/pay {out_trade_no | prepay_id, notify?, amount_fen?}`.
pub(super) async fn pay(state: web::Data<AppState>, request: web::Json<PayRequest>) -> Result<HttpResponse, ApiError> {
    let sandbox = SandboxPlatforms::of(&state)?;
    if request.amount_fen.is_some_and(|amount| amount <= 0) {
        return Err(ApiError::bad_request("PARAM_ERROR", "`amount_fen` must be positive"));
    }
    let paid = {
        let mut book = lock(&sandbox.wechatpay.book);
        let out_trade_no = match (&request.out_trade_no, &request.prepay_id) {
            (Some(out_trade_no), _) => out_trade_no.clone(),
            (None, Some(prepay_id)) => {
                book.order_of_prepay_id(prepay_id).ok_or_else(|| refusal(Refusal::UnknownOrder))?
            }
            (None, None) => return Err(ApiError::bad_request("PARAM_ERROR", "give `out_trade_no` or `prepay_id`")),
        };
        book.pay(&out_trade_no, request.amount_fen, state.now_ms()).map_err(refusal)?
    };
    Ok(notify_and_answer(&state, sandbox, &paid, request.notify).await)
}

/// `POST /sandbox/wechatpay/notify-again {out_trade_no}`.
pub(super) async fn notify_again(
    state: web::Data<AppState>,
    request: web::Json<NotifyAgainRequest>,
) -> Result<HttpResponse, ApiError> {
    let sandbox = SandboxPlatforms::of(&state)?;
    let order = lock(&sandbox.wechatpay.book).orders.get(&request.out_trade_no).cloned();
    let order = order.ok_or_else(|| refusal(Refusal::UnknownOrder))?;
    if order.payment().is_none() {
        return Err(ApiError::bad_request("ORDER_NOT_PAID", "the order is not paid: there is nothing to notify"));
    }
    Ok(notify_and_answer(&state, sandbox, &order, true).await)
}
