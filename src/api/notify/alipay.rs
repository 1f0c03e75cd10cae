//! `POST /notify/alipay`: Alipay's trade notify (form-encoded). RSA2 is verified over the raw parameters, decoded
//! exactly once, without `sign` and `sign_type`, with Alipay's public key; then `app_id`, `seller_id` (when
//! configured), `out_trade_no` and `total_amount` are checked, and only `TRADE_SUCCESS` and `TRADE_FINISHED` settle.
//! The reply is exactly `success` when done; anything else makes Alipay retry. Each verified notify that names an
//! order is kept, with what we made of it (`db::notifies`); one sent after a refund (it carries `refund_fee`) is kept
//! as a refund notify (a refund's end is known from `alipay.trade.refund`'s own answer).

use super::MAX_NOTIFY_BYTES;
use crate::api::body::read_limited;
use crate::db::notifies::{self, ReceivedNotify, KIND_PAYMENT, KIND_REFUND};
use crate::domain::calendar::beijing;
use crate::domain::money::Fen;
use crate::domain::user::Platform;
use crate::payments::settlement::{settle_with_trail, ConfirmedPayment, PaymentSource, Settlement, Trail};
use crate::platform::credentials::AlipayCredentials;
use crate::platform::crypto::alipay_sign::verify_notify;
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{post, web, HttpRequest, HttpResponse, ResponseError};
use chrono::NaiveDateTime;

type Params = Vec<(String, String)>;

fn reply(status: StatusCode, body: &'static str) -> HttpResponse {
    HttpResponse::build(status).content_type("text/plain; charset=utf-8").body(body)
}

fn success() -> HttpResponse {
    reply(StatusCode::OK, "success")
}

fn failure(status: StatusCode) -> HttpResponse {
    reply(status, "fail")
}

fn param<'a>(params: &'a Params, key: &str) -> Option<&'a str> {
    params.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty())
}

/// Alipay's trade notify (form-encoded, RSA2-signed).
#[utoipa::path(post, path = "/notify/alipay", tag = "platforms",
    request_body(content = String, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "`success` when recorded (or nothing to do), `fail` otherwise")))]
#[post("/notify/alipay")]
pub async fn notify(state: web::Data<AppState>, request: HttpRequest, payload: web::Payload) -> HttpResponse {
    let body = match read_limited(&request, payload, MAX_NOTIFY_BYTES).await {
        Ok(body) => body,
        Err(error) => return failure(error.status_code()),
    };
    let Some(creds) = state.credentials.alipay.as_ref() else {
        return failure(StatusCode::SERVICE_UNAVAILABLE);
    };
    // Decoded once, as a list (a repeated key is refused by the verification).
    let params: Params =
        match std::str::from_utf8(&body).ok().and_then(|text| web::Query::<Params>::from_query(text).ok()) {
            Some(params) => params.into_inner(),
            None => {
                tracing::warn!("refused an Alipay notify that is not a UTF-8 form");
                return failure(StatusCode::BAD_REQUEST);
            }
        };
    if let Err(error) = verify_notify(params.iter().map(|(k, v)| (k.as_str(), v.as_str())), &creds.alipay_public_key) {
        state.metrics.count_notify_rejected("alipay");
        tracing::warn!(reason = %error, "refused an Alipay notify that failed verification");
        return failure(StatusCode::UNAUTHORIZED);
    }
    let refund_fee = param(&params, "refund_fee");
    let amount = refund_fee.or(param(&params, "total_amount")).and_then(Fen::parse_yuan);
    let mut received = param(&params, "out_trade_no").map(|order_no| ReceivedNotify {
        platform: Platform::Alipay.as_str().into(),
        kind: if refund_fee.is_some() { KIND_REFUND } else { KIND_PAYMENT }.into(),
        order_no: order_no.to_owned(),
        out_refund_no: param(&params, "out_biz_no").filter(|_| refund_fee.is_some()).map(str::to_owned),
        transaction_id: param(&params, "trade_no").map(str::to_owned),
        reported_state: param(&params, "trade_status").unwrap_or_default().to_owned(),
        amount_fen: amount.map(Fen::value),
        outcome: String::new(),
    });
    let mut outcome = String::new();
    let (answer, kept) = answer_trade(&state, creds, &params, received.as_ref(), &mut outcome).await;
    if let (Some(received), false) = (received.as_mut(), kept) {
        received.outcome = outcome;
        if let Err(error) = notifies::record(state.db.pool(), received, state.now_ms()).await {
            tracing::error!(%error, "a verified Alipay notify could not be kept");
        }
    }
    answer
}

