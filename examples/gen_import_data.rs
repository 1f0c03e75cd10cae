//! Generates benchmark data for `ebill import`: `accounts.csv` and `bills.csv`, in the formats documented at the top
//! of `src/import/accounts_csv.rs` and `src/import/bills_csv.rs`.
//!
//! ```text
//! cargo run --release --example gen_import_data -- [--accounts N] [--bills-per-account M] [--out DIR] [--seed S]
//! ```
//!
//! Defaults: 200,000 accounts with 5 monthly bills each (1,000,000 bills), written to `bench/out`, seed 42. The output
//! depends only on the arguments. Bills are written period by period, as monthly billing runs would export them.
//!
//! Most residential accounts pay the typical three-block tariff (`TieredTariff::typical_residential`), some are on
//! residential peak/valley time-of-use prices; businesses are on four-band time-of-use prices, many with a
//! current-transformer multiplier and a capacity charge. A few homes stand empty (no consumption), a few bills carry an
//! adjustment or a second revision. Older bills are mostly paid, the latest mostly not. Every row goes through the
//! importer's own validation before it is written, so importing the files rejects nothing.

use chrono::Duration;
use ebill::domain::account::{Account, AccountInput};
use ebill::domain::bill::{Bill, BillInput, MeterReading, OtherCharge, TouBand};
use ebill::domain::calendar::BillingPeriod;
use ebill::domain::money::{Fen, UnitPrice};
use ebill::domain::tariff::{tou_lines, TieredTariff};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

const USAGE: &str = "usage: gen_import_data [--accounts N] [--bills-per-account M] [--out DIR] [--seed S]";

/// The latest billing period generated; earlier bills go back month by month from it.
const LAST_PERIOD: (i32, u32) = (2026, 5);

/// Monthly consumption relative to the yearly average, in percent (January first): heating and air conditioning.
const SEASON_PERCENT: [i64; 12] = [125, 110, 90, 80, 85, 105, 150, 160, 120, 85, 90, 115];

