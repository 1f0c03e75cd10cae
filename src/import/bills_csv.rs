//! The bills CSV (UTF-8, a header line first; see `samples/bills.csv`):
//! `account_no,period,issue_date,due_date,revision,reading_start,reading_end,multiplier,usage_kwh,tier_lines,
//! tou_lines,other_charges,total_fen,paid_fen`. Lines are packed in one cell each, `;` between lines and `:` between
//! fields: tier lines `tier:kwh:unit_price:amount_fen` (`1:230:0.4883:11231;2:50:0.5383:2692`), time-of-use lines
//! `band:kwh:unit_price:amount_fen` with band sharp|peak|flat|valley, other charges `name:amount_fen`.
//! `multiplier` defaults to 1 and `paid_fen` to 0.

use super::{Columns, CsvFormat};
use crate::domain::bill::{Bill, BillInput, MeterReading, OtherCharge, TierLine, TouBand, TouLine};
use crate::domain::feed::Rejection;
use crate::domain::money::{Fen, UnitPrice};

pub(crate) const FORMAT: CsvFormat<Bill> = (
    parse,
    &[
        "account_no",
        "period",
        "issue_date",
        "due_date",
        "revision",
        "reading_start",
        "reading_end",
        "usage_kwh",
        "total_fen",
    ],
    &["multiplier", "tier_lines", "tou_lines", "other_charges", "paid_fen"],
);

fn parse(columns: &Columns, record: &csv::StringRecord) -> Result<Bill, Rejection> {
    let get = |n| columns.get(record, n);
    let multiplier = get(9);
    let paid = get(13);
    BillInput {
        account_no: get(0).to_string(),
        period: get(1).to_string(),
        issue_date: get(2).to_string(),
        due_date: get(3).to_string(),
        revision: integer("revision", get(4))?,
        meter: MeterReading {
            start: integer("reading_start", get(5))?,
            end: integer("reading_end", get(6))?,
            multiplier: if multiplier.is_empty() { 1 } else { integer("multiplier", multiplier)? },
        },
        usage_kwh: integer("usage_kwh", get(7))?,
        total_fen: integer("total_fen", get(8))?,
        tier_lines: lines(get(10), "tier_lines", |[tier, kwh, price, amount]| {
            Ok(TierLine {
                tier: tier.parse().map_err(|_| invalid("tier_lines", "a tier number"))?,
                kwh: integer("tier_lines", kwh)?,
                unit_price: unit_price("tier_lines", price)?,
                amount_fen: Fen::new(integer("tier_lines", amount)?),
            })
        })?,
        tou_lines: lines(get(11), "tou_lines", |[band, kwh, price, amount]| {
            Ok(TouLine {
                band: tou_band(band)?,
                kwh: integer("tou_lines", kwh)?,
                unit_price: unit_price("tou_lines", price)?,
                amount_fen: Fen::new(integer("tou_lines", amount)?),
            })
        })?,
        other_charges: other_charges(get(12))?,
        paid_fen: if paid.is_empty() { 0 } else { integer("paid_fen", paid)? },
    }
    .validate()
}

fn invalid(column: &str, expected: &str) -> Rejection {
    Rejection::new("INVALID_FIELD", format!("{column} needs {expected}"))
}

fn integer(column: &str, text: &str) -> Result<i64, Rejection> {
    text.trim().parse().map_err(|_| invalid(column, "a whole number"))
}

fn unit_price(column: &str, text: &str) -> Result<UnitPrice, Rejection> {
    UnitPrice::parse(text.trim()).ok_or_else(|| invalid(column, "a unit price in yuan with at most 6 decimals"))
}

fn tou_band(text: &str) -> Result<TouBand, Rejection> {
    match text.trim() {
        "sharp" => Ok(TouBand::Sharp),
        "peak" => Ok(TouBand::Peak),
        "flat" => Ok(TouBand::Flat),
        "valley" => Ok(TouBand::Valley),
        _ => Err(invalid("tou_lines", "a band of sharp, peak, flat or valley")),
    }
}

/// Parses `a:b:c:d;a:b:c:d` into lines of four fields.
fn lines<T>(cell: &str, column: &str, line: impl Fn([&str; 4]) -> Result<T, Rejection>) -> Result<Vec<T>, Rejection> {
    cell.split(';')
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .map(|part| {
            let fields: Vec<&str> = part.split(':').collect();
            let fields: [&str; 4] =
                fields.try_into().map_err(|_| invalid(column, "lines of four fields separated by ':'"))?;
            line(fields)
        })
        .collect()
}

fn other_charges(cell: &str) -> Result<Vec<OtherCharge>, Rejection> {
    cell.split(';')
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .map(|part| {
            let (name, amount) =
                part.rsplit_once(':').ok_or_else(|| invalid("other_charges", "lines of name:amount_fen"))?;
            Ok(OtherCharge { name: name.trim().to_string(), amount_fen: Fen::new(integer("other_charges", amount)?) })
        })
        .collect()
}
