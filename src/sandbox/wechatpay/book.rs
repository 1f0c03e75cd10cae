//! What the simulated WeChat Pay remembers, and the rules of its state: orders placed (open, closed, paid, partly
//! or wholly refunded) and refunds, each in a bounded map that forgets the oldest entries first. Pure: the handlers
//! pass the clock in and turn the outcomes into answers.

use super::{random_digits, random_hex};
use crate::domain::calendar::beijing_datetime;
use crate::platform::wechatpay::{RefundStatus, TradeState};
use crate::sandbox::bounded::Bounded;
use chrono::SecondsFormat;

/// An order as the merchant placed it; placing the same `out_trade_no` again must repeat all of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct PlacedOrder {
    pub appid: String,
    pub mchid: String,
    pub description: String,
    pub out_trade_no: String,
    /// As sent, and as epoch milliseconds.
    pub time_expire: Option<(String, i64)>,
    pub attach: Option<String>,
    pub notify_url: String,
    pub total: i64,
    pub openid: String,
}

/// A payment made on an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Payment {
    pub transaction_id: String,
    pub success_time: String,
    /// What the payer paid: the transaction's `total` and `payer_total`.
    pub paid_fen: i64,
    /// The success notification's id and time, the same on every retry.
    pub notification_id: String,
    pub notification_time: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Standing {
    Open,
    Closed,
    Paid(Payment),
}

#[derive(Debug, Clone)]
pub(super) struct OrderRecord {
    pub placed: PlacedOrder,
    pub prepay_id: String,
    pub standing: Standing,
    /// Refunds accepted so far, in fen.
    pub refunded_fen: i64,
}

impl OrderRecord {
    /// The order's `trade_state` at `now_ms`: an unpaid order past its `time_expire` is closed.
    pub fn trade_state(&self, now_ms: i64) -> TradeState {
        match &self.standing {
            Standing::Paid(_) if self.refunded_fen > 0 => TradeState::Refund,
            Standing::Paid(_) => TradeState::Success,
            Standing::Closed => TradeState::Closed,
            Standing::Open if self.is_expired(now_ms) => TradeState::Closed,
            Standing::Open => TradeState::NotPay,
        }
    }

    pub fn is_expired(&self, now_ms: i64) -> bool {
        self.placed.time_expire.as_ref().is_some_and(|(_, expire_ms)| now_ms >= *expire_ms)
    }

    pub fn payment(&self) -> Option<&Payment> {
        match &self.standing {
            Standing::Paid(payment) => Some(payment),
            _ => None,
        }
    }
}

/// A refund as asked; asking again with the same `out_refund_no` must repeat it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct AskedRefund {
    pub out_trade_no: String,
    pub out_refund_no: String,
    pub refund_fen: i64,
    pub total_fen: i64,
    pub notify_url: Option<String>,
}

#[derive(Debug, Clone)]
pub(super) struct RefundRecord {
    pub asked: AskedRefund,
    pub refund_id: String,
    pub transaction_id: String,
    pub status: RefundStatus,
    pub create_time: String,
    pub success_time: Option<String>,
}

/// Why a state change was refused, for the handlers to answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Refusal {
    UnknownOrder,
    /// A new order whose `time_expire` has passed already.
    ExpiryPassed,
    OtherContent,
    Paid,
    Closed,
    Expired,
    NotPaid,
    TotalMismatch,
    OverRefund,
}

/// The simulated platform's memory.
#[derive(Default)]
pub(super) struct Book {
    pub orders: Bounded<OrderRecord>,
    pub refunds: Bounded<RefundRecord>,
}

