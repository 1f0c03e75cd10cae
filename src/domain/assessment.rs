//! What today adds to a bill: its unpaid principal, the late fee accrued, the amount due now. The one rule the bill
//! views and the payment orders share.

use crate::domain::account::AccountType;
use crate::domain::bill::{Bill, BillStatus};
use crate::domain::late_fee::{amount_due_now, late_fee, LateFeeRules};
use crate::domain::money::Fen;
use chrono::NaiveDate;

/// What today adds to a bill.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Assessment {
    /// What is still unpaid of the amount billed.
    pub principal: Fen,
    pub late_fee: Fen,
    pub amount_due: Fen,
    pub days_overdue: i64,
    pub overdue: bool,
}

/// The bill's standing on `today` (a Beijing date). The marketing system reports how much was paid but not when, so
/// the fee runs on what remains unpaid; a partial payment made after the due date is thus not charged for the days
/// before it (in the customer's favour, and the marketing system's own fee stays authoritative).
pub fn assess(
    rules: &LateFeeRules,
    account_type: AccountType,
    bill: &Bill,
    status: BillStatus,
    today: NaiveDate,
) -> Assessment {
    let principal = amount_due_now(bill.total, bill.paid, Fen::ZERO);
    if status == BillStatus::Paid || principal == Fen::ZERO {
        return Assessment {
            principal: Fen::ZERO,
            late_fee: Fen::ZERO,
            amount_due: Fen::ZERO,
            days_overdue: 0,
            overdue: false,
        };
    }
    let fee = late_fee(rules, account_type, principal, bill.due_date, &[], today);
    Assessment {
        principal,
        late_fee: fee.amount,
        amount_due: amount_due_now(bill.total, bill.paid, fee.amount),
        days_overdue: fee.days_overdue,
        overdue: today > bill.due_date,
    }
}
