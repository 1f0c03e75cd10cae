//! JSAPI_PAY trades through the gateway: `alipay.trade.create` (the `trade_no` the mini-program pays with
//! `my.tradePay`), `alipay.trade.query`, `alipay.trade.close`, `alipay.trade.refund` and
//! `alipay.trade.fastpay.refund.query`. What goes on the wire and how answers are read is in `trade_wire`; here are
//! the types callers use and the retry rules.
//!
//! Each call is retried once after a transient failure: create is idempotent on `out_trade_no` (same content, same
//! `trade_no`), close on the trade, refund on `out_request_no`, the queries read only.

use super::trade_wire::{
    check_out_trade_no, create_biz_content, read_close, read_created, read_query, read_refund, read_refund_query,
    refund_biz_content, refund_query_biz_content,
};
use super::{AlipayClient, AlipayError};
use serde_json::json;
use std::fmt;
use std::str::FromStr;

pub const TRADE_CREATE_METHOD: &str = "alipay.trade.create";
pub const TRADE_QUERY_METHOD: &str = "alipay.trade.query";
pub const TRADE_CLOSE_METHOD: &str = "alipay.trade.close";
pub const TRADE_REFUND_METHOD: &str = "alipay.trade.refund";
pub const TRADE_REFUND_QUERY_METHOD: &str = "alipay.trade.fastpay.refund.query";

/// The trade has never been created (or, for a QR trade, never scanned).
pub(super) const TRADE_NOT_EXIST: &str = "ACQ.TRADE_NOT_EXIST";
/// The trade is not in a state that allows the call (close of a paid trade, refund of an unpaid one).
pub(super) const TRADE_STATUS_ERROR: &str = "ACQ.TRADE_STATUS_ERROR";

/// Who pays: `buyer_id` (the `2088…` user id) or, for apps created after 2023 that only get OpenIDs, `buyer_open_id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlipayBuyer<'a> {
    UserId(&'a str),
    OpenId(&'a str),
}

/// A trade to open for the mini-program to pay.
#[derive(Debug, Clone)]
pub struct TradeCreate<'a> {
    /// Our order number: at most 64 of `[A-Za-z0-9_]`.
    pub out_trade_no: &'a str,
    /// 1 fen to 100,000,000.00 yuan.
    pub amount_fen: i64,
    /// What the buyer sees; no `/`, `=` or `&`, at most 256 characters.
    pub subject: &'a str,
    pub buyer: AlipayBuyer<'a>,
    /// When the trade stops being payable; sent as Beijing time.
    pub time_expire_ms: i64,
}

/// A trade's state as Alipay reports it. Only [`TradeStatus::TradeSuccess`] and [`TradeStatus::TradeFinished`]
/// mean the money arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TradeStatus {
    /// Created, not paid yet.
    WaitBuyerPay,
    /// Closed unpaid (timed out or closed), or paid and then refunded in full.
    TradeClosed,
    /// Paid; refunds are still possible.
    TradeSuccess,
    /// Paid and final: no refund possible any more.
    TradeFinished,
}

impl TradeStatus {
    pub const ALL: [TradeStatus; 4] =
        [TradeStatus::WaitBuyerPay, TradeStatus::TradeClosed, TradeStatus::TradeSuccess, TradeStatus::TradeFinished];

    /// The wire string (`WAIT_BUYER_PAY`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            TradeStatus::WaitBuyerPay => "WAIT_BUYER_PAY",
            TradeStatus::TradeClosed => "TRADE_CLOSED",
            TradeStatus::TradeSuccess => "TRADE_SUCCESS",
            TradeStatus::TradeFinished => "TRADE_FINISHED",
        }
    }

    /// True when the buyer has paid.
    pub fn is_paid(self) -> bool {
        matches!(self, TradeStatus::TradeSuccess | TradeStatus::TradeFinished)
    }
}

impl fmt::Display for TradeStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A `trade_status` that is none of the four Alipay documents.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown Alipay trade status `{0}`")]
pub struct UnknownTradeStatus(pub String);

impl FromStr for TradeStatus {
    type Err = UnknownTradeStatus;

    /// Exact, case-sensitive wire strings.
    fn from_str(text: &str) -> Result<TradeStatus, UnknownTradeStatus> {
        TradeStatus::ALL.into_iter().find(|status| status.as_str() == text).ok_or_else(|| {
            // Bounded: the text comes from outside and may end up in a log.
            UnknownTradeStatus(text.chars().take(32).collect())
        })
    }
}

