//! `POST /notify/wechat/pay`: WeChat Pay's `TRANSACTION.SUCCESS` notification. Verified with the platform key that
//! `Wechatpay-Serial` names (certificate serials and `PUB_KEY_ID_` keys, several at once), within 300 s, never a
//! `WECHATPAY/SIGNTEST/` probe; then the AES-256-GCM resource is decrypted with the APIv3 key and its `appid`,
//! `mchid`, `out_trade_no` and amount are checked against our order by the settlement. Answers 204 when done, and
//! 4xx/5xx with `{"code":"FAIL","message":..}` otherwise, so that WeChat Pay retries. Each verified notification
//! that names an order is kept, with what we made of it (`db::notifies`).

use super::MAX_NOTIFY_BYTES;
use crate::api::body::read_limited;
use crate::db::notifies::{self, ReceivedNotify, KIND_PAYMENT};
use crate::domain::money::Fen;
use crate::domain::user::Platform;
use crate::payments::settlement::{settle_with_trail, ConfirmedPayment, PaymentSource, Settlement, Trail};
use crate::platform::credentials::WechatPayCredentials;
use crate::platform::wechatpay::{
    decode_notification, decrypt_transaction, verify_signature, SignedHeaders, TradeState, Transaction,
};
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{post, web, HttpRequest, HttpResponse, ResponseError};
use chrono::DateTime;
use serde_json::json;

pub const TRANSACTION_SUCCESS: &str = "TRANSACTION.SUCCESS";

/// WeChat Pay's failure reply.
pub fn fail(status: StatusCode, message: &str) -> HttpResponse {
    HttpResponse::build(status).json(json!({ "code": "FAIL", "message": message }))
}

/// Keeps a verified notify as received. A failure to keep it is logged and changes nothing of the answer.
pub(super) async fn remember(state: &AppState, received: &ReceivedNotify) {
    if let Err(error) = notifies::record(state.db.pool(), received, state.now_ms()).await {
        tracing::error!(%error, platform = %received.platform, kind = %received.kind, "a verified notify could not be kept");
    }
}

/// A platform's word for a state, as it wrote it (`SUCCESS`, `REFUND`, ...).
pub(super) fn wire_name(value: &impl serde::Serialize) -> String {
    serde_json::to_value(value).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

/// Reads the `Wechatpay-*` headers and verifies the signature over the raw body: `None` when it holds, otherwise the
/// refusal to answer (logged without secrets).
pub fn refusal(state: &AppState, request: &HttpRequest, body: &[u8], route: &str) -> Option<HttpResponse> {
    let Some(creds) = state.credentials.wechat_pay.as_ref() else {
        return Some(fail(StatusCode::SERVICE_UNAVAILABLE, "WeChat Pay is not configured"));
    };
    let headers = SignedHeaders::from_lookup(|name| request.headers().get(name).map(|value| value.as_bytes()))
        .and_then(|headers| verify_signature(&creds.platform_keys, &headers, body, state.now_ms()).map(|()| headers));
    match headers {
        Ok(_) => None,
        Err(error) => {
            state.metrics.count_notify_rejected("wechat");
            tracing::warn!(route, reason = %error, "refused a WeChat Pay notification that failed verification");
            Some(fail(StatusCode::UNAUTHORIZED, "signature verification failed"))
        }
    }
}

/// WeChat Pay's payment notification (signed; the resource encrypted with the APIv3 key).
#[utoipa::path(post, path = "/notify/wechat/pay", tag = "platforms",
    request_body(content = String, content_type = "application/json", description = "the notification, verified over its raw bytes"),
    responses((status = 204, description = "recorded (or nothing to do)"),
        (status = 401, description = "{\"code\":\"FAIL\"}: signature verification failed"),
        (status = 400, description = "{\"code\":\"FAIL\"}: unreadable, or not for this merchant"),
        (status = 404, description = "{\"code\":\"FAIL\"}: unknown order (recorded for staff)")))]
