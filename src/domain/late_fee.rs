//! Late fees (电费违约金) on an overdue bill, after the national supply business rules (供电营业规则, art. 98): the fee
//! runs from the day after the due date "through the day of payment" (从逾期之日起计算至交纳日止), per day, on the
//! principal still unpaid, at a daily rate by account type — residential 1‰; non-residential 2‰ for arrears within
//! the year and 3‰ for arrears carried across years (跨年度欠费).
//!
//! The rules, as this module applies them (every rate, the grace and the rounding come from [`LateFeeRules`]):
//! - **Fee days.** The due date itself is free. Day `d` bears a fee when `due_date < d <= today`.
//! - **Base.** A day's fee is on the principal unpaid at the *start* of that day. A payment made on day `D` therefore
//!   still bears `D`'s fee (至交纳日止) and stops accrual from `D + 1` on; a payment on or before the due date bears no
//!   fee. This keeps the views and the payment in step: the fee shown today is the fee charged if the bill is paid
//!   today.
//! - **Across years.** A day counts at the cross-year rate when it falls in a calendar year after the year of the due
//!   date; the days in the due date's own year count at the within-year rate. There is no third rate for a second
//!   year.
//! - **Grace.** `grace_days` days after the due date are free. An amount paid by the last grace day bears no fee at all.
//!   An amount still unpaid at the start of the first day after the grace bears the fee — counted from the day after
//!   the due date when `grace_counts_from_due_date` (the grace decides only *whether* the fee is charged), else only
//!   from the first day after the grace.
//! - **Exactness.** Each day accrues `base × rate` exactly, in millionths of a fen (i128); the sum is rounded to the
//!   fen once, at the end, as `rounding` says. When any fee accrued, it is at least `minimum_fee`.
//! - **Payments** are amounts applied to the bill's principal (not to the fee). Amounts of zero or less, and payments
//!   dated after `today`, are ignored; what is paid beyond the principal is ignored too.
//!
//! Nothing here does I/O; `today` is a Beijing calendar date the caller reads from its clock.

use super::account::AccountType;
use super::money::Fen;
use chrono::{Datelike, Days, NaiveDate};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Millionths in one: the unit of [`DailyRate`] and of the exact accrual (millionths of a fen).
const MILLION: i128 = 1_000_000;

/// A daily late-fee rate, exact: millionths of the unpaid principal per day (1‰ per day is 1000).
/// Written, read and shown in per mille per day as a decimal with at most 3 decimals ("2", "1.5", "0.125").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct DailyRate(u32);

impl DailyRate {
    pub const ZERO: DailyRate = DailyRate(0);
    /// The largest rate this type holds: 1000‰ (the whole principal) per day.
    pub const MAX: DailyRate = DailyRate(1_000_000);

    /// A whole number of per mille per day; `None` above 1000.
    pub const fn per_mille(per_mille: u32) -> Option<DailyRate> {
        if per_mille <= 1000 {
            Some(DailyRate(per_mille * 1000))
        } else {
            None
        }
    }

    /// A rate in millionths per day; `None` above [`DailyRate::MAX`].
    pub const fn from_millionths(millionths: u32) -> Option<DailyRate> {
        if millionths <= DailyRate::MAX.0 {
            Some(DailyRate(millionths))
        } else {
            None
        }
    }

    /// Millionths of the principal per day.
    pub const fn millionths(self) -> u32 {
        self.0
    }

    /// Parses per mille per day: digits, optionally a point and 1 to 3 decimals, at most 1000 ("2", "1.5").
    pub fn parse_per_mille(text: &str) -> Option<DailyRate> {
        let (whole, frac) = match text.split_once('.') {
            Some((whole, frac)) if !frac.is_empty() => (whole, frac),
            Some(_) => return None,
            None => (text, ""),
        };
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() || whole.len() > 4 || !digits(whole) || frac.len() > 3 || !digits(frac) {
            return None;
        }
        let whole: u32 = whole.parse().ok()?;
        let mut thousandths: u32 = if frac.is_empty() { 0 } else { frac.parse().ok()? };
        for _ in frac.len()..3 {
            thousandths *= 10;
        }
        DailyRate::from_millionths(whole.checked_mul(1000)?.checked_add(thousandths)?)
    }
}