impl Book {
    /// Places an order, or answers the prepay id of the same order placed before.
    pub fn place(&mut self, placed: PlacedOrder, now_ms: i64) -> Result<String, Refusal> {
        if let Some(existing) = self.orders.get(&placed.out_trade_no) {
            if existing.placed != placed {
                return Err(Refusal::OtherContent);
            }
            return match existing.trade_state(now_ms) {
                TradeState::NotPay => Ok(existing.prepay_id.clone()),
                TradeState::Closed => Err(Refusal::Closed),
                _ => Err(Refusal::Paid),
            };
        }
        if placed.time_expire.as_ref().is_some_and(|(_, expire_ms)| *expire_ms <= now_ms) {
            return Err(Refusal::ExpiryPassed);
        }
        let prepay_id = prepay_id(now_ms);
        let record = OrderRecord { placed, prepay_id: prepay_id.clone(), standing: Standing::Open, refunded_fen: 0 };
        self.orders.insert_new(record.placed.out_trade_no.clone(), record);
        Ok(prepay_id)
    }

    /// Closes an unpaid order; closing a closed order again is fine.
    pub fn close(&mut self, out_trade_no: &str) -> Result<(), Refusal> {
        let order = self.orders.get_mut(out_trade_no).ok_or(Refusal::UnknownOrder)?;
        match order.standing {
            Standing::Paid(_) => Err(Refusal::Paid),
            Standing::Open | Standing::Closed => {
                order.standing = Standing::Closed;
                Ok(())
            }
        }
    }

    /// The out_trade_no of the order a prepay id was handed out for.
    pub fn order_of_prepay_id(&self, prepay_id: &str) -> Option<String> {
        self.orders.values().find(|order| order.prepay_id == prepay_id).map(|order| order.placed.out_trade_no.clone())
    }

    /// The payer pays `paid_fen` (default the order's total) now.
    pub fn pay(&mut self, out_trade_no: &str, paid_fen: Option<i64>, now_ms: i64) -> Result<OrderRecord, Refusal> {
        let order = self.orders.get_mut(out_trade_no).ok_or(Refusal::UnknownOrder)?;
        match order.standing {
            Standing::Paid(_) => return Err(Refusal::Paid),
            Standing::Closed => return Err(Refusal::Closed),
            Standing::Open if order.is_expired(now_ms) => return Err(Refusal::Expired),
            Standing::Open => {}
        }
        let success_time = rfc3339(now_ms);
        order.standing = Standing::Paid(Payment {
            transaction_id: transaction_id(now_ms),
            success_time: success_time.clone(),
            paid_fen: paid_fen.unwrap_or(order.placed.total),
            notification_id: notification_id(),
            notification_time: success_time,
        });
        Ok(order.clone())
    }

    /// Accepts a refund (`PROCESSING`; `true`: it is new), or answers the same refund asked before (`false`).
    pub fn refund(&mut self, asked: AskedRefund, now_ms: i64) -> Result<(RefundRecord, bool), Refusal> {
        if let Some(existing) = self.refunds.get(&asked.out_refund_no) {
            return if existing.asked == asked { Ok((existing.clone(), false)) } else { Err(Refusal::OtherContent) };
        }
        let order = self.orders.get_mut(&asked.out_trade_no).ok_or(Refusal::UnknownOrder)?;
        let payment = match &order.standing {
            Standing::Paid(payment) => payment,
            _ => return Err(Refusal::NotPaid),
        };
        if asked.total_fen != payment.paid_fen {
            return Err(Refusal::TotalMismatch);
        }
        let refundable = payment.paid_fen.saturating_sub(order.refunded_fen);
        if asked.refund_fen <= 0 || asked.refund_fen > refundable {
            return Err(Refusal::OverRefund);
        }
        let record = RefundRecord {
            asked: asked.clone(),
            refund_id: format!("50{}", random_digits(27)),
            transaction_id: payment.transaction_id.clone(),
            status: RefundStatus::Processing,
            create_time: rfc3339(now_ms),
            success_time: None,
        };
        // Within what was paid, so no overflow.
        order.refunded_fen += asked.refund_fen;
        self.refunds.insert_new(asked.out_refund_no, record.clone());
        Ok((record, true))
    }

