//! The simulated `alipay.open.app.mini.templatemessage.send`, for requests the gateway has already verified, and what
//! the phone would have told Alipay about the user's subscriptions (`my.requestSubscribeMessage`).
//!
//! `biz_content`: `to_user_id` (`2088` + 12 digits) or `to_open_id` (whether the real method takes it is not
//! confirmed; the sandbox does), `user_template_id`, `page?` and `data`, a JSON *string* of
//! `{"keyword1": {"value": ".."}, ...}`. Answers, in the method's signed node unless said:
//!
//! | case | answer |
//! | --- | --- |
//! | an injected failure (`message-failures`) | `20000` `isp.unknow-error` |
//! | no `biz_content` | `40001` `isv.missing-biz-content` |
//! | no recipient, a malformed one, a `page` over 1024 bytes, `data` not a JSON string of an object | signed `error_response` `40002` `isv.invalid-parameter` |
//! | no `user_template_id` | `40004` `USER_TEMPLATE_ILLEGAL` (Alipay's "模板非法") |
//! | a keyword value empty or over 20 characters | `40004` `DATA_ILLEGAL` |
//! | the user holds no subscription and the template is not long-term | `40004` `USER_NOT_SUBSCRIBED` |
//!
//! The value limit (20 characters, WeChat's `thing`) and the two last sub_codes are sandbox choices: Alipay's
//! documentation confirms neither, and our client treats any sub_code naming a subscription as "not subscribed".
//!
//! - `POST subscriptions {"user" | "user_id" | "open_id", "template_ids": [..], "long_term"?: bool}`: one one-time
//!   credit per template, or a standing permission. A `user`'s user_id and open_id share the credits.
//! - `POST long-term-templates {"template_ids": [..]}`: the templates reach every user without a subscription.
//! - `POST message-failures {"count": n}`: the next `n` sends answer `20000`.

use super::gateway::{param, Answer, Params};
use super::{open_id_for, user_id_for};
use crate::error::ApiError;
use crate::platform::alipay::{NOT_SUBSCRIBED_SUB_CODE, TEMPLATE_MESSAGE_SEND_METHOD};
use crate::sandbox::failures::{check_failure_count, FailuresRequest};
use crate::sandbox::inbox::{Channel, Delivery};
use crate::sandbox::platforms::{check_user, SandboxPlatforms};
use crate::sandbox::subscriptions::{check_template_ids, LongTermRequest};
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Map, Value};

/// Characters a keyword value may hold (a sandbox choice, see the module documentation).
pub const MAX_VALUE_CHARS: usize = 20;
const MAX_PAGE_LEN: usize = 1024;
const MAX_OPEN_ID_LEN: usize = 64;
const MAX_KEYWORD_LEN: usize = 32;

fn failure(sub_code: &str, sub_msg: &str) -> Answer {
    Answer::method(
        TEMPLATE_MESSAGE_SEND_METHOD,
        json!({ "code": "40004", "msg": "Business Failed", "sub_code": sub_code, "sub_msg": sub_msg }),
    )
}

fn invalid(sub_msg: &str) -> Answer {
    Answer::error("40002", "isv.invalid-parameter", sub_msg, true)
}