/// Per mille per day, without the sign: "2", "1.5", "0.125".
impl fmt::Display for DailyRate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (whole, frac) = (self.0 / 1000, self.0 % 1000);
        if frac == 0 {
            return write!(f, "{whole}");
        }
        let frac = format!("{frac:03}");
        write!(f, "{whole}.{}", frac.trim_end_matches('0'))
    }
}

impl Serialize for DailyRate {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// From a string in per mille per day ("1.5"), or a whole TOML/JSON number of per mille (2). A float is refused: it
/// would not stay exact.
impl<'de> Deserialize<'de> for DailyRate {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;

        impl serde::de::Visitor<'_> for Visitor {
            type Value = DailyRate;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a late-fee rate in per mille per day, as a string with at most 3 decimals (\"1.5\")")
            }

            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<DailyRate, E> {
                DailyRate::parse_per_mille(text).ok_or_else(|| {
                    E::custom(format!(
                        "late-fee rate {:?} is not per mille per day between 0 and 1000 with at most 3 decimals \
                         (e.g. \"2\" or \"1.5\")",
                        text.chars().take(32).collect::<String>()
                    ))
                })
            }

            fn visit_u64<E: serde::de::Error>(self, value: u64) -> Result<DailyRate, E> {
                u32::try_from(value)
                    .ok()
                    .and_then(DailyRate::per_mille)
                    .ok_or_else(|| E::custom(format!("late-fee rate {value} per mille per day is above 1000")))
            }

            fn visit_i64<E: serde::de::Error>(self, value: i64) -> Result<DailyRate, E> {
                match u64::try_from(value) {
                    Ok(value) => self.visit_u64(value),
                    Err(_) => Err(E::custom(format!("late-fee rate {value} per mille per day is negative"))),
                }
            }

            fn visit_f64<E: serde::de::Error>(self, value: f64) -> Result<DailyRate, E> {
                Err(E::custom(format!(
                    "late-fee rate {value} is a floating-point number; write it as a string (\"{value}\") so it \
                     stays exact"
                )))
            }
        }

        deserializer.deserialize_any(Visitor)
    }
}

/// How the exact fee is brought to whole fen, once, at the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeeRounding {
    /// Half a fen or more rounds up (四舍五入).
    #[default]
    RoundHalfUp,
    /// Fractions of a fen are dropped.
    Floor,
    /// Any fraction of a fen counts as a whole fen.
    Ceil,
}

impl FeeRounding {
    pub fn as_str(self) -> &'static str {
        match self {
            FeeRounding::RoundHalfUp => "round_half_up",
            FeeRounding::Floor => "floor",
            FeeRounding::Ceil => "ceil",
        }
    }

    /// Whole fen from millionths of a fen (towards +∞ for `Ceil`, −∞ for `Floor`, half up otherwise).
    pub fn round_millionths(self, millionths_of_fen: i128) -> i128 {
        match self {
            FeeRounding::RoundHalfUp => millionths_of_fen.saturating_add(MILLION / 2).div_euclid(MILLION),
            FeeRounding::Floor => millionths_of_fen.div_euclid(MILLION),
            FeeRounding::Ceil => millionths_of_fen.saturating_add(MILLION - 1).div_euclid(MILLION),
        }
    }
}

/// The two daily rates of one account type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct YearRates {
    /// Days in the due date's calendar year.
    pub within_year: DailyRate,
    /// Days in a later calendar year (跨年度欠费).
    pub cross_year: DailyRate,
}

/// Everything that decides a late fee. `Default` is [`LateFeeRules::national`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LateFeeRules {
    pub residential: YearRates,
    pub non_residential: YearRates,
    /// Days after the due date that are free; an amount paid by the last of them bears no fee.
    pub grace_days: u32,
    /// When an amount outlives the grace: `true`, its fee counts from the day after the due date (the grace decides
    /// only whether a fee is charged); `false`, only from the first day after the grace.
    pub grace_counts_from_due_date: bool,
    pub rounding: FeeRounding,
    /// The least fee charged when any fee accrued (e.g. 100 fen); zero for none.
    pub minimum_fee: Fen,
}

impl LateFeeRules {
    /// The national supply business rules: residential 1‰ a day; non-residential 2‰ within the year, 3‰ across years;
    /// no grace, rounded half up, no minimum.
    pub const fn national() -> LateFeeRules {
        LateFeeRules {
            residential: YearRates { within_year: DailyRate(1000), cross_year: DailyRate(1000) },
            non_residential: YearRates { within_year: DailyRate(2000), cross_year: DailyRate(3000) },
            grace_days: 0,
            grace_counts_from_due_date: true,
            rounding: FeeRounding::RoundHalfUp,
            minimum_fee: Fen::ZERO,
        }
    }

