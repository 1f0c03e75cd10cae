//! What `my.getPhoneNumber` hands the mini-program: the phone number encrypted with the app's AES key, and the
//! simulated Alipay's RSA2 signature over the ciphertext wrapped in double quotes.

use crate::error::ApiError;
use crate::platform::crypto::aes_cbc;
use crate::sandbox::platforms::{check_phone, check_user, SandboxPlatforms};
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
pub(super) struct PhoneResponseRequest {
    user: String,
    phone: String,
}

/// `POST /sandbox/alipay/phone-responses`: `{response, sign}` for `phone`.
pub(super) async fn phone_response(
    state: web::Data<AppState>,
    request: web::Json<PhoneResponseRequest>,
) -> Result<HttpResponse, ApiError> {
    let sandbox = SandboxPlatforms::of(&state)?;
    check_user(&request.user)?;
    check_phone(&request.phone)?;
    let keys = &sandbox.keys;
    let aes_key = std::str::from_utf8(keys.alipay_aes_key.expose()).map_err(ApiError::internal)?;
    let content = json!({ "code": "10000", "msg": "Success", "mobile": request.phone }).to_string();
    let response = aes_cbc::encrypt_alipay_content(aes_key, content.as_bytes()).map_err(ApiError::internal)?;
    let sign = keys
        .alipay_platform_key
        .sign_sha256_base64(format!("\"{response}\"").as_bytes())
        .map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok().json(json!({ "response": response, "sign": sign })))
}
