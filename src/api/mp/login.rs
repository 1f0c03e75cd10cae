//! Silent login from the mini-program: `POST /api/v1/auth/wechat/login {code}` (the code of `wx.login`) and
//! `POST /api/v1/auth/alipay/login {auth_code}` (the code of `my.getAuthCode`). The platform names the user; we keep
//! the identity and answer with our own session.

use super::session::{lifetimes, session_error, session_response, SessionResponse};
use crate::db::users::{self, PlatformLogin};
use crate::domain::user::Platform;
use crate::error::{ApiError, ErrorBody};
use crate::platform::alipay::{AlipayClient, AlipayError};
use crate::platform::wechat::{WechatClient, WechatError};
use crate::sessions::refresh;
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{post, web, HttpResponse};
use serde::Deserialize;
use utoipa::ToSchema;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WechatLogin {
    /// The code `wx.login` gave the mini-program (single use, 5 minutes).
    pub code: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AlipayLogin {
    /// The code `my.getAuthCode` gave the mini-program.
    pub auth_code: String,
}

fn not_configured(platform: &str) -> ApiError {
    ApiError::unavailable("PLATFORM_NOT_CONFIGURED", format!("{platform} login is not configured on this service"))
}

pub fn wechat_error(error: WechatError) -> ApiError {
    match error {
        WechatError::InvalidCode => {
            ApiError::unauthorized("INVALID_CODE", "the login code is invalid, expired or used")
        }
        WechatError::RateLimited => {
            ApiError::too_many_requests("PLATFORM_RATE_LIMITED", "WeChat limits this user's logins; wait a minute", 60)
        }
        WechatError::Blocked => {
            ApiError::new(StatusCode::FORBIDDEN, "USER_BLOCKED", "WeChat flagged this user as high-risk")
        }
        WechatError::Unavailable(why) => {
            tracing::warn!(reason = %why, "WeChat unavailable");
            ApiError::unavailable("PLATFORM_UNAVAILABLE", "WeChat is not answering; try again shortly")
        }
        other => {
            tracing::error!(error = %other, "WeChat call failed");
            ApiError::new(StatusCode::BAD_GATEWAY, "PLATFORM_ERROR", "WeChat refused the call")
        }
    }
}

pub fn alipay_error(error: AlipayError) -> ApiError {
    match error {
        AlipayError::InvalidCode => ApiError::unauthorized("INVALID_CODE", "the auth code is invalid, expired or used"),
        AlipayError::Unavailable(why) => {
            tracing::warn!(reason = %why, "Alipay unavailable");
            ApiError::unavailable("PLATFORM_UNAVAILABLE", "Alipay is not answering; try again shortly")
        }
        other => {
            tracing::error!(error = %other, "Alipay call failed");
            ApiError::new(StatusCode::BAD_GATEWAY, "PLATFORM_ERROR", "Alipay refused the call")
        }
    }
}

async fn start_session(state: &AppState, login: PlatformLogin) -> Result<SessionResponse, ApiError> {
    let now_ms = state.now_ms();
    let user = users::record_login(state.db.pool(), &login, now_ms).await?;
    let session =
        refresh::start(&state.db, &state.customer_tokens, user.id, user.platform.as_str(), lifetimes(state), now_ms)
            .await
            .map_err(session_error)?;
    Ok(session_response(session, &user))
}

/// Logs a WeChat user in with the code of `wx.login`.
#[utoipa::path(post, path = "/api/v1/auth/wechat/login", tag = "customer", request_body = WechatLogin,
    responses(
        (status = 200, body = SessionResponse),
        (status = 401, body = ErrorBody, description = "INVALID_CODE"),
        (status = 403, body = ErrorBody, description = "USER_BLOCKED"),
        (status = 429, body = ErrorBody, description = "PLATFORM_RATE_LIMITED"),
        (status = 503, body = ErrorBody, description = "PLATFORM_UNAVAILABLE (retried once), PLATFORM_NOT_CONFIGURED"),
    ))]
#[post("/auth/wechat/login")]
pub async fn wechat_login(state: web::Data<AppState>, body: web::Json<WechatLogin>) -> Result<HttpResponse, ApiError> {
    let creds = state.credentials.wechat.as_ref().ok_or_else(|| not_configured("WeChat"))?;
    let client = WechatClient::new(creds, state.http.clone());
    let session = client.code2session(body.code.trim()).await.map_err(wechat_error)?;
    let session_key = String::from_utf8(session.session_key.expose().to_vec()).map_err(ApiError::internal)?;
    let login = PlatformLogin {
        platform: Platform::Wechat,
        appid: creds.appid.clone(),
        subject: session.openid,
        unionid: session.unionid,
        alipay_user_id: None,
        alipay_open_id: None,
        session_key: Some(session_key),
    };
    Ok(HttpResponse::Ok().json(start_session(&state, login).await?))
}

/// Logs an Alipay user in with the code of `my.getAuthCode`; apps that get only an `open_id` are supported.
#[utoipa::path(post, path = "/api/v1/auth/alipay/login", tag = "customer", request_body = AlipayLogin,
    responses(
        (status = 200, body = SessionResponse),
        (status = 401, body = ErrorBody, description = "INVALID_CODE"),
        (status = 503, body = ErrorBody, description = "PLATFORM_UNAVAILABLE (retried once), PLATFORM_NOT_CONFIGURED"),
    ))]
#[post("/auth/alipay/login")]
pub async fn alipay_login(state: web::Data<AppState>, body: web::Json<AlipayLogin>) -> Result<HttpResponse, ApiError> {
    let creds = state.credentials.alipay.as_ref().ok_or_else(|| not_configured("Alipay"))?;
    let client = AlipayClient::new(creds, state.http.clone()).with_clock(state.clock.clone());
    let user = client.oauth_token(body.auth_code.trim()).await.map_err(alipay_error)?;
    // The 2088... user id is stable per Alipay account; OpenID-only apps get an app-scoped open_id instead.
    let subject = user
        .user_id
        .clone()
        .or_else(|| user.open_id.clone())
        .ok_or_else(|| ApiError::new(StatusCode::BAD_GATEWAY, "PLATFORM_ERROR", "Alipay named no user"))?;
    let login = PlatformLogin {
        platform: Platform::Alipay,
        appid: creds.app_id.clone(),
        subject,
        unionid: None,
        alipay_user_id: user.user_id,
        alipay_open_id: user.open_id,
        session_key: None,
    };
    Ok(HttpResponse::Ok().json(start_session(&state, login).await?))
}
