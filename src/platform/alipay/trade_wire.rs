//! How trade fields travel: what we refuse before sending (amounts outside 0.01–100000000.00 yuan, subjects with
//! `/ = &`, order numbers outside `[A-Za-z0-9_]{1,64}`), the `biz_content` we build, and how verified answer nodes
//! are read (amounts as yuan strings, dates as Beijing time, the echoed `out_trade_no` checked).

use super::gateway::alipay_timestamp;
use super::trade::{
    AlipayBuyer, RefundAnswer, RefundQueryAnswer, TradeCreate, TradeQueryAnswer, TradeRefund, TradeStatus,
};
use super::AlipayError;
use crate::domain::calendar::beijing;
use crate::domain::money::Fen;
use chrono::NaiveDateTime;
use serde_json::{json, Map, Value};

/// Alipay's largest `total_amount`, 100000000.00 yuan, in fen.
pub const MAX_AMOUNT_FEN: i64 = 10_000_000_000;
const MAX_NO_LEN: usize = 64;
const MAX_SUBJECT_CHARS: usize = 256;
const MAX_REASON_CHARS: usize = 256;
const MAX_BUYER_LEN: usize = 128;

fn invalid(why: impl Into<String>) -> AlipayError {
    AlipayError::InvalidRequest(why.into())
}

/// `fen` as the yuan string with two decimals Alipay wants, when within 0.01–100000000.00.
pub(super) fn yuan_amount(fen: i64, what: &str) -> Result<String, AlipayError> {
    if !(1..=MAX_AMOUNT_FEN).contains(&fen) {
        return Err(invalid(format!("{what} must be 0.01 to 100000000.00 yuan, not {fen} fen")));
    }
    Ok(Fen::new(fen).to_yuan_string())
}

/// 1 to 64 characters of `[A-Za-z0-9_]`, and `-` when `dash`.
fn check_no(no: &str, what: &str, dash: bool) -> Result<(), AlipayError> {
    let allowed = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || (dash && b == b'-');
    if no.is_empty() || no.len() > MAX_NO_LEN || !no.bytes().all(allowed) {
        let chars = if dash { "[A-Za-z0-9_-]" } else { "[A-Za-z0-9_]" };
        return Err(invalid(format!("{what} must be 1 to {MAX_NO_LEN} of {chars}")));
    }
    Ok(())
}

pub(super) fn check_out_trade_no(out_trade_no: &str) -> Result<(), AlipayError> {
    check_no(out_trade_no, "out_trade_no", false)
}

/// Free text Alipay shows: at most `max` characters, none of them control characters, none of `forbidden`.
fn check_text(text: &str, what: &str, max: usize, forbidden: &[char]) -> Result<(), AlipayError> {
    if text.chars().count() > max || text.chars().any(|c| c.is_control() || forbidden.contains(&c)) {
        return Err(invalid(format!(
            "{what} must be at most {max} characters, without control characters or {forbidden:?}"
        )));
    }
    Ok(())
}

fn check_buyer(id: &str) -> Result<(), AlipayError> {
    if id.is_empty() || id.len() > MAX_BUYER_LEN || !id.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(invalid("the buyer id must be 1 to 128 printable ASCII characters"));
    }
    Ok(())
}

/// The `biz_content` of `alipay.trade.create` for a mini-program (`JSAPI_PAY`) trade of app `app_id`.
pub(super) fn create_biz_content(order: &TradeCreate<'_>, app_id: &str) -> Result<Value, AlipayError> {
    check_out_trade_no(order.out_trade_no)?;
    if order.subject.trim().is_empty() {
        return Err(invalid("subject is empty"));
    }
    check_text(order.subject, "subject", MAX_SUBJECT_CHARS, &['/', '=', '&'])?;
    let time_expire = alipay_timestamp(order.time_expire_ms).ok_or_else(|| invalid("time_expire is out of range"))?;
    let mut biz = Map::new();
    biz.insert("out_trade_no".into(), json!(order.out_trade_no));
    biz.insert("total_amount".into(), json!(yuan_amount(order.amount_fen, "total_amount")?));
    biz.insert("subject".into(), json!(order.subject));
    biz.insert("product_code".into(), json!("JSAPI_PAY"));
    let (key, id) = match order.buyer {
        AlipayBuyer::UserId(id) => ("buyer_id", id),
        AlipayBuyer::OpenId(id) => ("buyer_open_id", id),
    };
    check_buyer(id)?;
    biz.insert(key.into(), json!(id));
    // The mini-program the cashier opens in: this app itself.
    biz.insert("op_app_id".into(), json!(app_id));
    biz.insert("time_expire".into(), json!(time_expire));
    Ok(Value::Object(biz))
}