struct Args {
    accounts: u64,
    bills_per_account: u32,
    out: PathBuf,
    seed: u64,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args { accounts: 200_000, bills_per_account: 5, out: PathBuf::from("bench/out"), seed: 42 };
    let mut iter = std::env::args().skip(1);
    while let Some(flag) = iter.next() {
        if flag == "-h" || flag == "--help" {
            return Err(String::new());
        }
        let (name, value) = match flag.split_once('=') {
            Some((name, value)) => (name.to_string(), value.to_string()),
            None => {
                let value = iter.next().ok_or_else(|| format!("{flag} needs a value"))?;
                (flag, value)
            }
        };
        let number = || value.parse::<u64>().map_err(|_| format!("{name} needs a whole number, not {value:?}"));
        match name.as_str() {
            "--accounts" => args.accounts = number()?,
            "--bills-per-account" => {
                args.bills_per_account = u32::try_from(number()?)
                    .ok()
                    .filter(|m| *m <= 240)
                    .ok_or("--bills-per-account must be at most 240")?
            }
            "--out" => args.out = PathBuf::from(value),
            "--seed" => args.seed = number()?,
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if args.accounts > 99_999_999 {
        return Err("--accounts must be below 100,000,000 (account numbers have 8 serial digits)".into());
    }
    Ok(args)
}

/// SplitMix64: small, fast and fully determined by its seed (no dependence on a library's choice of algorithm).
struct Rng(u64);

impl Rng {
    /// An independent stream per (seed, stream), so every account's data is fixed whatever else is generated.
    fn new(seed: u64, stream: u64) -> Rng {
        let mut rng = Rng(seed.wrapping_mul(0xD1B5_4A32_D192_ED03) ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        rng.next();
        rng
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `low..=high`.
    fn range(&mut self, low: i64, high: i64) -> i64 {
        low + (self.next() % ((high - low + 1) as u64)) as i64
    }

    /// True `percent` times in a hundred.
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[(self.next() % items.len() as u64) as usize]
    }
}

const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭", "何", "林", "罗",
    "高", "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯", "邓", "曹", "彭", "曾", "欧阳", "司马",
];
const GIVEN_NAMES: &[&str] = &[
    "伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超",
    "秀兰", "霞", "平", "刚", "桂英", "建华", "志强", "晓东", "海燕", "文博", "雨萱", "子涵", "浩然", "欣怡",
];
/// (district, supply company).
const DISTRICTS: &[(&str, &str)] = &[
    ("浦东新区", "国网上海市电力公司浦东供电公司"),
    ("黄浦区", "国网上海市电力公司市区供电公司"),
    ("徐汇区", "国网上海市电力公司市南供电公司"),
    ("长宁区", "国网上海市电力公司市区供电公司"),
    ("静安区", "国网上海市电力公司市北供电公司"),
    ("普陀区", "国网上海市电力公司市北供电公司"),
    ("虹口区", "国网上海市电力公司市区供电公司"),
    ("杨浦区", "国网上海市电力公司市东供电公司"),
    ("闵行区", "国网上海市电力公司市南供电公司"),
    ("宝山区", "国网上海市电力公司市北供电公司"),
    ("嘉定区", "国网上海市电力公司嘉定供电公司"),
    ("松江区", "国网上海市电力公司松江供电公司"),
];
const ROADS: &[&str] = &[
    "世纪大道",
    "南京西路",
    "淮海中路",
    "漕溪北路",
    "长寿路",
    "四平路",
    "虹桥路",
    "张江路",
    "沪闵路",
    "共和新路",
    "延安西路",
    "中山北路",
    "龙华中路",
    "曹杨路",
    "金桥路",
];
const BUSINESSES: &[&str] =
    &["便利店", "餐饮有限公司", "服装店", "五金商行", "科技有限公司", "物业管理处", "制衣厂", "汽车维修服务部"];
const MOBILE_PREFIXES: &[&str] = &["13", "15", "17", "18", "19"];
/// Current-transformer multipliers of business meters.
const MULTIPLIERS: &[i64] = &[1, 1, 1, 20, 30, 40, 60, 80];

/// How an account's consumption is priced.
#[derive(Clone, Copy)]
enum Pricing {
    /// The typical residential three-block tariff.
    Tiered,
    /// Residential peak/valley prices; the peak share in percent.
    ResidentialTou { peak_percent: i64 },
    /// Four business bands; the sharp and peak shares in percent, a monthly capacity charge in fen (0: none).
    BusinessTou { sharp_percent: i64, peak_percent: i64, capacity_fen: i64 },
}

/// What carries over from one month to the next for an account.
struct AccountState {
    pricing: Pricing,
    /// Average monthly kWh.
    base_kwh: i64,
    multiplier: i64,
    reading: i64,
    /// Nobody lives there: no consumption.
    vacant: bool,
}

struct Prices {
    tiered: TieredTariff,
    residential_peak: UnitPrice,
    residential_valley: UnitPrice,
    business_sharp: UnitPrice,
    business_peak: UnitPrice,
    business_flat: UnitPrice,
    business_valley: UnitPrice,
}

impl Prices {
    fn new() -> Prices {
        Prices {
            tiered: TieredTariff::typical_residential(),
            residential_peak: UnitPrice::from_micros(617_000, 3),
            residential_valley: UnitPrice::from_micros(307_000, 3),
            business_sharp: UnitPrice::from_micros(1_213_400, 4),
            business_peak: UnitPrice::from_micros(1_034_700, 4),
            business_flat: UnitPrice::from_micros(663_200, 4),
            business_valley: UnitPrice::from_micros(315_000, 4),
        }
    }
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) if message.is_empty() => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("gen_import_data: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match generate(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("gen_import_data: {message}");
            ExitCode::FAILURE
        }
    }
}

