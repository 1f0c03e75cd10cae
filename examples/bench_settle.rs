//! Load generator for the settlement benchmark (`bench/settle.sh`): seeds pending orders straight into the database
//! of a running sandbox server, signs one success notification per order exactly as the platform would, sends them
//! all at a fixed number of concurrent connections and measures, then checks in the database that every order was
//! settled exactly once.
//!
//! ```text
//! EBILL_DATA_DIR=DIR [DATABASE_URL=postgres://...] cargo run --release --example bench_settle -- \
//!     --base-url http://127.0.0.1:PORT [--platform wechat|alipay] [--orders N] [--concurrency C] \
//!     [--server-pid PID] [--results FILE]
//! ```
//!
//! The database and the sandbox's keys are found as the server finds them (`EBILL_DATA_DIR`, `DATABASE_URL`):
//! WeChat Pay notifications are encrypted with `<data_dir>/sandbox/wechatpay_apiv3.key` and signed with
//! `wechatpay_platform_private_key.pem`, Alipay notifies are signed with `alipay_platform_private_key.pem`.
//!
//! Each platform's run uses its own account numbers (`51…` WeChat, `52…` Alipay), so both can run against one
//! database. Seeding and signing happen before the clock starts: only the sending is timed, from the first request
//! to the last answer. With `--server-pid`, the CPU time the server, PostgreSQL and this process used during the timed
//! phase is read from `/proc`. `--results` appends one tab-separated line for the script's table. The exit status is
//! 1 when any notify was not acknowledged or a check failed.

use chrono::{Datelike, Duration as Days, SecondsFormat};
use ebill::config::Settings;
use ebill::db::accounts;
use ebill::db::bills;
use ebill::db::ids::next_id;
use ebill::db::orders::{self, StoredOrder};
use ebill::db::{Backend, Database};
use ebill::domain::account::AccountInput;
use ebill::domain::bill::{BillInput, BillStatus, MeterReading};
use ebill::domain::calendar::{beijing_date, beijing_datetime, BillingPeriod};
use ebill::domain::money::Fen;
use ebill::domain::order::{fingerprint, order_no, payment_event_id, OrderLine, OrderState};
use ebill::domain::tariff::TieredTariff;
use ebill::domain::user::Platform;
use ebill::jobs::writeback::WRITEBACK_QUEUE;
use ebill::platform::alipay::alipay_timestamp;
use ebill::platform::crypto::aes_gcm::ApiV3Key;
use ebill::platform::crypto::alipay_sign::notify_sign_content;
use ebill::platform::wechatpay::{
    resource_nonce, sign_notification, signature_nonce, NotificationToSend, PlatformSigner,
};
use ebill::sandbox::keys::{
    SandboxKeys, SANDBOX_ALIPAY_APP_ID, SANDBOX_ALIPAY_SELLER_ID, SANDBOX_WECHATPAY_MCHID,
    SANDBOX_WECHATPAY_PUBLIC_KEY_ID, SANDBOX_WECHAT_APPID,
};
use rand::Rng;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE};
use serde_json::json;
use sqlx::Row;
use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const USAGE: &str = "usage: bench_settle --base-url URL [--platform wechat|alipay] [--orders N] [--concurrency C] \
                     [--server-pid PID] [--results FILE]";

/// Orders written per seeding transaction.
const SEED_BATCH: usize = 1000;
/// Rows per multi-row INSERT of users and bindings (a few hundred parameters suit SQLite, see `db::sql`).
const ROWS_PER_INSERT: usize = 35;
/// Failed answers shown in full.
const SHOWN_FAILURES: usize = 5;
/// WeChat Pay refuses a notification whose signature timestamp is more than this far from our clock.
const SIGNATURE_WINDOW_SECS: u64 = 300;

struct Args {
    base_url: String,
    platform: Platform,
    orders: usize,
    concurrency: usize,
    server_pid: Option<u32>,
    results: Option<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        base_url: String::new(),
        platform: Platform::Wechat,
        orders: 20_000,
        concurrency: 64,
        server_pid: None,
        results: None,
    };
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
        let number = || value.parse::<usize>().map_err(|_| format!("{name} needs a whole number, not {value:?}"));
        match name.as_str() {
            "--base-url" => args.base_url = value.trim_end_matches('/').to_string(),
            "--platform" => {
                args.platform = Platform::parse(&value).ok_or("--platform is wechat or alipay")?;
            }
            "--orders" => args.orders = number()?.clamp(1, 99_999_999),
            "--concurrency" => args.concurrency = number()?.clamp(1, 4096),
            "--server-pid" => args.server_pid = Some(number()? as u32),
            "--results" => args.results = Some(value),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if args.base_url.is_empty() {
        return Err("--base-url is required".into());
    }
    Ok(args)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) if message.is_empty() => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("bench_settle: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    // One thread drives the HTTP clients: the server and the database get the rest of the machine.
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("bench_settle: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(&args)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(message) => {
            eprintln!("bench_settle: {message}");
            ExitCode::FAILURE
        }
    }
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// The run's accounts: `51` (WeChat) or `52` (Alipay) and an eight-digit serial.
fn account_no(platform: Platform, serial: usize) -> String {
    let prefix = match platform {
        Platform::Wechat => "51",
        Platform::Alipay => "52",
    };
    format!("{prefix}{:08}", serial + 1)
}

