//! The simulated `getuserphonenumber` and the phone-button codes it accepts.

use super::token::valid_access_token;
use super::{error_reply, json_reply, PhoneGrant, CODE_TTL_MS};
use crate::error::ApiError;
use crate::sandbox::platforms::{check_phone, check_user, random_alphanumeric, SandboxPlatforms};
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;
use std::collections::HashMap;

#[derive(Deserialize)]
pub(super) struct PhoneCodeRequest {
    user: String,
    phone: String,
}

/// `POST /sandbox/wechat/phone-codes`: the code the phone-number button would give `user` for `phone`.
pub(super) async fn issue_code(
    state: web::Data<AppState>,
    request: web::Json<PhoneCodeRequest>,
) -> Result<HttpResponse, ApiError> {
    let sandbox = SandboxPlatforms::of(&state)?;
    check_user(&request.user)?;
    check_phone(&request.phone)?;
    let code = random_alphanumeric(32);
    let now = state.now_ms();
    sandbox.wechat.phone_codes.issue(
        code.clone(),
        PhoneGrant { phone: request.phone.clone() },
        now + CODE_TTL_MS,
        now,
    )?;
    Ok(HttpResponse::Ok().json(json!({ "code": code })))
}

#[derive(Deserialize)]
struct PhoneNumberRequest {
    #[serde(default)]
    code: String,
}

/// `POST /sandbox/wechat/wxa/business/getuserphonenumber?access_token=` with `{code, openid?}`.
pub(super) async fn get_user_phone_number(
    state: web::Data<AppState>,
    query: web::Query<HashMap<String, String>>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let sandbox = SandboxPlatforms::of(&state)?;
    let now = state.now_ms();
    if let Err((errcode, errmsg)) = valid_access_token(sandbox, &query, now) {
        return Ok(error_reply(errcode, errmsg));
    }
    let Ok(request) = serde_json::from_slice::<PhoneNumberRequest>(&body) else {
        return Ok(error_reply(47001, "data format error"));
    };
    if request.code.is_empty() {
        return Ok(error_reply(41008, "missing code"));
    }
    let Some(grant) = sandbox.wechat.phone_codes.redeem(&request.code, now) else {
        return Ok(error_reply(40029, "invalid code"));
    };
    Ok(json_reply(&json!({
        "errcode": 0,
        "errmsg": "ok",
        "phone_info": {
            "phoneNumber": grant.phone,
            "purePhoneNumber": grant.phone,
            "countryCode": "86",
            "watermark": { "timestamp": now / 1000, "appid": sandbox.keys.wechat_appid },
        },
    })))
}
