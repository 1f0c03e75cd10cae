//! Tariff arithmetic: how usage becomes tier and time-of-use lines. The marketing system computes real bills; ebill
//! uses this for demo data and benchmark data, and to explain a bill's lines.

use super::bill::{TierLine, TouBand, TouLine};
use super::money::UnitPrice;

/// A tiered (阶梯) tariff: consecutive blocks, each up to a monthly kWh limit (the last without one).
#[derive(Debug, Clone)]
pub struct TieredTariff {
    blocks: Vec<(Option<i64>, UnitPrice)>,
}

impl TieredTariff {
    /// Blocks as (upper monthly kWh limit, price); only the last block may be unbounded.
    pub fn new(blocks: Vec<(Option<i64>, UnitPrice)>) -> TieredTariff {
        TieredTariff { blocks }
    }

    /// A typical residential three-block tariff: 0–230 kWh, 231–400 kWh, above 400 kWh a month.
    pub fn typical_residential() -> TieredTariff {
        TieredTariff::new(vec![
            (Some(230), UnitPrice::from_micros(488_300, 4)),
            (Some(400), UnitPrice::from_micros(538_300, 4)),
            (None, UnitPrice::from_micros(788_300, 4)),
        ])
    }

    /// The tier lines for a month's usage; a block with no consumption gets no line.
    pub fn lines(&self, usage_kwh: i64) -> Vec<TierLine> {
        let mut lines = Vec::new();
        let mut lower = 0;
        for (index, (upper, price)) in self.blocks.iter().enumerate() {
            let top = upper.unwrap_or(i64::MAX).min(usage_kwh);
            let kwh = top - lower;
            if kwh <= 0 {
                break;
            }
            lines.push(TierLine {
                tier: (index + 1) as u8,
                kwh,
                unit_price: *price,
                amount_fen: price.charge(kwh).unwrap_or_default(),
            });
            lower = top;
        }
        lines
    }
}

/// Time-of-use lines for the given bands' kWh and prices.
pub fn tou_lines(bands: &[(TouBand, i64, UnitPrice)]) -> Vec<TouLine> {
    bands
        .iter()
        .filter(|(_, kwh, _)| *kwh > 0)
        .map(|(band, kwh, price)| TouLine {
            band: *band,
            kwh: *kwh,
            unit_price: *price,
            amount_fen: price.charge(*kwh).unwrap_or_default(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::money::Fen;

    #[test]
    fn usage_fills_the_blocks_in_order() {
        let lines = TieredTariff::typical_residential().lines(450);
        let kwh: Vec<i64> = lines.iter().map(|l| l.kwh).collect();
        assert_eq!(kwh, vec![230, 170, 50]);
        assert_eq!(lines[0].amount_fen, Fen::new(11231)); // 230 * 0.4883 = 112.309
        assert_eq!(lines[2].unit_price.to_string(), "0.7883");
    }

    #[test]
    fn small_usage_stays_in_the_first_block() {
        let lines = TieredTariff::typical_residential().lines(120);
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].kwh, 120);
        assert!(TieredTariff::typical_residential().lines(0).is_empty());
    }
}
