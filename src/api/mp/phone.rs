//! `POST /api/v1/me/phone`: the optional step where the customer lets the platform tell us their phone number. It is
//! stored as verified and can prove a binding when it equals the account's registered phone.

use super::auth::CustomerAuth;
use super::login::{alipay_error, wechat_error};
use crate::db::users;
use crate::domain::masking::mask_phone;
use crate::domain::user::Platform;
use crate::error::{ApiError, ErrorBody};
use crate::platform::alipay::{AlipayClient, AlipayError};
use crate::platform::wechat::{WechatClient, WechatTokens};
use crate::state::AppState;
use actix_web::{post, web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One of: WeChat's `getPhoneNumber` `code`; Alipay's `my.getPhoneNumber` `response` + `sign`. Which one is allowed
/// follows the customer's platform. WeChat's older `encryptedData` is not accepted: AES-CBC without a MAC lets the
/// client shape the plaintext, which must not become a binding proof.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PhoneRequest {
    pub code: Option<String>,
    pub response: Option<String>,
    pub sign: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PhoneAnswer {
    /// Masked: 138****1234.
    pub phone: String,
    pub verified: bool,
}

fn wrong_shape(platform: Platform) -> ApiError {
    let expected = match platform {
        Platform::Wechat => "code",
        Platform::Alipay => "response and sign",
    };
    ApiError::bad_request("INVALID_PHONE_PROOF", format!("send {expected}"))
}

/// Stores the phone number the platform verified for the customer.
#[utoipa::path(post, path = "/api/v1/me/phone", tag = "customer", security(("customer_token" = [])),
    request_body = PhoneRequest,
    responses(
        (status = 200, body = PhoneAnswer),
        (status = 400, body = ErrorBody, description = "INVALID_PHONE_PROOF (also for WeChat's older encrypted_data)"),
        (status = 401, body = ErrorBody, description = "INVALID_CODE, or the content failed verification"),
        (status = 503, body = ErrorBody, description = "PLATFORM_UNAVAILABLE"),
    ))]
#[post("/me/phone")]
pub async fn verify_phone(
    state: web::Data<AppState>,
    auth: CustomerAuth,
    body: web::Json<PhoneRequest>,
) -> Result<HttpResponse, ApiError> {
    let user = users::find(state.db.pool(), auth.user_id)
        .await?
        .ok_or_else(|| ApiError::unauthorized("INVALID_TOKEN", "the access token is not valid"))?;
    let phone = match (user.platform, &body.code, &body.response, &body.sign) {
        (Platform::Wechat, Some(code), None, None) => {
            let creds = state.credentials.wechat.as_ref().ok_or_else(|| wrong_shape(user.platform))?;
            let client = WechatClient::new(creds, state.http.clone());
            let tokens = WechatTokens::new(&client, state.cache.clone());
            client
                .phone_number(&tokens, code.trim(), Some(&user.subject))
                .await
                .map_err(wechat_error)?
                .pure_phone_number
        }
        (Platform::Alipay, None, Some(response), Some(sign)) => {
            let creds = state.credentials.alipay.as_ref().ok_or_else(|| wrong_shape(user.platform))?;
            let client = AlipayClient::new(creds, state.http.clone());
            client.decrypt_phone(response, sign).map_err(|e| match e {
                AlipayError::AesKeyMissing => alipay_error(e),
                _ => ApiError::unauthorized("PHONE_NOT_VERIFIED", "the phone number content failed verification"),
            })?
        }
        _ => return Err(wrong_shape(user.platform)),
    };
    users::set_verified_phone(state.db.pool(), user.id, &phone, state.now_ms()).await?;
    Ok(HttpResponse::Ok().json(PhoneAnswer { phone: mask_phone(&phone), verified: true }))
}
