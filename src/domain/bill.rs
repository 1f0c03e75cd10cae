//! Electricity bills as the marketing system issues them: readings, usage, tier and time-of-use lines, other charges.

use super::account::{truncate, AccountNo};
use super::calendar::{parse_date, BillingPeriod};
use super::feed::Rejection;
use super::money::{Fen, UnitPrice};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Meter readings of the period: consumption is `(end - start) * multiplier` kWh.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MeterReading {
    pub start: i64,
    pub end: i64,
    #[serde(default = "one")]
    pub multiplier: i64,
}

fn one() -> i64 {
    1
}

/// One block of a tiered (阶梯) tariff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TierLine {
    pub tier: u8,
    pub kwh: i64,
    /// Yuan per kWh as a decimal string, with the tariff's precision ("0.4883").
    #[schema(value_type = String, example = "0.4883")]
    pub unit_price: UnitPrice,
    #[schema(value_type = i64)]
    pub amount_fen: Fen,
}

/// The time-of-use bands (尖峰 / 峰 / 平 / 谷).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TouBand {
    Sharp,
    Peak,
    Flat,
    Valley,
}

/// One time-of-use band of the period's consumption.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TouLine {
    pub band: TouBand,
    pub kwh: i64,
    /// Yuan per kWh as a decimal string, with the tariff's precision ("0.4883").
    #[schema(value_type = String, example = "0.4883")]
    pub unit_price: UnitPrice,
    #[schema(value_type = i64)]
    pub amount_fen: Fen,
}

/// A charge that is not energy, e.g. a basic capacity charge or an adjustment carried from an earlier period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OtherCharge {
    pub name: String,
    #[schema(value_type = i64)]
    pub amount_fen: Fen,
}

/// Where a bill stands in the marketing system's books. Overdue is not a state: it is read off the due date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BillStatus {
    Unpaid,
    PartiallyPaid,
    Paid,
}

impl BillStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            BillStatus::Unpaid => "unpaid",
            BillStatus::PartiallyPaid => "partially_paid",
            BillStatus::Paid => "paid",
        }
    }

    pub fn parse(text: &str) -> Option<BillStatus> {
        match text {
            "unpaid" => Some(BillStatus::Unpaid),
            "partially_paid" => Some(BillStatus::PartiallyPaid),
            "paid" => Some(BillStatus::Paid),
            _ => None,
        }
    }

    /// The status a bill of `total` has once `paid` of it has been paid.
    pub fn from_amounts(total: Fen, paid: Fen) -> BillStatus {
        if paid >= total {
            BillStatus::Paid
        } else if paid > Fen::ZERO {
            BillStatus::PartiallyPaid
        } else {
            BillStatus::Unpaid
        }
    }
}

/// A validated bill. The natural key is (account, period); a later revision replaces an earlier one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Bill {
    pub account_no: AccountNo,
    pub period: BillingPeriod,
    pub issue_date: NaiveDate,
    pub due_date: NaiveDate,
    pub revision: i64,
    pub meter: MeterReading,
    pub usage_kwh: i64,
    pub tier_lines: Vec<TierLine>,
    pub tou_lines: Vec<TouLine>,
    pub other_charges: Vec<OtherCharge>,
    pub total: Fen,
    pub paid: Fen,
}

impl Bill {
    pub fn status(&self) -> BillStatus {
        BillStatus::from_amounts(self.total, self.paid)
    }

    /// A digest of everything the bill says, so a re-sent bill can be recognised as unchanged.
    pub fn content_hash(&self) -> String {
        let canonical = serde_json::to_vec(self).unwrap_or_default();
        hex::encode(Sha256::digest(canonical))
    }
}

/// A bill item as it arrives, before validation.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BillInput {
    pub account_no: String,
    pub period: String,
    pub issue_date: String,
    pub due_date: String,
    pub revision: i64,
    pub meter: MeterReading,
    pub usage_kwh: i64,
    #[serde(default)]
    pub tier_lines: Vec<TierLine>,
    #[serde(default)]
    pub tou_lines: Vec<TouLine>,
    #[serde(default)]
    pub other_charges: Vec<OtherCharge>,
    pub total_fen: i64,
    #[serde(default)]
    pub paid_fen: i64,
}

const MAX_LINES: usize = 16;

