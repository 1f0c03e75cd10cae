//! The simulated `gateway.do`: reads the parameters (form body, and the query string as Alipay also allows), refuses
//! what the real gateway refuses (unknown app, stale or host-zone timestamp, bad signature, unknown method) and
//! dispatches the methods the sandbox plays. Answers are assembled as text: the node first, then the signature over
//! exactly that text, then the body around both.

use super::{message, oauth, trade};
use crate::domain::calendar::beijing;
use crate::error::ApiError;
use crate::platform::alipay::{
    OAUTH_TOKEN_METHOD, TEMPLATE_MESSAGE_SEND_METHOD, TRADE_CLOSE_METHOD, TRADE_CREATE_METHOD, TRADE_QUERY_METHOD,
    TRADE_REFUND_METHOD, TRADE_REFUND_QUERY_METHOD,
};
use crate::platform::crypto::alipay_sign::{request_sign_content, response_node_name, ERROR_RESPONSE_NODE};
use crate::platform::crypto::rsa_keys::RsaSigningKey;
use crate::platform::crypto::rsa_sign::SignError;
use crate::sandbox::platforms::SandboxPlatforms;
use crate::state::AppState;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::NaiveDateTime;
use serde_json::{json, Value};

/// How far a request's `timestamp` may be from the gateway's clock (a sandbox choice: generous for clock drift,
/// far too tight for a timestamp written in another zone than UTC+8).
const TIMESTAMP_TOLERANCE_MS: i64 = 15 * 60 * 1000;

pub(super) type Params = Vec<(String, String)>;

/// A parameter's value, when present and not empty.
pub(super) fn param<'a>(params: &'a Params, key: &str) -> Option<&'a str> {
    params.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty())
}

/// What the gateway answers: one node, signed by the simulated Alipay or not.
pub(super) struct Answer {
    node_name: String,
    node: Value,
    signed: bool,
}

impl Answer {
    /// The method's own node (success, or a business failure), always signed.
    pub(super) fn method(method: &str, node: Value) -> Answer {
        Answer { node_name: response_node_name(method), node, signed: true }
    }

    /// An `error_response`. The gateway signs it once it knows the app and has checked the request's signature.
    pub(super) fn error(code: &str, sub_code: &str, sub_msg: &str, signed: bool) -> Answer {
        let msg = match code {
            "40001" => "Missing Required Arguments",
            "40002" => "Invalid Arguments",
            "20000" => "Service Currently Unavailable",
            _ => "Business Failed",
        };
        let node = json!({ "code": code, "msg": msg, "sub_code": sub_code, "sub_msg": sub_msg });
        Answer { node_name: ERROR_RESPONSE_NODE.to_owned(), node, signed }
    }

    /// The body as the real gateway writes it: `{"<node>":<node text>,"sign":"<RSA2 over the node text>"}`.
    pub(super) fn render(&self, platform_key: &RsaSigningKey) -> Result<String, SignError> {
        let node_text = self.node.to_string();
        if !self.signed {
            return Ok(format!("{{\"{}\":{node_text}}}", self.node_name));
        }
        let sign = platform_key.sign_sha256_base64(node_text.as_bytes())?;
        Ok(format!("{{\"{}\":{node_text},\"sign\":\"{sign}\"}}", self.node_name))
    }
}

/// `POST /sandbox/alipay/gateway.do`.
pub(super) async fn gateway(
    state: web::Data<AppState>,
    request: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let sandbox = SandboxPlatforms::of(&state)?;
    let answer = match read_params(request.query_string(), &body) {
        Ok(params) => answer(sandbox, &params, state.now_ms())?,
        Err(refusal) => refusal,
    };
    let body = answer.render(&sandbox.keys.alipay_platform_key).map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok().content_type("application/json;charset=utf-8").body(body))
}

/// The query string's parameters and the form body's, each decoded once; a repeated parameter is refused.
fn read_params(query: &str, body: &[u8]) -> Result<Params, Answer> {
    let invalid = |why: &str| Answer::error("40002", "isv.invalid-parameter", why, false);
    let body = std::str::from_utf8(body).map_err(|_| invalid("参数不是UTF-8编码"))?;
    let mut params = Vec::new();
    for part in [query, body] {
        let decoded = web::Query::<Params>::from_query(part).map_err(|_| invalid("参数格式错误"))?;
        params.extend(decoded.into_inner());
    }
    let mut keys: Vec<&str> = params.iter().map(|(k, _)| k.as_str()).collect();
    keys.sort_unstable();
    if keys.windows(2).any(|pair| pair[0] == pair[1]) {
        return Err(invalid("参数重复"));
    }
    Ok(params)
}

/// Whether `text` is a `yyyy-MM-dd HH:mm:ss` Beijing time close to `now_ms`.
fn timestamp_is_current(text: &str, now_ms: i64) -> bool {
    let Ok(naive) = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S") else {
        return false;
    };
    naive
        .and_local_timezone(beijing())
        .single()
        .is_some_and(|at| (at.timestamp_millis() - now_ms).abs() <= TIMESTAMP_TOLERANCE_MS)
}

