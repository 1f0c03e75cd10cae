//! The simulated trade methods of the gateway, for requests the gateway has already verified:
//! `alipay.trade.create` (JSAPI_PAY only), `alipay.trade.query`, `alipay.trade.close`, `alipay.trade.refund` and
//! `alipay.trade.fastpay.refund.query`.
//! They check `biz_content` the way Alipay does (amounts as yuan strings of 0.01–100000000.00, subjects without
//! `/ = &`, `out_trade_no` of 1–64 `[A-Za-z0-9_]`, exactly one buyer, a `notify_url`), and answer in the method's
//! node: `10000` with the trade, or `40004` with the `ACQ.*` sub_code Alipay uses.

use super::gateway::{param, Answer, Params};
use super::trades::{Buyer, Stage, Trade, TradeKey, TradeRefusal, TradeTerms};
use crate::domain::money::Fen;
use crate::platform::alipay::{
    alipay_timestamp, parse_alipay_timestamp, MAX_AMOUNT_FEN, TRADE_CLOSE_METHOD, TRADE_CREATE_METHOD,
    TRADE_QUERY_METHOD, TRADE_REFUND_METHOD, TRADE_REFUND_QUERY_METHOD,
};
use crate::sandbox::platforms::SandboxPlatforms;
use serde_json::{json, Map, Value};

/// An `out_trade_no` (create) or `out_request_no` (refund) starting with this takes effect, but the first answer
/// is `20000` (service unavailable), as when Alipay's answer is lost: the client's retry must find the same result.
pub const TRADE_BUSY_ONCE_PREFIX: &str = "SANDBOX_ERR_BUSY_ONCE";
/// Alipay's default lifetime of an unpaid trade when `time_expire` is absent: 15 days.
const DEFAULT_LIFETIME_MS: i64 = 15 * 24 * 3600 * 1000;
const MAX_NO_LEN: usize = 64;
const MAX_SUBJECT_CHARS: usize = 256;
const MAX_BUYER_LEN: usize = 128;

type Biz = Map<String, Value>;

/// A business failure, in the method's (signed) node.
fn failure(method: &str, sub_code: &str, sub_msg: &str) -> Answer {
    Answer::method(
        method,
        json!({ "code": "40004", "msg": "Business Failed", "sub_code": sub_code, "sub_msg": sub_msg }),
    )
}

fn invalid(method: &str, sub_msg: &str) -> Answer {
    failure(method, "ACQ.INVALID_PARAMETER", sub_msg)
}

fn refused(method: &str, refusal: TradeRefusal) -> Answer {
    let (sub_code, sub_msg) = match refusal {
        TradeRefusal::NotExist => ("ACQ.TRADE_NOT_EXIST", "交易不存在"),
        TradeRefusal::ContextInconsistent => ("ACQ.CONTEXT_INCONSISTENT", "交易信息被篡改"),
        TradeRefusal::HasSuccess | TradeRefusal::AlreadyPaid => ("ACQ.TRADE_HAS_SUCCESS", "交易已被支付"),
        TradeRefusal::HasClose => ("ACQ.TRADE_HAS_CLOSE", "交易已经关闭"),
        TradeRefusal::StatusError => ("ACQ.TRADE_STATUS_ERROR", "交易状态不合法"),
        TradeRefusal::RefundExceeds => ("ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", "退款金额超限"),
        TradeRefusal::RefundNotWhole => ("ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", "撤销或退款金额与订单金额不一致"),
        TradeRefusal::DiscordantRepeat => ("ACQ.DISCORDANT_REPEAT_REQUEST", "不一致的请求"),
    };
    failure(method, sub_code, sub_msg)
}

/// A success node: `code` and `msg`, then `fields`.
fn success(fields: Value) -> Value {
    with(json!({ "code": "10000", "msg": "Success" }), fields)
}

/// `biz_content` as a JSON object.
fn biz_content(method: &str, params: &Params) -> Result<Biz, Answer> {
    let Some(text) = param(params, "biz_content") else {
        return Err(Answer::method(
            method,
            json!({ "code": "40001", "msg": "Missing Required Arguments", "sub_code": "isv.missing-biz-content",
                "sub_msg": "缺少biz_content参数" }),
        ));
    };
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(biz)) => Ok(biz),
        _ => Err(invalid(method, "biz_content不是JSON对象")),
    }
}

/// A string member of `biz_content`; absent when missing or empty. A member of another JSON type is refused.
fn text<'a>(method: &str, biz: &'a Biz, key: &str) -> Result<Option<&'a str>, Answer> {
    match biz.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.as_str()).filter(|t| !t.is_empty())),
        Some(_) => Err(invalid(method, &format!("{key}必须是字符串"))),
    }
}

