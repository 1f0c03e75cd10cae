//! The simulated JSAPI order calls: place (with WeChat Pay's field rules), query by `out_trade_no`, close.

use super::auth;
use super::book::{OrderRecord, PlacedOrder, Refusal};
use super::reply::{sign, Answer, Reply};
use crate::error::ApiError;
use crate::platform::wechatpay::TradeState;
use crate::sandbox::keys::SANDBOX_WECHATPAY_MCHID;
use crate::sandbox::platforms::{lock, SandboxPlatforms};
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::DateTime;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;

const BEIJING_OFFSET_SECS: i32 = 8 * 3600;

#[derive(Deserialize)]
struct JsapiBody {
    appid: Option<String>,
    mchid: Option<String>,
    description: Option<String>,
    out_trade_no: Option<String>,
    time_expire: Option<String>,
    attach: Option<String>,
    notify_url: Option<String>,
    amount: Option<AmountBody>,
    payer: Option<PayerBody>,
}

#[derive(Deserialize)]
struct AmountBody {
    total: Option<i64>,
    currency: Option<String>,
}

#[derive(Deserialize)]
struct PayerBody {
    openid: Option<String>,
}

#[derive(Deserialize)]
struct CloseBody {
    mchid: Option<String>,
}

/// Parses a JSON body; a malformed one is `PARAM_ERROR`, as WeChat Pay answers.
pub(super) fn parse_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, Reply> {
    serde_json::from_slice(body).map_err(|e| Reply::param_error(format!("请求体不是合法的JSON或字段类型错误: {e}")))
}

/// A field that must be present and not empty.
pub(super) fn required(value: Option<String>, name: &str) -> Result<String, Reply> {
    value.filter(|v| !v.is_empty()).ok_or_else(|| Reply::param_error(format!("缺少参数{name}")))
}

/// The merchant id of a body, which must be the one the request was signed for.
fn check_mchid(mchid: Option<String>) -> Result<(), Reply> {
    if required(mchid, "mchid")? != SANDBOX_WECHATPAY_MCHID {
        return Err(Reply::invalid_request("mchid与请求的商户号不一致"));
    }
    Ok(())
}

/// `out_trade_no`: 6–32 of `[0-9A-Za-z_-|*]`.
pub(super) fn is_out_trade_no(text: &str) -> bool {
    (6..=32).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-|*".contains(&b))
}