fn answer(sandbox: &SandboxPlatforms, params: &Params, now_ms: i64) -> Result<Answer, ApiError> {
    let missing = |sub_code: &str, sub_msg: &str| Ok(Answer::error("40001", sub_code, sub_msg, false));
    let invalid = |sub_code: &str, sub_msg: &str| Ok(Answer::error("40002", sub_code, sub_msg, false));
    let Some(app_id) = param(params, "app_id") else {
        return missing("isv.missing-app-id", "缺少AppID参数");
    };
    if app_id != sandbox.keys.alipay_app_id {
        return invalid("isv.invalid-app-id", "无效的AppID参数");
    }
    let Some(method) = param(params, "method") else {
        return missing("isv.missing-method", "缺少方法名参数");
    };
    let Some(sign) = param(params, "sign") else {
        return missing("isv.missing-signature", "缺少签名参数");
    };
    if param(params, "sign_type") != Some("RSA2") {
        return invalid("isv.invalid-signature-type", "无效的签名类型");
    }
    let Some(timestamp) = param(params, "timestamp") else {
        return missing("isv.missing-timestamp", "缺少时间戳参数");
    };
    if !timestamp_is_current(timestamp, now_ms) {
        return invalid("isv.invalid-timestamp", "非法的时间戳参数");
    }
    if param(params, "version").is_none() {
        return missing("isv.missing-version", "缺少版本参数");
    }
    if param(params, "charset").is_some_and(|c| !c.eq_ignore_ascii_case("utf-8")) {
        return invalid("isv.invalid-charset", "字符集错误");
    }
    if param(params, "format").is_some_and(|f| !f.eq_ignore_ascii_case("json")) {
        return invalid("isv.invalid-format", "无效的数据格式");
    }
    let app_public_key = sandbox.keys.alipay_app_public_key().map_err(ApiError::internal)?;
    let content = request_sign_content(params.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    if app_public_key.verify_sha256_base64(content.as_bytes(), sign).is_err() {
        let why =
            format!("验签出错，建议检查签名字符串或签名私钥与应用公钥是否匹配，网关生成的验签字符串为：{content}");
        return invalid("isv.invalid-signature", &why);
    }
    Ok(match method {
        OAUTH_TOKEN_METHOD => oauth::oauth_token(sandbox, params, now_ms),
        TRADE_CREATE_METHOD => trade::create(sandbox, params, now_ms),
        TRADE_QUERY_METHOD => trade::query(sandbox, params, now_ms),
        TRADE_CLOSE_METHOD => trade::close(sandbox, params, now_ms),
        TRADE_REFUND_METHOD => trade::refund(sandbox, params, now_ms),
        TRADE_REFUND_QUERY_METHOD => trade::refund_query(sandbox, params, now_ms),
        TEMPLATE_MESSAGE_SEND_METHOD => message::send(sandbox, params, now_ms),
        _ => Answer::error("40002", "isv.invalid-method", "不存在的方法名", true),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2024-01-31T16:00:00Z, 2024-02-01 00:00:00 in Beijing.
    const NOW_MS: i64 = 1_706_716_800_000;

    #[test]
    fn timestamps_are_read_as_beijing_time() {
        assert!(timestamp_is_current("2024-02-01 00:00:00", NOW_MS));
        assert!(timestamp_is_current("2024-02-01 00:14:59", NOW_MS));
        assert!(!timestamp_is_current("2024-02-01 00:15:01", NOW_MS));
        // The same instant written in UTC is eight hours off.
        assert!(!timestamp_is_current("2024-01-31 16:00:00", NOW_MS));
        assert!(!timestamp_is_current("2024-02-01T00:00:00", NOW_MS));
    }

    #[test]
    fn query_and_body_parameters_are_merged_and_repeats_refused() {
        let params = read_params("charset=utf-8&method=a.b", b"app_id=1&timestamp=2024-02-01+00%3A00%3A00").ok();
        let params = params.expect("reads");
        assert_eq!(param(&params, "timestamp"), Some("2024-02-01 00:00:00"));
        assert_eq!(param(&params, "charset"), Some("utf-8"));
        assert!(read_params("app_id=1", b"app_id=2").is_err());
    }

    #[test]
    fn an_unsigned_answer_has_no_sign_member() {
        let key = crate::platform::crypto::rsa_keys::RsaSigningKey::from_text(
            crate::platform::crypto::rsa_keys::test_keys::PKCS8_PEM,
        )
        .expect("fixture key");
        let body =
            Answer::error("40002", "isv.invalid-app-id", "无效的AppID参数", false).render(&key).expect("renders");
        assert_eq!(
            body,
            r#"{"error_response":{"code":"40002","msg":"Invalid Arguments","sub_code":"isv.invalid-app-id","sub_msg":"无效的AppID参数"}}"#
        );
    }
}