/// The `biz_content` of `alipay.trade.refund`.
pub(super) fn refund_biz_content(refund: &TradeRefund<'_>) -> Result<Value, AlipayError> {
    check_out_trade_no(refund.out_trade_no)?;
    check_no(refund.out_request_no, "out_request_no", true)?;
    check_text(refund.reason, "refund_reason", MAX_REASON_CHARS, &[])?;
    let mut biz = Map::new();
    biz.insert("out_trade_no".into(), json!(refund.out_trade_no));
    biz.insert("refund_amount".into(), json!(yuan_amount(refund.refund_fen, "refund_amount")?));
    biz.insert("out_request_no".into(), json!(refund.out_request_no));
    if !refund.reason.is_empty() {
        biz.insert("refund_reason".into(), json!(refund.reason));
    }
    Ok(Value::Object(biz))
}

/// The `biz_content` of `alipay.trade.fastpay.refund.query`.
pub(super) fn refund_query_biz_content(out_trade_no: &str, out_request_no: &str) -> Result<Value, AlipayError> {
    check_out_trade_no(out_trade_no)?;
    check_no(out_request_no, "out_request_no", true)?;
    Ok(json!({ "out_trade_no": out_trade_no, "out_request_no": out_request_no }))
}

/// A gateway date-time (`yyyy-MM-dd HH:mm:ss`, Beijing time) as epoch milliseconds.
pub fn parse_alipay_timestamp(text: &str) -> Option<i64> {
    let naive = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").ok()?;
    naive.and_local_timezone(beijing()).single().map(|at| at.timestamp_millis())
}

fn malformed(why: String) -> AlipayError {
    AlipayError::MalformedResponse(why)
}

/// A string member, absent when missing, null or empty.
fn text<'a>(node: &'a Value, key: &str) -> Option<&'a str> {
    node.get(key).and_then(Value::as_str).filter(|v| !v.is_empty())
}

fn required<'a>(node: &'a Value, key: &str) -> Result<&'a str, AlipayError> {
    text(node, key).ok_or_else(|| malformed(format!("the answer lacks `{key}`")))
}

/// A yuan amount member as fen, never negative.
fn amount(node: &Value, key: &str) -> Result<i64, AlipayError> {
    let yuan = required(node, key)?;
    Fen::parse_yuan(yuan)
        .filter(|fen| !fen.is_negative())
        .map(Fen::value)
        .ok_or_else(|| malformed(format!("`{key}` is not a yuan amount")))
}

/// The answer must be about the trade we asked about, when it says which.
fn check_echo(node: &Value, out_trade_no: &str) -> Result<(), AlipayError> {
    match text(node, "out_trade_no") {
        Some(echoed) if echoed != out_trade_no => Err(malformed("the answer is about another out_trade_no".into())),
        _ => Ok(()),
    }
}

/// The `trade_no` of a verified `alipay.trade.create` answer.
pub(super) fn read_created(node: &Value, out_trade_no: &str) -> Result<String, AlipayError> {
    check_echo(node, out_trade_no)?;
    Ok(required(node, "trade_no")?.to_owned())
}

/// A verified `alipay.trade.query` answer.
pub(super) fn read_query(node: &Value, out_trade_no: &str) -> Result<TradeQueryAnswer, AlipayError> {
    check_echo(node, out_trade_no)?;
    let trade_status = required(node, "trade_status")?.parse::<TradeStatus>().map_err(|e| malformed(e.to_string()))?;
    let send_pay_date_ms = match text(node, "send_pay_date") {
        None => None,
        Some(date) => {
            Some(parse_alipay_timestamp(date).ok_or_else(|| malformed("`send_pay_date` is not a date-time".into()))?)
        }
    };
    Ok(TradeQueryAnswer {
        trade_no: required(node, "trade_no")?.to_owned(),
        out_trade_no: out_trade_no.to_owned(),
        trade_status,
        total_amount_fen: amount(node, "total_amount")?,
        send_pay_date_ms,
        buyer_user_id: text(node, "buyer_user_id").map(str::to_owned),
        buyer_open_id: text(node, "buyer_open_id").map(str::to_owned),
    })
}

