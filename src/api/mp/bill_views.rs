//! How a bill reads to its customer: the figures of the stored bill plus what only today knows — whether it is
//! overdue, the late fee accrued so far and the amount due now. Shared by the JSON views and the e-bill page.

use crate::db::bill_reads::StoredBill;
use crate::domain::assessment::Assessment;
use crate::domain::bill::{OtherCharge, TierLine, TouLine};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A bill in a list.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BillSummaryView {
    /// A 64-bit id, as a string.
    pub id: String,
    /// `YYYY-MM`.
    pub period: String,
    /// Beijing dates, `YYYY-MM-DD`.
    pub issue_date: String,
    pub due_date: String,
    pub usage_kwh: i64,
    /// Amount billed, in fen.
    pub total_fen: i64,
    /// Amount paid so far, in fen.
    pub paid_fen: i64,
    /// Late fee (违约金) accrued up to today, in fen.
    pub late_fee_fen: i64,
    /// What settles the bill today: unpaid principal plus the late fee, in fen.
    pub amount_due_fen: i64,
    /// `unpaid`, `partially_paid`, `paid` or `overdue` (not fully paid after the due date).
    pub status: String,
    pub days_overdue: i64,
}

/// A bill with every line.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BillDetailView {
    #[serde(flatten)]
    pub summary: BillSummaryView,
    pub account_no: String,
    pub revision: i64,
    pub meter: MeterView,
    pub tier_lines: Vec<LineView>,
    pub tou_lines: Vec<LineView>,
    pub other_charges: Vec<ChargeView>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MeterView {
    pub start: i64,
    pub end: i64,
    pub multiplier: i64,
}

/// A tier (`tier` 1, 2, 3) or time-of-use band (`band` sharp, peak, flat, valley) line.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LineView {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tier: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub band: Option<String>,
    pub kwh: i64,
    /// Yuan per kWh with the tariff's precision ("0.4883").
    pub unit_price: String,
    pub amount_fen: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ChargeView {
    pub name: String,
    pub amount_fen: i64,
}

pub fn summary(stored: &StoredBill, assessment: Assessment) -> BillSummaryView {
    let bill = &stored.bill;
    let status = if assessment.overdue { "overdue" } else { stored.status.as_str() };
    BillSummaryView {
        id: stored.id.to_string(),
        period: bill.period.to_string(),
        issue_date: bill.issue_date.to_string(),
        due_date: bill.due_date.to_string(),
        usage_kwh: bill.usage_kwh,
        total_fen: bill.total.value(),
        paid_fen: bill.paid.value(),
        late_fee_fen: assessment.late_fee.value(),
        amount_due_fen: assessment.amount_due.value(),
        status: status.to_string(),
        days_overdue: assessment.days_overdue,
    }
}

fn tier_view(line: &TierLine) -> LineView {
    LineView {
        tier: Some(line.tier),
        band: None,
        kwh: line.kwh,
        unit_price: line.unit_price.to_string(),
        amount_fen: line.amount_fen.value(),
    }
}

fn tou_view(line: &TouLine) -> LineView {
    let band = serde_json::to_value(line.band).ok().and_then(|v| v.as_str().map(str::to_string));
    LineView {
        tier: None,
        band,
        kwh: line.kwh,
        unit_price: line.unit_price.to_string(),
        amount_fen: line.amount_fen.value(),
    }
}

fn charge_view(charge: &OtherCharge) -> ChargeView {
    ChargeView { name: charge.name.clone(), amount_fen: charge.amount_fen.value() }
}

pub fn detail(stored: &StoredBill, assessment: Assessment) -> BillDetailView {
    let bill = &stored.bill;
    BillDetailView {
        summary: summary(stored, assessment),
        account_no: bill.account_no.to_string(),
        revision: bill.revision,
        meter: MeterView { start: bill.meter.start, end: bill.meter.end, multiplier: bill.meter.multiplier },
        tier_lines: bill.tier_lines.iter().map(tier_view).collect(),
        tou_lines: bill.tou_lines.iter().map(tou_view).collect(),
        other_charges: bill.other_charges.iter().map(charge_view).collect(),
    }
}
