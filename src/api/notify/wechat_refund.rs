//! `POST /notify/wechat/refund`: WeChat Pay's `REFUND.SUCCESS|ABNORMAL|CLOSED` notification, verified like the payment
//! notification, then the refund it names ends, once (`payments::refund_outcomes::refund_notified`): a replayed notification
//! changes nothing more. Each verified notification is kept, with what we made of it (`db::notifies`).

use super::wechat_pay::{fail, refusal, remember, wire_name};
use super::MAX_NOTIFY_BYTES;
use crate::api::body::read_limited;
use crate::db::notifies::{ReceivedNotify, KIND_REFUND};
use crate::domain::user::Platform;
use crate::payments::refund_outcomes::{refund_notified, RefundNotified};
use crate::platform::wechatpay::{decode_notification, decrypt_refund};
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{post, web, HttpRequest, HttpResponse, ResponseError};

/// WeChat Pay's refund notification.
#[utoipa::path(post, path = "/notify/wechat/refund", tag = "platforms",
    request_body(content = String, content_type = "application/json"),
    responses((status = 204, description = "recorded"), (status = 401, description = "{\"code\":\"FAIL\"}: signature verification failed")))]
#[post("/notify/wechat/refund")]
pub async fn notify(state: web::Data<AppState>, request: HttpRequest, payload: web::Payload) -> HttpResponse {
    let body = match read_limited(&request, payload, MAX_NOTIFY_BYTES).await {
        Ok(body) => body,
        Err(error) => return fail(error.status_code(), error.message()),
    };
    if let Some(refusal) = refusal(&state, &request, &body, "refund") {
        return refusal;
    }
    let Some(creds) = state.credentials.wechat_pay.as_ref() else {
        return fail(StatusCode::SERVICE_UNAVAILABLE, "WeChat Pay is not configured");
    };
    let refund = match decode_notification(&body).and_then(|n| decrypt_refund(&creds.apiv3_key, &n)) {
        Ok(refund) => refund,
        Err(error) => {
            tracing::warn!(%error, "a verified WeChat Pay refund notification is not readable");
            return fail(StatusCode::BAD_REQUEST, "the notification is not readable");
        }
    };
    let mut received = ReceivedNotify {
        platform: Platform::Wechat.as_str().into(),
        kind: KIND_REFUND.into(),
        order_no: refund.out_trade_no.clone(),
        out_refund_no: Some(refund.out_refund_no.clone()),
        transaction_id: Some(refund.transaction_id.clone()),
        reported_state: wire_name(&refund.refund_status),
        amount_fen: Some(refund.amount.refund),
        outcome: String::new(),
    };
    if refund.mchid != creds.mchid {
        received.outcome = "other_merchant".into();
        remember(&state, &received).await;
        return fail(StatusCode::BAD_REQUEST, "the notification is not for this merchant");
    }
    let ended = refund_notified(&state, &refund.out_refund_no, refund.refund_status, &refund.refund_id).await;
    received.outcome = match &ended {
        Ok(ended) => ended.as_str().into(),
        Err(_) => "error".into(),
    };
    remember(&state, &received).await;
    match ended {
        Ok(RefundNotified::Unknown) => {
            tracing::warn!(out_refund_no = %refund.out_refund_no, "WeChat Pay notified an unknown refund");
            fail(StatusCode::NOT_FOUND, "unknown refund")
        }
        Ok(_) => HttpResponse::NoContent().finish(),
        Err(error) => {
            tracing::error!(%error, "recording a refund notification failed");
            fail(StatusCode::INTERNAL_SERVER_ERROR, "temporarily unable to record the refund")
        }
    }
}
