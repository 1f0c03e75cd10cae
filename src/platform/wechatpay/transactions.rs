//! The payment calls of JSAPI (mini-program) orders (PROTOCOLS.md, "Place order", "Other calls"): place an order
//! for its `prepay_id`, query it by our order number, close it.

use super::client::WechatPayClient;
use super::error::WechatPayError;
use super::resource::Transaction;
use crate::domain::calendar::beijing_datetime;
use chrono::SecondsFormat;
use reqwest::Method;
use serde::{Deserialize, Serialize};

/// A JSAPI order as we place it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JsapiOrder<'a> {
    /// What the payer sees (≤ 127 characters).
    pub description: &'a str,
    /// Our order number: 6–32 of `[0-9A-Za-z_-|*]`.
    pub out_trade_no: &'a str,
    /// When the order stops being payable, epoch milliseconds (sent as RFC 3339 in UTC+8, to the second).
    pub time_expire_ms: i64,
    /// Returned as is in the notification and the query (≤ 128 characters).
    pub attach: Option<&'a str>,
    pub amount_fen: i64,
    /// The payer's openid in our mini-program.
    pub openid: &'a str,
}

#[derive(Serialize)]
struct JsapiBody<'a> {
    appid: &'a str,
    mchid: &'a str,
    description: &'a str,
    out_trade_no: &'a str,
    time_expire: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    attach: Option<&'a str>,
    notify_url: &'a str,
    amount: OrderAmount,
    payer: Payer<'a>,
}

#[derive(Serialize)]
struct OrderAmount {
    total: i64,
    currency: &'static str,
}

#[derive(Serialize)]
struct Payer<'a> {
    openid: &'a str,
}

#[derive(Serialize)]
struct CloseBody<'a> {
    mchid: &'a str,
}

#[derive(Deserialize)]
struct Prepay {
    prepay_id: String,
}

/// `time_expire` as WeChat Pay wants it: RFC 3339 with `+08:00`, whatever the host's zone.
pub fn time_expire(epoch_ms: i64) -> Option<String> {
    beijing_datetime(epoch_ms).map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, false))
}

/// The JSON body of `POST /v3/pay/transactions/jsapi`, exactly as signed and sent.
fn jsapi_body(appid: &str, mchid: &str, notify_url: &str, order: &JsapiOrder<'_>) -> Result<String, WechatPayError> {
    let body = JsapiBody {
        appid,
        mchid,
        description: order.description,
        out_trade_no: order.out_trade_no,
        time_expire: time_expire(order.time_expire_ms)
            .ok_or_else(|| WechatPayError::Signing("time_expire is out of range".into()))?,
        attach: order.attach,
        notify_url,
        amount: OrderAmount { total: order.amount_fen, currency: "CNY" },
        payer: Payer { openid: order.openid },
    };
    serde_json::to_string(&body).map_err(|e| WechatPayError::Signing(format!("the order body: {e}")))
}

impl WechatPayClient {
    /// `POST /v3/pay/transactions/jsapi`: places the order and returns its `prepay_id`. Placing the same order
    /// number again with the same content answers the same prepay id.
    pub async fn create_jsapi_order(&self, order: &JsapiOrder<'_>) -> Result<String, WechatPayError> {
        let body = jsapi_body(&self.appid, &self.mchid, &self.notify_url, order)?;
        let url = self.url(&["v3", "pay", "transactions", "jsapi"], &[])?;
        let answer = self.exchange(Method::POST, url, Some(body)).await?.into_success()?;
        let prepay: Prepay = serde_json::from_slice(&answer)
            .map_err(|_| WechatPayError::BadResponse("the order answer has no prepay_id".into()))?;
        if prepay.prepay_id.is_empty() || prepay.prepay_id.chars().any(char::is_control) {
            return Err(WechatPayError::BadResponse("the order answer has an unusable prepay_id".into()));
        }
        Ok(prepay.prepay_id)
    }

