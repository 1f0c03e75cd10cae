//! The simulated `code2Session` and the `wx.login` codes it accepts.

use super::{error_reply, openid_for, secret_matches, text_reply, unionid_for, LoginGrant, CODE_TTL_MS};
use crate::error::ApiError;
use crate::sandbox::platforms::{check_user, random_alphanumeric, SandboxPlatforms};
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use rand::RngCore;
use serde::Deserialize;
use serde_json::json;
use std::collections::HashMap;

/// The user a `sandbox-err-busy-once` code logs in as once it stops failing.
pub const BUSY_ONCE_USER: &str = "sandbox-busy-once";
const BUSY_ONCE_PREFIX: &str = "sandbox-err-busy-once";

#[derive(Deserialize)]
pub(super) struct LoginCodeRequest {
    user: String,
    #[serde(default)]
    unionid: bool,
}

/// `POST /sandbox/wechat/login-codes`: a fresh `wx.login` code for `user`.
pub(super) async fn issue_code(
    state: web::Data<AppState>,
    request: web::Json<LoginCodeRequest>,
) -> Result<HttpResponse, ApiError> {
    let sandbox = SandboxPlatforms::of(&state)?;
    check_user(&request.user)?;
    let code = random_alphanumeric(32);
    let now = state.now_ms();
    let grant = LoginGrant { user: request.user.clone(), unionid: request.unionid };
    sandbox.wechat.login_codes.issue(code.clone(), grant, now + CODE_TTL_MS, now)?;
    Ok(HttpResponse::Ok().json(json!({ "code": code })))
}

/// What a code stands for.
enum CodeOutcome {
    Error(i64, &'static str),
    Busy,
    Login(LoginGrant),
}

/// `GET /sandbox/wechat/sns/jscode2session?appid=&secret=&js_code=&grant_type=authorization_code`.
pub(super) async fn jscode2session(
    state: web::Data<AppState>,
    query: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, ApiError> {
    let sandbox = SandboxPlatforms::of(&state)?;
    let param = |name: &str| query.get(name).map(String::as_str).unwrap_or_default();
    let (appid, secret, code) = (param("appid"), param("secret"), param("js_code"));
    let refusal = if appid.is_empty() {
        Some((41002, "appid missing"))
    } else if secret.is_empty() {
        Some((41004, "appsecret missing"))
    } else if code.is_empty() {
        Some((41008, "missing code"))
    } else if param("grant_type") != "authorization_code" {
        Some((40002, "invalid grant_type"))
    } else if appid != sandbox.keys.wechat_appid {
        Some((40013, "invalid appid"))
    } else if !secret_matches(secret, sandbox.keys.wechat_secret.expose()) {
        Some((40125, "invalid appsecret"))
    } else {
        None
    };
    if let Some((errcode, errmsg)) = refusal {
        return Ok(error_reply(errcode, errmsg));
    }
    match outcome(sandbox, code, state.now_ms()) {
        CodeOutcome::Error(errcode, errmsg) => Ok(error_reply(errcode, errmsg)),
        CodeOutcome::Busy => {
            sandbox.wechat.count_busy();
            Ok(error_reply(-1, "system error"))
        }
        CodeOutcome::Login(grant) => {
            let mut session_key = [0u8; 16];
            rand::thread_rng().fill_bytes(&mut session_key);
            let mut body = json!({
                "session_key": STANDARD.encode(session_key),
                "openid": openid_for(appid, &grant.user),
            });
            if grant.unionid {
                body["unionid"] = json!(unionid_for(&grant.user));
            }
            Ok(text_reply(&body))
        }
    }
}

fn outcome(sandbox: &SandboxPlatforms, code: &str, now_ms: i64) -> CodeOutcome {
    match code {
        "sandbox-err-40029" => CodeOutcome::Error(40029, "invalid code"),
        "sandbox-err-45011" => CodeOutcome::Error(45011, "api minute-quota reach limit  mustslower  retry next minute"),
        "sandbox-err-40226" => CodeOutcome::Error(40226, "code blocked"),
        "sandbox-err-busy" => CodeOutcome::Busy,
        busy_once if busy_once.starts_with(BUSY_ONCE_PREFIX) => {
            if sandbox.wechat.busy_once.first_use(busy_once) {
                CodeOutcome::Busy
            } else {
                CodeOutcome::Login(LoginGrant { user: BUSY_ONCE_USER.to_owned(), unionid: false })
            }
        }
        issued => match sandbox.wechat.login_codes.redeem(issued, now_ms) {
            Some(grant) => CodeOutcome::Login(grant),
            None => CodeOutcome::Error(40029, "invalid code"),
        },
    }
}