impl BillInput {
    pub fn validate(self) -> Result<Bill, Rejection> {
        let account_no =
            AccountNo::parse(self.account_no.trim()).map_err(|r| Rejection::new("INVALID_ACCOUNT_NO", r))?;
        let period = BillingPeriod::parse(self.period.trim()).ok_or_else(|| {
            Rejection::new("INVALID_PERIOD", format!("period {:?} is not YYYY-MM", truncate(&self.period, 16)))
        })?;
        let issue_date = date_field("issue_date", &self.issue_date)?;
        let due_date = date_field("due_date", &self.due_date)?;
        if issue_date < period.first_day() {
            return Err(Rejection::new("INVALID_DATE", "issue_date is before the billing period starts"));
        }
        if due_date < issue_date {
            return Err(Rejection::new("INVALID_DATE", "due_date is before issue_date"));
        }
        if self.revision < 1 {
            return Err(Rejection::new("INVALID_REVISION", "revision must be 1 or more"));
        }
        self.check_usage()?;
        self.check_lines()?;
        let total = Fen::new(self.total_fen);
        let paid = Fen::new(self.paid_fen);
        if total.is_negative() || paid.is_negative() {
            return Err(Rejection::new("NEGATIVE_AMOUNT", "total_fen and paid_fen must not be negative"));
        }
        if paid > total {
            return Err(Rejection::new("INVALID_AMOUNT", "paid_fen exceeds total_fen"));
        }
        let line_amounts = self
            .tier_lines
            .iter()
            .map(|l| l.amount_fen)
            .chain(self.tou_lines.iter().map(|l| l.amount_fen))
            .chain(self.other_charges.iter().map(|c| c.amount_fen));
        let sum = Fen::checked_sum(line_amounts)
            .ok_or_else(|| Rejection::new("INVALID_AMOUNT", "the line amounts overflow"))?;
        if sum != total {
            return Err(Rejection::new(
                "LINES_MISMATCH",
                format!("the lines sum to {} fen but total_fen is {}", sum.value(), total.value()),
            ));
        }
        Ok(Bill {
            account_no,
            period,
            issue_date,
            due_date,
            revision: self.revision,
            meter: self.meter,
            usage_kwh: self.usage_kwh,
            tier_lines: self.tier_lines,
            tou_lines: self.tou_lines,
            other_charges: self.other_charges,
            total,
            paid,
        })
    }

    fn check_usage(&self) -> Result<(), Rejection> {
        let MeterReading { start, end, multiplier } = self.meter;
        if start < 0 || end < start || multiplier < 1 {
            return Err(Rejection::new(
                "INVALID_READINGS",
                "meter readings need 0 <= start <= end and a multiplier of 1 or more",
            ));
        }
        if self.usage_kwh < 0 {
            return Err(Rejection::new("INVALID_USAGE", "usage_kwh must not be negative"));
        }
        let measured = (end - start).checked_mul(multiplier);
        if measured != Some(self.usage_kwh) {
            return Err(Rejection::new(
                "READINGS_MISMATCH",
                format!("(end - start) * multiplier is not usage_kwh ({})", self.usage_kwh),
            ));
        }
        Ok(())
    }

    fn check_lines(&self) -> Result<(), Rejection> {
        if self.tier_lines.len() > MAX_LINES || self.tou_lines.len() > MAX_LINES || self.other_charges.len() > MAX_LINES
        {
            return Err(Rejection::new("TOO_MANY_LINES", format!("at most {MAX_LINES} lines of each kind")));
        }
        let energy_lines = self
            .tier_lines
            .iter()
            .map(|l| (l.kwh, l.amount_fen))
            .chain(self.tou_lines.iter().map(|l| (l.kwh, l.amount_fen)));
        for (kwh, amount) in energy_lines {
            if kwh < 0 || amount.is_negative() {
                return Err(Rejection::new("NEGATIVE_AMOUNT", "line kWh and amounts must not be negative"));
            }
        }
        for charge in &self.other_charges {
            if charge.amount_fen.is_negative() {
                return Err(Rejection::new("NEGATIVE_AMOUNT", "other charges must not be negative"));
            }
            let chars = charge.name.trim().chars().count();
            if chars == 0 || chars > 32 || charge.name.chars().any(char::is_control) {
                return Err(Rejection::new("INVALID_FIELD", "an other charge needs a name of 1 to 32 characters"));
            }
        }
        let mut tiers: Vec<u8> = self.tier_lines.iter().map(|l| l.tier).collect();
        tiers.sort_unstable();
        tiers.dedup();
        if tiers.len() != self.tier_lines.len() || tiers.contains(&0) {
            return Err(Rejection::new("INVALID_LINES", "tiers must be distinct and numbered from 1"));
        }
        let tier_kwh: i64 = self.tier_lines.iter().map(|l| l.kwh).sum();
        if !self.tier_lines.is_empty() && tier_kwh != self.usage_kwh {
            return Err(Rejection::new("USAGE_MISMATCH", "the tier lines' kWh do not add up to usage_kwh"));
        }
        let tou_kwh: i64 = self.tou_lines.iter().map(|l| l.kwh).sum();
        if !self.tou_lines.is_empty() && tou_kwh != self.usage_kwh {
            return Err(Rejection::new("USAGE_MISMATCH", "the time-of-use lines' kWh do not add up to usage_kwh"));
        }
        Ok(())
    }
}