    /// The refund went through: `SUCCESS` from now on. `None` when forgotten meanwhile, or not processing.
    pub fn complete_refund(&mut self, out_refund_no: &str, now_ms: i64) -> Option<RefundRecord> {
        let refund = self.refunds.get_mut(out_refund_no)?;
        if refund.status != RefundStatus::Processing {
            return None;
        }
        refund.status = RefundStatus::Success;
        refund.success_time = Some(rfc3339(now_ms));
        Some(refund.clone())
    }
}

/// An instant as WeChat Pay writes it: RFC 3339 in UTC+8, to the second.
pub(super) fn rfc3339(epoch_ms: i64) -> String {
    beijing_datetime(epoch_ms).map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, false)).unwrap_or_default()
}

/// `wx`, the Beijing date and time to the second, and 20 hex digits, like WeChat Pay's 36-character prepay ids.
fn prepay_id(now_ms: i64) -> String {
    let stamp = beijing_datetime(now_ms).map(|t| t.format("%Y%m%d%H%M%S").to_string()).unwrap_or_default();
    format!("wx{stamp}{}", random_hex(20))
}

/// 28 digits like WeChat Pay's: `4200`, 6 digits, the Beijing date, 10 digits.
fn transaction_id(now_ms: i64) -> String {
    let date = beijing_datetime(now_ms).map(|t| t.format("%Y%m%d").to_string()).unwrap_or_else(|| "00000000".into());
    format!("4200{}{date}{}", random_digits(6), random_digits(10))
}

