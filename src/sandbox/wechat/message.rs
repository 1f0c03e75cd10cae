//! The simulated subscribe messages: `POST cgi-bin/message/subscribe/send?access_token=`, checked the way WeChat
//! checks them and delivered to the sandbox's inbox, and what the phone would have told WeChat about the user's
//! subscriptions.
//!
//! The send answers, in this order: `41001` without a token, `42001`/`40001` for an expired/unknown token, an
//! injected failure (`message-failures`), `47001` for a body that is not a JSON object, `40003` for a `touser` that is
//! not openid-shaped, `40037` for an empty or malformed `template_id`, `41030` for a `page` longer than 1024 or not
//! under `pages/` (a leading `/` is tolerated), `47003` for a `data` value outside its key type's limits
//! (`template_values`) or an unknown `miniprogram_state`/`lang`, and `43101` "user refuse to accept the msg" when the
//! user holds neither a one-time acceptance (used up by the send) nor a standing permission, and the template is not
//! long-term for everyone. Otherwise `{"errcode":0,"errmsg":"ok","msgid":<number>}` and the message is in the inbox.
//!
//! - `POST subscriptions {"user" | "openid", "template_ids": [..], "long_term"?: bool}` → one one-time credit per
//!   template (each acceptance in `wx.requestSubscribeMessage`), or a standing permission with `long_term`.
//! - `POST long-term-templates {"template_ids": [..]}`: the templates become long-term for every user.
//! - `POST message-failures {"count": n, "errcode"?: -1}`: the next `n` sends with a valid token answer `errcode`;
//!   `40001`/`42001` also invalidate the token used, so that the client must refresh it.

use super::template_values::check_data;
use super::token::valid_access_token;
use super::{error_reply, json_reply, openid_for};
use crate::error::ApiError;
use crate::sandbox::failures::{check_failure_count, FailuresRequest};
use crate::sandbox::inbox::{Channel, Delivery};
use crate::sandbox::platforms::{check_user, lock, SandboxPlatforms};
use crate::sandbox::subscriptions::{check_template_ids, LongTermRequest};
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::collections::HashMap;

/// WeChat's msgids are large numbers; ours are this plus the inbox's sequence number.
const MSGID_BASE: u64 = 2_000_000_000_000_000_000;
const MAX_PAGE_LEN: usize = 1024;
const MAX_OPENID_LEN: usize = 64;
const MAX_TEMPLATE_ID_LEN: usize = 128;
const MINIPROGRAM_STATES: [&str; 3] = ["developer", "trial", "formal"];
const LANGS: [&str; 4] = ["zh_CN", "en_US", "zh_HK", "zh_TW"];

/// A send's fields, once checked.
struct Message<'a> {
    touser: &'a str,
    template_id: &'a str,
    page: Option<&'a str>,
    data: &'a Value,
}

/// `POST /sandbox/wechat/cgi-bin/message/subscribe/send?access_token=`.
pub(super) async fn send(
    state: web::Data<AppState>,
    query: web::Query<HashMap<String, String>>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let sandbox = SandboxPlatforms::of(&state)?;
    let now = state.now_ms();
    let token = match valid_access_token(sandbox, &query, now) {
        Ok(token) => token,
        Err((errcode, errmsg)) => return Ok(error_reply(errcode, errmsg)),
    };
    if let Some(errcode) = sandbox.wechat.message_failures.take() {
        return Ok(injected_failure(sandbox, token, errcode));
    }
    let Ok(Value::Object(request)) = serde_json::from_slice::<Value>(&body) else {
        return Ok(error_reply(47001, "data format error"));
    };
    let message = match read_message(&request) {
        Ok(message) => message,
        Err((errcode, errmsg)) => return Ok(error_reply(errcode, &errmsg)),
    };
    if sandbox.wechat.subscriptions.take(message.touser, message.template_id).is_none() {
        return Ok(error_reply(43101, "user refuse to accept the msg"));
    }
    let seq = sandbox.inbox.record(
        Delivery {
            channel: Channel::Wechat,
            recipient: message.touser,
            template_id: message.template_id,
            page: message.page,
            content: &message.data.to_string(),
        },
        now,
    );
    Ok(json_reply(&json!({ "errcode": 0, "errmsg": "ok", "msgid": MSGID_BASE + seq })))
}

