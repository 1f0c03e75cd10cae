//! The simulated `alipay.system.oauth.token` and the `my.getAuthCode` codes it accepts.

use super::gateway::{param, Answer, Params};
use super::{open_id_for, user_id_for, AuthGrant, CODE_TTL_MS};
use crate::error::ApiError;
use crate::platform::alipay::{alipay_timestamp, OAUTH_TOKEN_METHOD};
use crate::sandbox::platforms::{check_user, random_alphanumeric, SandboxPlatforms};
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Map, Value};

/// The user a `sandbox-err-busy-once` code logs in as once it stops failing.
pub const BUSY_ONCE_USER: &str = "sandbox-busy-once";
const BUSY_ONCE_PREFIX: &str = "sandbox-err-busy-once";
/// Alipay's user access tokens live 15 days, their refresh tokens 30.
const ACCESS_TOKEN_SECS: u64 = 15 * 24 * 3600;
const REFRESH_TOKEN_SECS: u64 = 30 * 24 * 3600;

#[derive(Deserialize)]
pub(super) struct AuthCodeRequest {
    user: String,
    #[serde(default)]
    openid_only: bool,
}

/// `POST /sandbox/alipay/auth-codes`: a fresh `my.getAuthCode` code for `user`.
pub(super) async fn issue_code(
    state: web::Data<AppState>,
    request: web::Json<AuthCodeRequest>,
) -> Result<HttpResponse, ApiError> {
    let sandbox = SandboxPlatforms::of(&state)?;
    check_user(&request.user)?;
    let code = random_alphanumeric(32);
    let now = state.now_ms();
    let grant = AuthGrant { user: request.user.clone(), openid_only: request.openid_only };
    sandbox.alipay.auth_codes.issue(code.clone(), grant, now + CODE_TTL_MS, now)?;
    Ok(HttpResponse::Ok().json(json!({ "auth_code": code })))
}

/// Runs `alipay.system.oauth.token` for a request the gateway has already verified.
pub(super) fn oauth_token(sandbox: &SandboxPlatforms, params: &Params, now_ms: i64) -> Answer {
    let code_invalid = || Answer::error("40002", "isv.code-invalid", "授权码code无效", true);
    if param(params, "grant_type") != Some("authorization_code") {
        return Answer::error("40002", "isv.grant-type-invalid", "不支持的grantType", true);
    }
    let Some(code) = param(params, "code") else {
        return code_invalid();
    };
    let busy = || {
        sandbox.alipay.count_busy();
        let node = json!({ "code": "20000", "msg": "Service Currently Unavailable", "sub_code": "isp.unknow-error",
            "sub_msg": "系统繁忙" });
        Answer::method(OAUTH_TOKEN_METHOD, node)
    };
    let grant = match code {
        "sandbox-err-code-invalid" => return code_invalid(),
        "sandbox-err-busy" => return busy(),
        busy_once if busy_once.starts_with(BUSY_ONCE_PREFIX) => {
            if sandbox.alipay.busy_once.first_use(busy_once) {
                return busy();
            }
            AuthGrant { user: BUSY_ONCE_USER.to_owned(), openid_only: false }
        }
        issued => match sandbox.alipay.auth_codes.redeem(issued, now_ms) {
            Some(grant) => grant,
            None => return code_invalid(),
        },
    };
    Answer::method(OAUTH_TOKEN_METHOD, token_node(&sandbox.keys.alipay_app_id, &grant, now_ms))
}

/// A successful answer; like the real one it carries no `code`.
fn token_node(app_id: &str, grant: &AuthGrant, now_ms: i64) -> Value {
    let mut node = Map::new();
    node.insert("access_token".into(), json!(format!("authusrB{}", random_alphanumeric(32))));
    node.insert("auth_start".into(), json!(alipay_timestamp(now_ms).unwrap_or_default()));
    node.insert("expires_in".into(), json!(ACCESS_TOKEN_SECS));
    node.insert("open_id".into(), json!(open_id_for(app_id, &grant.user)));
    node.insert("re_expires_in".into(), json!(REFRESH_TOKEN_SECS));
    node.insert("refresh_token".into(), json!(format!("authusrB{}", random_alphanumeric(32))));
    if !grant.openid_only {
        node.insert("user_id".into(), json!(user_id_for(app_id, &grant.user)));
    }
    Value::Object(node)
}