/// One seeded order and what its platform will say about its payment.
struct SeededOrder {
    order_no: String,
    amount: Fen,
    payer: String,
    transaction_id: String,
    created_ms: i64,
}

async fn run(args: &Args) -> Result<bool, String> {
    let mut settings = Settings::load(None).map_err(|e| format!("settings: {e}"))?;
    settings.database.max_connections = 4;
    let db = ebill::open_storage(&settings).await.map_err(|e| format!("opening the database: {e}"))?;
    let keys = SandboxKeys::load_or_create(&settings.data_dir).map_err(|e| format!("sandbox keys: {e}"))?;
    let label = format!("{} on {}", args.platform.as_str(), db.backend().as_str());

    let started = Instant::now();
    let seeded = seed(&db, args.platform, args.orders).await?;
    let seed_secs = started.elapsed().as_secs_f64();

    let started = Instant::now();
    let url = match args.platform {
        Platform::Wechat => format!("{}/notify/wechat/pay", args.base_url),
        Platform::Alipay => format!("{}/notify/alipay", args.base_url),
    };
    let notifies = sign_all(&keys, args.platform, &seeded)?;
    println!(
        "{label}: seeded {} orders in {seed_secs:.1} s, signed their notifies in {:.1} s",
        seeded.len(),
        started.elapsed().as_secs_f64()
    );

    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency)
        .timeout(Duration::from_secs(60))
        .build()
        .map_err(|e| format!("HTTP client: {e}"))?;
    warm_up(&client, &args.base_url, args.concurrency).await?;

    let database = match db.backend() {
        Backend::Postgres => sqlx::query("SELECT CAST(current_database() AS TEXT) AS name")
            .fetch_one(db.pool())
            .await
            .and_then(|row| row.try_get::<String, _>("name"))
            .ok(),
        Backend::Sqlite => None,
    };
    let cpu_before = CpuSample::take(args.server_pid, database.as_deref());
    let pg_before = PgCounters::read(&db).await;
    let phase = send_all(&client, &url, args.platform, notifies, args.concurrency).await;
    let cpu_after = CpuSample::take(args.server_pid, database.as_deref());
    let pg_at_end = PgCounters::read(&db).await;
    let elapsed = phase.elapsed.as_secs_f64();
    // `started` is when the first notifications were signed: any later than the window and some were refused.
    if args.platform == Platform::Wechat && started.elapsed().as_secs() > SIGNATURE_WINDOW_SECS {
        println!("{label}: WARNING: some notifies were sent over {SIGNATURE_WINDOW_SECS} s after they were signed");
    }

    let mut latencies = phase.latencies_us;
    latencies.sort_unstable();
    let sent = latencies.len();
    let rate = sent as f64 / elapsed.max(1e-9);
    let (p50, p99, max) = (percentile(&latencies, 50.0), percentile(&latencies, 99.0), percentile(&latencies, 100.0));
    println!(
        "{label}: {sent} notifies in {elapsed:.2} s at {} connections: {rate:.0} settlements/s, latency p50 {p50:.1} \
         ms, p99 {p99:.1} ms, max {max:.1} ms; {} {}, {} other",
        args.concurrency,
        phase.success,
        match args.platform {
            Platform::Wechat => "answered 204",
            Platform::Alipay => "answered success",
        },
        phase.other
    );
    for failure in &phase.failures {
        println!("    not acknowledged: {failure}");
    }
    if let (Some(before), Some(after)) = (&cpu_before, &cpu_after) {
        println!("{label}: {}", before.describe(after, elapsed, db.backend()));
    }

    let checks = check(&db, args.platform, &seeded).await?;
    println!("{label}: {}", checks.describe());
    if let (Some(before), Some(at_end)) = (&pg_before, &pg_at_end) {
        tokio::time::sleep(Duration::from_secs(11)).await;
        if let Some(later) = PgCounters::read(&db).await {
            println!("{label}: {}", before.describe(at_end, &later, sent));
        }
    }
    let ok = phase.other == 0 && phase.success == seeded.len() && checks.passed();

    if let Some(path) = &args.results {
        let line = format!(
            "{}\t{}\t{sent}\t{elapsed:.3}\t{rate:.0}\t{p50:.1}\t{p99:.1}\t{max:.1}\t{}\t{}\t{}\n",
            db.backend().as_str(),
            args.platform.as_str(),
            phase.success,
            phase.other,
            if checks.passed() { "ok" } else { "FAILED" }
        );
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| format!("cannot open {path}: {e}"))?;
        file.write_all(line.as_bytes()).map_err(|e| format!("cannot write {path}: {e}"))?;
    }
    db.close().await;
    Ok(ok)
}

/// Milliseconds at percentile `p` of sorted microseconds.
fn percentile(sorted_us: &[u64], p: f64) -> f64 {
    if sorted_us.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted_us.len() as f64).ceil() as usize;
    sorted_us[rank.clamp(1, sorted_us.len()) - 1] as f64 / 1000.0
}