#[post("/notify/wechat/pay")]
pub async fn notify(state: web::Data<AppState>, request: HttpRequest, payload: web::Payload) -> HttpResponse {
    let body = match read_limited(&request, payload, MAX_NOTIFY_BYTES).await {
        Ok(body) => body,
        Err(error) => return fail(error.status_code(), error.message()),
    };
    if let Some(refusal) = refusal(&state, &request, &body, "pay") {
        return refusal;
    }
    let Some(creds) = state.credentials.wechat_pay.as_ref() else {
        return fail(StatusCode::SERVICE_UNAVAILABLE, "WeChat Pay is not configured");
    };
    let notification = match decode_notification(&body) {
        Ok(notification) => notification,
        Err(error) => {
            tracing::warn!(%error, "a verified WeChat Pay notification is not readable");
            return fail(StatusCode::BAD_REQUEST, "the notification is not readable");
        }
    };
    if notification.event_type != TRANSACTION_SUCCESS {
        tracing::info!(event_type = %notification.event_type, "WeChat Pay notification acknowledged without action");
        return HttpResponse::NoContent().finish();
    }
    let transaction = match decrypt_transaction(&creds.apiv3_key, &notification) {
        Ok(transaction) => transaction,
        Err(error) => {
            tracing::warn!(%error, "a WeChat Pay notification could not be decrypted");
            return fail(StatusCode::BAD_REQUEST, "the resource cannot be decrypted");
        }
    };
    let mut received = ReceivedNotify {
        platform: Platform::Wechat.as_str().into(),
        kind: KIND_PAYMENT.into(),
        order_no: transaction.out_trade_no.clone(),
        out_refund_no: None,
        transaction_id: transaction.transaction_id.clone(),
        reported_state: wire_name(&transaction.trade_state),
        amount_fen: Some(transaction.amount.total),
        outcome: String::new(),
    };
    let (answer, kept) = answer_transaction(&state, creds, &transaction, &mut received).await;
    if !kept {
        remember(&state, &received).await;
    }
    answer
}

/// Applies a decrypted transaction, setting `received.outcome` to what we made of it; true when the settlement kept
/// `received` in its own transaction.
async fn answer_transaction(
    state: &AppState,
    creds: &WechatPayCredentials,
    transaction: &Transaction,
    received: &mut ReceivedNotify,
) -> (HttpResponse, bool) {
    let mut said = |what: &str| received.outcome = what.to_owned();
    if transaction.appid != creds.appid || transaction.mchid != creds.mchid {
        said("other_merchant");
        tracing::warn!(appid = %transaction.appid, mchid = %transaction.mchid, "a WeChat Pay notification for another app or merchant");
        return (fail(StatusCode::BAD_REQUEST, "the notification is not for this merchant"), false);
    }
    if transaction.trade_state != TradeState::Success {
        said("ignored");
        return (HttpResponse::NoContent().finish(), false);
    }
    let Some(transaction_id) = transaction.transaction_id.clone().filter(|id| !id.is_empty() && id.len() <= 64) else {
        said("unreadable");
        return (fail(StatusCode::BAD_REQUEST, "a successful transaction without transaction_id"), false);
    };
    if transaction.amount.currency != "CNY"
        || transaction.amount.total <= 0
        || transaction.out_trade_no.is_empty()
        || transaction.out_trade_no.len() > 64
    {
        said("unreadable");
        tracing::warn!(currency = %transaction.amount.currency, "a WeChat Pay notification we cannot apply");
        return (fail(StatusCode::BAD_REQUEST, "unexpected currency, amount or order number"), false);
    }
    let now = state.now_ms();
    let paid_at = transaction
        .success_time
        .as_deref()
        .and_then(|time| DateTime::parse_from_rfc3339(time).ok())
        .map(|time| time.timestamp_millis())
        .unwrap_or(now);
    let payment = ConfirmedPayment {
        platform: Platform::Wechat,
        order_no: transaction.out_trade_no.clone(),
        transaction_id,
        amount: Fen::new(transaction.amount.total),
        paid_at_ms: paid_at,
        source: PaymentSource::Notify,
    };
    let trail = Trail { audit: None, notify: Some(&*received) };
    match settle_with_trail(state, &payment, trail).await {
        Ok(settlement) => {
            received.outcome = settlement.as_str().to_owned();
            state.metrics.count_settlement("wechat", settlement.as_str());
            let kept = settlement != Settlement::AlreadyRecorded;
            if settlement.acknowledged() {
                (HttpResponse::NoContent().finish(), kept)
            } else {
                tracing::warn!(order_no = %payment.order_no, "WeChat Pay notified a payment for an unknown order");
                (fail(StatusCode::NOT_FOUND, "unknown order"), kept)
            }
        }
        Err(error) => {
            received.outcome = "error".to_owned();
            tracing::error!(%error, order_no = %payment.order_no, "settling a WeChat Pay payment failed");
            (fail(StatusCode::INTERNAL_SERVER_ERROR, "temporarily unable to record the payment"), false)
        }
    }
}