/// A notify URL: http(s), a host, no query or fragment, at most 255 characters (the sandbox allows http, since it
/// runs on it; WeChat Pay wants https).
pub(super) fn is_notify_url(text: &str) -> bool {
    let Some(rest) = text.strip_prefix("https://").or_else(|| text.strip_prefix("http://")) else {
        return false;
    };
    text.len() <= 255
        && !rest.is_empty()
        && !rest.starts_with('/')
        && !text.contains(['?', '#'])
        && !text.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// `time_expire`: RFC 3339 in UTC+8 (stricter than WeChat Pay, which takes any offset: a host-zone or UTC time is a
/// bug of ours); its instant in epoch milliseconds.
fn time_expire(text: &str) -> Option<i64> {
    let at = DateTime::parse_from_rfc3339(text).ok()?;
    (at.offset().local_minus_utc() == BEIJING_OFFSET_SECS).then(|| at.timestamp_millis())
}

/// Checks a `POST /v3/pay/transactions/jsapi` body field by field.
fn read_order(body: &[u8], appid: &str) -> Result<PlacedOrder, Reply> {
    let body: JsapiBody = parse_body(body)?;
    if required(body.appid, "appid")? != appid {
        return Err(Reply::invalid_request("appid和mch_id不匹配"));
    }
    check_mchid(body.mchid)?;
    let description = required(body.description, "description")?;
    if description.chars().count() > 127 {
        return Err(Reply::param_error("description长度超过127个字符"));
    }
    let out_trade_no = required(body.out_trade_no, "out_trade_no")?;
    if !is_out_trade_no(&out_trade_no) {
        return Err(Reply::param_error("out_trade_no应为6-32位数字、大小写字母或_-|*"));
    }
    let time_expire = match body.time_expire {
        None => None,
        Some(text) => match time_expire(&text) {
            Some(ms) => Some((text, ms)),
            None => return Err(Reply::param_error("time_expire应为rfc3339格式的北京时间(+08:00)")),
        },
    };
    if body.attach.as_ref().is_some_and(|attach| attach.chars().count() > 128) {
        return Err(Reply::param_error("attach长度超过128个字符"));
    }
    let notify_url = required(body.notify_url, "notify_url")?;
    if !is_notify_url(&notify_url) {
        return Err(Reply::param_error("notify_url应为http(s)开头、不带参数的完整URL"));
    }
    let amount = body.amount.ok_or_else(|| Reply::param_error("缺少参数amount"))?;
    let total = amount.total.ok_or_else(|| Reply::param_error("缺少参数amount.total"))?;
    if total <= 0 {
        return Err(Reply::param_error("amount.total应大于0"));
    }
    if amount.currency.is_some_and(|currency| currency != "CNY") {
        return Err(Reply::param_error("amount.currency仅支持CNY"));
    }
    let payer = body.payer.ok_or_else(|| Reply::param_error("缺少参数payer"))?;
    let openid = required(payer.openid, "payer.openid")?;
    if openid.len() > 128 {
        return Err(Reply::param_error("payer.openid长度超过128个字符"));
    }
    Ok(PlacedOrder {
        appid: appid.to_owned(),
        mchid: SANDBOX_WECHATPAY_MCHID.to_owned(),
        description,
        out_trade_no,
        time_expire,
        attach: body.attach,
        notify_url,
        total,
        openid,
    })
}

/// The answer for a refused order change.
pub(super) fn refusal_reply(refusal: Refusal) -> Reply {
    match refusal {
        Refusal::UnknownOrder => Reply::error(StatusCode::NOT_FOUND, "ORDER_NOT_EXIST", "订单不存在"),
        Refusal::ExpiryPassed => Reply::param_error("time_expire已过"),
        Refusal::OtherContent => Reply::invalid_request("商户订单号重复：同一订单号的请求参数与之前不一致"),
        Refusal::Paid => Reply::error(StatusCode::BAD_REQUEST, "ORDERPAID", "该订单已支付"),
        Refusal::Closed | Refusal::Expired => Reply::error(StatusCode::BAD_REQUEST, "ORDER_CLOSED", "订单已关闭"),
        Refusal::NotPaid => Reply::invalid_request("订单未支付，不能退款"),
        Refusal::TotalMismatch => Reply::invalid_request("amount.total与订单金额不一致"),
        Refusal::OverRefund => Reply::invalid_request("申请退款金额超过订单可退金额"),
    }
}

/// The transaction JSON of the query and the notification, in `trade_state`.
pub(super) fn transaction_json(order: &OrderRecord, trade_state: TradeState) -> Value {
    let placed = &order.placed;
    let (state_name, state_desc) = match trade_state {
        TradeState::Success => ("SUCCESS", "支付成功"),
        TradeState::Refund => ("REFUND", "转入退款"),
        TradeState::Closed => ("CLOSED", "订单已关闭"),
        _ => ("NOTPAY", "订单未支付"),
    };
    let mut transaction = json!({
        "appid": placed.appid,
        "mchid": placed.mchid,
        "out_trade_no": placed.out_trade_no,
        "trade_type": "JSAPI",
        "trade_state": state_name,
        "trade_state_desc": state_desc,
        "payer": { "openid": placed.openid },
        "amount": { "total": placed.total, "currency": "CNY", "payer_currency": "CNY" },
    });
    if let Some(attach) = &placed.attach {
        transaction["attach"] = json!(attach);
    }
    if let Some(payment) = order.payment() {
        transaction["transaction_id"] = json!(payment.transaction_id);
        transaction["bank_type"] = json!("OTHERS");
        transaction["success_time"] = json!(payment.success_time);
        transaction["amount"]["total"] = json!(payment.paid_fen);
        transaction["amount"]["payer_total"] = json!(payment.paid_fen);
    }
    transaction
}

/// The merchant's public key and the request's authorization, checked.
fn authorize(sandbox: &SandboxPlatforms, request: &HttpRequest, body: &[u8], now_ms: i64) -> Result<(), Reply> {
    let merchant_key = sandbox.keys.wechatpay_merchant_public_key().map_err(|e| {
        tracing::error!(error = %e, "the sandbox merchant key has no public half");
        Reply::error(StatusCode::INTERNAL_SERVER_ERROR, "SYSTEM_ERROR", "系统错误")
    })?;
    auth::check_request(request, body, &merchant_key, now_ms).map(|_| ())
}

/// [`authorize`], then `handle`; whatever comes out is signed.
pub(super) fn answer(
    state: &AppState,
    request: &HttpRequest,
    body: &[u8],
    handle: impl FnOnce(&SandboxPlatforms, i64) -> Answer,
) -> Result<HttpResponse, ApiError> {
    let sandbox = SandboxPlatforms::of(state)?;
    let now_ms = state.now_ms();
    let outcome = authorize(sandbox, request, body, now_ms).and_then(|()| handle(sandbox, now_ms));
    sign(outcome, sandbox, now_ms)
}

/// `POST /sandbox/wechatpay/v3/pay/transactions/jsapi`.
pub(super) async fn place(
    state: web::Data<AppState>,
    request: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    answer(&state, &request, &body, |sandbox, now_ms| {
        let placed = read_order(&body, &sandbox.keys.wechat_appid)?;
        let prepay_id = lock(&sandbox.wechatpay.book).place(placed, now_ms).map_err(refusal_reply)?;
        Ok(Reply::ok(&json!({ "prepay_id": prepay_id })))
    })
}

/// `GET /sandbox/wechatpay/v3/pay/transactions/out-trade-no/{no}?mchid=`.
pub(super) async fn query(
    state: web::Data<AppState>,
    request: HttpRequest,
    out_trade_no: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    answer(&state, &request, b"", |sandbox, now_ms| {
        let query = web::Query::<HashMap<String, String>>::from_query(request.query_string())
            .map_err(|_| Reply::param_error("查询参数格式错误"))?;
        check_mchid(query.get("mchid").cloned())?;
        let book = lock(&sandbox.wechatpay.book);
        let order = book.orders.get(out_trade_no.as_str()).ok_or_else(|| refusal_reply(Refusal::UnknownOrder))?;
        Ok(Reply::ok(&transaction_json(order, order.trade_state(now_ms))))
    })
}

/// `POST /sandbox/wechatpay/v3/pay/transactions/out-trade-no/{no}/close` `{mchid}` → 204.
pub(super) async fn close(
    state: web::Data<AppState>,
    request: HttpRequest,
    out_trade_no: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    answer(&state, &request, &body, |sandbox, _| {
        let close: CloseBody = parse_body(&body)?;
        check_mchid(close.mchid)?;
        lock(&sandbox.wechatpay.book).close(&out_trade_no).map_err(refusal_reply)?;
        Ok(Reply::no_content())
    })
}

#[cfg(test)]
mod tests {
    use super::super::book::{Book, Standing};
    use super::*;

    const APPID: &str = "wx5a0d0c0e5b0a1e00";

    fn body() -> Value {
        json!({
            "appid": APPID, "mchid": SANDBOX_WECHATPAY_MCHID, "description": "电费-0100000001",
            "out_trade_no": "EB1001", "time_expire": "2024-02-01T00:30:00+08:00", "attach": "acct:0100000001",
            "notify_url": "http://127.0.0.1:8080/notify/wechat/pay",
            "amount": { "total": 13923, "currency": "CNY" }, "payer": { "openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o" },
        })
    }

    fn code_for(change: impl FnOnce(&mut Value)) -> String {
        let mut body = body();
        change(&mut body);
        read_order(body.to_string().as_bytes(), APPID).map(|_| String::new()).unwrap_or_else(|reply| reply.code())
    }

    #[test]
    fn a_well_formed_order_is_read() {
        let order = read_order(body().to_string().as_bytes(), APPID).expect("reads");
        assert_eq!(order.time_expire, Some(("2024-02-01T00:30:00+08:00".into(), 1_706_718_600_000)));
        assert_eq!((order.total, order.attach.as_deref()), (13923, Some("acct:0100000001")));
    }

    #[test]
    fn each_field_rule_is_enforced() {
        assert_eq!(code_for(|b| b["appid"] = json!("wx0000000000000000")), "INVALID_REQUEST");
        assert_eq!(code_for(|b| b["mchid"] = json!("1230000109")), "INVALID_REQUEST");
        assert_eq!(code_for(|b| b["description"] = json!("电".repeat(128))), "PARAM_ERROR");
        assert_eq!(code_for(|b| b["description"] = json!("电".repeat(127))), "");
        for no in ["EB100", "EB1001.", "E".repeat(33).as_str(), "单号123456"] {
            assert_eq!(code_for(|b| b["out_trade_no"] = json!(no)), "PARAM_ERROR", "{no}");
        }
        assert_eq!(code_for(|b| b["out_trade_no"] = json!("Ab_-|*09")), "");
        assert_eq!(code_for(|b| b["time_expire"] = json!("2024-01-31T16:30:00Z")), "PARAM_ERROR");
        assert_eq!(code_for(|b| b["time_expire"] = json!("2024-02-01 00:30:00")), "PARAM_ERROR");
        assert_eq!(code_for(|b| b["attach"] = json!("a".repeat(129))), "PARAM_ERROR");
        assert_eq!(code_for(|b| b["notify_url"] = json!("https://e.example.com/n?x=1")), "PARAM_ERROR");
        assert_eq!(code_for(|b| b["notify_url"] = json!("ftp://e.example.com/n")), "PARAM_ERROR");
        assert_eq!(code_for(|b| b["amount"]["total"] = json!(0)), "PARAM_ERROR");
        assert_eq!(code_for(|b| b["amount"]["total"] = json!(1.5)), "PARAM_ERROR");
        assert_eq!(code_for(|b| b["amount"]["currency"] = json!("USD")), "PARAM_ERROR");
        assert_eq!(code_for(|b| b["payer"] = json!({})), "PARAM_ERROR");
        let without_description = |b: &mut Value| {
            b.as_object_mut().expect("an object").remove("description");
        };
        assert_eq!(code_for(without_description), "PARAM_ERROR");
    }

    #[test]
    fn the_transaction_shows_payment_fields_once_paid() {
        let mut book = Book::default();
        let placed = read_order(body().to_string().as_bytes(), APPID).expect("reads");
        book.place(placed, 1_706_716_800_000).expect("placed");
        let open = book.orders.get("EB1001").expect("an order").clone();
        let unpaid = transaction_json(&open, TradeState::NotPay);
        assert_eq!(unpaid["trade_state"], "NOTPAY");
        assert!(unpaid.get("transaction_id").is_none() && unpaid["amount"].get("payer_total").is_none());
        let paid = book.pay("EB1001", Some(100), 1_706_716_800_000).expect("paid");
        assert!(matches!(paid.standing, Standing::Paid(_)));
        let transaction: crate::platform::wechatpay::Transaction =
            serde_json::from_value(transaction_json(&paid, TradeState::Success)).expect("our client reads it");
        assert_eq!(transaction.trade_state, TradeState::Success);
        assert_eq!((transaction.amount.total, transaction.amount.payer_total), (100, Some(100)));
        assert_eq!(transaction.attach.as_deref(), Some("acct:0100000001"));
        assert_eq!(transaction.success_time.as_deref(), Some("2024-02-01T00:00:00+08:00"));
    }
}