// ---------------------------------------------------------------------------------------------------------------
// Seeding: accounts and bills through the import's repositories, users and bindings in multi-row inserts, orders
// through `db::orders::insert` (the order, its line and the bill's open-order lock), as checkout writes them.

async fn seed(db: &Database, platform: Platform, count: usize) -> Result<Vec<SeededOrder>, String> {
    let sql_error = |what: &'static str| move |e: sqlx::Error| format!("seeding {what}: {e}");
    let now = now_ms();
    let today = beijing_date(now);
    let this_month = BillingPeriod::new(today.year(), today.month()).ok_or("no billing period")?;
    let period = this_month.plus_months(-1).ok_or("no billing period")?;
    let issue_date = this_month.first_day() + Days::days(1);
    let due_date = issue_date + Days::days(18);
    let tariff = TieredTariff::typical_residential();
    let first = account_no(platform, 0);
    let last = account_no(platform, count - 1);
    let existing: i64 = sqlx::query("SELECT COUNT(*) AS n FROM accounts WHERE account_no >= $1 AND account_no <= $2")
        .bind(first.clone())
        .bind(last.clone())
        .fetch_one(db.pool())
        .await
        .and_then(|row| row.try_get("n"))
        .map_err(sql_error("accounts"))?;
    if existing > 0 {
        return Err(format!("the database already holds accounts {first}..{last}: use a fresh database"));
    }

    // Accounts and their unpaid bill of last month.
    for chunk in (0..count).collect::<Vec<_>>().chunks(SEED_BATCH) {
        let mut account_batch = Vec::with_capacity(chunk.len());
        let mut bill_batch = Vec::with_capacity(chunk.len());
        for &serial in chunk {
            let number = account_no(platform, serial);
            let account = AccountInput {
                account_no: number.clone(),
                holder_name: format!("测试用户{}", serial + 1),
                address: format!("上海市浦东新区世纪大道{}号{}室", serial % 1999 + 1, serial % 2701 + 101),
                phone: format!("139{:08}", serial),
                account_type: "residential".into(),
                supply_unit: "国网上海市电力公司浦东供电公司".into(),
            };
            account_batch.push(account.validate().map_err(|r| format!("seeded account {number}: {r:?}"))?);
            let usage = 60 + (serial as i64 * 37) % 540;
            let start = (serial as i64 * 7919) % 60_000;
            let tier_lines = tariff.lines(usage);
            let total = Fen::checked_sum(tier_lines.iter().map(|l| l.amount_fen)).ok_or("bill total overflows")?;
            let bill = BillInput {
                account_no: number.clone(),
                period: period.to_string(),
                issue_date: issue_date.to_string(),
                due_date: due_date.to_string(),
                revision: 1,
                meter: MeterReading { start, end: start + usage, multiplier: 1 },
                usage_kwh: usage,
                tier_lines,
                tou_lines: Vec::new(),
                other_charges: Vec::new(),
                total_fen: total.value(),
                paid_fen: 0,
            };
            bill_batch.push(bill.validate().map_err(|r| format!("seeded bill of {number}: {r:?}"))?);
        }
        let mut tx = db.begin_write().await.map_err(sql_error("accounts"))?;
        accounts::upsert_batch(&mut tx, &account_batch, now).await.map_err(sql_error("accounts"))?;
        let outcomes = bills::upsert_batch(&mut tx, &bill_batch, now).await.map_err(sql_error("bills"))?;
        if let Some(refused) = outcomes.iter().find(|o| matches!(o, ebill::domain::feed::ItemOutcome::Rejected(_))) {
            return Err(format!("a seeded bill was refused: {refused:?}"));
        }
        tx.commit().await.map_err(sql_error("bills"))?;
    }
    let rows = sqlx::query(
        "SELECT id, account_no, total_fen FROM bills WHERE account_no >= $1 AND account_no <= $2 AND period = $3",
    )
    .bind(first.clone())
    .bind(last.clone())
    .bind(period.to_string())
    .fetch_all(db.pool())
    .await
    .map_err(sql_error("bills"))?;
    let mut bill_of: HashMap<String, (i64, i64)> = HashMap::with_capacity(rows.len());
    for row in &rows {
        let number: String = row.try_get("account_no").map_err(sql_error("bills"))?;
        bill_of.insert(
            number,
            (row.try_get("id").map_err(sql_error("bills"))?, row.try_get("total_fen").map_err(sql_error("bills"))?),
        );
    }
    if bill_of.len() != count {
        return Err(format!("seeded {} bills, expected {count}", bill_of.len()));
    }

    // One user per account, bound to it, on the run's platform.
    let appid = match platform {
        Platform::Wechat => SANDBOX_WECHAT_APPID,
        Platform::Alipay => SANDBOX_ALIPAY_APP_ID,
    };
    let mut rng = rand::thread_rng();
    let user_ids: Vec<i64> = (0..count).map(|_| next_id(now)).collect();
    let payers: Vec<String> = (0..count)
        .map(|serial| match platform {
            // 28 characters like a WeChat openid.
            Platform::Wechat => format!("oBench{:022}", serial + 1),
            // A 2088 user id.
            Platform::Alipay => format!("2088{:012}", 500_000_000_000u64 + serial as u64),
        })
        .collect();
    for (chunk_no, chunk) in user_ids.chunks(SEED_BATCH).enumerate() {
        let mut tx = db.begin_write().await.map_err(sql_error("users"))?;
        for (part_no, part) in chunk.chunks(ROWS_PER_INSERT).enumerate() {
            let base = chunk_no * SEED_BATCH + part_no * ROWS_PER_INSERT;
            let users_sql = format!(
                "INSERT INTO users (id, platform, appid, subject, alipay_user_id, created_at, last_login_at) VALUES {}",
                tuples(part.len(), 7)
            );
            let bindings_sql = format!(
                "INSERT INTO bindings (id, user_id, account_no, label, is_default, created_at) VALUES {}",
                tuples(part.len(), 6)
            );
            let mut users = sqlx::query(&users_sql);
            let mut bindings = sqlx::query(&bindings_sql);
            for (offset, id) in part.iter().enumerate() {
                let serial = base + offset;
                let alipay_user_id = (platform == Platform::Alipay).then(|| payers[serial].clone());
                users = users
                    .bind(*id)
                    .bind(platform.as_str())
                    .bind(appid)
                    .bind(payers[serial].clone())
                    .bind(alipay_user_id)
                    .bind(now)
                    .bind(now);
                bindings = bindings
                    .bind(next_id(now))
                    .bind(*id)
                    .bind(account_no(platform, serial))
                    .bind("家")
                    .bind(1i64)
                    .bind(now);
            }
            users.execute(&mut *tx).await.map_err(sql_error("users"))?;
            bindings.execute(&mut *tx).await.map_err(sql_error("bindings"))?;
        }
        tx.commit().await.map_err(sql_error("users"))?;
    }

    // A pending order per account for its bill, the platform's reference already known.
    let date = today.format("%Y%m%d").to_string();
    let mut seeded = Vec::with_capacity(count);
    for chunk_start in (0..count).step_by(SEED_BATCH) {
        let mut tx = db.begin_write().await.map_err(sql_error("orders"))?;
        for serial in chunk_start..(chunk_start + SEED_BATCH).min(count) {
            let number = account_no(platform, serial);
            let (bill_id, total) = bill_of[&number];
            let lines = [OrderLine { bill_id, principal: Fen::new(total), late_fee: Fen::ZERO }];
            let id = next_id(now);
            // The transaction id the platform will report: WeChat's 28 digits (`4200`, 6, the date, 10), Alipay's
            // trade_no (the date, `22001`, 15 digits). The serial makes them unique within the run.
            let (transaction_id, platform_ref) = match platform {
                Platform::Wechat => {
                    let transaction_id = format!("4200{:06}{date}{:010}", rng.gen_range(0..1_000_000), serial);
                    (transaction_id, format!("wx{date}{:020x}", rng.gen::<u64>()))
                }
                Platform::Alipay => {
                    let trade_no = format!("{date}22001{:07}{:08}", rng.gen_range(0..10_000_000), serial);
                    (trade_no.clone(), trade_no)
                }
            };
            let order = StoredOrder {
                id,
                order_no: order_no(id),
                user_id: user_ids[serial],
                account_no: number,
                platform,
                payer: payers[serial].clone(),
                amount: Fen::new(total),
                fingerprint: fingerprint(platform, &payers[serial], &lines),
                state: OrderState::Pending,
                platform_ref: Some(platform_ref),
                expires_at: now + 2 * 3600 * 1000,
                paid_at: None,
                flag: None,
                next_poll_at: now + 2 * 3600 * 1000,
                created_at: now,
                updated_at: now,
            };
            orders::insert(&mut tx, &order, &lines).await.map_err(|e| format!("seeding orders: {e}"))?;
            seeded.push(SeededOrder {
                order_no: order.order_no,
                amount: order.amount,
                payer: order.payer,
                transaction_id,
                created_ms: now,
            });
        }
        tx.commit().await.map_err(sql_error("orders"))?;
    }
    // Vacuumed and analysed, as autovacuum would leave a database in service (and so that it does not start during
    // the timed phase).
    let tidy = match db.backend() {
        Backend::Postgres => "VACUUM (ANALYZE)",
        Backend::Sqlite => "ANALYZE",
    };
    sqlx::query(tidy).execute(db.pool()).await.map_err(sql_error("statistics"))?;
    Ok(seeded)
}

