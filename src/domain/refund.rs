//! Refunds: the two kinds (the surplus of a payment, refunded automatically; a refund staff ask for), the plan that
//! decides where a staff refund takes its money back from, and the event the marketing system receives when a staff
//! refund has gone through.
//!
//! A payment's money sits in two places: its surplus (paid for bills already settled, kept as a credit or refunded)
//! and the bills it paid. A refund takes from the surplus first (money no bill is counting on), then from the bills,
//! latest period first, and within a bill the late fee before the principal: a partial refund is most often a
//! waived late fee, and the oldest bills are the last to be reopened.

use crate::domain::money::Fen;
use crate::domain::order::PaidBill;
use serde::{Deserialize, Serialize};

/// Why a refund exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefundKind {
    /// Money paid for bills already settled, refunded by the settlement (`[payments] duplicate_payments = "refund"`).
    Surplus,
    /// Asked by a member of staff, with a reason.
    Staff,
}

impl RefundKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RefundKind::Surplus => "surplus",
            RefundKind::Staff => "staff",
        }
    }

    pub fn parse(text: &str) -> Option<RefundKind> {
        match text {
            "surplus" => Some(RefundKind::Surplus),
            "staff" => Some(RefundKind::Staff),
            _ => None,
        }
    }
}

/// What a payment paid on one bill and has not been taken back yet (by refunds that have not failed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaidOnBill {
    pub bill_id: i64,
    /// `YYYY-MM`: the latest period is taken back first.
    pub period: String,
    pub principal: Fen,
    pub late_fee: Fen,
}

/// A payment as a refund sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundBasis {
    /// What the payer paid.
    pub paid: Fen,
    /// The sum of the payment's refunds that have not failed (pending, processing, succeeded), of either kind.
    pub reserved: Fen,
    /// The payment's surplus not taken by such refunds yet.
    pub surplus_left: Fen,
    /// What it paid on each bill, less what such refunds take back.
    pub bills: Vec<PaidOnBill>,
}

impl RefundBasis {
    /// What can still be refunded: the payment less its refunds that have not failed.
    pub fn refundable(&self) -> Fen {
        self.paid.checked_sub(self.reserved).filter(|left| !left.is_negative()).unwrap_or(Fen::ZERO)
    }
}

/// What a refund takes back from one bill.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BillTakeBack {
    pub bill_id: i64,
    pub period: String,
    pub principal: Fen,
    pub late_fee: Fen,
}

impl BillTakeBack {
    /// As the write-back's event lists it (ids as strings).
    pub fn as_paid_bill(&self) -> PaidBill {
        PaidBill {
            bill_id: self.bill_id.to_string(),
            period: self.period.clone(),
            principal_fen: self.principal.value(),
            late_fee_fen: self.late_fee.value(),
        }
    }
}

/// Where a refund's money comes from: `from_surplus` plus the bills' parts make `amount`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundPlan {
    pub amount: Fen,
    pub from_surplus: Fen,
    /// Latest period first; only bills that give something.
    pub bills: Vec<BillTakeBack>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PlanRefusal {
    #[error("a refund is at least 1 fen")]
    NotPositive,
    #[error("at most {refundable} yuan can still be refunded")]
    ExceedsRefundable { refundable: Fen },
    /// The payment's surplus and bills hold less than its refundable amount: its record is incomplete (a payment
    /// settled before what it paid on each bill was kept).
    #[error("the payment's record does not say where {missing} yuan of it went")]
    Unattributed { missing: Fen },
}