/// What `alipay.trade.query` says of a trade.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TradeQueryAnswer {
    pub trade_no: String,
    pub out_trade_no: String,
    pub trade_status: TradeStatus,
    pub total_amount_fen: i64,
    /// When the buyer paid (`send_pay_date`, read as Beijing time); `None` until then.
    pub send_pay_date_ms: Option<i64>,
    pub buyer_user_id: Option<String>,
    pub buyer_open_id: Option<String>,
}

/// How `alipay.trade.close` ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseOutcome {
    /// The trade is closed (now or before, unpaid): it can no longer be paid.
    Closed,
    /// `ACQ.TRADE_NOT_EXIST`: never created (or never scanned): nothing can be paid.
    NotExist,
    /// `ACQ.TRADE_STATUS_ERROR` on a trade the buyer paid (including one refunded in full since): settle, do not
    /// reopen.
    AlreadyPaid,
}

/// A refund of (part of) a paid trade.
#[derive(Debug, Clone)]
pub struct TradeRefund<'a> {
    pub out_trade_no: &'a str,
    /// This refund's amount: 1 fen to what is left of the trade.
    pub refund_fen: i64,
    /// The refund's idempotency key, unique per trade: at most 64 of `[A-Za-z0-9_-]`.
    pub out_request_no: &'a str,
    /// Shown to the buyer; may be empty.
    pub reason: &'a str,
}

/// What `alipay.trade.refund` answered. Only `fund_change` true proves the refund was done; false is a repeat of an
/// `out_request_no` already refunded (including by the first attempt of a call that was retried) or a refund whose
/// end Alipay has not confirmed: Alipay asks to confirm it with `alipay.trade.fastpay.refund.query`
/// ([`AlipayClient::trade_refund_query`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundAnswer {
    pub trade_no: String,
    /// `fund_change`: true when this call moved money.
    pub fund_change: bool,
    /// Alipay's `refund_fee`: the total refunded on the trade so far, this refund included (not this refund alone).
    pub refund_fen: i64,
}

/// What `alipay.trade.fastpay.refund.query` says of the refund `out_request_no` of a trade.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundQueryAnswer {
    /// Absent when Alipay answers nothing about the refund.
    pub trade_no: Option<String>,
    /// `refund_status` is `REFUND_SUCCESS`: the refund was done. Anything else (Alipay leaves it out) means Alipay
    /// did not receive the refund or it did not succeed: it may be sent again, with the same `out_request_no` and
    /// amount.
    pub succeeded: bool,
    /// `refund_amount`: this refund's amount, when Alipay gives it.
    pub refund_fen: Option<i64>,
}

impl AlipayClient {
    /// `alipay.trade.create` with `product_code` JSAPI_PAY and `notify_url` (a common parameter) set to the
    /// credentials' notify URL; returns the `trade_no` for `my.tradePay`. A repeat with the same content answers the
    /// same `trade_no`; other content for the same `out_trade_no` is refused (`ACQ.CONTEXT_INCONSISTENT`), as is a
    /// trade already paid (`ACQ.TRADE_HAS_SUCCESS`) or closed (`ACQ.TRADE_HAS_CLOSE`).
    pub async fn trade_create(&self, order: &TradeCreate<'_>) -> Result<String, AlipayError> {
        let biz_content = create_biz_content(order, &self.app_id)?;
        if self.notify_url.is_empty() {
            return Err(AlipayError::InvalidRequest("no notify_url is configured".into()));
        }
        let extra = [("notify_url", self.notify_url.as_str())];
        let node = self.call_retrying_once(TRADE_CREATE_METHOD, Some(biz_content), &extra, |_| false).await?;
        read_created(&node, order.out_trade_no)
    }