/// `($1, $2, ...), (...)`: `rows` tuples of `columns` placeholders.
fn tuples(rows: usize, columns: usize) -> String {
    (0..rows)
        .map(|row| {
            let params: Vec<String> = (1..=columns).map(|c| format!("${}", row * columns + c)).collect();
            format!("({})", params.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

// ---------------------------------------------------------------------------------------------------------------
// Signing, as the platforms do, on every core.

/// A notification ready to POST.
struct Notify {
    headers: HeaderMap,
    body: Vec<u8>,
}

fn sign_all(keys: &SandboxKeys, platform: Platform, orders: &[SeededOrder]) -> Result<Vec<Notify>, String> {
    let api_v3_key =
        ApiV3Key::new(keys.wechatpay_apiv3_key.expose()).map_err(|e| format!("the sandbox APIv3 key: {e}"))?;
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let per_thread = orders.len().div_ceil(threads).max(1);
    let parts: Vec<Result<Vec<Notify>, String>> = std::thread::scope(|scope| {
        let handles: Vec<_> = orders
            .chunks(per_thread)
            .map(|chunk| {
                let api_v3_key = &api_v3_key;
                scope.spawn(move || {
                    chunk
                        .iter()
                        .map(|order| match platform {
                            Platform::Wechat => sign_wechat(keys, api_v3_key, order),
                            Platform::Alipay => sign_alipay(keys, order),
                        })
                        .collect()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|_| Err("a signing thread panicked".into()))).collect()
    });
    let mut notifies = Vec::with_capacity(orders.len());
    for part in parts {
        notifies.extend(part?);
    }
    Ok(notifies)
}

fn random_hex(rng: &mut impl Rng, digits: usize) -> String {
    (0..digits).map(|_| char::from(b"0123456789abcdef"[rng.gen_range(0..16)])).collect()
}

/// `TRANSACTION.SUCCESS` for the order's exact amount, encrypted with the APIv3 key and signed with the platform key
/// now (`sign_notification`, what the simulated WeChat Pay does).
fn sign_wechat(keys: &SandboxKeys, api_v3_key: &ApiV3Key, order: &SeededOrder) -> Result<Notify, String> {
    let now = now_ms();
    let rfc3339 = |ms: i64| beijing_datetime(ms).map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, false));
    let success_time = rfc3339(now).ok_or("time out of range")?;
    let transaction = json!({
        "appid": SANDBOX_WECHAT_APPID,
        "mchid": SANDBOX_WECHATPAY_MCHID,
        "out_trade_no": order.order_no,
        "transaction_id": order.transaction_id,
        "trade_type": "JSAPI",
        "trade_state": "SUCCESS",
        "trade_state_desc": "支付成功",
        "bank_type": "OTHERS",
        "success_time": success_time,
        "payer": { "openid": order.payer },
        "amount": {
            "total": order.amount.value(),
            "payer_total": order.amount.value(),
            "currency": "CNY",
            "payer_currency": "CNY",
        },
    })
    .to_string();
    let hex = random_hex(&mut rand::thread_rng(), 32);
    let id = format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..]);
    let notification = NotificationToSend {
        id: &id,
        create_time: &success_time,
        event_type: "TRANSACTION.SUCCESS",
        summary: "支付成功",
        original_type: "transaction",
        plaintext: transaction.as_bytes(),
    };
    let signer = PlatformSigner { key: &keys.wechatpay_platform_key, serial: SANDBOX_WECHATPAY_PUBLIC_KEY_ID };
    let signed =
        sign_notification(signer, api_v3_key, &notification, now / 1000, &signature_nonce(), &resource_nonce())
            .map_err(|e| format!("signing a WeChat Pay notification: {e}"))?;
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(reqwest::header::USER_AGENT, HeaderValue::from_static("Mozilla/4.0"));
    for (name, value) in signed.headers.pairs() {
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| format!("header name {name}"))?;
        headers.insert(name, HeaderValue::from_str(value).map_err(|_| "a header value is not valid".to_string())?);
    }
    Ok(Notify { headers, body: signed.body.into_bytes() })
}

/// A form-encoded `TRADE_SUCCESS` trade notify, its parameters as Alipay sends them, signed RSA2 with the simulated
/// Alipay's key over the notify sign string.
fn sign_alipay(keys: &SandboxKeys, order: &SeededOrder) -> Result<Notify, String> {
    let now = now_ms();
    let time = |ms: i64| alipay_timestamp(ms).ok_or("time out of range");
    let amount = order.amount.to_yuan_string();
    let mut rng = rand::thread_rng();
    let notify_id: String = format!(
        "{}00222{}",
        beijing_date(now).format("%Y%m%d"),
        (0..21).map(|_| char::from(b'0' + rng.gen_range(0..10u8))).collect::<String>()
    );
    let fund_bill_list = json!([{ "amount": amount, "fundChannel": "ALIPAYACCOUNT" }]).to_string();
    let mut params: Vec<(&str, String)> = vec![
        ("notify_time", time(now)?),
        ("notify_type", "trade_status_sync".into()),
        ("notify_id", notify_id),
        ("app_id", SANDBOX_ALIPAY_APP_ID.into()),
        ("charset", "utf-8".into()),
        ("version", "1.0".into()),
        ("sign_type", "RSA2".into()),
        ("trade_no", order.transaction_id.clone()),
        ("out_trade_no", order.order_no.clone()),
        ("buyer_id", order.payer.clone()),
        ("seller_id", SANDBOX_ALIPAY_SELLER_ID.into()),
        ("trade_status", "TRADE_SUCCESS".into()),
        ("total_amount", amount.clone()),
        ("receipt_amount", amount.clone()),
        ("invoice_amount", amount.clone()),
        ("buyer_pay_amount", amount),
        ("point_amount", "0.00".into()),
        ("gmt_create", time(order.created_ms)?),
        ("gmt_payment", time(now)?),
        ("fund_bill_list", fund_bill_list),
        ("subject", "电费缴纳".into()),
        ("auth_app_id", SANDBOX_ALIPAY_APP_ID.into()),
    ];
    let content = notify_sign_content(params.iter().map(|(k, v)| (*k, v.as_str())));
    let sign = keys
        .alipay_platform_key
        .sign_sha256_base64(content.as_bytes())
        .map_err(|e| format!("signing an Alipay notify: {e}"))?;
    params.insert(7, ("sign", sign));
    // The URL's query serializer is application/x-www-form-urlencoded, as Alipay posts it.
    let mut form = reqwest::Url::parse("http://form.invalid/").map_err(|e| e.to_string())?;
    form.query_pairs_mut().extend_pairs(params.iter().map(|(k, v)| (*k, v.as_str())));
    let body = form.query().unwrap_or_default().as_bytes().to_vec();
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/x-www-form-urlencoded; charset=utf-8"));
    Ok(Notify { headers, body })
}

// ---------------------------------------------------------------------------------------------------------------
// Sending.

/// Opens the connections before the clock starts.
async fn warm_up(client: &reqwest::Client, base_url: &str, concurrency: usize) -> Result<(), String> {
    let url = format!("{base_url}/healthz");
    let mut tasks = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        let client = client.clone();
        let url = url.clone();
        tasks.push(tokio::spawn(async move { client.get(&url).send().await.map(|r| r.status().is_success()) }));
    }
    for task in tasks {
        match task.await {
            Ok(Ok(true)) => {}
            Ok(Ok(false)) => return Err(format!("{url} did not answer 200")),
            Ok(Err(e)) => return Err(format!("{url}: {e}")),
            Err(e) => return Err(format!("warm-up: {e}")),
        }
    }
    Ok(())
}

