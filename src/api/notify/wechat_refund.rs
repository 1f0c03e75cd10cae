//! `POST /notify/wechat/refund`: WeChat Pay's `REFUND.SUCCESS|ABNORMAL|CLOSED` notification, verified like the payment
//! notification, then the refund it names is marked succeeded or failed.

use super::wechat_pay::{fail, refusal};
use super::MAX_NOTIFY_BYTES;
use crate::api::body::read_limited;
use crate::payments::refunds::refund_notified;
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
    if refund.mchid != creds.mchid {
        return fail(StatusCode::BAD_REQUEST, "the notification is not for this merchant");
    }
    match refund_notified(&state, &refund.out_refund_no, refund.refund_status, &refund.refund_id).await {
        Ok(true) => HttpResponse::NoContent().finish(),
        Ok(false) => {
            tracing::warn!(out_refund_no = %refund.out_refund_no, "WeChat Pay notified an unknown refund");
            fail(StatusCode::NOT_FOUND, "unknown refund")
        }
        Err(error) => {
            tracing::error!(%error, "recording a refund notification failed");
            fail(StatusCode::INTERNAL_SERVER_ERROR, "temporarily unable to record the refund")
        }
    }
}
