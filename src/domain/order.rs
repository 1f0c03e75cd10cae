//! Orders and what a confirmed payment does to them: the order state machine, order numbers, the fingerprint that
//! tells "the same bills at the same amounts" from a change, how a payment is split between bills still unpaid and
//! surplus, and the settlement event written back to the marketing system.

use crate::domain::money::Fen;
use crate::domain::user::Platform;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Where an order stands.
///
/// `pending` → `paid` (a verified success), `flagged` (paid, but not the amount asked), `closed` (replaced by a new
/// order, or closed because its bills were paid otherwise), `expired` (its time ran out), `failed` (the platform
/// refused to open it). A success for a `closed`, `expired` or `failed` order still settles: the money arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderState {
    Pending,
    Paid,
    Closed,
    Expired,
    Failed,
    Flagged,
}

impl OrderState {
    pub const ALL: [OrderState; 6] = [
        OrderState::Pending,
        OrderState::Paid,
        OrderState::Closed,
        OrderState::Expired,
        OrderState::Failed,
        OrderState::Flagged,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OrderState::Pending => "pending",
            OrderState::Paid => "paid",
            OrderState::Closed => "closed",
            OrderState::Expired => "expired",
            OrderState::Failed => "failed",
            OrderState::Flagged => "flagged",
        }
    }

    pub fn parse(text: &str) -> Option<OrderState> {
        OrderState::ALL.into_iter().find(|state| state.as_str() == text)
    }

    /// States a confirmed payment moves out of (into `paid` or `flagged`): every state where no payment was
    /// recorded yet.
    pub fn awaits_money(self) -> bool {
        matches!(self, OrderState::Pending | OrderState::Closed | OrderState::Expired | OrderState::Failed)
    }
}

/// The order number sent as `out_trade_no`: `EB` and the order id, 20 to 21 characters of `[A-Z0-9]`, within both
/// platforms' rules (WeChat 6–32 of `[0-9A-Za-z_-|*]`, Alipay ≤ 64 of `[A-Za-z0-9_]`).
pub fn order_no(order_id: i64) -> String {
    format!("EB{order_id}")
}

/// True for a string that could be one of our order numbers (checked before any lookup).
pub fn is_order_no(text: &str) -> bool {
    text.len() <= 32
        && text
            .strip_prefix("EB")
            .is_some_and(|digits| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
}

/// One bill as an order asks for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderLine {
    pub bill_id: i64,
    /// The bill's unpaid principal when the order was opened.
    pub principal: Fen,
    /// The late fee accrued then.
    pub late_fee: Fen,
}

impl OrderLine {
    /// What the line asks for; `None` on overflow.
    pub fn amount(&self) -> Option<Fen> {
        self.principal.checked_add(self.late_fee)
    }
}

/// The order's total; `None` on overflow.
pub fn order_amount(lines: &[OrderLine]) -> Option<Fen> {
    lines.iter().try_fold(Fen::ZERO, |sum, line| sum.checked_add(line.amount()?))
}

/// Identifies "the same payer paying the same bills at the same amounts on the same platform": an open order with
/// the same fingerprint is handed out again instead of a new one.
pub fn fingerprint(platform: Platform, payer: &str, lines: &[OrderLine]) -> String {
    let mut sorted: Vec<&OrderLine> = lines.iter().collect();
    sorted.sort_by_key(|line| line.bill_id);
    let mut hasher = Sha256::new();
    hasher.update(platform.as_str().as_bytes());
    hasher.update(b"|");
    hasher.update(payer.as_bytes());
    for line in sorted {
        hasher.update(format!("|{}:{}:{}", line.bill_id, line.principal.value(), line.late_fee.value()).as_bytes());
    }
    hex::encode(&hasher.finalize()[..16])
}

/// A bill of the order as it stands when the payment is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BillAtSettlement {
    pub line: OrderLine,
    pub total: Fen,
    pub paid: Fen,
}

/// What a payment does to one bill.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BillApplication {
    pub bill_id: i64,
    /// The bill's new amount paid (its total when settled).
    pub new_paid: Fen,
    /// Principal settled by this payment.
    pub principal: Fen,
    /// Late fee collected with it.
    pub late_fee: Fen,
}

/// How a payment of the order's exact amount splits: bills it settles, and surplus (money for bills already settled
/// meanwhile, by another order, the other platform or the marketing system).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Allocation {
    pub applied: Vec<BillApplication>,
    pub applied_total: Fen,
    pub surplus: Fen,
}

/// Applies the order's lines to the bills as they are now. A line whose bill is already fully paid is surplus in
/// full; a bill paid in part meanwhile takes only what it still lacks, the rest of the line's principal is surplus,
/// and the late fee goes with the principal it was charged on.
pub fn allocate(bills: &[BillAtSettlement]) -> Option<Allocation> {
    let mut allocation = Allocation::default();
    for bill in bills {
        let line_amount = bill.line.amount()?;
        let outstanding = bill.total.checked_sub(bill.paid)?;
        if outstanding.value() <= 0 {
            allocation.surplus = allocation.surplus.checked_add(line_amount)?;
            continue;
        }
        let principal = Fen::new(bill.line.principal.value().min(outstanding.value()));
        let surplus = bill.line.principal.checked_sub(principal)?;
        allocation.applied.push(BillApplication {
            bill_id: bill.line.bill_id,
            new_paid: bill.paid.checked_add(principal)?,
            principal,
            late_fee: bill.line.late_fee,
        });
        allocation.applied_total = allocation.applied_total.checked_add(principal)?.checked_add(bill.line.late_fee)?;
        allocation.surplus = allocation.surplus.checked_add(surplus)?;
    }
    Some(allocation)
}