struct Phase {
    elapsed: Duration,
    latencies_us: Vec<u64>,
    success: usize,
    other: usize,
    failures: Vec<String>,
}

async fn send_all(
    client: &reqwest::Client,
    url: &str,
    platform: Platform,
    notifies: Vec<Notify>,
    concurrency: usize,
) -> Phase {
    let total = notifies.len();
    let queue = Arc::new(Mutex::new(notifies.into_iter()));
    let started = Instant::now();
    let mut workers = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        let queue = queue.clone();
        let client = client.clone();
        let url = url.to_string();
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(total / concurrency + 1);
            let (mut success, mut other, mut failures) = (0usize, 0usize, Vec::new());
            loop {
                let Some(notify) = queue.lock().expect("queue lock").next() else { break };
                let sent = Instant::now();
                let answer = match client.post(&url).headers(notify.headers).body(notify.body).send().await {
                    Ok(response) => {
                        let status = response.status().as_u16();
                        response.text().await.map(|body| (status, body)).map_err(|e| e.to_string())
                    }
                    Err(e) => Err(e.to_string()),
                };
                latencies.push(sent.elapsed().as_micros() as u64);
                let acknowledged = match (&answer, platform) {
                    (Ok((204, _)), Platform::Wechat) => true,
                    (Ok((200, body)), Platform::Alipay) => body == "success",
                    _ => false,
                };
                if acknowledged {
                    success += 1;
                } else {
                    other += 1;
                    if failures.len() < SHOWN_FAILURES {
                        failures.push(match answer {
                            Ok((status, body)) => {
                                format!("HTTP {status} {}", body.chars().take(200).collect::<String>())
                            }
                            Err(e) => format!("no answer: {e}"),
                        });
                    }
                }
            }
            (latencies, success, other, failures)
        }));
    }
    let mut phase = Phase {
        elapsed: Duration::ZERO,
        latencies_us: Vec::with_capacity(total),
        success: 0,
        other: 0,
        failures: Vec::new(),
    };
    for worker in workers {
        match worker.await {
            Ok((latencies, success, other, failures)) => {
                phase.latencies_us.extend(latencies);
                phase.success += success;
                phase.other += other;
                phase.failures.extend(failures);
            }
            Err(e) => phase.failures.push(format!("a sender failed: {e}")),
        }
    }
    phase.elapsed = started.elapsed();
    phase.other += total - phase.success - phase.other;
    phase.failures.truncate(SHOWN_FAILURES);
    phase
}