/// Decides where `asked` comes from. Refused when it is not positive or exceeds what is refundable.
pub fn plan(basis: &RefundBasis, asked: Fen) -> Result<RefundPlan, PlanRefusal> {
    if asked.value() <= 0 {
        return Err(PlanRefusal::NotPositive);
    }
    let refundable = basis.refundable();
    if asked > refundable {
        return Err(PlanRefusal::ExceedsRefundable { refundable });
    }
    let from_surplus = asked.min(basis.surplus_left.max(Fen::ZERO));
    // Both are within `asked`, which is positive: no overflow below.
    let mut left = asked.value() - from_surplus.value();
    let mut bills: Vec<&PaidOnBill> = basis.bills.iter().collect();
    bills.sort_by(|a, b| b.period.cmp(&a.period).then(b.bill_id.cmp(&a.bill_id)));
    let mut taken = Vec::new();
    for bill in bills {
        if left == 0 {
            break;
        }
        let late_fee = left.min(bill.late_fee.value().max(0));
        left -= late_fee;
        let principal = left.min(bill.principal.value().max(0));
        left -= principal;
        if late_fee + principal > 0 {
            taken.push(BillTakeBack {
                bill_id: bill.bill_id,
                period: bill.period.clone(),
                principal: Fen::new(principal),
                late_fee: Fen::new(late_fee),
            });
        }
    }
    if left > 0 {
        return Err(PlanRefusal::Unattributed { missing: Fen::new(left) });
    }
    Ok(RefundPlan { amount: asked, from_surplus, bills: taken })
}

pub const PAYMENT_REFUNDED: &str = "payment.refunded";

/// The event id of a refund's write-back.
pub fn refund_event_id(refund_id: i64) -> String {
    format!("refund-{refund_id}")
}