    /// `alipay.trade.query` by `out_trade_no`; `Ok(None)` when Alipay knows no such trade (`ACQ.TRADE_NOT_EXIST`).
    pub async fn trade_query(&self, out_trade_no: &str) -> Result<Option<TradeQueryAnswer>, AlipayError> {
        check_out_trade_no(out_trade_no)?;
        let biz_content = json!({ "out_trade_no": out_trade_no });
        match self.call_retrying_once(TRADE_QUERY_METHOD, Some(biz_content), &[], |_| false).await {
            Ok(node) => read_query(&node, out_trade_no).map(Some),
            Err(error) if error.has_sub_code(TRADE_NOT_EXIST) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// `alipay.trade.close` by `out_trade_no`. `ACQ.TRADE_STATUS_ERROR` does not say why the trade cannot be
    /// closed (paid, or already closed, e.g. by the first attempt of a retried call), so the trade is then queried:
    /// paid → [`CloseOutcome::AlreadyPaid`], closed unpaid → [`CloseOutcome::Closed`].
    pub async fn trade_close(&self, out_trade_no: &str) -> Result<CloseOutcome, AlipayError> {
        check_out_trade_no(out_trade_no)?;
        let biz_content = json!({ "out_trade_no": out_trade_no });
        let error = match self.call_retrying_once(TRADE_CLOSE_METHOD, Some(biz_content), &[], |_| false).await {
            Ok(node) => return read_close(&node, out_trade_no).map(|()| CloseOutcome::Closed),
            Err(error) if error.has_sub_code(TRADE_NOT_EXIST) => return Ok(CloseOutcome::NotExist),
            Err(error) if error.has_sub_code(TRADE_STATUS_ERROR) => error,
            Err(error) => return Err(error),
        };
        match self.trade_query(out_trade_no).await? {
            None => Ok(CloseOutcome::NotExist),
            Some(trade) if trade.trade_status.is_paid() || trade.send_pay_date_ms.is_some() => {
                Ok(CloseOutcome::AlreadyPaid)
            }
            Some(trade) if trade.trade_status == TradeStatus::TradeClosed => Ok(CloseOutcome::Closed),
            // Still waiting for the buyer, yet not closable: Alipay's refusal is the answer.
            Some(_) => Err(error),
        }
    }

    /// `alipay.trade.refund` by `out_trade_no`. `out_request_no` is the idempotency key: a repeat answers
    /// `fund_change` false and refunds nothing more. The refund stands once this returns `Ok`.
    pub async fn trade_refund(&self, refund: &TradeRefund<'_>) -> Result<RefundAnswer, AlipayError> {
        let biz_content = refund_biz_content(refund)?;
        let node = self.call_retrying_once(TRADE_REFUND_METHOD, Some(biz_content), &[], |_| false).await?;
        read_refund(&node, refund.out_trade_no)
    }

    /// `alipay.trade.fastpay.refund.query` of the refund `out_request_no` of the trade `out_trade_no`: whether
    /// `alipay.trade.refund` did it. Alipay's `10000` only says the query worked; the refund succeeded when
    /// `refund_status` is `REFUND_SUCCESS`.
    pub async fn trade_refund_query(
        &self,
        out_trade_no: &str,
        out_request_no: &str,
    ) -> Result<RefundQueryAnswer, AlipayError> {
        let biz_content = refund_query_biz_content(out_trade_no, out_request_no)?;
        let node = self.call_retrying_once(TRADE_REFUND_QUERY_METHOD, Some(biz_content), &[], |_| false).await?;
        read_refund_query(&node, out_trade_no, out_request_no)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_parse_from_their_wire_strings() {
        assert_eq!("WAIT_BUYER_PAY".parse(), Ok(TradeStatus::WaitBuyerPay));
        assert_eq!("TRADE_CLOSED".parse(), Ok(TradeStatus::TradeClosed));
        assert_eq!("TRADE_SUCCESS".parse(), Ok(TradeStatus::TradeSuccess));
        assert_eq!("TRADE_FINISHED".parse(), Ok(TradeStatus::TradeFinished));
        for status in TradeStatus::ALL {
            assert_eq!(status.as_str().parse(), Ok(status));
            assert_eq!(status.to_string(), status.as_str());
        }
    }

    #[test]
    fn unknown_or_differently_written_statuses_are_errors() {
        for text in ["", "trade_success", "TRADE_SUCCESS ", "SUCCESS", "TRADE_PENDING"] {
            assert_eq!(text.parse::<TradeStatus>(), Err(UnknownTradeStatus(text.to_owned())), "{text:?}");
        }
        let long = "X".repeat(1000);
        assert_eq!(long.parse::<TradeStatus>().unwrap_err().0.len(), 32);
    }

    #[test]
    fn only_success_and_finished_are_paid() {
        assert!(TradeStatus::TradeSuccess.is_paid());
        assert!(TradeStatus::TradeFinished.is_paid());
        assert!(!TradeStatus::WaitBuyerPay.is_paid());
        assert!(!TradeStatus::TradeClosed.is_paid());
    }
}