/// Checks a send's fields in WeChat's order; the `errcode` and `errmsg` of the first refusal.
fn read_message(request: &Map<String, Value>) -> Result<Message<'_>, (i64, String)> {
    let text = |key: &str| request.get(key).and_then(Value::as_str);
    let touser = text("touser").unwrap_or_default();
    if !is_openid(touser) {
        return Err((40003, "invalid openid".into()));
    }
    let template_id = text("template_id").unwrap_or_default();
    let template_shaped = (1..=MAX_TEMPLATE_ID_LEN).contains(&template_id.len())
        && template_id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !template_shaped {
        return Err((40037, "invalid template id".into()));
    }
    let page = match request.get("page") {
        None | Some(Value::Null) => None,
        Some(Value::String(page)) if page.is_empty() => None,
        Some(Value::String(page)) if is_page(page) => Some(page.as_str()),
        Some(_) => return Err((41030, "invalid page".into())),
    };
    let data = request.get("data");
    check_data(data).map_err(|errmsg| (47003, errmsg))?;
    let data = data.ok_or((47003, "argument invalid! data invalid".to_owned()))?;
    for (key, allowed) in [("miniprogram_state", &MINIPROGRAM_STATES[..]), ("lang", &LANGS[..])] {
        if let Some(value) = request.get(key).filter(|v| !v.is_null()) {
            if !value.as_str().is_some_and(|v| allowed.contains(&v)) {
                return Err((47003, format!("argument invalid! {key} invalid")));
            }
        }
    }
    Ok(Message { touser, template_id, page, data })
}

/// An openid as WeChat issues them: 28 URL-safe characters (up to 64 accepted).
fn is_openid(text: &str) -> bool {
    (1..=MAX_OPENID_LEN).contains(&text.len())
        && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A page of the mini-program: under `pages/`, at most 1024 bytes.
fn is_page(page: &str) -> bool {
    page.len() <= MAX_PAGE_LEN && page.strip_prefix('/').unwrap_or(page).starts_with("pages/")
}

/// The answer of a send failed on purpose.
fn injected_failure(sandbox: &SandboxPlatforms, token: &str, errcode: i64) -> HttpResponse {
    let errmsg = match errcode {
        -1 => "system error",
        40001 => "invalid credential, access_token is invalid or not latest",
        42001 => "access_token expired",
        43101 => "user refuse to accept the msg",
        40003 => "invalid openid",
        40037 => "invalid template id",
        41030 => "invalid page",
        47003 => "argument invalid! data.thing1.value invalid",
        45009 => "reach max api daily quota limit",
        _ => "sandbox injected failure",
    };
    match errcode {
        -1 => sandbox.wechat.count_busy(),
        40001 | 42001 => lock(&sandbox.wechat.tokens).revoke(token),
        _ => {}
    }
    error_reply(errcode, errmsg)
}

#[derive(Deserialize)]
pub(super) struct GrantRequest {
    user: Option<String>,
    openid: Option<String>,
    template_ids: Vec<String>,
    #[serde(default)]
    long_term: bool,
}

/// `POST /sandbox/wechat/subscriptions`: the user accepted `template_ids` on the phone.
pub(super) async fn grant(
    state: web::Data<AppState>,
    request: web::Json<GrantRequest>,
) -> Result<HttpResponse, ApiError> {
    let sandbox = SandboxPlatforms::of(&state)?;
    check_template_ids(&request.template_ids)?;
    let openid = match (&request.user, &request.openid) {
        (Some(user), None) => {
            check_user(user)?;
            openid_for(&sandbox.keys.wechat_appid, user)
        }
        (None, Some(openid)) if is_openid(openid) => openid.clone(),
        (None, Some(_)) => {
            return Err(ApiError::bad_request("INVALID_OPENID", "`openid` must be 1 to 64 URL-safe characters"));
        }
        _ => return Err(ApiError::bad_request("INVALID_RECIPIENT", "give exactly one of `user` and `openid`")),
    };
    let subscriptions = &sandbox.wechat.subscriptions;
    subscriptions.grant(&openid, &request.template_ids, request.long_term)?;
    let credits: Map<String, Value> = request
        .template_ids
        .iter()
        .map(|template| (template.clone(), json!(subscriptions.credits(&openid, template))))
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "openid": openid, "long_term": request.long_term, "credits": credits })))
}