/// A notification id shaped like WeChat Pay's UUIDs.
pub(super) fn notification_id() -> String {
    let hex = random_hex(32);
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2024-01-31T16:00:00Z: 2024-02-01 00:00:00 in Beijing.
    const NOW_MS: i64 = 1_706_716_800_000;

    fn placed(no: &str) -> PlacedOrder {
        PlacedOrder {
            appid: "wx5a0d0c0e5b0a1e00".into(),
            mchid: "1900000109".into(),
            description: "电费".into(),
            out_trade_no: no.into(),
            time_expire: Some(("2024-02-01T00:30:00+08:00".into(), NOW_MS + 1_800_000)),
            attach: None,
            notify_url: "http://127.0.0.1/notify/wechat/pay".into(),
            total: 13923,
            openid: "o1".into(),
        }
    }

    fn asked(no: &str, refund_fen: i64) -> AskedRefund {
        AskedRefund {
            out_trade_no: "EB1".into(),
            out_refund_no: no.into(),
            refund_fen,
            total_fen: 13923,
            notify_url: None,
        }
    }

    #[test]
    fn the_same_order_gets_the_same_prepay_id_and_other_content_is_refused() {
        let mut book = Book::default();
        let prepay_id = book.place(placed("EB1"), NOW_MS).expect("placed");
        assert!(prepay_id.starts_with("wx20240201000000") && prepay_id.len() == 36, "{prepay_id}");
        assert_eq!(book.place(placed("EB1"), NOW_MS + 1000), Ok(prepay_id.clone()));
        assert_eq!(book.place(PlacedOrder { total: 1, ..placed("EB1") }, NOW_MS), Err(Refusal::OtherContent));
        assert_eq!(book.order_of_prepay_id(&prepay_id).as_deref(), Some("EB1"));
    }

    #[test]
    fn an_unpaid_order_closes_when_told_or_when_it_expires() {
        let mut book = Book::default();
        book.place(placed("EB1"), NOW_MS).expect("placed");
        book.place(placed("EB2"), NOW_MS).expect("placed");
        assert_eq!(book.orders.get("EB1").map(|o| o.trade_state(NOW_MS + 1_799_999)), Some(TradeState::NotPay));
        assert_eq!(book.orders.get("EB1").map(|o| o.trade_state(NOW_MS + 1_800_000)), Some(TradeState::Closed));
        assert_eq!(book.pay("EB1", None, NOW_MS + 1_800_000).map(|_| ()), Err(Refusal::Expired));
        assert_eq!(book.close("EB2"), Ok(()));
        assert_eq!(book.close("EB2"), Ok(()));
        assert_eq!(book.pay("EB2", None, NOW_MS).map(|_| ()), Err(Refusal::Closed));
        assert_eq!(book.place(placed("EB2"), NOW_MS), Err(Refusal::Closed));
        assert_eq!(book.close("EB3"), Err(Refusal::UnknownOrder));
        assert_eq!(book.place(placed("EB3"), NOW_MS + 1_800_000), Err(Refusal::ExpiryPassed));
    }

    #[test]
    fn a_paid_order_cannot_be_paid_again_or_closed() {
        let mut book = Book::default();
        book.place(placed("EB1"), NOW_MS).expect("placed");
        let paid = book.pay("EB1", None, NOW_MS).expect("paid");
        let payment = paid.payment().expect("a payment");
        assert_eq!(payment.paid_fen, 13923);
        assert_eq!(payment.success_time, "2024-02-01T00:00:00+08:00");
        assert!(payment.transaction_id.starts_with("4200") && payment.transaction_id.len() == 28);
        assert!(payment.transaction_id[10..18] == *"20240201");
        assert_eq!(paid.trade_state(NOW_MS), TradeState::Success);
        assert_eq!(book.pay("EB1", None, NOW_MS).map(|_| ()), Err(Refusal::Paid));
        assert_eq!(book.close("EB1"), Err(Refusal::Paid));
        assert_eq!(book.place(placed("EB1"), NOW_MS), Err(Refusal::Paid));
    }

    #[test]
    fn refunds_stay_within_what_was_paid_and_repeat_by_number() {
        let mut book = Book::default();
        book.place(placed("EB1"), NOW_MS).expect("placed");
        assert_eq!(book.refund(asked("RF1", 100), NOW_MS).map(|_| ()), Err(Refusal::NotPaid));
        book.pay("EB1", None, NOW_MS).expect("paid");
        let (first, new) = book.refund(asked("RF1", 10_000), NOW_MS).expect("accepted");
        assert_eq!((first.status, new), (RefundStatus::Processing, true));
        assert_eq!(
            book.refund(asked("RF1", 10_000), NOW_MS).map(|(r, new)| (r.refund_id, new)),
            Ok((first.refund_id, false))
        );
        assert_eq!(book.refund(asked("RF1", 5), NOW_MS).map(|_| ()), Err(Refusal::OtherContent));
        assert_eq!(book.refund(asked("RF2", 3924), NOW_MS).map(|_| ()), Err(Refusal::OverRefund));
        assert_eq!(book.refund(asked("RF2", 0), NOW_MS).map(|_| ()), Err(Refusal::OverRefund));
        let mismatch = AskedRefund { total_fen: 1, ..asked("RF3", 1) };
        assert_eq!(book.refund(mismatch, NOW_MS).map(|_| ()), Err(Refusal::TotalMismatch));
        assert!(book.refund(asked("RF2", 3923), NOW_MS).is_ok());
        assert_eq!(book.orders.get("EB1").map(|o| o.trade_state(NOW_MS)), Some(TradeState::Refund));
    }

    #[test]
    fn a_refund_completes_once() {
        let mut book = Book::default();
        book.place(placed("EB1"), NOW_MS).expect("placed");
        book.pay("EB1", None, NOW_MS).expect("paid");
        book.refund(asked("RF1", 100), NOW_MS).expect("accepted");
        let done = book.complete_refund("RF1", NOW_MS + 1000).expect("completes");
        assert_eq!(
            (done.status, done.success_time.as_deref()),
            (RefundStatus::Success, Some("2024-02-01T00:00:01+08:00"))
        );
        assert!(book.complete_refund("RF1", NOW_MS + 2000).is_none());
        assert!(book.complete_refund("RF9", NOW_MS).is_none());
    }
}
