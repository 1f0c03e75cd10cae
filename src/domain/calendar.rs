//! Business dates. Instants are UTC epoch milliseconds; business dates (billing periods, issue and due dates) are
//! calendar dates in Beijing time (UTC+8, no daylight saving), as the platforms and the supply rules speak them.

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

const BEIJING_OFFSET_SECS: i32 = 8 * 3600;

/// The UTC+8 offset of Asia/Shanghai.
pub fn beijing() -> FixedOffset {
    FixedOffset::east_opt(BEIJING_OFFSET_SECS).expect("UTC+8 is a valid offset")
}

/// The instant `epoch_ms` as a Beijing date-time; `None` when out of chrono's range.
pub fn beijing_datetime(epoch_ms: i64) -> Option<DateTime<FixedOffset>> {
    Utc.timestamp_millis_opt(epoch_ms).single().map(|t| t.with_timezone(&beijing()))
}

/// The Beijing calendar date of the instant `epoch_ms`.
pub fn beijing_date(epoch_ms: i64) -> NaiveDate {
    beijing_datetime(epoch_ms).map(|t| t.date_naive()).unwrap_or(NaiveDate::MIN)
}

/// Parses an ISO calendar date `YYYY-MM-DD`.
pub fn parse_date(text: &str) -> Option<NaiveDate> {
    if text.len() != 10 {
        return None;
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()
}

/// A billing period: one calendar month, written `YYYY-MM`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BillingPeriod {
    year: i32,
    month: u32,
}

impl BillingPeriod {
    pub fn new(year: i32, month: u32) -> Option<BillingPeriod> {
        ((2000..=2099).contains(&year) && (1..=12).contains(&month)).then_some(BillingPeriod { year, month })
    }

    /// Parses `YYYY-MM` (also accepted: `YYYYMM`, as some marketing systems write it).
    pub fn parse(text: &str) -> Option<BillingPeriod> {
        let (year, month) = match text.len() {
            7 if text.as_bytes()[4] == b'-' => (&text[..4], &text[5..]),
            6 => (&text[..4], &text[4..]),
            _ => return None,
        };
        if !year.bytes().chain(month.bytes()).all(|b| b.is_ascii_digit()) {
            return None;
        }
        BillingPeriod::new(year.parse().ok()?, month.parse().ok()?)
    }

    pub fn year(self) -> i32 {
        self.year
    }

    pub fn month(self) -> u32 {
        self.month
    }

    /// The first day of the period.
    pub fn first_day(self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.year, self.month, 1).expect("validated period")
    }

    /// The period `months` later (negative: earlier).
    pub fn plus_months(self, months: i32) -> Option<BillingPeriod> {
        let index = self.year * 12 + (self.month as i32 - 1) + months;
        BillingPeriod::new(index.div_euclid(12), index.rem_euclid(12) as u32 + 1)
    }

    /// The period containing `date`.
    pub fn of_date(date: NaiveDate) -> Option<BillingPeriod> {
        BillingPeriod::new(date.year(), date.month())
    }
}

impl fmt::Display for BillingPeriod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

impl Serialize for BillingPeriod {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for BillingPeriod {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        BillingPeriod::parse(&text)
            .ok_or_else(|| serde::de::Error::custom(format!("billing period {text:?} is not YYYY-MM")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn beijing_date_turns_at_utc_sixteen_hundred() {
        // 2026-12-03T15:59:59.999Z is still the 3rd in UTC but already 23:59 on the 3rd in Beijing;
        // one millisecond later it is the 4th in Beijing.
        let before = Utc.with_ymd_and_hms(2026, 12, 3, 15, 59, 59).unwrap().timestamp_millis() + 999;
        assert_eq!(beijing_date(before), NaiveDate::from_ymd_opt(2026, 12, 3).unwrap());
        assert_eq!(beijing_date(before + 1), NaiveDate::from_ymd_opt(2026, 12, 4).unwrap());
    }

    #[test]
    fn periods_parse_and_print() {
        assert_eq!(BillingPeriod::parse("2026-11").unwrap().to_string(), "2026-11");
        assert_eq!(BillingPeriod::parse("202611").unwrap().to_string(), "2026-11");
        assert!(BillingPeriod::parse("2026-13").is_none());
        assert!(BillingPeriod::parse("2026/11").is_none());
        assert!(BillingPeriod::parse("1999-01").is_none());
    }

    #[test]
    fn periods_step_across_years() {
        let p = BillingPeriod::parse("2026-01").unwrap();
        assert_eq!(p.plus_months(-1).unwrap().to_string(), "2025-12");
        assert_eq!(p.plus_months(12).unwrap().to_string(), "2027-01");
    }

    #[test]
    fn dates_must_be_iso() {
        assert!(parse_date("2024-02-29").is_some());
        assert!(parse_date("2025-02-29").is_none());
        assert!(parse_date("2024-2-9").is_none());
    }
}