/// `POST /sandbox/wechat/long-term-templates`: the templates reach every user without a subscription.
pub(super) async fn declare_long_term(
    state: web::Data<AppState>,
    request: web::Json<LongTermRequest>,
) -> Result<HttpResponse, ApiError> {
    let subscriptions = &SandboxPlatforms::of(&state)?.wechat.subscriptions;
    check_template_ids(&request.template_ids)?;
    subscriptions.declare_long_term(&request.template_ids)?;
    Ok(HttpResponse::Ok().json(json!({ "long_term_templates": subscriptions.long_term_templates() })))
}

/// `POST /sandbox/wechat/message-failures`: the next `count` sends answer `errcode` (default `-1`).
pub(super) async fn fail_next(
    state: web::Data<AppState>,
    request: web::Json<FailuresRequest>,
) -> Result<HttpResponse, ApiError> {
    let sandbox = SandboxPlatforms::of(&state)?;
    check_failure_count(request.count)?;
    let errcode = request.errcode.unwrap_or(-1);
    if errcode == 0 {
        return Err(ApiError::bad_request("INVALID_ERRCODE", "`errcode` 0 is a success, not a failure"));
    }
    sandbox.wechat.message_failures.arm(request.count, errcode);
    Ok(HttpResponse::Ok().json(json!({ "pending_failures": request.count, "errcode": errcode })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(body: Value) -> Map<String, Value> {
        match body {
            Value::Object(map) => map,
            _ => unreachable!("tests pass objects"),
        }
    }

    fn valid() -> Value {
        json!({
            "touser": "oQ6Lx5Ex0aC4m9sSLqv2v8GqSGa8",
            "template_id": "bDmywsp2oEHjwAadTGKkUJ-eJEiMiOf7H-dZ7wjdw80",
            "page": "pages/bill/detail?id=1",
            "data": {"thing1": {"value": "电费账单"}, "amount2": {"value": "¥139.35"}},
            "miniprogram_state": "formal",
            "lang": "zh_CN",
        })
    }

    fn refusal(change: impl FnOnce(&mut Value)) -> i64 {
        let mut body = valid();
        change(&mut body);
        let request = request(body);
        match read_message(&request) {
            Ok(_) => 0,
            Err((errcode, _)) => errcode,
        }
    }

    #[test]
    fn a_well_formed_send_reads() {
        let request = request(valid());
        let message = read_message(&request).expect("reads");
        assert_eq!(message.touser, "oQ6Lx5Ex0aC4m9sSLqv2v8GqSGa8");
        assert_eq!(message.page, Some("pages/bill/detail?id=1"));
        assert_eq!(refusal(|b| b["page"] = json!("/pages/bill/detail?id=1")), 0);
        assert_eq!(refusal(|b| drop(b.as_object_mut().map(|o| o.remove("page")))), 0);
    }

    #[test]
    fn each_bad_field_has_its_errcode() {
        assert_eq!(refusal(|b| b["touser"] = json!("")), 40003);
        assert_eq!(refusal(|b| b["touser"] = json!("not an openid")), 40003);
        assert_eq!(refusal(|b| b["template_id"] = json!("")), 40037);
        assert_eq!(refusal(|b| b["page"] = json!("index?id=1")), 41030);
        assert_eq!(refusal(|b| b["page"] = json!(format!("pages/{}", "a".repeat(MAX_PAGE_LEN)))), 41030);
        assert_eq!(refusal(|b| b["data"]["thing1"]["value"] = json!("电".repeat(21))), 47003);
        assert_eq!(refusal(|b| b["data"] = json!({})), 47003);
        assert_eq!(refusal(|b| b["miniprogram_state"] = json!("production")), 47003);
        assert_eq!(refusal(|b| b["lang"] = json!("fr_FR")), 47003);
    }

    #[test]
    fn the_first_bad_field_in_wechats_order_wins() {
        assert_eq!(
            refusal(|b| {
                b["touser"] = json!("");
                b["template_id"] = json!("");
            }),
            40003
        );
        assert_eq!(
            refusal(|b| {
                b["page"] = json!("x");
                b["data"] = json!({});
            }),
            41030
        );
    }
}