    pub fn rates(&self, account_type: AccountType) -> YearRates {
        match account_type {
            AccountType::Residential => self.residential,
            AccountType::NonResidential => self.non_residential,
        }
    }
}

impl Default for LateFeeRules {
    fn default() -> Self {
        LateFeeRules::national()
    }
}

/// A run of consecutive fee days with the same base and rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accrual {
    pub first_day: NaiveDate,
    /// Inclusive.
    pub last_day: NaiveDate,
    pub days: i64,
    /// The principal the fee is on.
    pub base: Fen,
    pub rate: DailyRate,
    pub cross_year: bool,
    /// `base × rate × days`, exact, in millionths of a fen.
    pub exact_millionths_of_fen: i128,
}

/// A bill's late fee on a given day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LateFee {
    /// The fee in fen: the exact accrual rounded once, raised to the minimum fee when any fee accrued. Saturates at
    /// `i64::MAX` fen, which no real bill approaches.
    pub amount: Fen,
    /// The exact accrual before rounding, in millionths of a fen.
    pub exact_millionths_of_fen: i128,
    /// Days the bill is (or was) overdue: from the day after the due date through today, or through the day its
    /// principal was paid off. Grace days count; 0 when nothing was owed after the due date.
    pub days_overdue: i64,
    /// Days that bore a fee on some principal (grace days do, when `grace_counts_from_due_date` and the grace was
    /// outlived).
    pub charged_days: i64,
    /// The principal still unpaid at the end of `today`.
    pub unpaid_principal: Fen,
    /// Overdue and unpaid, but still within the grace days: no fee yet.
    pub in_grace: bool,
    /// How the fee accrued, in date order.
    pub accruals: Vec<Accrual>,
}

/// The late fee of a bill of `principal` due on `due_date`, accrued through `today` (inclusive), with `payments`
/// (date paid, amount applied to the principal) made against it, in any order. See the module documentation for the
/// rules. Never panics; a principal of zero or less bears no fee.
pub fn late_fee(
    rules: &LateFeeRules,
    account_type: AccountType,
    principal: Fen,
    due_date: NaiveDate,
    payments: &[(NaiveDate, Fen)],
    today: NaiveDate,
) -> LateFee {
    let principal = principal.value().max(0);
    let mut paid: Vec<(NaiveDate, i64)> = payments
        .iter()
        .filter(|(day, amount)| *day <= today && amount.value() > 0)
        .map(|(d, a)| (*d, a.value()))
        .collect();
    paid.sort_by_key(|(day, _)| *day);
    let schedule = Schedule { principal, paid: &paid };
    let unpaid_now = schedule.unpaid_after(today);

    let days_overdue = match schedule.paid_off_on().filter(|day| *day <= today) {
        _ if principal == 0 => 0,
        Some(day) => days_between(due_date, day).max(0),
        None => days_between(due_date, today).max(0),
    };

    // The last free day; `None` when the grace runs past the calendar's end (never outlived).
    let grace_end = due_date.checked_add_days(Days::new(u64::from(rules.grace_days)));
    let in_grace = unpaid_now > 0 && today > due_date && grace_end.is_some_and(|end| today <= end);
    let mut fee = LateFee {
        amount: Fen::ZERO,
        exact_millionths_of_fen: 0,
        days_overdue,
        charged_days: 0,
        unpaid_principal: Fen::new(unpaid_now),
        in_grace,
        accruals: Vec::new(),
    };

    // The fee is due only on what outlived the grace: the principal unpaid at the start of the first day after it.
    let Some(grace_end) = grace_end.filter(|end| *end < today) else { return fee };
    let outlived = schedule.unpaid_after(grace_end);
    if outlived == 0 {
        return fee;
    }
    let first_fee_day = if rules.grace_counts_from_due_date { due_date.succ_opt() } else { grace_end.succ_opt() };
    let Some(first_fee_day) = first_fee_day else { return fee };

    // Segment starts: the base changes the day after a payment; the rate on the first day of the next year.
    let next_year = due_date.year().checked_add(1).and_then(|year| NaiveDate::from_ymd_opt(year, 1, 1));
    let mut starts: Vec<NaiveDate> = std::iter::once(first_fee_day)
        .chain(next_year)
        .chain(paid.iter().filter_map(|(day, _)| day.succ_opt()))
        .filter(|day| *day >= first_fee_day && *day <= today)
        .collect();
    starts.sort_unstable();
    starts.dedup();

    let rates = rules.rates(account_type);
    for (index, &first_day) in starts.iter().enumerate() {
        let last_day = match starts.get(index + 1) {
            Some(next) => next.pred_opt().unwrap_or(*next),
            None => today,
        };
        // `first_day > due_date`, so the day before it exists.
        let start_of_day = first_day.pred_opt().map_or(principal, |eve| schedule.unpaid_after(eve));
        let base = start_of_day.min(outlived);
        if base == 0 {
            continue;
        }
        let cross_year = first_day.year() > due_date.year();
        let rate = if cross_year { rates.cross_year } else { rates.within_year };
        let days = days_between(first_day, last_day) + 1;
        // No overflow: base < 2^63, rate <= 10^6 < 2^20, and the calendar spans < 2^28 days, so even the sum over all
        // segments stays below 2^111.
        let exact = i128::from(base) * i128::from(rate.millionths()) * i128::from(days);
        fee.exact_millionths_of_fen += exact;
        fee.charged_days += days;
        fee.accruals.push(Accrual {
            first_day,
            last_day,
            days,
            base: Fen::new(base),
            rate,
            cross_year,
            exact_millionths_of_fen: exact,
        });
    }

    if fee.exact_millionths_of_fen > 0 {
        let rounded = rules.rounding.round_millionths(fee.exact_millionths_of_fen);
        let rounded = Fen::new(i64::try_from(rounded).unwrap_or(i64::MAX));
        fee.amount = rounded.max(rules.minimum_fee);
    }
    fee
}

