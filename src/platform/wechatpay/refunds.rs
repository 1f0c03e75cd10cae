//! Refunds (PROTOCOLS.md, "Other calls"): `POST /v3/refund/domestic/refunds` asks for one, keyed by our
//! `out_refund_no` (the same number asks again, it does not refund twice); its answer means accepted, the refund
//! notification (or a query) says done.

use super::client::WechatPayClient;
use super::error::WechatPayError;
use super::resource::RefundStatus;
use reqwest::Method;
use serde::{Deserialize, Serialize};

/// A refund as we ask for it. Amounts in fen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefundRequest<'a> {
    pub out_trade_no: &'a str,
    /// Our idempotency key for the refund (≤ 64 characters).
    pub out_refund_no: &'a str,
    /// Shown to the payer (≤ 80 characters); not sent when empty.
    pub reason: &'a str,
    pub refund_fen: i64,
    /// The original order's amount.
    pub total_fen: i64,
}

/// The platform's answer about a refund.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundAnswer {
    /// WeChat Pay's refund id.
    pub refund_id: String,
    pub out_refund_no: String,
    /// `PROCESSING` right after the request; `SUCCESS`, `CLOSED` or `ABNORMAL` once done.
    pub status: RefundStatus,
    pub refund_fen: i64,
}

#[derive(Serialize)]
struct RefundBody<'a> {
    out_trade_no: &'a str,
    out_refund_no: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    reason: &'a str,
    notify_url: &'a str,
    amount: RefundBodyAmount,
}

#[derive(Serialize)]
struct RefundBodyAmount {
    refund: i64,
    total: i64,
    currency: &'static str,
}

/// The fields of a refund answer we use (the API answers `status`; the notification's resource `refund_status`).
#[derive(Deserialize)]
struct RefundReply {
    refund_id: String,
    out_refund_no: String,
    status: RefundStatus,
    amount: RefundReplyAmount,
}

#[derive(Deserialize)]
struct RefundReplyAmount {
    refund: i64,
}

/// The JSON body of `POST /v3/refund/domestic/refunds`, exactly as signed and sent.
fn refund_body(notify_url: &str, refund: &RefundRequest<'_>) -> Result<String, WechatPayError> {
    let body = RefundBody {
        out_trade_no: refund.out_trade_no,
        out_refund_no: refund.out_refund_no,
        reason: refund.reason,
        notify_url,
        amount: RefundBodyAmount { refund: refund.refund_fen, total: refund.total_fen, currency: "CNY" },
    };
    serde_json::to_string(&body).map_err(|e| WechatPayError::Signing(format!("the refund body: {e}")))
}

/// Reads a refund answer, which must be about `out_refund_no`.
fn read_refund(body: &[u8], out_refund_no: &str) -> Result<RefundAnswer, WechatPayError> {
    let reply: RefundReply = serde_json::from_slice(body).map_err(|e| {
        WechatPayError::BadResponse(format!("the refund answer is not a refund (column {})", e.column()))
    })?;
    if reply.out_refund_no != out_refund_no || reply.refund_id.is_empty() {
        return Err(WechatPayError::BadResponse("the refund answer is about another refund".into()));
    }
    Ok(RefundAnswer {
        refund_id: reply.refund_id,
        out_refund_no: reply.out_refund_no,
        status: reply.status,
        refund_fen: reply.amount.refund,
    })
}

impl WechatPayClient {
    /// `POST /v3/refund/domestic/refunds`, with the refund notifications sent to our refund notify URL.
    pub async fn refund(&self, refund: &RefundRequest<'_>) -> Result<RefundAnswer, WechatPayError> {
        let body = refund_body(&self.refund_notify_url, refund)?;
        let url = self.url(&["v3", "refund", "domestic", "refunds"], &[])?;
        let answer = self.exchange(Method::POST, url, Some(body)).await?.into_success()?;
        read_refund(&answer, refund.out_refund_no)
    }

    /// `GET /v3/refund/domestic/refunds/{out_refund_no}`; `None` when the platform (in a signed answer) says
    /// `RESOURCE_NOT_EXISTS`.
    pub async fn query_refund(&self, out_refund_no: &str) -> Result<Option<RefundAnswer>, WechatPayError> {
        let url = self.url(&["v3", "refund", "domestic", "refunds", out_refund_no], &[])?;
        let answer = self.exchange(Method::GET, url, None).await?;
        if answer.is_verified_error(404, "RESOURCE_NOT_EXISTS") {
            return Ok(None);
        }
        read_refund(&answer.into_success()?, out_refund_no).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(reason: &str) -> RefundRequest<'_> {
        RefundRequest { out_trade_no: "EB1001", out_refund_no: "RF1001", reason, refund_fen: 500, total_fen: 13923 }
    }

    #[test]
    fn the_refund_body_has_the_documented_fields() {
        assert_eq!(
            refund_body("https://e.example.com/notify/wechat/refund", &request("账单重复缴纳")).expect("builds"),
            concat!(
                r#"{"out_trade_no":"EB1001","out_refund_no":"RF1001","reason":"账单重复缴纳","#,
                r#""notify_url":"https://e.example.com/notify/wechat/refund","#,
                r#""amount":{"refund":500,"total":13923,"currency":"CNY"}}"#
            )
        );
    }

    #[test]
    fn an_empty_reason_is_not_sent() {
        let body = refund_body("https://e.example.com/n", &request("")).expect("builds");
        assert!(!body.contains("reason"), "{body}");
    }

    /// WeChat Pay's documented refund answer.
    const DOCUMENTED_ANSWER: &str = r#"{"refund_id":"50000000382019052709732678859","out_refund_no":"1217752501201407033233368018","transaction_id":"1217752501201407033233368018","out_trade_no":"1217752501201407033233368018","channel":"ORIGINAL","user_received_account":"招商银行信用卡0403","success_time":"2020-12-01T16:18:12+08:00","create_time":"2020-12-01T16:18:12+08:00","status":"SUCCESS","funds_account":"UNSETTLED","amount":{"total":100,"refund":100,"from":[],"payer_total":90,"payer_refund":90,"settlement_refund":100,"settlement_total":100,"discount_refund":10,"currency":"CNY"},"promotion_detail":[]}"#;

    #[test]
    fn reads_the_documented_refund_answer() {
        assert_eq!(
            read_refund(DOCUMENTED_ANSWER.as_bytes(), "1217752501201407033233368018"),
            Ok(RefundAnswer {
                refund_id: "50000000382019052709732678859".into(),
                out_refund_no: "1217752501201407033233368018".into(),
                status: RefundStatus::Success,
                refund_fen: 100,
            })
        );
    }

    #[test]
    fn an_answer_about_another_refund_is_refused() {
        assert!(matches!(read_refund(DOCUMENTED_ANSWER.as_bytes(), "RF1001"), Err(WechatPayError::BadResponse(_))));
        assert!(matches!(read_refund(b"{}", "RF1001"), Err(WechatPayError::BadResponse(_))));
    }
}