/// Runs `alipay.open.app.mini.templatemessage.send`.
pub(super) fn send(sandbox: &SandboxPlatforms, params: &Params, now_ms: i64) -> Answer {
    if sandbox.alipay.message_failures.take().is_some() {
        sandbox.alipay.count_busy();
        let node = json!({ "code": "20000", "msg": "Service Currently Unavailable", "sub_code": "isp.unknow-error",
            "sub_msg": "系统繁忙" });
        return Answer::method(TEMPLATE_MESSAGE_SEND_METHOD, node);
    }
    let Some(text) = param(params, "biz_content") else {
        return Answer::method(
            TEMPLATE_MESSAGE_SEND_METHOD,
            json!({ "code": "40001", "msg": "Missing Required Arguments", "sub_code": "isv.missing-biz-content",
                "sub_msg": "缺少biz_content参数" }),
        );
    };
    let Ok(Value::Object(biz)) = serde_json::from_str::<Value>(text) else {
        return invalid("biz_content不是JSON对象");
    };
    let member = |key: &str| biz.get(key).and_then(Value::as_str).filter(|v| !v.is_empty());
    let recipient = match (member("to_user_id"), member("to_open_id")) {
        (Some(user_id), _) if is_user_id(user_id) => user_id,
        (Some(_), _) => return invalid("to_user_id格式错误"),
        (None, Some(open_id)) if is_open_id(open_id) => open_id,
        (None, Some(_)) => return invalid("to_open_id格式错误"),
        (None, None) => return invalid("to_user_id和to_open_id不能同时为空"),
    };
    let Some(template_id) = member("user_template_id") else {
        return failure("USER_TEMPLATE_ILLEGAL", "模板非法");
    };
    let page = member("page");
    if page.is_some_and(|page| page.len() > MAX_PAGE_LEN) {
        return invalid("page超过1024个字符");
    }
    let data = match member("data").map(serde_json::from_str::<Value>) {
        Some(Ok(data @ Value::Object(_))) => data,
        _ => return invalid("data必须是JSON对象的字符串"),
    };
    if let Err(keyword) = check_data(&data) {
        return failure("DATA_ILLEGAL", &format!("模板数据不合法：{keyword}"));
    }
    if sandbox.alipay.subscriptions.take(recipient, template_id).is_none() {
        return failure(NOT_SUBSCRIBED_SUB_CODE, "用户未订阅该模板消息或订阅次数已用完");
    }
    let delivery = Delivery { channel: Channel::Alipay, recipient, template_id, page, content: &data.to_string() };
    sandbox.inbox.record(delivery, now_ms);
    Answer::method(TEMPLATE_MESSAGE_SEND_METHOD, json!({ "code": "10000", "msg": "Success" }))
}

/// Checks every keyword: a `{"value": ".."}` of 1 to [`MAX_VALUE_CHARS`] characters. The keyword refused otherwise.
fn check_data(data: &Value) -> Result<(), String> {
    let Value::Object(keywords) = data else {
        return Err("data".into());
    };
    if keywords.is_empty() {
        return Err("data".into());
    }
    for (keyword, item) in keywords {
        let fits = (1..=MAX_KEYWORD_LEN).contains(&keyword.len())
            && item
                .get("value")
                .and_then(Value::as_str)
                .is_some_and(|value| (1..=MAX_VALUE_CHARS).contains(&value.chars().count()));
        if !fits {
            return Err(keyword.chars().take(MAX_KEYWORD_LEN).collect());
        }
    }
    Ok(())
}

/// An Alipay user id: `2088` and 12 digits.
fn is_user_id(text: &str) -> bool {
    text.len() == 16 && text.starts_with("2088") && text.bytes().all(|b| b.is_ascii_digit())
}