/// What settles a bill now: the principal still unpaid (`principal − paid`, never below zero) plus the late fee still
/// owed. `paid` is what has been applied to the principal; `fee` the late fee not yet paid. Saturates at `i64::MAX`.
pub fn amount_due_now(principal: Fen, paid: Fen, fee: Fen) -> Fen {
    let unpaid = i128::from(principal.value()) - i128::from(paid.value());
    let due = unpaid.max(0) + i128::from(fee.value().max(0));
    Fen::new(i64::try_from(due).unwrap_or(i64::MAX))
}

/// The principal and the payments that count, in date order.
struct Schedule<'a> {
    principal: i64,
    paid: &'a [(NaiveDate, i64)],
}

impl Schedule<'_> {
    /// The principal unpaid at the end of `day`.
    fn unpaid_after(&self, day: NaiveDate) -> i64 {
        let mut unpaid = self.principal;
        for (_, amount) in self.paid.iter().take_while(|(paid_on, _)| *paid_on <= day) {
            // Both are non-negative, so the difference cannot overflow.
            unpaid = (unpaid - amount).max(0);
        }
        unpaid
    }

    /// The day the principal was paid off, if it was.
    fn paid_off_on(&self) -> Option<NaiveDate> {
        let mut unpaid = self.principal;
        for (day, amount) in self.paid {
            unpaid = (unpaid - amount).max(0);
            if unpaid == 0 {
                return Some(*day);
            }
        }
        None
    }
}

fn days_between(from: NaiveDate, to: NaiveDate) -> i64 {
    to.signed_duration_since(from).num_days()
}

#[cfg(test)]
mod tests {
    use super::*;
    use AccountType::{NonResidential, Residential};