/// A yuan amount as Alipay reads it: at most two decimals, 0.01 to 100000000.00.
pub(super) fn parse_amount(text: &str) -> Option<i64> {
    if text.starts_with('-') {
        return None;
    }
    Fen::parse_yuan(text).map(Fen::value).filter(|fen| (1..=MAX_AMOUNT_FEN).contains(fen))
}

fn amount(method: &str, biz: &Biz, key: &str) -> Result<i64, Answer> {
    let text = text(method, biz, key)?.ok_or_else(|| invalid(method, &format!("{key}不能为空")))?;
    if let Some(fen) = parse_amount(text) {
        return Ok(fen);
    }
    if Fen::parse_yuan(text).is_some_and(|fen| fen.value() > MAX_AMOUNT_FEN) {
        return Err(failure(method, "ACQ.TOTAL_FEE_EXCEED", "订单金额超过限额"));
    }
    Err(invalid(method, &format!("{key}格式错误，须为0.01~100000000.00元，最多两位小数")))
}

fn is_trade_no(text: &str) -> bool {
    !text.is_empty() && text.len() <= MAX_NO_LEN && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// The trade a query, close or refund names: `trade_no` first, as on Alipay.
fn trade_key(method: &str, biz: &Biz) -> Result<TradeKey, Answer> {
    if let Some(trade_no) = text(method, biz, "trade_no")? {
        return Ok(TradeKey::TradeNo(trade_no.to_owned()));
    }
    match text(method, biz, "out_trade_no")? {
        Some(no) => Ok(TradeKey::OutTradeNo(no.to_owned())),
        None => Err(invalid(method, "out_trade_no和trade_no不能同时为空")),
    }
}

fn buyer_fields(buyer: &Buyer) -> Value {
    match buyer {
        Buyer::UserId(id) => json!({ "buyer_user_id": id }),
        Buyer::OpenId(id) => json!({ "buyer_open_id": id }),
    }
}

/// `node` with the members of `more` added.
fn with(mut node: Value, more: Value) -> Value {
    if let (Some(node), Value::Object(more)) = (node.as_object_mut(), more) {
        node.extend(more);
    }
    node
}

fn yuan(fen: i64) -> String {
    Fen::new(fen).to_yuan_string()
}

/// `20000` instead of the answer of a call that took effect, the first time `key` (an `out_trade_no` or
/// `out_request_no` starting with [`TRADE_BUSY_ONCE_PREFIX`]) is seen by `method`: an answer lost on the way back.
fn lost_answer(sandbox: &SandboxPlatforms, method: &str, key: &str) -> Option<Answer> {
    if !key.starts_with(TRADE_BUSY_ONCE_PREFIX) || !sandbox.alipay.busy_once.first_use(&format!("{method}|{key}")) {
        return None;
    }
    sandbox.alipay.count_busy();
    let node = json!({ "code": "20000", "msg": "Service Currently Unavailable", "sub_code": "isp.unknow-error",
        "sub_msg": "系统繁忙" });
    Some(Answer::method(method, node))
}

/// `alipay.trade.create`.
pub(super) fn create(sandbox: &SandboxPlatforms, params: &Params, now_ms: i64) -> Answer {
    const M: &str = TRADE_CREATE_METHOD;
    let (out_trade_no, terms, notify_url) = match create_terms(sandbox, params, now_ms) {
        Ok(checked) => checked,
        Err(answer) => return answer,
    };
    match sandbox.alipay.trades.create(&out_trade_no, terms, &notify_url, now_ms) {
        Ok(trade_no) => lost_answer(sandbox, M, &out_trade_no).unwrap_or_else(|| {
            Answer::method(M, success(json!({ "out_trade_no": out_trade_no, "trade_no": trade_no })))
        }),
        Err(refusal) => refused(M, refusal),
    }
}

/// The checked `out_trade_no`, terms and `notify_url` of a create call.
fn create_terms(
    sandbox: &SandboxPlatforms,
    params: &Params,
    now_ms: i64,
) -> Result<(String, TradeTerms, String), Answer> {
    const M: &str = TRADE_CREATE_METHOD;
    let biz = biz_content(M, params)?;
    if text(M, &biz, "product_code")? != Some("JSAPI_PAY") {
        return Err(failure(M, "ACQ.PRODUCT_CODE_NOT_SUPPORTED", "product_code须为JSAPI_PAY"));
    }
    let out_trade_no = text(M, &biz, "out_trade_no")?.unwrap_or_default();
    if !is_trade_no(out_trade_no) {
        return Err(invalid(M, "out_trade_no须为1~64位字母、数字或下划线"));
    }
    let amount_fen = amount(M, &biz, "total_amount")?;
    let subject = text(M, &biz, "subject")?.unwrap_or_default();
    let subject_ok = !subject.trim().is_empty()
        && subject.chars().count() <= MAX_SUBJECT_CHARS
        && !subject.chars().any(|c| c.is_control() || matches!(c, '/' | '=' | '&'));
    if !subject_ok {
        return Err(invalid(M, "subject不能为空，不能超过256个字符，不能包含/=&"));
    }
    let buyer = match (text(M, &biz, "buyer_id")?, text(M, &biz, "buyer_open_id")?) {
        (Some(id), None) if id.len() == 16 && id.starts_with("2088") && id.bytes().all(|b| b.is_ascii_digit()) => {
            Buyer::UserId(id.to_owned())
        }
        (None, Some(id)) if id.len() <= MAX_BUYER_LEN && id.bytes().all(|b| b.is_ascii_graphic()) => {
            Buyer::OpenId(id.to_owned())
        }
        (None, None) => return Err(invalid(M, "buyer_id和buyer_open_id不能同时为空")),
        (Some(_), Some(_)) => return Err(invalid(M, "buyer_id和buyer_open_id只能传一个")),
        _ => return Err(invalid(M, "买家标识无效")),
    };
    if text(M, &biz, "op_app_id")?.is_some_and(|op_app_id| op_app_id != sandbox.keys.alipay_app_id) {
        return Err(invalid(M, "op_app_id与当前应用不一致"));
    }
    let expire_ms = match text(M, &biz, "time_expire")? {
        None => now_ms + DEFAULT_LIFETIME_MS,
        Some(time) => parse_alipay_timestamp(time)
            .ok_or_else(|| invalid(M, "time_expire格式须为yyyy-MM-dd HH:mm:ss（北京时间）"))?,
    };
    // A sandbox choice: a trade that could never be paid is refused, which makes a time_expire written in another
    // zone than UTC+8 (eight hours in the past) fail loudly.
    if expire_ms <= now_ms {
        return Err(invalid(M, "time_expire已过期"));
    }
    let notify_url = param(params, "notify_url").unwrap_or_default();
    if !(notify_url.starts_with("http://") || notify_url.starts_with("https://")) {
        return Err(Answer::method(
            M,
            json!({ "code": "40001", "msg": "Missing Required Arguments", "sub_code": "isv.missing-notify-url",
                "sub_msg": "缺少notify_url参数或其不是http(s)地址" }),
        ));
    }
    let terms = TradeTerms { amount_fen, subject: subject.to_owned(), buyer, expire_ms };
    Ok((out_trade_no.to_owned(), terms, notify_url.to_owned()))
}

/// `alipay.trade.query`.
pub(super) fn query(sandbox: &SandboxPlatforms, params: &Params, now_ms: i64) -> Answer {
    const M: &str = TRADE_QUERY_METHOD;
    let trade = biz_content(M, params)
        .and_then(|biz| trade_key(M, &biz))
        .and_then(|key| sandbox.alipay.trades.get(&key, now_ms).map_err(|refusal| refused(M, refusal)));
    match trade {
        Ok(trade) => Answer::method(M, query_node(&trade)),
        Err(answer) => answer,
    }
}

fn query_node(trade: &Trade) -> Value {
    let mut node = success(json!({
        "trade_no": trade.trade_no,
        "out_trade_no": trade.out_trade_no,
        "trade_status": trade.trade_status(),
        "total_amount": yuan(trade.terms.amount_fen),
    }));
    node = with(node, buyer_fields(&trade.terms.buyer));
    if let Stage::Paid { paid_ms, .. } = trade.stage {
        let paid = json!({
            "buyer_pay_amount": yuan(trade.terms.amount_fen),
            "receipt_amount": yuan(trade.terms.amount_fen),
            "send_pay_date": alipay_timestamp(paid_ms).unwrap_or_default(),
        });
        node = with(node, paid);
    }
    node
}

/// `alipay.trade.close`.
pub(super) fn close(sandbox: &SandboxPlatforms, params: &Params, now_ms: i64) -> Answer {
    const M: &str = TRADE_CLOSE_METHOD;
    let closed = biz_content(M, params)
        .and_then(|biz| trade_key(M, &biz))
        .and_then(|key| sandbox.alipay.trades.close(&key, now_ms).map_err(|refusal| refused(M, refusal)));
    match closed {
        Ok(trade) => {
            Answer::method(M, success(json!({ "trade_no": trade.trade_no, "out_trade_no": trade.out_trade_no })))
        }
        Err(answer) => answer,
    }
}

/// `alipay.trade.refund`: `refund_fee` is the trade's refunded total, `send_back_fee` this call's amount.
pub(super) fn refund(sandbox: &SandboxPlatforms, params: &Params, now_ms: i64) -> Answer {
    const M: &str = TRADE_REFUND_METHOD;
    let done = biz_content(M, params).and_then(|biz| {
        let key = trade_key(M, &biz)?;
        let amount_fen = amount(M, &biz, "refund_amount")?;
        // Without `out_request_no` the refund is of the whole trade, keyed on the trade itself.
        let out_request_no = match text(M, &biz, "out_request_no")? {
            Some(no) if no.len() <= MAX_NO_LEN => Some(no.to_owned()),
            Some(_) => return Err(invalid(M, "out_request_no不能超过64位")),
            None => None,
        };
        let done = sandbox.alipay.trades.refund(&key, out_request_no.as_deref(), amount_fen, now_ms);
        let request_no = out_request_no.unwrap_or_else(|| match &key {
            TradeKey::TradeNo(no) | TradeKey::OutTradeNo(no) => no.clone(),
        });
        done.map(|done| (done, request_no)).map_err(|refusal| refused(M, refusal))
    });
    let (done, out_request_no) = match done {
        Ok(done) => done,
        Err(answer) => return answer,
    };
    if let Some(lost) = lost_answer(sandbox, M, &out_request_no) {
        return lost;
    }
    let trade = &done.trade;
    let node = success(json!({
        "trade_no": trade.trade_no,
        "out_trade_no": trade.out_trade_no,
        "fund_change": if done.fund_change { "Y" } else { "N" },
        "refund_fee": yuan(trade.refunded_fen),
        "send_back_fee": yuan(done.send_back_fen),
        "gmt_refund_pay": alipay_timestamp(now_ms).unwrap_or_default(),
    }));
    Answer::method(M, with(node, buyer_fields(&trade.terms.buyer)))
}

/// `alipay.trade.fastpay.refund.query`: `10000` whether or not the refund exists; a refund done carries
/// `refund_status` `REFUND_SUCCESS` and its amount, one never received carries neither (as on Alipay).
pub(super) fn refund_query(sandbox: &SandboxPlatforms, params: &Params, now_ms: i64) -> Answer {
    const M: &str = TRADE_REFUND_QUERY_METHOD;
    let found = biz_content(M, params).and_then(|biz| {
        let key = trade_key(M, &biz)?;
        let out_request_no =
            text(M, &biz, "out_request_no")?.ok_or_else(|| invalid(M, "out_request_no不能为空"))?.to_owned();
        let (trade, refunded) =
            sandbox.alipay.trades.refund_of(&key, &out_request_no, now_ms).map_err(|refusal| refused(M, refusal))?;
        Ok((trade, out_request_no, refunded))
    });
    let (trade, out_request_no, refunded) = match found {
        Ok(found) => found,
        Err(answer) => return answer,
    };
    let Some(refund_fen) = refunded else {
        return Answer::method(M, success(json!({})));
    };
    let node = success(json!({
        "trade_no": trade.trade_no,
        "out_trade_no": trade.out_trade_no,
        "out_request_no": out_request_no,
        "total_amount": yuan(trade.terms.amount_fen),
        "refund_amount": yuan(refund_fen),
        "refund_status": "REFUND_SUCCESS",
    }));
    Answer::method(M, node)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_read_like_alipay_reads_them() {
        assert_eq!(parse_amount("0.01"), Some(1));
        assert_eq!(parse_amount("88.8"), Some(8_880));
        assert_eq!(parse_amount("12"), Some(1_200));
        assert_eq!(parse_amount("100000000.00"), Some(MAX_AMOUNT_FEN));
        for bad in ["0.00", "0", "-1.00", "100000000.01", "1.001", "1.", ".5", "1,00", "", "1e2"] {
            assert_eq!(parse_amount(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn out_trade_numbers_follow_alipays_rules() {
        assert!(is_trade_no("EB20240201_0001"));
        assert!(is_trade_no(&"9".repeat(64)));
        for bad in ["", "EB-1", "EB 1", "单号", &"9".repeat(65)] {
            assert!(!is_trade_no(bad), "{bad:?}");
        }
    }

    #[test]
    fn success_nodes_start_with_code_and_msg() {
        let node = success(json!({ "trade_no": "1" }));
        assert_eq!(node, json!({ "code": "10000", "msg": "Success", "trade_no": "1" }));
    }
}