/// A verified `alipay.trade.close` answer.
pub(super) fn read_close(node: &Value, out_trade_no: &str) -> Result<(), AlipayError> {
    check_echo(node, out_trade_no)
}

/// A verified `alipay.trade.refund` answer.
pub(super) fn read_refund(node: &Value, out_trade_no: &str) -> Result<RefundAnswer, AlipayError> {
    check_echo(node, out_trade_no)?;
    let fund_change = match required(node, "fund_change")? {
        "Y" => true,
        "N" => false,
        _ => return Err(malformed("`fund_change` is neither Y nor N".into())),
    };
    Ok(RefundAnswer {
        trade_no: required(node, "trade_no")?.to_owned(),
        fund_change,
        refund_fen: amount(node, "refund_fee")?,
    })
}

/// The `refund_status` of a refund Alipay did.
const REFUND_SUCCESS: &str = "REFUND_SUCCESS";

/// A verified `alipay.trade.fastpay.refund.query` answer: about our trade and refund when it names them.
pub(super) fn read_refund_query(
    node: &Value,
    out_trade_no: &str,
    out_request_no: &str,
) -> Result<RefundQueryAnswer, AlipayError> {
    check_echo(node, out_trade_no)?;
    if text(node, "out_request_no").is_some_and(|echoed| echoed != out_request_no) {
        return Err(malformed("the answer is about another out_request_no".into()));
    }
    let succeeded = text(node, "refund_status") == Some(REFUND_SUCCESS);
    let refund_fen = match text(node, "refund_amount") {
        Some(_) => Some(amount(node, "refund_amount")?),
        None => None,
    };
    Ok(RefundQueryAnswer { trade_no: text(node, "trade_no").map(str::to_owned), succeeded, refund_fen })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2024-01-31T16:15:00Z, 2024-02-01 00:15:00 in Beijing.
    const EXPIRE_MS: i64 = 1_706_717_700_000;

    fn order(buyer: AlipayBuyer<'static>) -> TradeCreate<'static> {
        TradeCreate {
            out_trade_no: "EB20240201000001",
            amount_fen: 8_888,
            subject: "电费 2024年1月 户号0001",
            buyer,
            time_expire_ms: EXPIRE_MS,
        }
    }

    fn refused(result: Result<impl std::fmt::Debug, AlipayError>) -> bool {
        matches!(result, Err(AlipayError::InvalidRequest(_)))
    }

    #[test]
    fn amounts_are_yuan_with_two_decimals_within_alipays_range() {
        assert_eq!(yuan_amount(1, "x").as_deref(), Ok("0.01"));
        assert_eq!(yuan_amount(10, "x").as_deref(), Ok("0.10"));
        assert_eq!(yuan_amount(8_888, "x").as_deref(), Ok("88.88"));
        assert_eq!(yuan_amount(100, "x").as_deref(), Ok("1.00"));
        assert_eq!(yuan_amount(MAX_AMOUNT_FEN, "x").as_deref(), Ok("100000000.00"));
        assert!(refused(yuan_amount(0, "x")));
        assert!(refused(yuan_amount(-1, "x")));
        assert!(refused(yuan_amount(MAX_AMOUNT_FEN + 1, "x")));
        assert!(refused(yuan_amount(i64::MIN, "x")));
    }

    #[test]
    fn the_create_biz_content_is_exactly_this() {
        let biz = create_biz_content(&order(AlipayBuyer::UserId("2088102104794936")), "2021004112345678").unwrap();
        assert_eq!(
            serde_json::to_string(&biz).unwrap(),
            concat!(
                r#"{"buyer_id":"2088102104794936","op_app_id":"2021004112345678","out_trade_no":"EB20240201000001","#,
                r#""product_code":"JSAPI_PAY","subject":"电费 2024年1月 户号0001","#,
                r#""time_expire":"2024-02-01 00:15:00","total_amount":"88.88"}"#
            )
        );
    }

    #[test]
    fn an_openid_buyer_travels_as_buyer_open_id_only() {
        let biz = create_biz_content(&order(AlipayBuyer::OpenId("074a1CcTG1Le")), "2021004112345678").unwrap();
        assert_eq!(biz["buyer_open_id"], "074a1CcTG1Le");
        assert!(biz.get("buyer_id").is_none());
    }

    #[test]
    fn time_expire_is_beijing_time() {
        let biz = create_biz_content(&order(AlipayBuyer::UserId("2088102104794936")), "1").unwrap();
        assert_eq!(biz["time_expire"], "2024-02-01 00:15:00");
        assert_eq!(parse_alipay_timestamp("2024-02-01 00:15:00"), Some(EXPIRE_MS));
    }

    #[test]
    fn out_trade_numbers_outside_the_rules_are_refused() {
        for bad in ["", "EB-1", "EB 1", "EB1/2", "单号1", &"A".repeat(65)] {
            let order = TradeCreate { out_trade_no: bad, ..order(AlipayBuyer::UserId("2088102104794936")) };
            assert!(refused(create_biz_content(&order, "1")), "{bad:?}");
        }
        assert!(check_out_trade_no(&"A_9".repeat(21)).is_ok());
    }

    #[test]
    fn subjects_with_reserved_characters_are_refused() {
        for bad in ["电费/水费", "a=b", "a&b", "", "  ", "line\nbreak", &"电".repeat(257)] {
            let order = TradeCreate { subject: bad, ..order(AlipayBuyer::UserId("2088102104794936")) };
            assert!(refused(create_biz_content(&order, "1")), "{bad:?}");
        }
        let order = TradeCreate { subject: &"电".repeat(256), ..order(AlipayBuyer::UserId("2088102104794936")) };
        assert!(create_biz_content(&order, "1").is_ok());
    }

    #[test]
    fn out_of_range_amounts_and_blank_buyers_are_refused() {
        let base = order(AlipayBuyer::UserId("2088102104794936"));
        assert!(refused(create_biz_content(&TradeCreate { amount_fen: 0, ..base.clone() }, "1")));
        assert!(refused(create_biz_content(&TradeCreate { amount_fen: MAX_AMOUNT_FEN + 1, ..base.clone() }, "1")));
        assert!(refused(create_biz_content(&TradeCreate { buyer: AlipayBuyer::OpenId(""), ..base.clone() }, "1")));
        assert!(refused(create_biz_content(&TradeCreate { buyer: AlipayBuyer::UserId("a b"), ..base }, "1")));
    }

    #[test]
    fn the_refund_biz_content_is_exactly_this() {
        let refund = TradeRefund { out_trade_no: "EB1", refund_fen: 1_050, out_request_no: "EB1-R1", reason: "多缴" };
        assert_eq!(
            serde_json::to_string(&refund_biz_content(&refund).unwrap()).unwrap(),
            r#"{"out_request_no":"EB1-R1","out_trade_no":"EB1","refund_amount":"10.50","refund_reason":"多缴"}"#
        );
        let no_reason = TradeRefund { reason: "", ..refund.clone() };
        assert!(refund_biz_content(&no_reason).unwrap().get("refund_reason").is_none());
        assert!(refused(refund_biz_content(&TradeRefund { refund_fen: 0, ..refund.clone() })));
        assert!(refused(refund_biz_content(&TradeRefund { out_request_no: "", ..refund.clone() })));
        assert!(refused(refund_biz_content(&TradeRefund { out_request_no: "R 1", ..refund })));
    }

    #[test]
    fn a_paid_query_answer_reads_amount_and_beijing_pay_date() {
        let node = json!({"code": "10000", "msg": "Success", "trade_no": "2026120422001000000000000001",
            "out_trade_no": "EB1", "trade_status": "TRADE_SUCCESS", "total_amount": "88.88",
            "send_pay_date": "2024-02-01 00:15:00", "buyer_user_id": "2088102104794936", "buyer_open_id": ""});
        let answer = read_query(&node, "EB1").unwrap();
        assert_eq!(answer.trade_status, TradeStatus::TradeSuccess);
        assert_eq!(answer.total_amount_fen, 8_888);
        assert_eq!(answer.send_pay_date_ms, Some(EXPIRE_MS));
        assert_eq!(answer.buyer_user_id.as_deref(), Some("2088102104794936"));
        assert_eq!(answer.buyer_open_id, None);
    }

    #[test]
    fn query_answers_that_cannot_be_trusted_are_malformed() {
        let good = json!({"trade_no": "1", "out_trade_no": "EB1", "trade_status": "WAIT_BUYER_PAY",
            "total_amount": "1.00"});
        assert!(read_query(&good, "EB1").is_ok());
        let with = |key: &str, value: Value| {
            let mut node = good.clone();
            node[key] = value;
            read_query(&node, "EB1")
        };
        let malformed =
            |result: Result<TradeQueryAnswer, AlipayError>| matches!(result, Err(AlipayError::MalformedResponse(_)));
        assert!(malformed(with("out_trade_no", json!("EB2"))));
        assert!(malformed(with("trade_status", json!("TRADE_PENDING"))));
        assert!(malformed(with("total_amount", json!("-1.00"))));
        assert!(malformed(with("total_amount", json!("1.001"))));
        assert!(malformed(with("total_amount", json!(1.0))));
        assert!(malformed(with("send_pay_date", json!("2024-02-01T00:15:00+08:00"))));
        assert!(malformed(with("trade_no", Value::Null)));
    }

    #[test]
    fn refund_answers_read_fund_change_and_the_refunded_total() {
        let node = json!({"code": "10000", "trade_no": "T1", "out_trade_no": "EB1", "fund_change": "Y",
            "refund_fee": "10.50"});
        assert_eq!(
            read_refund(&node, "EB1"),
            Ok(RefundAnswer { trade_no: "T1".into(), fund_change: true, refund_fen: 1_050 })
        );
        let mut repeat = node.clone();
        repeat["fund_change"] = json!("N");
        assert_eq!(read_refund(&repeat, "EB1").map(|r| r.fund_change), Ok(false));
        repeat["fund_change"] = json!("y");
        assert!(matches!(read_refund(&repeat, "EB1"), Err(AlipayError::MalformedResponse(_))));
    }

    #[test]
    fn a_create_answer_must_carry_a_trade_no_for_our_order() {
        assert_eq!(read_created(&json!({"out_trade_no": "EB1", "trade_no": "T1"}), "EB1").as_deref(), Ok("T1"));
        assert!(read_created(&json!({"out_trade_no": "EB2", "trade_no": "T1"}), "EB1").is_err());
        assert!(read_created(&json!({"out_trade_no": "EB1"}), "EB1").is_err());
    }

    #[test]
    fn a_refund_query_succeeds_only_with_refund_success() {
        let node = json!({"code": "10000", "msg": "Success", "trade_no": "T1", "out_trade_no": "EB1",
            "out_request_no": "RF1", "total_amount": "20.00", "refund_amount": "10.50",
            "refund_status": "REFUND_SUCCESS"});
        assert_eq!(
            read_refund_query(&node, "EB1", "RF1"),
            Ok(RefundQueryAnswer { trade_no: Some("T1".into()), succeeded: true, refund_fen: Some(1_050) })
        );
        // Alipay leaves refund_status (and the refund's fields) out when it did not receive or do the refund.
        let nothing = json!({"code": "10000", "msg": "Success"});
        assert_eq!(
            read_refund_query(&nothing, "EB1", "RF1"),
            Ok(RefundQueryAnswer { trade_no: None, succeeded: false, refund_fen: None })
        );
        let mut other = node.clone();
        other["refund_status"] = json!("REFUND_PROCESSING");
        assert_eq!(read_refund_query(&other, "EB1", "RF1").map(|a| a.succeeded), Ok(false));
        assert!(matches!(read_refund_query(&node, "EB1", "RF2"), Err(AlipayError::MalformedResponse(_))));
        assert!(matches!(read_refund_query(&node, "EB2", "RF1"), Err(AlipayError::MalformedResponse(_))));
        let mut bad_amount = node.clone();
        bad_amount["refund_amount"] = json!("ten");
        assert!(matches!(read_refund_query(&bad_amount, "EB1", "RF1"), Err(AlipayError::MalformedResponse(_))));
        assert!(refund_query_biz_content("EB1", "R 1").is_err());
        assert_eq!(
            refund_query_biz_content("EB1", "RF1").unwrap(),
            json!({"out_trade_no": "EB1", "out_request_no": "RF1"})
        );
    }
}