// ---------------------------------------------------------------------------------------------------------------
// Checking the database.

struct Checks {
    orders: usize,
    paid: usize,
    bills_paid: usize,
    locks_left: i64,
    payments: usize,
    orders_paid_once: usize,
    settled: usize,
    jobs_once: usize,
}

impl Checks {
    fn passed(&self) -> bool {
        self.paid == self.orders
            && self.bills_paid == self.orders
            && self.locks_left == 0
            && self.payments == self.orders
            && self.orders_paid_once == self.orders
            && self.settled == self.orders
            && self.jobs_once == self.orders
    }

    fn describe(&self) -> String {
        let verdict = if self.passed() { "ok" } else { "FAILED" };
        format!(
            "check {verdict}: {}/{} orders paid ({} bills paid, {} open-order locks left), {} payments ({} settled, \
             {} orders with exactly one), {} payments with exactly one write-back job",
            self.paid,
            self.orders,
            self.bills_paid,
            self.locks_left,
            self.payments,
            self.settled,
            self.orders_paid_once,
            self.jobs_once
        )
    }
}

async fn check(db: &Database, platform: Platform, seeded: &[SeededOrder]) -> Result<Checks, String> {
    let sql_error = |e: sqlx::Error| format!("checking: {e}");
    let first = account_no(platform, 0);
    let last = account_no(platform, seeded.len() - 1);
    let ours: HashSet<&str> = seeded.iter().map(|o| o.order_no.as_str()).collect();

    let rows = sqlx::query(
        "SELECT id, order_no, state FROM orders WHERE platform = $1 AND account_no >= $2 AND account_no <= $3",
    )
    .bind(platform.as_str())
    .bind(first.clone())
    .bind(last.clone())
    .fetch_all(db.pool())
    .await
    .map_err(sql_error)?;
    let mut order_ids = HashSet::new();
    let mut paid = 0;
    for row in &rows {
        let order_no: String = row.try_get("order_no").map_err(sql_error)?;
        let state: String = row.try_get("state").map_err(sql_error)?;
        if ours.contains(order_no.as_str()) {
            order_ids.insert(row.try_get::<i64, _>("id").map_err(sql_error)?);
            paid += usize::from(state == OrderState::Paid.as_str());
        }
    }

    let bills_paid: i64 =
        sqlx::query("SELECT COUNT(*) AS n FROM bills WHERE account_no >= $1 AND account_no <= $2 AND status = $3")
            .bind(first.clone())
            .bind(last.clone())
            .bind(BillStatus::Paid.as_str())
            .fetch_one(db.pool())
            .await
            .and_then(|row| row.try_get("n"))
            .map_err(sql_error)?;
    let locks_left: i64 = sqlx::query(
        "SELECT COUNT(*) AS n FROM open_bill_orders l JOIN orders o ON o.id = l.order_id \
         WHERE o.platform = $1 AND o.account_no >= $2 AND o.account_no <= $3",
    )
    .bind(platform.as_str())
    .bind(first.clone())
    .bind(last.clone())
    .fetch_one(db.pool())
    .await
    .and_then(|row| row.try_get("n"))
    .map_err(sql_error)?;

    let rows = sqlx::query(
        "SELECT p.id, p.order_id, p.outcome FROM payments p JOIN orders o ON o.id = p.order_id \
         WHERE o.platform = $1 AND o.account_no >= $2 AND o.account_no <= $3",
    )
    .bind(platform.as_str())
    .bind(first)
    .bind(last)
    .fetch_all(db.pool())
    .await
    .map_err(sql_error)?;
    let mut payments_per_order: HashMap<i64, usize> = HashMap::new();
    let mut payment_ids = Vec::with_capacity(rows.len());
    let mut settled = 0;
    for row in &rows {
        let order_id: i64 = row.try_get("order_id").map_err(sql_error)?;
        if order_ids.contains(&order_id) {
            *payments_per_order.entry(order_id).or_default() += 1;
            payment_ids.push(row.try_get::<i64, _>("id").map_err(sql_error)?);
            let outcome: String = row.try_get("outcome").map_err(sql_error)?;
            settled += usize::from(outcome == "settled");
        }
    }

    let rows = sqlx::query("SELECT dedupe_key FROM jobs WHERE queue = $1 AND dedupe_key IS NOT NULL")
        .bind(WRITEBACK_QUEUE)
        .fetch_all(db.pool())
        .await
        .map_err(sql_error)?;
    let mut jobs_per_key: HashMap<String, usize> = HashMap::new();
    for row in &rows {
        *jobs_per_key.entry(row.try_get("dedupe_key").map_err(sql_error)?).or_default() += 1;
    }
    let jobs_once = payment_ids.iter().filter(|id| jobs_per_key.get(&payment_event_id(**id)) == Some(&1)).count();

    Ok(Checks {
        orders: seeded.len(),
        paid,
        bills_paid: bills_paid as usize,
        locks_left,
        payments: payment_ids.len(),
        orders_paid_once: payments_per_order.values().filter(|n| **n == 1).count(),
        settled,
        jobs_once,
    })
}