/// A staff refund that went through, as the marketing system receives it (JSON, signed, at least once, booked once
/// per `event_id`): the money went back to the payer, `bills` are owed again by what they list, and `from_surplus_fen`
/// came out of the payment's surplus (its credit, if it was kept as one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundEvent {
    pub event_id: String,
    /// `payment.refunded`.
    pub event_type: String,
    pub account_no: String,
    pub order_no: String,
    /// `wechat` | `alipay`.
    pub platform: String,
    /// The refunded payment: WeChat `transaction_id`, Alipay `trade_no`.
    pub transaction_id: String,
    pub out_refund_no: String,
    /// The platform's refund id (WeChat `refund_id`; Alipay answers with the `trade_no`).
    pub platform_refund_id: Option<String>,
    pub amount_fen: i64,
    /// When we learned the refund succeeded (epoch milliseconds).
    pub refunded_at_ms: i64,
    /// What each bill owes again.
    pub bills: Vec<PaidBill>,
    pub from_surplus_fen: i64,
    pub reason: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bill(bill_id: i64, period: &str, principal: i64, late_fee: i64) -> PaidOnBill {
        PaidOnBill { bill_id, period: period.into(), principal: Fen::new(principal), late_fee: Fen::new(late_fee) }
    }

    fn take(bill_id: i64, period: &str, principal: i64, late_fee: i64) -> BillTakeBack {
        BillTakeBack { bill_id, period: period.into(), principal: Fen::new(principal), late_fee: Fen::new(late_fee) }
    }

    /// Two bills of 13923 fen, September with a 306-fen late fee, paid by one payment of 28152 fen.
    fn two_bills() -> RefundBasis {
        RefundBasis {
            paid: Fen::new(28152),
            reserved: Fen::ZERO,
            surplus_left: Fen::ZERO,
            bills: vec![bill(1, "2026-09", 13923, 306), bill(2, "2026-10", 13923, 0)],
        }
    }

    #[test]
    fn kinds_round_trip() {
        for kind in [RefundKind::Surplus, RefundKind::Staff] {
            assert_eq!(RefundKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(RefundKind::parse("STAFF"), None);
    }

    #[test]
    fn a_refund_is_at_least_one_fen() {
        assert_eq!(plan(&two_bills(), Fen::ZERO), Err(PlanRefusal::NotPositive));
        assert_eq!(plan(&two_bills(), Fen::new(-5)), Err(PlanRefusal::NotPositive));
        assert_eq!(plan(&two_bills(), Fen::new(1)).map(|p| p.amount), Ok(Fen::new(1)));
    }

    #[test]
    fn a_refund_is_at_most_the_payment_less_its_refunds_that_did_not_fail() {
        let refundable = Fen::new(28152);
        assert_eq!(plan(&two_bills(), Fen::new(28153)), Err(PlanRefusal::ExceedsRefundable { refundable }));
        let whole = plan(&two_bills(), refundable).expect("the whole payment");
        assert_eq!(whole.bills, vec![take(2, "2026-10", 13923, 0), take(1, "2026-09", 13923, 306)]);
        // 10000 fen already asked back (taken off October): 18152 left.
        let mut basis = two_bills();
        basis.reserved = Fen::new(10000);
        basis.bills[1].principal = Fen::new(3923);
        assert_eq!(plan(&basis, Fen::new(18153)), Err(PlanRefusal::ExceedsRefundable { refundable: Fen::new(18152) }));
        assert!(plan(&basis, Fen::new(18152)).is_ok());
        basis.reserved = Fen::new(28152);
        assert_eq!(plan(&basis, Fen::new(1)), Err(PlanRefusal::ExceedsRefundable { refundable: Fen::ZERO }));
    }

    #[test]
    fn the_latest_bill_gives_back_first() {
        let plan = plan(&two_bills(), Fen::new(15000)).expect("planned");
        assert_eq!(plan.from_surplus, Fen::ZERO);
        assert_eq!(plan.bills, vec![take(2, "2026-10", 13923, 0), take(1, "2026-09", 771, 306)]);
    }

    #[test]
    fn within_a_bill_the_late_fee_goes_back_before_the_principal() {
        let basis = RefundBasis { paid: Fen::new(14229), bills: vec![bill(1, "2026-09", 13923, 306)], ..two_bills() };
        let waived = plan(&basis, Fen::new(306)).expect("the late fee waived");
        assert_eq!(waived.bills, vec![take(1, "2026-09", 0, 306)]);
        let part = plan(&basis, Fen::new(200)).expect("part of it");
        assert_eq!(part.bills, vec![take(1, "2026-09", 0, 200)]);
        let more = plan(&basis, Fen::new(1306)).expect("more");
        assert_eq!(more.bills, vec![take(1, "2026-09", 1000, 306)]);
    }

    #[test]
    fn the_surplus_goes_back_before_any_bill() {
        // 5000 fen of surplus beside one bill of 13923.
        let basis = RefundBasis {
            paid: Fen::new(18923),
            reserved: Fen::ZERO,
            surplus_left: Fen::new(5000),
            bills: vec![bill(1, "2026-10", 13923, 0)],
        };
        let small = plan(&basis, Fen::new(3000)).expect("planned");
        assert_eq!((small.from_surplus, small.bills.len()), (Fen::new(3000), 0));
        let larger = plan(&basis, Fen::new(6000)).expect("planned");
        assert_eq!(larger.from_surplus, Fen::new(5000));
        assert_eq!(larger.bills, vec![take(1, "2026-10", 1000, 0)]);
    }

    #[test]
    fn bills_already_given_back_give_nothing_more() {
        let mut basis = two_bills();
        // October was refunded in full by an earlier refund.
        basis.reserved = Fen::new(13923);
        basis.bills[1].principal = Fen::ZERO;
        let plan = plan(&basis, Fen::new(500)).expect("planned");
        assert_eq!(plan.bills, vec![take(1, "2026-09", 194, 306)]);
    }

    #[test]
    fn a_payment_whose_bills_are_unknown_cannot_be_planned() {
        let basis = RefundBasis { bills: Vec::new(), ..two_bills() };
        assert_eq!(plan(&basis, Fen::new(100)), Err(PlanRefusal::Unattributed { missing: Fen::new(100) }));
    }

    #[test]
    fn a_bill_take_back_reads_as_the_events_bill() {
        let paid = take(7, "2026-09", 771, 306).as_paid_bill();
        assert_eq!((paid.bill_id.as_str(), paid.principal_fen, paid.late_fee_fen), ("7", 771, 306));
    }
}