/// Applies a verified trade notify; `outcome` tells what we made of it. True when the settlement kept `received` in
/// its own transaction.
async fn answer_trade(
    state: &AppState,
    creds: &AlipayCredentials,
    params: &Params,
    received: Option<&ReceivedNotify>,
    outcome: &mut String,
) -> (HttpResponse, bool) {
    let mut said = |what: &str| *outcome = what.to_owned();
    if param(params, "app_id") != Some(creds.app_id.as_str()) {
        said("other_app");
        tracing::warn!("an Alipay notify for another app");
        return (failure(StatusCode::BAD_REQUEST), false);
    }
    if let Some(seller_id) = &creds.seller_id {
        if param(params, "seller_id") != Some(seller_id.as_str()) {
            said("other_seller");
            tracing::warn!("an Alipay notify for another seller");
            return (failure(StatusCode::BAD_REQUEST), false);
        }
    }
    match param(params, "trade_status") {
        Some("TRADE_SUCCESS") | Some("TRADE_FINISHED") => {}
        status => {
            said("ignored");
            tracing::info!(trade_status = status.unwrap_or(""), "Alipay notify acknowledged without action");
            return (success(), false);
        }
    }
    let (Some(order_no), Some(trade_no), Some(total)) =
        (param(params, "out_trade_no"), param(params, "trade_no"), param(params, "total_amount"))
    else {
        said("unreadable");
        tracing::warn!("a verified Alipay notify lacks out_trade_no, trade_no or total_amount");
        return (failure(StatusCode::BAD_REQUEST), false);
    };
    let Some(amount) = Fen::parse_yuan(total).filter(|amount| amount.value() > 0) else {
        said("unreadable");
        tracing::warn!("a verified Alipay notify has an unreadable total_amount");
        return (failure(StatusCode::BAD_REQUEST), false);
    };
    if order_no.len() > 64 || trade_no.len() > 64 {
        said("unreadable");
        return (failure(StatusCode::BAD_REQUEST), false);
    }
    let now = state.now_ms();
    let paid_at = param(params, "gmt_payment")
        .and_then(|text| NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").ok())
        .and_then(|naive| naive.and_local_timezone(beijing()).single())
        .map(|at| at.timestamp_millis())
        .unwrap_or(now);
    let payment = ConfirmedPayment {
        platform: Platform::Alipay,
        order_no: order_no.to_owned(),
        transaction_id: trade_no.to_owned(),
        amount,
        paid_at_ms: paid_at,
        source: PaymentSource::Notify,
    };
    match settle_with_trail(state, &payment, Trail { audit: None, notify: received }).await {
        Ok(settlement) => {
            said(settlement.as_str());
            state.metrics.count_settlement("alipay", settlement.as_str());
            let kept = received.is_some() && settlement != Settlement::AlreadyRecorded;
            if settlement.acknowledged() {
                (success(), kept)
            } else {
                tracing::warn!(order_no = %payment.order_no, "Alipay notified a payment for an unknown order");
                (failure(StatusCode::NOT_FOUND), kept)
            }
        }
        Err(error) => {
            said("error");
            tracing::error!(%error, order_no = %payment.order_no, "settling an Alipay payment failed");
            (failure(StatusCode::INTERNAL_SERVER_ERROR), false)
        }
    }
}