// ---------------------------------------------------------------------------------------------------------------
// Where the time went: CPU from /proc (Linux), PostgreSQL's own counters.

/// Clock ticks per second of /proc's CPU times (USER_HZ, 100 on Linux).
const TICKS_PER_SEC: f64 = 100.0;

struct CpuSample {
    /// All CPUs: busy and total ticks.
    busy: u64,
    total: u64,
    server: Option<u64>,
    /// PostgreSQL's processes that work for us (our database's backends, the WAL writer and the other auxiliary
    /// processes; not the backends of other databases): ticks by pid.
    postgres: HashMap<u32, u64>,
    client: u64,
}

/// utime + stime of a process, from /proc/PID/stat.
fn process_ticks(pid: &str) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    // After the command: state is field 3, utime 14, stime 15.
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

/// PostgreSQL's processes on this machine that serve `database` or the whole cluster, by their titles
/// (`postgres: 15/main: USER DATABASE HOST(PORT) STATE` for a backend).
fn postgres_ticks(database: &str) -> HashMap<u32, u64> {
    let mut ticks = HashMap::new();
    let Ok(entries) = std::fs::read_dir("/proc") else { return ticks };
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        if !std::fs::read_to_string(entry.path().join("comm")).is_ok_and(|comm| comm.trim() == "postgres") {
            continue;
        }
        let title = std::fs::read(entry.path().join("cmdline")).map(|b| String::from_utf8_lossy(&b).into_owned());
        let is_backend = title.as_ref().is_ok_and(|t| t.contains('(') || t.contains("[local]"));
        let ours = title.as_ref().is_ok_and(|t| t.split_whitespace().any(|word| word == database));
        if ours || !is_backend {
            if let Some(t) = process_ticks(&pid.to_string()) {
                ticks.insert(pid, t);
            }
        }
    }
    ticks
}