/// An open_id: up to 64 URL-safe characters.
fn is_open_id(text: &str) -> bool {
    (1..=MAX_OPEN_ID_LEN).contains(&text.len())
        && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[derive(Deserialize)]
pub(super) struct GrantRequest {
    user: Option<String>,
    user_id: Option<String>,
    open_id: Option<String>,
    template_ids: Vec<String>,
    #[serde(default)]
    long_term: bool,
}

/// `POST /sandbox/alipay/subscriptions`: the user accepted `template_ids` on the phone.
pub(super) async fn grant(
    state: web::Data<AppState>,
    request: web::Json<GrantRequest>,
) -> Result<HttpResponse, ApiError> {
    let sandbox = SandboxPlatforms::of(&state)?;
    check_template_ids(&request.template_ids)?;
    let subscriptions = &sandbox.alipay.subscriptions;
    let app_id = &sandbox.keys.alipay_app_id;
    let (recipient, answer) = match (&request.user, &request.user_id, &request.open_id) {
        (Some(user), None, None) => {
            check_user(user)?;
            let (user_id, open_id) = (user_id_for(app_id, user), open_id_for(app_id, user));
            subscriptions.alias(&open_id, &user_id)?;
            (user_id.clone(), json!({ "user_id": user_id, "open_id": open_id }))
        }
        (None, Some(user_id), None) if is_user_id(user_id) => (user_id.clone(), json!({ "user_id": user_id })),
        (None, None, Some(open_id)) if is_open_id(open_id) => (open_id.clone(), json!({ "open_id": open_id })),
        (None, Some(_), None) | (None, None, Some(_)) => {
            return Err(ApiError::bad_request(
                "INVALID_RECIPIENT",
                "`user_id` must be 2088 and 12 digits, `open_id` 1 to 64 URL-safe characters",
            ));
        }
        _ => {
            return Err(ApiError::bad_request(
                "INVALID_RECIPIENT",
                "give exactly one of `user`, `user_id` and `open_id`",
            ));
        }
    };
    subscriptions.grant(&recipient, &request.template_ids, request.long_term)?;
    let credits: Map<String, Value> = request
        .template_ids
        .iter()
        .map(|template| (template.clone(), json!(subscriptions.credits(&recipient, template))))
        .collect();
    let mut answer = answer;
    answer["long_term"] = json!(request.long_term);
    answer["credits"] = Value::Object(credits);
    Ok(HttpResponse::Ok().json(answer))
}

/// `POST /sandbox/alipay/long-term-templates`: the templates reach every user without a subscription.
pub(super) async fn declare_long_term(
    state: web::Data<AppState>,
    request: web::Json<LongTermRequest>,
) -> Result<HttpResponse, ApiError> {
    let subscriptions = &SandboxPlatforms::of(&state)?.alipay.subscriptions;
    check_template_ids(&request.template_ids)?;
    subscriptions.declare_long_term(&request.template_ids)?;
    Ok(HttpResponse::Ok().json(json!({ "long_term_templates": subscriptions.long_term_templates() })))
}

/// `POST /sandbox/alipay/message-failures`: the next `count` sends answer `20000`.
pub(super) async fn fail_next(
    state: web::Data<AppState>,
    request: web::Json<FailuresRequest>,
) -> Result<HttpResponse, ApiError> {
    let sandbox = SandboxPlatforms::of(&state)?;
    check_failure_count(request.count)?;
    sandbox.alipay.message_failures.arm(request.count, 20000);
    Ok(HttpResponse::Ok().json(json!({ "pending_failures": request.count })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyword_values_hold_one_to_twenty_characters() {
        assert_eq!(check_data(&json!({"keyword1": {"value": "电费账单"}, "keyword2": {"value": "¥139.35"}})), Ok(()));
        assert_eq!(check_data(&json!({"keyword1": {"value": "电".repeat(MAX_VALUE_CHARS)}})), Ok(()));
        assert_eq!(
            check_data(&json!({"keyword1": {"value": "电".repeat(MAX_VALUE_CHARS + 1)}})),
            Err("keyword1".into())
        );
        assert_eq!(check_data(&json!({"keyword2": {"value": ""}})), Err("keyword2".into()));
        assert_eq!(check_data(&json!({"keyword3": {"value": 5}})), Err("keyword3".into()));
        assert_eq!(check_data(&json!({"keyword4": "x"})), Err("keyword4".into()));
        assert!(check_data(&json!({})).is_err());
    }

    #[test]
    fn recipients_are_shaped_like_alipays() {
        assert!(is_user_id(&user_id_for("2021000000000001", "alice")));
        assert!(!is_user_id("2088123"));
        assert!(!is_user_id("1088123456789012"));
        assert!(is_open_id(&open_id_for("2021000000000001", "alice")));
        assert!(!is_open_id("has space"));
        assert!(!is_open_id(&"0".repeat(MAX_OPEN_ID_LEN + 1)));
    }
}
