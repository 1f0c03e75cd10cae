//! Money in integer fen (分) and unit prices in yuan with the precision the tariff uses.

use serde::{Deserialize, Serialize};
use std::fmt;

/// An amount of money in fen (1 yuan = 100 fen). Never a float.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Fen(i64);

impl Fen {
    pub const ZERO: Fen = Fen(0);

    pub const fn new(fen: i64) -> Self {
        Fen(fen)
    }

    pub const fn value(self) -> i64 {
        self.0
    }

    pub fn checked_add(self, other: Fen) -> Option<Fen> {
        self.0.checked_add(other.0).map(Fen)
    }

    pub fn checked_sub(self, other: Fen) -> Option<Fen> {
        self.0.checked_sub(other.0).map(Fen)
    }

    pub fn is_negative(self) -> bool {
        self.0 < 0
    }

    /// Sums amounts, `None` on overflow.
    pub fn checked_sum<I: IntoIterator<Item = Fen>>(items: I) -> Option<Fen> {
        items.into_iter().try_fold(Fen::ZERO, Fen::checked_add)
    }

    /// The amount as a yuan string with two decimals ("123.45"), as Alipay and displays want it.
    pub fn to_yuan_string(self) -> String {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        format!("{sign}{}.{:02}", abs / 100, abs % 100)
    }

    /// Parses a yuan string with at most two decimals ("12", "12.3", "12.34"); anything else is `None`.
    pub fn parse_yuan(text: &str) -> Option<Fen> {
        let (negative, digits) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (whole, frac) = match digits.split_once('.') {
            Some((w, f)) => (w, f),
            None => (digits, ""),
        };
        if whole.is_empty() || whole.len() > 15 || !whole.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        if frac.len() > 2 || !frac.bytes().all(|b| b.is_ascii_digit()) || (digits.contains('.') && frac.is_empty()) {
            return None;
        }
        let whole: i64 = whole.parse().ok()?;
        let mut frac_fen: i64 = if frac.is_empty() { 0 } else { frac.parse().ok()? };
        if frac.len() == 1 {
            frac_fen *= 10;
        }
        let fen = whole.checked_mul(100)?.checked_add(frac_fen)?;
        Some(Fen(if negative { -fen } else { fen }))
    }
}

impl fmt::Display for Fen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_yuan_string())
    }
}

/// A unit price in yuan per kWh, kept with the decimals the tariff states ("0.4883" stays "0.4883").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UnitPrice {
    /// Price in millionths of a yuan.
    micros: i64,
    /// Number of decimals as published, 0..=6.
    scale: u8,
}

impl UnitPrice {
    const MAX_SCALE: usize = 6;

    pub fn parse(text: &str) -> Option<UnitPrice> {
        let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
        if whole.is_empty() || whole.len() > 6 || !whole.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        if frac.len() > Self::MAX_SCALE
            || !frac.bytes().all(|b| b.is_ascii_digit())
            || (text.contains('.') && frac.is_empty())
        {
            return None;
        }
        let whole: i64 = whole.parse().ok()?;
        let mut micros_frac: i64 = if frac.is_empty() { 0 } else { frac.parse().ok()? };
        for _ in frac.len()..Self::MAX_SCALE {
            micros_frac *= 10;
        }
        Some(UnitPrice { micros: whole * 1_000_000 + micros_frac, scale: frac.len() as u8 })
    }

    /// A price from millionths of a yuan, shown with `scale` decimals.
    pub fn from_micros(micros: i64, scale: u8) -> UnitPrice {
        UnitPrice { micros, scale: scale.min(Self::MAX_SCALE as u8) }
    }

    pub fn micros(self) -> i64 {
        self.micros
    }

    /// The charge for `kwh` at this price, rounded half up to the fen; `None` on overflow.
    pub fn charge(self, kwh: i64) -> Option<Fen> {
        // 1 fen = 10,000 micro-yuan.
        let micro_yuan = kwh.checked_mul(self.micros)?;
        let fen = micro_yuan.checked_add(5_000)?.div_euclid(10_000);
        Some(Fen(fen))
    }
}

impl fmt::Display for UnitPrice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let whole = self.micros / 1_000_000;
        if self.scale == 0 {
            return write!(f, "{whole}");
        }
        let frac = format!("{:06}", self.micros % 1_000_000);
        write!(f, "{whole}.{}", &frac[..self.scale as usize])
    }
}

impl Serialize for UnitPrice {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for UnitPrice {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        UnitPrice::parse(&text).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unit price {text:?} is not a decimal yuan amount with at most 6 decimals"
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yuan_strings_have_two_decimals() {
        assert_eq!(Fen::new(12345).to_yuan_string(), "123.45");
        assert_eq!(Fen::new(5).to_yuan_string(), "0.05");
        assert_eq!(Fen::new(-150).to_yuan_string(), "-1.50");
    }

    #[test]
    fn yuan_strings_parse_exactly() {
        assert_eq!(Fen::parse_yuan("123.45"), Some(Fen::new(12345)));
        assert_eq!(Fen::parse_yuan("0.5"), Some(Fen::new(50)));
        assert_eq!(Fen::parse_yuan("7"), Some(Fen::new(700)));
        assert_eq!(Fen::parse_yuan("1.234"), None);
        assert_eq!(Fen::parse_yuan("1."), None);
        assert_eq!(Fen::parse_yuan("1e3"), None);
        assert_eq!(Fen::parse_yuan(""), None);
    }

    #[test]
    fn unit_price_keeps_its_precision() {
        let price = UnitPrice::parse("0.4883").unwrap();
        assert_eq!(price.to_string(), "0.4883");
        assert_eq!(price.micros(), 488_300);
        assert_eq!(UnitPrice::parse("1").unwrap().to_string(), "1");
        assert_eq!(UnitPrice::parse("0.30615").unwrap().to_string(), "0.30615");
        assert!(UnitPrice::parse("0.1234567").is_none());
        assert!(UnitPrice::parse("-0.1").is_none());
    }

    #[test]
    fn charge_rounds_half_up_to_the_fen() {
        let price = UnitPrice::parse("0.4883").unwrap();
        // 217 kWh * 0.4883 = 105.9611 yuan -> 10596 fen
        assert_eq!(price.charge(217), Some(Fen::new(10596)));
        // 5 kWh * 0.001 = 0.005 yuan -> half a fen rounds up
        assert_eq!(UnitPrice::parse("0.001").unwrap().charge(5), Some(Fen::new(1)));
        assert_eq!(price.charge(i64::MAX), None);
    }
}