impl CpuSample {
    fn take(server_pid: Option<u32>, database: Option<&str>) -> Option<CpuSample> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        let cpu: Vec<u64> = stat.lines().next()?.split_whitespace().skip(1).filter_map(|v| v.parse().ok()).collect();
        let total: u64 = cpu.iter().take(8).sum();
        let idle = cpu.get(3).copied().unwrap_or(0) + cpu.get(4).copied().unwrap_or(0);
        Some(CpuSample {
            busy: total - idle,
            total,
            server: server_pid.and_then(|pid| process_ticks(&pid.to_string())),
            postgres: database.map(postgres_ticks).unwrap_or_default(),
            client: process_ticks("self").unwrap_or(0),
        })
    }

    fn describe(&self, after: &CpuSample, seconds: f64, backend: Backend) -> String {
        let cores = |ticks: u64| ticks as f64 / TICKS_PER_SEC / seconds.max(1e-9);
        let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        let busy = after.busy.saturating_sub(self.busy) as f64 / after.total.saturating_sub(self.total).max(1) as f64;
        let server = self.server.zip(after.server).map(|(b, a)| cores(a.saturating_sub(b)));
        // A process that started during the phase counts whole; one that ended during it is missed.
        let postgres = cores(
            after.postgres.iter().map(|(pid, t)| t.saturating_sub(self.postgres.get(pid).copied().unwrap_or(0))).sum(),
        );
        let client = cores(after.client.saturating_sub(self.client));
        let mut text = format!("CPU in use {:.0}% of {cpus} cores: ", busy * 100.0);
        if let Some(server) = server {
            text.push_str(&format!("ebill {server:.2}, "));
        }
        if backend == Backend::Postgres {
            text.push_str(&format!("postgres {postgres:.2}, "));
        }
        let other = busy * cpus as f64 - server.unwrap_or(0.0) - postgres - client;
        text.push_str(&format!("load generator {client:.2}, anything else {:.2} cores", other.max(0.0)));
        text
    }
}

/// PostgreSQL's counters: this database's transactions, and the cluster's WAL (shared with anything else the server
/// runs, autovacuum included).
struct PgCounters {
    commits: i64,
    rollbacks: i64,
    wal_syncs: i64,
    /// The WAL's insert position, in bytes: exact at once, where the statistics lag.
    wal_position: i64,
}

impl PgCounters {
    async fn read(db: &Database) -> Option<PgCounters> {
        if db.backend() != Backend::Postgres {
            return None;
        }
        let row = sqlx::query(
            "SELECT d.xact_commit AS commits, d.xact_rollback AS rollbacks, w.wal_sync, \
             CAST(pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0') AS BIGINT) AS wal_position \
             FROM pg_stat_database d, pg_stat_wal w WHERE d.datname = current_database()",
        )
        .fetch_one(db.pool())
        .await
        .ok()?;
        Some(PgCounters {
            commits: row.try_get("commits").ok()?,
            rollbacks: row.try_get("rollbacks").ok()?,
            wal_syncs: row.try_get("wal_sync").ok()?,
            wal_position: row.try_get("wal_position").ok()?,
        })
    }

    /// Per settlement: WAL bytes from `self` to `at_end` (read as the phase ended), the statistics from `self` to
    /// `later` (read once the server's connections published theirs: a busy backend publishes at most once a second,
    /// and once idle only after PGSTAT_IDLE_INTERVAL, 10 s).
    fn describe(&self, at_end: &PgCounters, later: &PgCounters, settlements: usize) -> String {
        let per = |before: i64, after: i64| (after - before) as f64 / settlements.max(1) as f64;
        format!(
            "postgres per settlement: {:.2} commits, {:.2} rollbacks, {:.0} WAL bytes, {:.2} WAL fsyncs",
            per(self.commits, later.commits),
            per(self.rollbacks, later.rollbacks),
            per(self.wal_position, at_end.wal_position),
            per(self.wal_syncs, later.wal_syncs)
        )
    }
}