    /// `GET /v3/pay/transactions/out-trade-no/{no}?mchid=`: the order's state; `None` when the platform (in a
    /// signed answer) says `ORDER_NOT_EXIST`.
    pub async fn query_order(&self, out_trade_no: &str) -> Result<Option<Transaction>, WechatPayError> {
        let url = self.url(&["v3", "pay", "transactions", "out-trade-no", out_trade_no], &[("mchid", &self.mchid)])?;
        let answer = self.exchange(Method::GET, url, None).await?;
        if answer.is_verified_error(404, "ORDER_NOT_EXIST") {
            return Ok(None);
        }
        let body = answer.into_success()?;
        let transaction: Transaction = serde_json::from_slice(&body).map_err(|e| {
            WechatPayError::BadResponse(format!("the order query answer is not a transaction (column {})", e.column()))
        })?;
        if transaction.out_trade_no != out_trade_no
            || transaction.mchid != self.mchid
            || transaction.appid != self.appid
        {
            return Err(WechatPayError::BadResponse("the order query answered for another order or merchant".into()));
        }
        Ok(Some(transaction))
    }

    /// `POST /v3/pay/transactions/out-trade-no/{no}/close` `{mchid}` → 204. A paid order cannot be closed:
    /// [`WechatPayError::OrderPaid`] (from a signed answer only).
    pub async fn close_order(&self, out_trade_no: &str) -> Result<(), WechatPayError> {
        let url = self.url(&["v3", "pay", "transactions", "out-trade-no", out_trade_no, "close"], &[])?;
        let body = serde_json::to_string(&CloseBody { mchid: &self.mchid })
            .map_err(|e| WechatPayError::Signing(format!("the close body: {e}")))?;
        let answer = self.exchange(Method::POST, url, Some(body)).await?;
        if answer.is_verified_error(400, "ORDERPAID") {
            return Err(WechatPayError::OrderPaid);
        }
        answer.into_success().map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2024-01-31T16:30:00Z: already 1 February in Beijing.
    const EXPIRE_MS: i64 = 1_706_718_600_000;

    fn order(attach: Option<&str>) -> JsapiOrder<'_> {
        JsapiOrder {
            description: "电费-0100000001",
            out_trade_no: "EB1217752501",
            time_expire_ms: EXPIRE_MS + 999,
            attach,
            amount_fen: 13923,
            openid: "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
        }
    }

    #[test]
    fn time_expire_is_rfc3339_in_beijing_time_to_the_second() {
        assert_eq!(time_expire(EXPIRE_MS + 999).as_deref(), Some("2024-02-01T00:30:00+08:00"));
        assert_eq!(time_expire(i64::MAX), None);
    }

    #[test]
    fn the_order_body_has_the_documented_fields_in_order() {
        let body =
            jsapi_body("wx5a0d0c0e5b0a1e00", "1900000109", "https://e.example.com/notify/wechat/pay", &order(None))
                .expect("builds");
        assert_eq!(
            body,
            concat!(
                r#"{"appid":"wx5a0d0c0e5b0a1e00","mchid":"1900000109","description":"电费-0100000001","#,
                r#""out_trade_no":"EB1217752501","time_expire":"2024-02-01T00:30:00+08:00","#,
                r#""notify_url":"https://e.example.com/notify/wechat/pay","amount":{"total":13923,"currency":"CNY"},"#,
                r#""payer":{"openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}}"#
            )
        );
    }

    #[test]
    fn attach_is_sent_when_given() {
        let body = jsapi_body("wx1", "1900000109", "https://e.example.com/n", &order(Some("acct:0100000001")))
            .expect("builds");
        let json: serde_json::Value = serde_json::from_str(&body).expect("JSON");
        assert_eq!(json["attach"], "acct:0100000001");
    }

    #[test]
    fn an_expiry_out_of_range_is_refused_before_sending() {
        let order = JsapiOrder { time_expire_ms: i64::MAX, ..order(None) };
        assert!(matches!(jsapi_body("wx1", "1", "https://e.example.com/n", &order), Err(WechatPayError::Signing(_))));
    }
}