/// The settlement event the marketing system receives (JSON, signed, at least once). `event_id` is also the
/// `Idempotency-Key`: a receiver that sees it twice must book it once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentEvent {
    pub event_id: String,
    /// `payment.settled`.
    pub event_type: String,
    pub account_no: String,
    pub order_no: String,
    /// `wechat` | `alipay`.
    pub platform: String,
    /// WeChat `transaction_id`, Alipay `trade_no`.
    pub transaction_id: String,
    /// What the payer paid, in fen.
    pub amount_fen: i64,
    /// When the platform took the money (epoch milliseconds).
    pub paid_at_ms: i64,
    /// The bills settled.
    pub bills: Vec<PaidBill>,
    /// Paid for bills already settled: kept as a credit or refunded (`surplus_handling`).
    pub surplus_fen: i64,
    pub surplus_handling: Option<String>,
}

/// One bill in a [`PaymentEvent`]. Ids are strings, as everywhere in our JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaidBill {
    pub bill_id: String,
    pub period: String,
    pub principal_fen: i64,
    pub late_fee_fen: i64,
}

pub const PAYMENT_SETTLED: &str = "payment.settled";

/// The event id of a payment's settlement.
pub fn payment_event_id(payment_id: i64) -> String {
    format!("payment-{payment_id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(bill_id: i64, principal: i64, late_fee: i64) -> OrderLine {
        OrderLine { bill_id, principal: Fen::new(principal), late_fee: Fen::new(late_fee) }
    }

    #[test]
    fn states_round_trip_and_only_unpaid_ones_await_money() {
        for state in OrderState::ALL {
            assert_eq!(OrderState::parse(state.as_str()), Some(state));
        }
        assert!(OrderState::Expired.awaits_money());
        assert!(!OrderState::Paid.awaits_money());
        assert!(!OrderState::Flagged.awaits_money());
        assert_eq!(OrderState::parse("PAID"), None);
    }

    #[test]
    fn order_numbers_fit_both_platforms() {
        let no = order_no(7_012_345_678_901_234_567);
        assert!(is_order_no(&no));
        assert!(no.len() >= 6 && no.len() <= 32);
        assert!(!is_order_no("EB"));
        assert!(!is_order_no("EB12x"));
        assert!(!is_order_no("XX123"));
    }

    #[test]
    fn the_fingerprint_ignores_line_order_and_sees_amounts_and_payer() {
        let a = fingerprint(Platform::Wechat, "o1", &[line(1, 100, 0), line(2, 200, 3)]);
        assert_eq!(a, fingerprint(Platform::Wechat, "o1", &[line(2, 200, 3), line(1, 100, 0)]));
        assert_ne!(a, fingerprint(Platform::Wechat, "o1", &[line(1, 100, 0), line(2, 200, 4)]));
        assert_ne!(a, fingerprint(Platform::Wechat, "o2", &[line(1, 100, 0), line(2, 200, 3)]));
        assert_ne!(a, fingerprint(Platform::Alipay, "o1", &[line(1, 100, 0), line(2, 200, 3)]));
    }

    #[test]
    fn an_unpaid_bill_takes_its_line_whole() {
        let bills = [BillAtSettlement { line: line(1, 5000, 12), total: Fen::new(5000), paid: Fen::ZERO }];
        let allocation = allocate(&bills).unwrap();
        assert_eq!(allocation.applied_total, Fen::new(5012));
        assert_eq!(allocation.surplus, Fen::ZERO);
        assert_eq!(allocation.applied[0].new_paid, Fen::new(5000));
    }

    #[test]
    fn a_bill_paid_meanwhile_makes_its_line_surplus() {
        let bills = [
            BillAtSettlement { line: line(1, 5000, 12), total: Fen::new(5000), paid: Fen::new(5000) },
            BillAtSettlement { line: line(2, 3000, 0), total: Fen::new(3000), paid: Fen::ZERO },
        ];
        let allocation = allocate(&bills).unwrap();
        assert_eq!(allocation.surplus, Fen::new(5012));
        assert_eq!(allocation.applied_total, Fen::new(3000));
        assert_eq!(allocation.applied.len(), 1);
        assert_eq!(allocation.applied[0].bill_id, 2);
    }

    #[test]
    fn a_bill_paid_in_part_meanwhile_takes_what_it_lacks() {
        let bills = [BillAtSettlement { line: line(1, 5000, 0), total: Fen::new(5000), paid: Fen::new(2000) }];
        let allocation = allocate(&bills).unwrap();
        assert_eq!(allocation.applied[0].principal, Fen::new(3000));
        assert_eq!(allocation.applied[0].new_paid, Fen::new(5000));
        assert_eq!(allocation.surplus, Fen::new(2000));
        assert_eq!(allocation.applied_total.checked_add(allocation.surplus), Some(Fen::new(5000)));
    }
}