    fn day(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    fn fen(value: i64) -> Fen {
        Fen::new(value)
    }

    fn national() -> LateFeeRules {
        LateFeeRules::national()
    }

    /// The fee with no payments.
    fn fee(rules: &LateFeeRules, account_type: AccountType, principal: i64, due: &str, today: &str) -> LateFee {
        late_fee(rules, account_type, fen(principal), day(due), &[], day(today))
    }

    #[test]
    fn the_due_date_itself_is_free() {
        let fee = fee(&national(), NonResidential, 100_000, "2026-12-20", "2026-12-20");
        assert_eq!(fee.amount, Fen::ZERO);
        assert_eq!(fee.days_overdue, 0);
        assert_eq!(fee.charged_days, 0);
        assert!(fee.accruals.is_empty());
        assert_eq!(fee.unpaid_principal, fen(100_000));
    }

    #[test]
    fn the_first_day_late_bears_one_day_of_fee() {
        // 100.00 yuan × 1‰ = 10 fen; non-residential 2‰ = 20 fen.
        let residential = fee(&national(), Residential, 10_000, "2026-12-20", "2026-12-21");
        assert_eq!(residential.amount, fen(10));
        assert_eq!(residential.days_overdue, 1);
        assert_eq!(residential.charged_days, 1);
        let business = fee(&national(), NonResidential, 10_000, "2026-12-20", "2026-12-21");
        assert_eq!(business.amount, fen(20));
    }

    #[test]
    fn a_day_before_the_due_date_owes_nothing() {
        let fee = fee(&national(), NonResidential, 10_000, "2026-12-20", "2026-12-01");
        assert_eq!(fee.amount, Fen::ZERO);
        assert_eq!(fee.days_overdue, 0);
        assert!(!fee.in_grace);
    }

    #[test]
    fn non_residential_days_in_the_next_year_count_at_three_per_mille() {
        // Due 2026-12-20, today 2027-01-10, 1,000.00 yuan (100,000 fen):
        //   2026-12-21 ..= 2026-12-31: 11 days × 2‰ × 100,000 = 11 × 200 = 2,200 fen
        //   2027-01-01 ..= 2027-01-10: 10 days × 3‰ × 100,000 = 10 × 300 = 3,000 fen
        //   total 5,200 fen over 21 days.
        let fee = fee(&national(), NonResidential, 100_000, "2026-12-20", "2027-01-10");
        assert_eq!(fee.amount, fen(5_200));
        assert_eq!(fee.days_overdue, 21);
        assert_eq!(fee.charged_days, 21);
        let runs: Vec<(NaiveDate, NaiveDate, i64, u32, bool)> =
            fee.accruals.iter().map(|a| (a.first_day, a.last_day, a.days, a.rate.millionths(), a.cross_year)).collect();
        assert_eq!(
            runs,
            vec![
                (day("2026-12-21"), day("2026-12-31"), 11, 2_000, false),
                (day("2027-01-01"), day("2027-01-10"), 10, 3_000, true),
            ]
        );
    }

    #[test]
    fn residential_days_across_the_year_stay_at_one_per_mille() {
        // 21 days × 1‰ × 100,000 fen = 2,100 fen.
        assert_eq!(fee(&national(), Residential, 100_000, "2026-12-20", "2027-01-10").amount, fen(2_100));
    }

    #[test]
    fn a_second_year_adds_no_third_rate() {
        // Due 2026-12-20, today 2028-01-01: 11 days at 2‰, then 365 (2027) + 1 days at 3‰.
        // 10,000 fen: 11 × 20 + 366 × 30 = 220 + 10,980 = 11,200 fen.
        let fee = fee(&national(), NonResidential, 10_000, "2026-12-20", "2028-01-01");
        assert_eq!(fee.amount, fen(11_200));
        assert_eq!(fee.days_overdue, 377);
        assert_eq!(fee.accruals.len(), 2);
    }

    #[test]
    fn a_leap_day_is_a_fee_day() {
        // Due 2028-02-27: the 28th and the 29th are both late. 10,000 fen × 1‰ = 10 fen a day.
        let through_leap_day = fee(&national(), Residential, 10_000, "2028-02-27", "2028-02-29");
        assert_eq!(through_leap_day.days_overdue, 2);
        assert_eq!(through_leap_day.amount, fen(20));
        let first_of_march = fee(&national(), Residential, 10_000, "2028-02-27", "2028-03-01");
        assert_eq!(first_of_march.days_overdue, 3);
        assert_eq!(first_of_march.amount, fen(30));
        // The same dates in a common year: the 28th, then March 1st.
        assert_eq!(fee(&national(), Residential, 10_000, "2027-02-27", "2027-03-01").amount, fen(20));
    }

    #[test]
    fn partial_payments_leave_the_fee_on_what_remained() {
        // 1,000.00 yuan non-residential due 2026-11-20; 400.00 paid on 2026-11-25; today 2026-11-30.
        //   11-21 ..= 11-25: 5 days × 2‰ × 100,000 = 5 × 200 = 1,000 fen (the payment day bears its fee: 至交纳日止)
        //   11-26 ..= 11-30: 5 days × 2‰ ×  60,000 = 5 × 120 =   600 fen
        let payments = [(day("2026-11-25"), fen(40_000))];
        let fee = late_fee(&national(), NonResidential, fen(100_000), day("2026-11-20"), &payments, day("2026-11-30"));
        assert_eq!(fee.amount, fen(1_600));
        assert_eq!(fee.unpaid_principal, fen(60_000));
        assert_eq!(fee.days_overdue, 10);
        let bases: Vec<Fen> = fee.accruals.iter().map(|a| a.base).collect();
        assert_eq!(bases, vec![fen(100_000), fen(60_000)]);
    }

    #[test]
    fn a_payment_on_the_due_date_bears_no_fee_and_one_the_day_after_bears_one_day() {
        let due = day("2026-11-20");
        let on_time = [(due, fen(60_000))];
        // Only the 40,000 left bears the fee: 3 days × 2‰ × 40,000 = 3 × 80 = 240 fen.
        let fee = late_fee(&national(), NonResidential, fen(100_000), due, &on_time, day("2026-11-23"));
        assert_eq!(fee.amount, fen(240));
        // Everything paid the first day late: that one day is charged, and nothing after it.
        let next_day = [(day("2026-11-21"), fen(100_000))];
        let fee = late_fee(&national(), NonResidential, fen(100_000), due, &next_day, day("2026-12-31"));
        assert_eq!(fee.amount, fen(200));
        assert_eq!(fee.days_overdue, 1);
        assert_eq!(fee.unpaid_principal, Fen::ZERO);
    }

    #[test]
    fn payments_in_any_order_later_than_today_or_beyond_the_principal_are_handled() {
        let due = day("2026-11-20");
        let payments = [
            (day("2026-12-05"), fen(1_000_000)), // after today: not made yet
            (day("2026-11-25"), fen(30_000)),
            (day("2026-11-22"), fen(-5_000)), // not a payment
            (day("2026-11-23"), fen(10_000)),
        ];
        // 11-21 ..= 11-23 on 100,000: 3 × 200 = 600; 11-24 ..= 11-25 on 90,000: 2 × 180 = 360;
        // 11-26 ..= 11-30 on 60,000: 5 × 120 = 600. Total 1,560 fen.
        let fee = late_fee(&national(), NonResidential, fen(100_000), due, &payments, day("2026-11-30"));
        assert_eq!(fee.amount, fen(1_560));
        assert_eq!(fee.unpaid_principal, fen(60_000));
        // Overpaid on 11-22: one extra day (11-22) on the whole principal, then nothing.
        let overpaid = [(day("2026-11-22"), fen(150_000))];
        let fee = late_fee(&national(), NonResidential, fen(100_000), due, &overpaid, day("2026-11-30"));
        assert_eq!(fee.amount, fen(400));
        assert_eq!(fee.days_overdue, 2);
        assert_eq!(amount_due_now(fen(100_000), fen(150_000), fee.amount), fen(400));
    }

    #[test]
    fn grace_days_are_free_and_then_count_from_the_day_after_the_due_date() {
        let rules = LateFeeRules { grace_days: 3, ..national() };
        // Within the grace (due + 3): overdue, but no fee.
        let within = fee(&rules, Residential, 10_000, "2026-11-20", "2026-11-23");
        assert_eq!(within.amount, Fen::ZERO);
        assert_eq!(within.days_overdue, 3);
        assert!(within.in_grace);
        // One day past it: the fee counts from the 21st, 4 days × 10 fen.
        let past = fee(&rules, Residential, 10_000, "2026-11-20", "2026-11-24");
        assert_eq!(past.amount, fen(40));
        assert!(!past.in_grace);
        assert_eq!(past.charged_days, 4);
    }

    #[test]
    fn grace_days_can_be_made_to_count_from_after_the_grace() {
        let rules = LateFeeRules { grace_days: 3, grace_counts_from_due_date: false, ..national() };
        assert_eq!(fee(&rules, Residential, 10_000, "2026-11-20", "2026-11-23").amount, Fen::ZERO);
        // Only the 24th: 1 day × 10 fen.
        let past = fee(&rules, Residential, 10_000, "2026-11-20", "2026-11-24");
        assert_eq!(past.amount, fen(10));
        assert_eq!(past.accruals[0].first_day, day("2026-11-24"));
    }

    #[test]
    fn an_amount_paid_within_the_grace_bears_no_fee() {
        let rules = LateFeeRules { grace_days: 3, ..national() };
        let due = day("2026-11-20");
        // Half paid on the last grace day (23rd); the other half paid on the 25th.
        let payments = [(day("2026-11-23"), fen(5_000)), (day("2026-11-25"), fen(5_000))];
        // Only the 5,000 that outlived the grace bears the fee, from the 21st through the 25th: 5 days × 5 fen.
        let fee = late_fee(&rules, Residential, fen(10_000), due, &payments, day("2026-11-30"));
        assert_eq!(fee.amount, fen(25));
        assert_eq!(fee.days_overdue, 5);
        // Everything paid within the grace: no fee at all.
        let in_time = [(day("2026-11-22"), fen(10_000))];
        let fee = late_fee(&rules, Residential, fen(10_000), due, &in_time, day("2026-11-30"));
        assert_eq!(fee.amount, Fen::ZERO);
        assert_eq!(fee.days_overdue, 2);
        assert!(!fee.in_grace);
    }

    #[test]
    fn half_a_fen_rounds_as_configured() {
        // 15.00 yuan × 1‰ × 1 day = 1.5 fen exactly.
        let cases = [(FeeRounding::RoundHalfUp, 2), (FeeRounding::Floor, 1), (FeeRounding::Ceil, 2)];
        for (rounding, expected) in cases {
            let rules = LateFeeRules { rounding, ..national() };
            let fee = fee(&rules, Residential, 1_500, "2026-11-20", "2026-11-21");
            assert_eq!(fee.exact_millionths_of_fen, 1_500_000);
            assert_eq!(fee.amount, fen(expected), "{rounding:?}");
        }
        // 14.99 yuan: 1.499 fen.
        let cases = [(FeeRounding::RoundHalfUp, 1), (FeeRounding::Floor, 1), (FeeRounding::Ceil, 2)];
        for (rounding, expected) in cases {
            let rules = LateFeeRules { rounding, ..national() };
            assert_eq!(
                fee(&rules, Residential, 1_499, "2026-11-20", "2026-11-21").amount,
                fen(expected),
                "{rounding:?}"
            );
        }
    }

    #[test]
    fn the_fee_is_rounded_once_not_per_day() {
        // 3 days × 1.5 fen = 4.5 fen, half up 5 (rounding each day would give 2 + 2 + 2 = 6).
        assert_eq!(fee(&national(), Residential, 1_500, "2026-11-20", "2026-11-23").amount, fen(5));
        // Floor: 4 (per day: 1 + 1 + 1 = 3).
        let floor = LateFeeRules { rounding: FeeRounding::Floor, ..national() };
        assert_eq!(fee(&floor, Residential, 1_500, "2026-11-20", "2026-11-23").amount, fen(4));
    }

    #[test]
    fn a_minimum_fee_applies_only_when_some_fee_accrued() {
        let rules = LateFeeRules { minimum_fee: fen(100), ..national() };
        // 10 fen accrued, raised to the minimum.
        assert_eq!(fee(&rules, Residential, 10_000, "2026-11-20", "2026-11-21").amount, fen(100));
        // 0.001 fen accrued (1 fen × 1‰) rounds to 0 but is still a fee: the minimum.
        assert_eq!(fee(&rules, Residential, 1, "2026-11-20", "2026-11-21").amount, fen(100));
        // Above the minimum, unchanged: 30 days × 20 fen.
        assert_eq!(fee(&rules, NonResidential, 10_000, "2026-11-20", "2026-12-20").amount, fen(600));
        // Nothing accrued: nothing charged.
        assert_eq!(fee(&rules, Residential, 10_000, "2026-11-20", "2026-11-20").amount, Fen::ZERO);
        let graced = LateFeeRules { grace_days: 5, ..rules };
        assert_eq!(fee(&graced, Residential, 10_000, "2026-11-20", "2026-11-22").amount, Fen::ZERO);
    }

    #[test]
    fn a_zero_or_negative_principal_bears_no_fee() {
        for principal in [0, -500] {
            let fee = fee(&national(), NonResidential, principal, "2026-11-20", "2027-03-01");
            assert_eq!(fee.amount, Fen::ZERO);
            assert_eq!(fee.days_overdue, 0);
            assert_eq!(fee.unpaid_principal, Fen::ZERO);
        }
    }

    #[test]
    fn configured_rates_apply_per_account_type() {
        let half = DailyRate::parse_per_mille("0.5").unwrap();
        let rules = LateFeeRules {
            residential: YearRates { within_year: half, cross_year: DailyRate::per_mille(2).unwrap() },
            ..national()
        };
        // 12-31 at 0.5‰, 01-01 at 2‰ on 10,000 fen: 5 + 20 = 25 fen.
        assert_eq!(fee(&rules, Residential, 10_000, "2026-12-30", "2027-01-01").amount, fen(25));
        let free = LateFeeRules {
            non_residential: YearRates { within_year: DailyRate::ZERO, cross_year: DailyRate::ZERO },
            ..national()
        };
        assert_eq!(fee(&free, NonResidential, 10_000, "2026-12-30", "2027-01-01").amount, Fen::ZERO);
    }

    #[test]
    fn a_huge_principal_stays_exact_and_then_saturates_without_overflow() {
        // i64::MAX fen for 364 days at 2‰: 9,223,372,036,854,775,807 × 0.728 = 6,714,614,842,830,276,787.496 fen.
        let year = fee(&national(), NonResidential, i64::MAX, "2026-01-01", "2026-12-31");
        assert_eq!(year.exact_millionths_of_fen, 6_714_614_842_830_276_787_496_000);
        assert_eq!(year.amount, fen(6_714_614_842_830_276_787));
        // Decades later the fee is beyond what a Fen holds: it saturates.
        let decades = fee(&national(), NonResidential, i64::MAX, "2000-01-01", "2099-12-31");
        assert_eq!(decades.amount, fen(i64::MAX));
        // The calendar's ends, with the largest rate, do not overflow either.
        let rules = LateFeeRules {
            non_residential: YearRates { within_year: DailyRate::MAX, cross_year: DailyRate::MAX },
            grace_days: u32::MAX,
            grace_counts_from_due_date: false,
            ..national()
        };
        let payments = [(NaiveDate::MAX, fen(1))];
        for rules in [national(), LateFeeRules { grace_days: 0, ..rules }, rules] {
            let fee = late_fee(&rules, NonResidential, fen(i64::MAX), NaiveDate::MIN, &payments, NaiveDate::MAX);
            assert!(fee.amount > Fen::ZERO || rules.grace_days == u32::MAX);
            let fee = late_fee(&rules, NonResidential, fen(i64::MAX), NaiveDate::MAX, &payments, NaiveDate::MAX);
            assert_eq!(fee.amount, Fen::ZERO);
        }
        assert_eq!(amount_due_now(fen(i64::MAX), Fen::ZERO, fen(i64::MAX)), fen(i64::MAX));
    }

    #[test]
    fn the_amount_due_now_is_the_unpaid_principal_plus_the_fee() {
        assert_eq!(amount_due_now(fen(10_000), fen(4_000), fen(120)), fen(6_120));
        assert_eq!(amount_due_now(fen(10_000), fen(10_000), Fen::ZERO), Fen::ZERO);
        assert_eq!(amount_due_now(fen(10_000), fen(12_000), fen(50)), fen(50));
    }

    #[test]
    fn rates_read_and_print_in_per_mille() {
        assert_eq!(DailyRate::parse_per_mille("2").unwrap().millionths(), 2_000);
        assert_eq!(DailyRate::parse_per_mille("1.5").unwrap().millionths(), 1_500);
        assert_eq!(DailyRate::parse_per_mille("0.125").unwrap().millionths(), 125);
        assert_eq!(DailyRate::parse_per_mille("1000").unwrap(), DailyRate::MAX);
        for bad in ["", "-1", "1.", ".5", "0.0001", "1e3", "1001", "2‰", " 2", "99999"] {
            assert_eq!(DailyRate::parse_per_mille(bad), None, "{bad:?}");
        }
        for text in ["2", "1.5", "0.125", "0.05", "0"] {
            assert_eq!(DailyRate::parse_per_mille(text).unwrap().to_string(), text);
        }
        assert_eq!(DailyRate::from_millionths(1_000_001), None);
        assert_eq!(DailyRate::per_mille(3).unwrap().millionths(), 3_000);
    }

    #[test]
    fn rates_deserialize_from_strings_or_whole_numbers_but_not_floats() {
        #[derive(Deserialize)]
        struct Holder {
            rate: DailyRate,
        }
        let read = |text: &str| toml::from_str::<Holder>(text).map(|h| h.rate);
        assert_eq!(read("rate = \"1.5\"").unwrap().millionths(), 1_500);
        assert_eq!(read("rate = 2").unwrap().millionths(), 2_000);
        assert!(read("rate = 1.5").unwrap_err().to_string().contains("string"));
        assert!(read("rate = -1").is_err());
        assert!(read("rate = \"abc\"").is_err());
        assert_eq!(serde_json::to_string(&DailyRate::per_mille(3).unwrap()).unwrap(), "\"3\"");
    }
}