fn date_field(name: &str, text: &str) -> Result<NaiveDate, Rejection> {
    parse_date(text.trim())
        .ok_or_else(|| Rejection::new("INVALID_DATE", format!("{name} {:?} is not YYYY-MM-DD", truncate(text, 16))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn price(text: &str) -> UnitPrice {
        UnitPrice::parse(text).unwrap()
    }

    fn input() -> BillInput {
        BillInput {
            account_no: "3100012345".into(),
            period: "2026-11".into(),
            issue_date: "2026-12-01".into(),
            due_date: "2026-12-20".into(),
            revision: 1,
            meter: MeterReading { start: 4372, end: 4652, multiplier: 1 },
            usage_kwh: 280,
            tier_lines: vec![
                TierLine { tier: 1, kwh: 230, unit_price: price("0.4883"), amount_fen: Fen::new(11231) },
                TierLine { tier: 2, kwh: 50, unit_price: price("0.5383"), amount_fen: Fen::new(2692) },
            ],
            tou_lines: vec![],
            other_charges: vec![],
            total_fen: 13923,
            paid_fen: 0,
        }
    }

    #[test]
    fn a_consistent_bill_validates() {
        let bill = input().validate().unwrap();
        assert_eq!(bill.total, Fen::new(13923));
        assert_eq!(bill.status(), BillStatus::Unpaid);
    }

    #[test]
    fn lines_must_sum_to_the_total() {
        let rejection = BillInput { total_fen: 13924, ..input() }.validate().unwrap_err();
        assert_eq!(rejection.code, "LINES_MISMATCH");
    }

    #[test]
    fn readings_must_match_usage() {
        let rejection = BillInput { meter: MeterReading { start: 4372, end: 4600, multiplier: 1 }, ..input() }
            .validate()
            .unwrap_err();
        assert_eq!(rejection.code, "READINGS_MISMATCH");
    }

    #[test]
    fn negative_amounts_are_refused() {
        let mut bill = input();
        bill.other_charges.push(OtherCharge { name: "adjustment".into(), amount_fen: Fen::new(-100) });
        bill.total_fen -= 100;
        assert_eq!(bill.validate().unwrap_err().code, "NEGATIVE_AMOUNT");
    }

    #[test]
    fn due_date_cannot_precede_issue_date() {
        let rejection = BillInput { due_date: "2026-11-30".into(), ..input() }.validate().unwrap_err();
        assert_eq!(rejection.code, "INVALID_DATE");
    }

    #[test]
    fn status_follows_the_amounts_paid() {
        assert_eq!(BillStatus::from_amounts(Fen::new(100), Fen::new(40)), BillStatus::PartiallyPaid);
        assert_eq!(BillStatus::from_amounts(Fen::new(100), Fen::new(100)), BillStatus::Paid);
        assert_eq!(BillStatus::from_amounts(Fen::ZERO, Fen::ZERO), BillStatus::Paid);
    }

    #[test]
    fn content_hash_changes_with_content() {
        let a = input().validate().unwrap();
        let b = BillInput { paid_fen: 1, ..input() }.validate().unwrap();
        assert_eq!(a.content_hash(), input().validate().unwrap().content_hash());
        assert_ne!(a.content_hash(), b.content_hash());
    }
}
