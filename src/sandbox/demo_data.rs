//! Demo data for sandbox mode: three accounts with twelve months of realistic bills, the same every time for a
//! given day. One residential account has a tiered tariff, one has time-of-use prices, and a shop has an overdue bill.

use crate::db::accounts;
use crate::domain::account::{Account, AccountInput};
use crate::domain::bill::{Bill, BillInput, MeterReading, TouBand};
use crate::domain::calendar::{beijing_date, BillingPeriod};
use crate::domain::feed::{ItemOutcome, Rejection};
use crate::domain::money::{Fen, UnitPrice};
use crate::domain::tariff::{tou_lines, TieredTariff};
use crate::feed;
use crate::state::AppState;
use chrono::{Datelike, Duration, NaiveDate};

/// How a demo account's consumption is priced.
enum Pricing {
    Tiered,
    TimeOfUse { peak_share_percent: i64, peak: &'static str, flat: Option<&'static str>, valley: &'static str },
}

struct DemoAccount {
    account_no: &'static str,
    holder_name: &'static str,
    address: &'static str,
    phone: &'static str,
    account_type: &'static str,
    base_kwh: i64,
    first_reading: i64,
    pricing: Pricing,
    /// Periods back from the current month that stay unpaid (1 = last month).
    unpaid_months_back: &'static [i32],
}

const DEMO_ACCOUNTS: &[DemoAccount] = &[
    DemoAccount {
        account_no: "3100012345",
        holder_name: "张三",
        address: "上海市浦东新区世纪大道100号1201室",
        phone: "13812341234",
        account_type: "residential",
        base_kwh: 210,
        first_reading: 10_000,
        pricing: Pricing::Tiered,
        unpaid_months_back: &[1],
    },
    DemoAccount {
        account_no: "3100023456",
        holder_name: "李四",
        address: "上海市徐汇区漕溪北路200号5号楼302室",
        phone: "13987655678",
        account_type: "residential",
        base_kwh: 260,
        first_reading: 23_500,
        pricing: Pricing::TimeOfUse { peak_share_percent: 62, peak: "0.6170", flat: None, valley: "0.3070" },
        unpaid_months_back: &[1],
    },
    DemoAccount {
        account_no: "3100034567",
        holder_name: "王五",
        address: "上海市静安区南京西路300号底层商铺",
        phone: "021-62881234",
        account_type: "non_residential",
        base_kwh: 900,
        first_reading: 51_200,
        pricing: Pricing::TimeOfUse { peak_share_percent: 45, peak: "0.9870", flat: Some("0.6290"), valley: "0.2840" },
        unpaid_months_back: &[1, 2],
    },
];

/// Consumption relative to the base, January to December, in percent: Shanghai summers run air conditioners.
const SEASON_PERCENT: [i64; 12] = [120, 100, 85, 75, 80, 100, 145, 155, 110, 80, 85, 110];

pub const DEMO_MONTHS: i32 = 12;

/// Seeds the demo accounts and bills when the database holds no account at all.
pub async fn seed_if_empty(state: &AppState) -> Result<(), String> {
    let existing = accounts::count(state.db.pool()).await.map_err(|e| e.to_string())?;
    if existing > 0 {
        return Ok(());
    }
    let now_ms = state.now_ms();
    let today = beijing_date(now_ms);
    let accounts: Vec<Result<Account, Rejection>> = DEMO_ACCOUNTS.iter().map(|a| account_input(a).validate()).collect();
    let bills: Vec<Result<Bill, Rejection>> = DEMO_ACCOUNTS
        .iter()
        .flat_map(|account| demo_bills(account, today))
        .map(|input| input.and_then(BillInput::validate))
        .collect();
    let count = bills.len();
    for outcome in feed::apply(&state.db, accounts, now_ms, None).await.map_err(|e| e.to_string())? {
        if let ItemOutcome::Rejected(r) = outcome {
            return Err(format!("demo account refused: {} {}", r.code, r.reason));
        }
    }
    for outcome in feed::apply(&state.db, bills, now_ms, None).await.map_err(|e| e.to_string())? {
        if let ItemOutcome::Rejected(r) = outcome {
            return Err(format!("demo bill refused: {} {}", r.code, r.reason));
        }
    }
    tracing::info!(
        accounts = DEMO_ACCOUNTS.len(),
        bills = count,
        "sandbox: seeded demo accounts {}",
        DEMO_ACCOUNTS.iter().map(|a| a.account_no).collect::<Vec<_>>().join(", ")
    );
    Ok(())
}

fn account_input(demo: &DemoAccount) -> AccountInput {
    AccountInput {
        account_no: demo.account_no.into(),
        holder_name: demo.holder_name.into(),
        address: demo.address.into(),
        phone: demo.phone.into(),
        account_type: demo.account_type.into(),
        supply_unit: "国网上海市电力公司（演示）".into(),
    }
}

/// The demo account's bills for the twelve periods before `today`'s month, oldest first.
fn demo_bills(demo: &DemoAccount, today: NaiveDate) -> Vec<Result<BillInput, Rejection>> {
    let Some(current) = BillingPeriod::of_date(today) else {
        return Vec::new();
    };
    let mut reading = demo.first_reading;
    (1..=DEMO_MONTHS)
        .rev()
        .map(|back| {
            let period = current.plus_months(-back).ok_or_else(|| Rejection::new("INVALID_PERIOD", "out of range"))?;
            let usage =
                demo.base_kwh * SEASON_PERCENT[period.month() as usize - 1] / 100 + (period.month() as i64 % 3) * 7;
            let start = reading;
            reading += usage;
            let issued = period.plus_months(1).map(|p| p.first_day() + Duration::days(2)).unwrap_or(today).min(today);
            let due = issued.with_day(20).filter(|d| *d > issued).unwrap_or(issued + Duration::days(17));
            Ok(bill_input(demo, period, issued, due, start, usage, !demo.unpaid_months_back.contains(&back)))
        })
        .collect()
}

fn bill_input(
    demo: &DemoAccount,
    period: BillingPeriod,
    issued: NaiveDate,
    due: NaiveDate,
    start: i64,
    usage: i64,
    paid: bool,
) -> BillInput {
    let price = |text: &str| UnitPrice::parse(text).unwrap_or(UnitPrice::from_micros(0, 4));
    let (tier_lines, tou) = match demo.pricing {
        Pricing::Tiered => (TieredTariff::typical_residential().lines(usage), Vec::new()),
        Pricing::TimeOfUse { peak_share_percent, peak, flat, valley } => {
            let peak_kwh = usage * peak_share_percent / 100;
            let bands = match flat {
                Some(flat) => {
                    let flat_kwh = (usage - peak_kwh) / 2;
                    vec![
                        (TouBand::Peak, peak_kwh, price(peak)),
                        (TouBand::Flat, flat_kwh, price(flat)),
                        (TouBand::Valley, usage - peak_kwh - flat_kwh, price(valley)),
                    ]
                }
                None => {
                    vec![(TouBand::Peak, peak_kwh, price(peak)), (TouBand::Valley, usage - peak_kwh, price(valley))]
                }
            };
            (Vec::new(), tou_lines(&bands))
        }
    };
    let total = Fen::checked_sum(tier_lines.iter().map(|l| l.amount_fen).chain(tou.iter().map(|l| l.amount_fen)))
        .unwrap_or_default();
    BillInput {
        account_no: demo.account_no.into(),
        period: period.to_string(),
        issue_date: issued.to_string(),
        due_date: due.to_string(),
        revision: 1,
        meter: MeterReading { start, end: start + usage, multiplier: 1 },
        usage_kwh: usage,
        tier_lines,
        tou_lines: tou,
        other_charges: Vec::new(),
        total_fen: total.value(),
        paid_fen: if paid { total.value() } else { 0 },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_demo_bill_validates_and_one_is_overdue() {
        let today = NaiveDate::from_ymd_opt(2026, 12, 4).unwrap();
        let mut overdue = 0;
        for demo in DEMO_ACCOUNTS {
            let bills = demo_bills(demo, today);
            assert_eq!(bills.len(), 12);
            for input in bills {
                let bill = input.unwrap().validate().unwrap();
                if bill.paid < bill.total && bill.due_date < today {
                    overdue += 1;
                }
            }
        }
        assert_eq!(overdue, 1);
    }

    #[test]
    fn demo_bills_are_deterministic() {
        let today = NaiveDate::from_ymd_opt(2026, 12, 4).unwrap();
        let a: Vec<_> = demo_bills(&DEMO_ACCOUNTS[0], today).into_iter().map(|b| b.unwrap().total_fen).collect();
        let b: Vec<_> = demo_bills(&DEMO_ACCOUNTS[0], today).into_iter().map(|b| b.unwrap().total_fen).collect();
        assert_eq!(a, b);
    }
}