fn generate(args: &Args) -> Result<(), String> {
    let started = Instant::now();
    std::fs::create_dir_all(&args.out).map_err(|e| format!("cannot create {}: {e}", args.out.display()))?;
    let accounts_path = args.out.join("accounts.csv");
    let bills_path = args.out.join("bills.csv");

    let mut out = create(&accounts_path)?;
    writeln!(out, "account_no,holder_name,address,phone,account_type,supply_unit")
        .map_err(write_error(&accounts_path))?;
    let mut states = Vec::with_capacity(args.accounts as usize);
    for serial in 0..args.accounts {
        let mut rng = Rng::new(args.seed, serial);
        let (input, state) = account(serial, &mut rng);
        let account = input.validate().map_err(|r| format!("generated account {serial} is invalid: {r:?}"))?;
        write_account(&mut out, &account).map_err(write_error(&accounts_path))?;
        states.push(state);
    }
    out.flush().map_err(write_error(&accounts_path))?;
    drop(out);

    let prices = Prices::new();
    let last = BillingPeriod::new(LAST_PERIOD.0, LAST_PERIOD.1).expect("a valid period");
    let mut out = create(&bills_path)?;
    writeln!(
        out,
        "account_no,period,issue_date,due_date,revision,reading_start,reading_end,multiplier,usage_kwh,tier_lines,\
         tou_lines,other_charges,total_fen,paid_fen"
    )
    .map_err(write_error(&bills_path))?;
    let months = args.bills_per_account;
    let mut bills = 0u64;
    for month in 0..months {
        let period = last.plus_months(month as i32 - (months as i32 - 1)).ok_or("the periods leave 2000-2099")?;
        let latest = month + 1 == months;
        for (serial, state) in states.iter_mut().enumerate() {
            let mut rng = Rng::new(args.seed, (serial as u64) << 8 | (month as u64 + 1) << 40);
            let input = bill(&account_no(serial as u64), state, period, latest, &prices, &mut rng);
            let bill = input.validate().map_err(|r| format!("generated bill {serial}/{period} is invalid: {r:?}"))?;
            write_bill(&mut out, &bill).map_err(write_error(&bills_path))?;
            bills += 1;
        }
    }
    out.flush().map_err(write_error(&bills_path))?;
    println!(
        "wrote {} accounts to {} and {bills} bills to {} in {:.1} s",
        args.accounts,
        accounts_path.display(),
        bills_path.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn write_error(path: &Path) -> impl Fn(std::io::Error) -> String + '_ {
    move |e| format!("cannot write {}: {e}", path.display())
}

fn create(path: &Path) -> Result<BufWriter<File>, String> {
    let file = File::create(path).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    Ok(BufWriter::with_capacity(1 << 20, file))
}

/// Ten digits: the region prefix 31 and an eight-digit serial.
fn account_no(serial: u64) -> String {
    format!("31{:08}", serial + 1)
}

fn account(serial: u64, rng: &mut Rng) -> (AccountInput, AccountState) {
    let (district, supply_unit) = *rng.pick(DISTRICTS);
    let road = rng.pick(ROADS);
    let number = rng.range(1, 1999);
    let surname = rng.pick(SURNAMES);
    let business = rng.chance(8);
    let (holder_name, address, pricing, base_kwh, multiplier) = if business {
        let multiplier = *rng.pick(MULTIPLIERS);
        let capacity_fen = if multiplier > 1 { rng.range(50, 400) * 2_800 } else { 0 };
        let pricing =
            Pricing::BusinessTou { sharp_percent: rng.range(0, 12), peak_percent: rng.range(25, 45), capacity_fen };
        let base_kwh = if multiplier > 1 { rng.range(3_000, 40_000) } else { rng.range(400, 3_000) };
        (
            format!("上海{surname}记{}", rng.pick(BUSINESSES)),
            format!("上海市{district}{road}{number}号底层商铺"),
            pricing,
            base_kwh,
            multiplier,
        )
    } else {
        let pricing =
            if rng.chance(18) { Pricing::ResidentialTou { peak_percent: rng.range(45, 75) } } else { Pricing::Tiered };
        (
            format!("{surname}{}", rng.pick(GIVEN_NAMES)),
            format!("上海市{district}{road}{number}弄{}号{}室", rng.range(1, 40), rng.range(101, 2802)),
            pricing,
            rng.range(60, 420),
            1,
        )
    };
    let phone = if rng.chance(85) {
        format!("{}{:09}", rng.pick(MOBILE_PREFIXES), rng.range(0, 999_999_999))
    } else {
        format!("021-{:08}", rng.range(50_000_000, 69_999_999))
    };
    let input = AccountInput {
        account_no: account_no(serial),
        holder_name,
        address: if rng.chance(2) { String::new() } else { address },
        phone,
        account_type: if business { "non_residential" } else { "residential" }.into(),
        supply_unit: if rng.chance(3) { String::new() } else { supply_unit.into() },
    };
    let state = AccountState {
        pricing,
        base_kwh,
        multiplier,
        reading: rng.range(0, 60_000),
        vacant: !business && rng.chance(2),
    };
    (input, state)
}

fn bill(
    account_no: &str,
    state: &mut AccountState,
    period: BillingPeriod,
    latest: bool,
    prices: &Prices,
    rng: &mut Rng,
) -> BillInput {
    let usage = if state.vacant {
        0
    } else {
        let season = SEASON_PERCENT[period.month() as usize - 1];
        let wobble = state.base_kwh / 8 + 5;
        let kwh = (state.base_kwh * season / 100 + rng.range(-wobble, wobble)).max(0);
        kwh / state.multiplier * state.multiplier
    };
    let start = state.reading;
    state.reading += usage / state.multiplier;

    let mut other_charges = Vec::new();
    let (tier_lines, tou) = match state.pricing {
        Pricing::Tiered => (prices.tiered.lines(usage), Vec::new()),
        Pricing::ResidentialTou { peak_percent } => {
            let peak = usage * peak_percent / 100;
            let bands = [
                (TouBand::Peak, peak, prices.residential_peak),
                (TouBand::Valley, usage - peak, prices.residential_valley),
            ];
            (Vec::new(), tou_lines(&bands))
        }
        Pricing::BusinessTou { sharp_percent, peak_percent, capacity_fen } => {
            let sharp = usage * sharp_percent / 100;
            let peak = usage * peak_percent / 100;
            let flat = (usage - sharp - peak) * 55 / 100;
            let bands = [
                (TouBand::Sharp, sharp, prices.business_sharp),
                (TouBand::Peak, peak, prices.business_peak),
                (TouBand::Flat, flat, prices.business_flat),
                (TouBand::Valley, usage - sharp - peak - flat, prices.business_valley),
            ];
            if capacity_fen > 0 {
                other_charges.push(OtherCharge { name: "基本电费".into(), amount_fen: Fen::new(capacity_fen) });
            }
            (Vec::new(), tou_lines(&bands))
        }
    };
    if rng.chance(2) {
        other_charges.push(OtherCharge { name: "电费退补".into(), amount_fen: Fen::new(rng.range(100, 3_000)) });
    }
    let total = Fen::checked_sum(
        tier_lines
            .iter()
            .map(|l| l.amount_fen)
            .chain(tou.iter().map(|l| l.amount_fen))
            .chain(other_charges.iter().map(|c| c.amount_fen)),
    )
    .unwrap_or_default()
    .value();
    let paid = match rng.range(0, 99) {
        // The latest bill was issued days ago: most of it is still open.
        n if latest && n < 30 => total,
        n if latest && n < 34 => total / 2,
        _ if latest => 0,
        n if n < 94 => total,
        n if n < 96 => total / 2,
        _ => 0,
    };
    let issued = period.plus_months(1).expect("periods stay in range").first_day() + Duration::days(rng.range(1, 5));
    BillInput {
        account_no: account_no.to_string(),
        period: period.to_string(),
        issue_date: issued.to_string(),
        due_date: (issued + Duration::days(rng.range(15, 20))).to_string(),
        revision: if rng.chance(3) { 2 } else { 1 },
        meter: MeterReading { start, end: state.reading, multiplier: state.multiplier },
        usage_kwh: usage,
        tier_lines,
        tou_lines: tou,
        other_charges,
        total_fen: total,
        paid_fen: paid,
    }
}

fn write_account(out: &mut impl Write, a: &Account) -> std::io::Result<()> {
    write!(out, "{},", a.account_no)?;
    write_field(out, &a.holder_name)?;
    out.write_all(b",")?;
    write_field(out, &a.address)?;
    write!(out, ",{},{},", a.phone, a.account_type.as_str())?;
    write_field(out, &a.supply_unit)?;
    out.write_all(b"\n")
}

fn write_bill(out: &mut impl Write, b: &Bill) -> std::io::Result<()> {
    write!(
        out,
        "{},{},{},{},{},{},{},{},{},",
        b.account_no,
        b.period,
        b.issue_date,
        b.due_date,
        b.revision,
        b.meter.start,
        b.meter.end,
        b.meter.multiplier,
        b.usage_kwh
    )?;
    for (n, line) in b.tier_lines.iter().enumerate() {
        let separator = if n > 0 { ";" } else { "" };
        write!(out, "{separator}{}:{}:{}:{}", line.tier, line.kwh, line.unit_price, line.amount_fen.value())?;
    }
    out.write_all(b",")?;
    for (n, line) in b.tou_lines.iter().enumerate() {
        let separator = if n > 0 { ";" } else { "" };
        let band = match line.band {
            TouBand::Sharp => "sharp",
            TouBand::Peak => "peak",
            TouBand::Flat => "flat",
            TouBand::Valley => "valley",
        };
        write!(out, "{separator}{band}:{}:{}:{}", line.kwh, line.unit_price, line.amount_fen.value())?;
    }
    out.write_all(b",")?;
    let charges: Vec<String> = b.other_charges.iter().map(|c| format!("{}:{}", c.name, c.amount_fen.value())).collect();
    write_field(out, &charges.join(";"))?;
    writeln!(out, ",{},{}", b.total.value(), b.paid.value())
}

/// A CSV field, quoted when it needs to be.
fn write_field(out: &mut impl Write, text: &str) -> std::io::Result<()> {
    if text.contains([',', '"', '\n', '\r']) {
        write!(out, "\"{}\"", text.replace('"', "\"\""))
    } else {
        out.write_all(text.as_bytes())
    }
}
