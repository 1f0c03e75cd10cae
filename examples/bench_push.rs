//! Driver of the pushed-messages benchmark (`bench/push.sh`, issue 6): how long a running `ebill serve` takes to
//! announce and deliver one new-bill message per imported bill, through its own scheduler and delivery workers, to
//! the sandbox's simulated WeChat.
//!
//! ```text
//! EBILL_CONFIG=FILE EBILL_DATA_DIR=DIR [DATABASE_URL=postgres://...] bench_push prepare --bills N --out DIR
//! EBILL_CONFIG=FILE EBILL_DATA_DIR=DIR [DATABASE_URL=postgres://...] bench_push run --base-url http://127.0.0.1:PORT \
//!     --server-pid PID --ebill target/release/ebill --bills-csv DIR/bills.csv --bills N \
//!     [--rate R] [--steady-from M] [--timeout-secs S] [--target-secs T] [--target-rss-mb MB] [--results FILE]
//! ```
//!
//! `prepare` (before the server starts, untimed) writes straight into the database N accounts, N WeChat users of
//! the sandbox's mini-program (one openid each), one binding per user to its own account and a standing permission
//! (`subscriptions.long_term = 1`) per user for the sandbox's WeChat new-bill template, and writes `bills.csv`: one
//! new unpaid bill per account, due 20 days from today (no reminder step falls due during the run).
//!
//! `run` (against the server started on that database) declares the template long-term at the simulated WeChat,
//! starts the clock, runs `ebill import bills` as a child process (same environment, same database) and polls
//! `GET /sandbox/inbox?limit=1` every 200 ms until the WeChat total reaches N. It prints the import's time, the time
//! until every message was in the inbox (from the start and from the end of the import), messages/s, the CPU the
//! server, PostgreSQL and the import used, and the server's peak resident memory (VmHWM). With `--rate R` (the
//! server runs with `messages.rate_limit_wechat_per_sec = R`) it measures the delivery rate over the steady part, from
//! message `--steady-from` to the last, by the simulated platform's own receipt times, and checks it is within 5% of
//! R. Then it checks the database: one `messages` row per bill, all `sent`, no bill left marked, and the inbox total
//! equal to the bill count (no duplicate). The exit status is 1 when a target is missed or a check fails.

use chrono::{Datelike, Duration as Days};
use ebill::config::{Mode, Settings};
use ebill::db::accounts;
use ebill::db::ids::next_id;
use ebill::db::{Backend, Database};
use ebill::domain::account::AccountInput;
use ebill::domain::calendar::{beijing_date, BillingPeriod};
use ebill::domain::message::MessageKind;
use ebill::domain::money::Fen;
use ebill::domain::tariff::TieredTariff;
use ebill::sandbox::keys::SANDBOX_WECHAT_APPID;
use serde_json::{json, Value};
use sqlx::Row;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const USAGE: &str =
    "usage: bench_push prepare --bills N --out DIR\n       bench_push run --base-url URL --server-pid PID \
                     --ebill PATH --bills-csv FILE --bills N [--rate R] [--steady-from M] [--timeout-secs S] \
                     [--target-secs T] [--target-rss-mb MB] [--results FILE]";

/// The benchmark's account numbers: `61` and an eight-digit serial.
fn account_no(serial: usize) -> String {
    format!("61{:08}", serial + 1)
}

/// A 28-character openid, as WeChat issues them.
fn openid(serial: usize) -> String {
    format!("oPushBench{:018}", serial + 1)
}

/// Accounts (and users) written per seeding transaction.
const SEED_BATCH: usize = 2000;
/// Inbox polls.
const POLL_EVERY: Duration = Duration::from_millis(200);
/// A progress line this often.
const PROGRESS_EVERY: Duration = Duration::from_secs(5);
/// How long the queue may take to record the last outcomes once the inbox is full.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the inbox is watched after the checks for a late duplicate.
const DUPLICATE_WATCH: Duration = Duration::from_secs(2);
/// The measured rate may differ from the limit by this fraction.
const RATE_TOLERANCE: f64 = 0.05;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let command = args.next().unwrap_or_default();
    let options = match Options::parse(args) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("bench_push: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("bench_push: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = match command.as_str() {
        "prepare" => runtime.block_on(prepare(&options)).map(|()| true),
        "run" => runtime.block_on(run(&options)),
        "-h" | "--help" | "help" => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        other => {
            eprintln!("bench_push: unknown command {other:?}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(message) => {
            eprintln!("bench_push: {message}");
            ExitCode::FAILURE
        }
    }
}

#[derive(Default)]
struct Options {
    bills: usize,
    out: Option<PathBuf>,
    base_url: String,
    server_pid: Option<u32>,
    ebill: Option<PathBuf>,
    bills_csv: Option<PathBuf>,
    rate: u32,
    steady_from: usize,
    timeout: Duration,
    target_secs: f64,
    target_rss_mb: f64,
    results: Option<PathBuf>,
}

impl Options {
    fn parse(mut args: impl Iterator<Item = String>) -> Result<Options, String> {
        let mut options = Options {
            bills: 100_000,
            steady_from: 2_000,
            timeout: Duration::from_secs(300),
            target_secs: 60.0,
            target_rss_mb: 250.0,
            ..Options::default()
        };
        while let Some(flag) = args.next() {
            let (name, value) = match flag.split_once('=') {
                Some((name, value)) => (name.to_string(), value.to_string()),
                None => {
                    let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
                    (flag, value)
                }
            };
            let number = || value.parse::<u64>().map_err(|_| format!("{name} needs a whole number, not {value:?}"));
            let real = || value.parse::<f64>().map_err(|_| format!("{name} needs a number, not {value:?}"));
            match name.as_str() {
                "--bills" => options.bills = number()?.clamp(1, 99_999_999) as usize,
                "--out" => options.out = Some(PathBuf::from(value)),
                "--base-url" => options.base_url = value.trim_end_matches('/').to_string(),
                "--server-pid" => options.server_pid = Some(number()? as u32),
                "--ebill" => options.ebill = Some(PathBuf::from(value)),
                "--bills-csv" => options.bills_csv = Some(PathBuf::from(value)),
                "--rate" => options.rate = number()?.min(u64::from(u32::MAX)) as u32,
                "--steady-from" => options.steady_from = number()? as usize,
                "--timeout-secs" => options.timeout = Duration::from_secs(number()?.max(1)),
                "--target-secs" => options.target_secs = real()?,
                "--target-rss-mb" => options.target_rss_mb = real()?,
                "--results" => options.results = Some(PathBuf::from(value)),
                other => return Err(format!("unknown argument {other:?}")),
            }
        }
        Ok(options)
    }
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

async fn open(settings: &Settings) -> Result<Database, String> {
    let mut settings = settings.clone();
    settings.database.max_connections = 4;
    ebill::open_storage(&settings).await.map_err(|e| format!("opening the database: {e}"))
}

fn load_settings() -> Result<Settings, String> {
    let path = std::env::var_os("EBILL_CONFIG").filter(|p| !p.is_empty()).map(PathBuf::from);
    Settings::load(path.as_deref()).map_err(|e| format!("settings: {e}"))
}

/// The template the server sends new bills with on WeChat.
fn new_bill_template(settings: &Settings) -> Result<String, String> {
    let sandbox = settings.mode() == Mode::Sandbox;
    if !sandbox {
        return Err("the benchmark runs in sandbox mode only (no [wechat] or [alipay] credentials)".into());
    }
    settings
        .messages
        .template_for(MessageKind::NewBill, "wechat", sandbox)
        .map(|spec| spec.template_id)
        .ok_or_else(|| "no WeChat template for new bills in the settings".into())
}

// ---------------------------------------------------------------------------------------------------------------
// Preparing: accounts, users, bindings and standing permissions in the database; the bills in a CSV file.

/// `($1, ...), (...)`: `rows` tuples of `columns` placeholders.
fn tuples(rows: usize, columns: usize) -> String {
    (0..rows)
        .map(|row| {
            let placeholders: Vec<String> = (1..=columns).map(|c| format!("${}", row * columns + c)).collect();
            format!("({})", placeholders.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Rows per multi-row INSERT: a few hundred parameters on SQLite (see `db::sql`), more on PostgreSQL.
fn rows_per_insert(backend: Backend, columns: usize) -> usize {
    let params = match backend {
        Backend::Sqlite => 250,
        Backend::Postgres => 8_000,
    };
    (params / columns).max(1)
}

async fn prepare(options: &Options) -> Result<(), String> {
    let out = options.out.as_deref().ok_or("--out is required")?;
    std::fs::create_dir_all(out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    let settings = load_settings()?;
    let template_id = new_bill_template(&settings)?;
    let db = open(&settings).await?;
    let count = options.bills;
    let sql_error = |what: &'static str| move |e: sqlx::Error| format!("seeding {what}: {e}");
    let existing: i64 = sqlx::query("SELECT COUNT(*) AS n FROM accounts WHERE account_no >= $1 AND account_no <= $2")
        .bind(account_no(0))
        .bind(account_no(count - 1))
        .fetch_one(db.pool())
        .await
        .and_then(|row| row.try_get("n"))
        .map_err(sql_error("accounts"))?;
    if existing > 0 {
        return Err("the database already holds the benchmark's accounts: use a fresh database".into());
    }

    let started = Instant::now();
    let now = now_ms();
    let backend = db.backend();
    for chunk_start in (0..count).step_by(SEED_BATCH) {
        let serials = chunk_start..(chunk_start + SEED_BATCH).min(count);
        let mut batch = Vec::with_capacity(serials.len());
        for serial in serials.clone() {
            let input = AccountInput {
                account_no: account_no(serial),
                holder_name: format!("推送用户{}", serial + 1),
                address: format!("上海市徐汇区漕溪北路{}号{}室", serial % 1999 + 1, serial % 2701 + 101),
                phone: format!("137{:08}", serial),
                account_type: "residential".into(),
                supply_unit: "国网上海市电力公司市区供电公司".into(),
            };
            batch.push(input.validate().map_err(|r| format!("account {}: {r:?}", account_no(serial)))?);
        }
        let ids: Vec<i64> = serials.clone().map(|_| next_id(now)).collect();
        let mut tx = db.begin_write().await.map_err(sql_error("accounts"))?;
        accounts::upsert_batch(&mut tx, &batch, now).await.map_err(sql_error("accounts"))?;
        // Users of the sandbox's mini-program, one binding each to its own account, and a standing permission for the
        // new-bill template (what a user who accepted a long-term template holds).
        let tables: [(&str, usize); 3] = [
            ("users (id, platform, appid, subject, created_at, last_login_at)", 6),
            ("bindings (id, user_id, account_no, label, is_default, created_at)", 6),
            ("subscriptions (user_id, template_id, credits, long_term, status, updated_at)", 6),
        ];
        for (table_no, (table, columns)) in tables.into_iter().enumerate() {
            let rows = rows_per_insert(backend, columns);
            for (part_no, part) in ids.chunks(rows).enumerate() {
                let first = chunk_start + part_no * rows;
                let sql = format!("INSERT INTO {table} VALUES {}", tuples(part.len(), columns));
                let mut query = sqlx::query(&sql);
                for (offset, id) in part.iter().enumerate() {
                    let serial = first + offset;
                    query = match table_no {
                        0 => query
                            .bind(*id)
                            .bind("wechat")
                            .bind(SANDBOX_WECHAT_APPID)
                            .bind(openid(serial))
                            .bind(now)
                            .bind(now),
                        1 => {
                            query.bind(next_id(now)).bind(*id).bind(account_no(serial)).bind("家").bind(1_i64).bind(now)
                        }
                        _ => query.bind(*id).bind(template_id.clone()).bind(0_i64).bind(1_i64).bind("accept").bind(now),
                    };
                }
                let name = table.split(' ').next().unwrap_or(table);
                query.execute(&mut *tx).await.map_err(|e| format!("seeding {name}: {e}"))?;
            }
        }
        tx.commit().await.map_err(sql_error("accounts"))?;
    }
    let seeded = started.elapsed().as_secs_f64();
    db.close().await;

    // One new bill per account: last month's, issued today, due in 20 days (no reminder step falls due today).
    let today = beijing_date(now);
    let period =
        BillingPeriod::new(today.year(), today.month()).and_then(|p| p.plus_months(-1)).ok_or("no billing period")?;
    let due = today + Days::days(20);
    let tariff = TieredTariff::typical_residential();
    let path = out.join("bills.csv");
    let file = std::fs::File::create(&path).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    let mut csv = BufWriter::new(file);
    let write_error = |e: std::io::Error| format!("cannot write {}: {e}", path.display());
    writeln!(
        csv,
        "account_no,period,issue_date,due_date,revision,reading_start,reading_end,multiplier,usage_kwh,tier_lines,\
         tou_lines,other_charges,total_fen,paid_fen"
    )
    .map_err(write_error)?;
    for serial in 0..count {
        let usage = 60 + (serial as i64 * 37) % 540;
        let start = (serial as i64 * 7919) % 60_000;
        let lines = tariff.lines(usage);
        let total = Fen::checked_sum(lines.iter().map(|l| l.amount_fen)).ok_or("bill total overflows")?;
        let tiers: Vec<String> =
            lines.iter().map(|l| format!("{}:{}:{}:{}", l.tier, l.kwh, l.unit_price, l.amount_fen.value())).collect();
        writeln!(
            csv,
            "{},{period},{today},{due},1,{start},{},1,{usage},{},,,{},0",
            account_no(serial),
            start + usage,
            tiers.join(";"),
            total.value()
        )
        .map_err(write_error)?;
    }
    csv.flush().map_err(write_error)?;
    println!(
        "prepared {count} accounts, WeChat users, bindings and standing permissions for {template_id} in {seeded:.1} \
         s on {}; {count} new bills of {period} in {}",
        backend.as_str(),
        path.display()
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------------------------
// Running: the import, the wait for the inbox, the figures and the checks.

/// One poll of the inbox: when (since the import started), the WeChat total, and the newest message's sequence
/// number and receipt time as the simulated platform recorded them.
#[derive(Clone, Copy, Debug)]
struct Sample {
    at: Duration,
    total: u64,
    newest_seq: u64,
    newest_ms: i64,
}

async fn poll_inbox(client: &reqwest::Client, base_url: &str, started: Instant) -> Result<Sample, String> {
    let url = format!("{base_url}/sandbox/inbox?channel=wechat&limit=1");
    let response = client.get(&url).send().await.map_err(|e| format!("{url}: {e}"))?;
    let status = response.status();
    let body: Value = response.json().await.map_err(|e| format!("{url}: {e}"))?;
    if !status.is_success() {
        return Err(format!("{url} answered {status}: {body}"));
    }
    let newest = body["messages"].get(0);
    Ok(Sample {
        at: started.elapsed(),
        total: body["total"]["wechat"].as_u64().unwrap_or(0),
        newest_seq: newest.and_then(|m| m["id"].as_u64()).unwrap_or(0),
        newest_ms: newest.and_then(|m| m["received_at_ms"].as_i64()).unwrap_or(0),
    })
}

/// The import as a child process: its exit, its summary line and when it ended.
struct ImportRun {
    ok: bool,
    summary: String,
    elapsed: Duration,
    output: String,
}

fn start_import(ebill: &Path, csv: &Path, started: Instant) -> Result<std::thread::JoinHandle<ImportRun>, String> {
    let child = Command::new(ebill)
        .args(["import", "bills"])
        .arg(csv)
        .arg("--quiet")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", ebill.display()))?;
    Ok(std::thread::spawn(move || match child.wait_with_output() {
        Ok(output) => {
            let elapsed = started.elapsed();
            let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
            let summary = stdout.lines().rfind(|l| l.starts_with("imported ")).unwrap_or("").to_string();
            ImportRun {
                ok: output.status.success() && !summary.is_empty(),
                summary,
                elapsed,
                output: format!("{stdout}{}", String::from_utf8_lossy(&output.stderr)),
            }
        }
        Err(e) => ImportRun { ok: false, summary: String::new(), elapsed: started.elapsed(), output: e.to_string() },
    }))
}

/// `imported FILE: N rows in S s (R rows/s): C created, U updated, X unchanged, J rejected` → (S, C, J).
fn parse_summary(summary: &str) -> Option<(f64, u64, u64)> {
    let seconds = summary.split(" rows in ").nth(1)?.split(' ').next()?.parse().ok()?;
    let field = |name: &str| -> Option<u64> {
        let before = summary.split(&format!(" {name}")).next()?;
        before.rsplit(' ').next()?.parse().ok()
    };
    Some((seconds, field("created")?, field("rejected")?))
}

async fn run(options: &Options) -> Result<bool, String> {
    if options.base_url.is_empty() {
        return Err("--base-url is required".into());
    }
    let ebill = options.ebill.as_deref().ok_or("--ebill is required")?;
    let csv = options.bills_csv.as_deref().ok_or("--bills-csv is required")?;
    let settings = load_settings()?;
    let template_id = new_bill_template(&settings)?;
    let db = open(&settings).await?;
    let backend = db.backend();
    let label = match options.rate {
        0 => format!("{}, no rate limit", backend.as_str()),
        rate => format!("{}, limit {rate}/s", backend.as_str()),
    };
    let bills = options.bills as u64;
    let client =
        reqwest::Client::builder().timeout(Duration::from_secs(10)).build().map_err(|e| format!("HTTP client: {e}"))?;

    let url = format!("{}/sandbox/wechat/long-term-templates", options.base_url);
    let response = client
        .post(&url)
        .json(&json!({ "template_ids": [template_id] }))
        .send()
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    if !response.status().is_success() {
        return Err(format!("{url} answered {}", response.status()));
    }
    let before = poll_inbox(&client, &options.base_url, Instant::now()).await?;
    if before.total != 0 {
        return Err(format!("the inbox already holds {} WeChat messages: start a fresh server", before.total));
    }

    let database = settings.database_url.as_deref().and_then(database_name);
    let cpu_before = CpuSample::take(options.server_pid, database.as_deref());
    let started = Instant::now();
    let import = start_import(ebill, csv, started)?;
    let mut import_run: Option<ImportRun> = None;
    let mut import = Some(import);
    let mut samples: Vec<Sample> = Vec::new();
    let mut next_progress = PROGRESS_EVERY;
    let mut timed_out = false;
    loop {
        if import.as_ref().is_some_and(|handle| handle.is_finished()) {
            let handle = import.take().ok_or("no import")?;
            let result = handle.join().map_err(|_| "the import's watcher panicked")?;
            println!("{label}: import ended after {:.2} s: {}", result.elapsed.as_secs_f64(), result.summary);
            if !result.ok {
                println!("{label}: the import failed:\n{}", result.output.trim_end());
            }
            import_run = Some(result);
        }
        let sample = poll_inbox(&client, &options.base_url, started).await?;
        samples.push(sample);
        if sample.at >= next_progress {
            println!(
                "{label}: {:5.1} s: {:>7} messages in the inbox{}, server RSS {:.0} MB",
                sample.at.as_secs_f64(),
                sample.total,
                if import_run.is_none() { " (importing)" } else { "" },
                options.server_pid.and_then(|pid| proc_status_mb(pid, "VmRSS")).unwrap_or(0.0)
            );
            next_progress += PROGRESS_EVERY;
        }
        if sample.total >= bills && import_run.is_some() {
            break;
        }
        if import_run.as_ref().is_some_and(|r| !r.ok) {
            break;
        }
        if sample.at >= options.timeout {
            timed_out = true;
            println!(
                "{label}: TIMEOUT after {} s: {} of {bills} messages in the inbox",
                options.timeout.as_secs(),
                sample.total
            );
            break;
        }
        tokio::time::sleep(POLL_EVERY.saturating_sub(started.elapsed().saturating_sub(sample.at))).await;
    }
    let cpu_after = CpuSample::take(options.server_pid, database.as_deref());
    let import_run = match (import_run, import) {
        (Some(run), _) => run,
        (None, Some(handle)) => handle.join().map_err(|_| "the import's watcher panicked")?,
        (None, None) => return Err("the import was lost".into()),
    };
    let last = *samples.last().ok_or("no sample")?;
    let total_secs = last.at.as_secs_f64();
    let import_secs = import_run.elapsed.as_secs_f64();
    let first_at = samples.iter().find(|s| s.total > 0).map(|s| s.at.as_secs_f64());
    let (import_own_secs, created, rejected) = parse_summary(&import_run.summary).unwrap_or((0.0, 0, 0));

    // Figures.
    let mut passed = import_run.ok && !timed_out && created == bills && rejected == 0;
    println!(
        "{label}: import of {bills} bills: {import_secs:.2} s (process), {import_own_secs:.2} s by its own summary; \
         {created} created, {rejected} rejected"
    );
    let delivered = last.total;
    let rate = delivered as f64 / total_secs.max(1e-9);
    println!(
        "{label}: {delivered} messages in the inbox {total_secs:.2} s after the import started ({:.2} s after it \
         ended); first after {}; {rate:.0} messages/s",
        total_secs - import_secs,
        first_at.map_or("-".to_string(), |s| format!("{s:.2} s")),
    );
    if let (Some(before), Some(after)) = (&cpu_before, &cpu_after) {
        println!("{label}: {}", before.describe(after, total_secs, backend));
    }

    // The rate over the steady part, by the platform's receipt times.
    let mut steady_rate = None;
    if options.rate > 0 {
        let from = samples.iter().find(|s| s.total >= options.steady_from as u64 && s.newest_seq > 0);
        match from {
            Some(from) if last.newest_ms > from.newest_ms && last.newest_seq > from.newest_seq => {
                let measured =
                    (last.newest_seq - from.newest_seq) as f64 * 1000.0 / (last.newest_ms - from.newest_ms) as f64;
                let off = measured / f64::from(options.rate) - 1.0;
                let ok = off.abs() <= RATE_TOLERANCE;
                passed &= ok;
                steady_rate = Some(measured);
                println!(
                    "{label}: steady rate from message {} to {} ({:.1} s by the platform's clock): {measured:.1}/s, \
                     {:+.1}% of the limit {}/s (target within {:.0}%): {}",
                    from.newest_seq,
                    last.newest_seq,
                    (last.newest_ms - from.newest_ms) as f64 / 1000.0,
                    off * 100.0,
                    options.rate,
                    RATE_TOLERANCE * 100.0,
                    if ok { "PASS" } else { "FAIL" }
                );
            }
            _ => {
                passed = false;
                println!("{label}: steady rate: not enough messages to measure: FAIL");
            }
        }
    } else {
        let ok = !timed_out && total_secs <= options.target_secs && delivered >= bills;
        passed &= ok;
        println!(
            "{label}: all {bills} delivered within {:.0} s of the import's start: {} ({total_secs:.2} s)",
            options.target_secs,
            if ok { "PASS" } else { "FAIL" }
        );
    }

    // Checks: the queue settled, one message per bill, all sent, no duplicate in the inbox.
    let checks = check(&db, options, &client).await?;
    println!("{label}: {}", checks.describe());
    passed &= checks.passed(bills);

    let rss = options.server_pid.and_then(|pid| proc_status_mb(pid, "VmHWM"));
    let rss_ok = rss.is_some_and(|mb| mb < options.target_rss_mb);
    if options.rate == 0 {
        passed &= rss_ok;
    }
    println!(
        "{label}: server peak resident memory (VmHWM) {}: {} (target < {:.0} MB)",
        rss.map_or("unknown".into(), |mb| format!("{mb:.1} MB")),
        if rss_ok { "PASS" } else { "FAIL" },
        options.target_rss_mb
    );
    println!("{label}: {}", if passed { "PASSED" } else { "FAILED" });

    if let Some(path) = &options.results {
        let line = format!(
            "{}\t{}\t{bills}\t{import_secs:.2}\t{}\t{total_secs:.2}\t{:.2}\t{rate:.0}\t{}\t{}\t{}\t{}\n",
            backend.as_str(),
            options.rate,
            first_at.map_or("-".into(), |s| format!("{s:.2}")),
            total_secs - import_secs,
            steady_rate.map_or("-".into(), |r| format!("{r:.1}")),
            rss.map_or("-".into(), |mb| format!("{mb:.1}")),
            if checks.passed(bills) { "ok" } else { "FAILED" },
            if passed { "PASS" } else { "FAIL" }
        );
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        file.write_all(line.as_bytes()).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    db.close().await;
    Ok(passed)
}

struct Checks {
    settled: bool,
    bills: i64,
    still_marked: i64,
    rows: i64,
    distinct_bills: i64,
    sent: i64,
    not_sent: Vec<(String, i64)>,
    without_message: i64,
    inbox: u64,
}

impl Checks {
    fn passed(&self, bills: u64) -> bool {
        let n = bills as i64;
        self.settled
            && self.bills == n
            && self.still_marked == 0
            && self.rows == n
            && self.distinct_bills == n
            && self.sent == n
            && self.without_message == 0
            && self.inbox == bills
    }

    fn describe(&self) -> String {
        let not_sent: Vec<String> = self.not_sent.iter().map(|(state, n)| format!("{n} {state}")).collect();
        format!(
            "check: {} bills ({} still marked), {} new-bill messages for {} bills ({} bills without one), {} sent{}; \
             inbox total {}{}",
            self.bills,
            self.still_marked,
            self.rows,
            self.distinct_bills,
            self.without_message,
            self.sent,
            if not_sent.is_empty() { String::new() } else { format!(", not sent: {}", not_sent.join(", ")) },
            self.inbox,
            if self.settled { "" } else { "; the queue did not settle" }
        )
    }
}

async fn check(db: &Database, options: &Options, client: &reqwest::Client) -> Result<Checks, String> {
    let sql_error = |e: sqlx::Error| format!("checking: {e}");
    let (first, last) = (account_no(0), account_no(options.bills - 1));
    let count = |sql: &'static str| {
        let (first, last) = (first.clone(), last.clone());
        async move {
            sqlx::query(sql)
                .bind(first)
                .bind(last)
                .fetch_one(db.pool())
                .await
                .and_then(|row| row.try_get::<i64, _>("n"))
                .map_err(sql_error)
        }
    };
    // The last batch's outcomes are recorded just after its sends reach the inbox.
    let waited = Instant::now();
    let settled = loop {
        let open = count(
            "SELECT COUNT(*) AS n FROM messages WHERE account_no >= $1 AND account_no <= $2 \
             AND state IN ('pending', 'leased')",
        )
        .await?;
        if open == 0 {
            break true;
        }
        if waited.elapsed() >= SETTLE_TIMEOUT {
            break false;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let bills = count("SELECT COUNT(*) AS n FROM bills WHERE account_no >= $1 AND account_no <= $2").await?;
    let still_marked =
        count("SELECT COUNT(*) AS n FROM bills WHERE account_no >= $1 AND account_no <= $2 AND notify_pending = 1")
            .await?;
    let rows =
        count("SELECT COUNT(*) AS n FROM messages WHERE account_no >= $1 AND account_no <= $2 AND kind = 'new_bill'")
            .await?;
    let distinct_bills = count(
        "SELECT COUNT(DISTINCT bill_id) AS n FROM messages WHERE account_no >= $1 AND account_no <= $2 \
         AND kind = 'new_bill'",
    )
    .await?;
    // Which bills have a message (a correlated NOT EXISTS would scan `messages` per bill: no index on bill_id).
    let ids = |sql: &'static str| {
        let (first, last) = (first.clone(), last.clone());
        async move {
            let rows = sqlx::query(sql).bind(first).bind(last).fetch_all(db.pool()).await.map_err(sql_error)?;
            rows.iter()
                .map(|row| row.try_get::<Option<i64>, _>("id").map_err(sql_error))
                .collect::<Result<std::collections::HashSet<Option<i64>>, String>>()
        }
    };
    let bill_ids = ids("SELECT id FROM bills WHERE account_no >= $1 AND account_no <= $2").await?;
    let announced =
        ids("SELECT bill_id AS id FROM messages WHERE account_no >= $1 AND account_no <= $2 AND kind = 'new_bill'")
            .await?;
    let without_message = bill_ids.difference(&announced).count() as i64;
    let states = sqlx::query(
        "SELECT state, COUNT(*) AS n FROM messages WHERE account_no >= $1 AND account_no <= $2 GROUP BY state",
    )
    .bind(first.clone())
    .bind(last.clone())
    .fetch_all(db.pool())
    .await
    .map_err(sql_error)?;
    let mut sent = 0;
    let mut not_sent = Vec::new();
    for row in &states {
        let state: String = row.try_get("state").map_err(sql_error)?;
        let n: i64 = row.try_get("n").map_err(sql_error)?;
        if state == "sent" {
            sent = n;
        } else {
            not_sent.push((state, n));
        }
    }
    // A duplicate would reach the inbox after the count: watch it a little longer.
    tokio::time::sleep(DUPLICATE_WATCH).await;
    let inbox = poll_inbox(client, &options.base_url, Instant::now()).await?.total;
    Ok(Checks { settled, bills, still_marked, rows, distinct_bills, sent, not_sent, without_message, inbox })
}

// ---------------------------------------------------------------------------------------------------------------
// Where the time went: CPU and memory from /proc (Linux).

/// Clock ticks per second of /proc's CPU times (USER_HZ, 100 on Linux).
const TICKS_PER_SEC: f64 = 100.0;

/// The database named in a `postgres://` URL.
fn database_name(url: &str) -> Option<String> {
    let path = url.split("://").nth(1)?.split('?').next()?;
    let name = path.rsplit_once('/')?.1;
    (!name.is_empty()).then(|| name.to_string())
}

/// A `/proc/PID/status` field in kB (VmHWM, VmRSS), as MB.
fn proc_status_mb(pid: u32, field: &str) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(&format!("{field}:")))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// utime + stime of a process (and, with `children`, of its waited-for children), from /proc/PID/stat.
fn process_ticks(pid: &str, children: bool) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    // After the command: state is field 3, utime 14, stime 15, cutime 16, cstime 17.
    let take = |n: usize| fields.get(n).and_then(|v| v.parse::<u64>().ok());
    if children {
        Some(take(13)? + take(14)?)
    } else {
        Some(take(11)? + take(12)?)
    }
}

struct CpuSample {
    busy: u64,
    total: u64,
    server: Option<u64>,
    /// PostgreSQL's processes serving the benchmark's database, and all the others (background writers, other
    /// databases: the server may be shared).
    postgres_ours: u64,
    postgres_other: u64,
    children: u64,
    own: u64,
}

impl CpuSample {
    fn take(server_pid: Option<u32>, database: Option<&str>) -> Option<CpuSample> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        let cpu: Vec<u64> = stat.lines().next()?.split_whitespace().skip(1).filter_map(|v| v.parse().ok()).collect();
        let total: u64 = cpu.iter().take(8).sum();
        let idle = cpu.get(3).copied().unwrap_or(0) + cpu.get(4).copied().unwrap_or(0);
        let (mut postgres_ours, mut postgres_other) = (0, 0);
        for entry in std::fs::read_dir("/proc").ok()?.flatten() {
            let name = entry.file_name();
            let Some(pid) = name.to_str().filter(|n| n.bytes().all(|b| b.is_ascii_digit())) else { continue };
            if std::fs::read_to_string(entry.path().join("comm")).is_ok_and(|comm| comm.trim() == "postgres") {
                let ticks = process_ticks(pid, false).unwrap_or(0);
                // A backend's title: "postgres: 15/main: USER DATABASE HOST(PORT) STATE".
                let title = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
                let title = String::from_utf8_lossy(&title);
                if database.is_some_and(|db| title.split([' ', '\0']).any(|word| word == db)) {
                    postgres_ours += ticks;
                } else {
                    postgres_other += ticks;
                }
            }
        }
        Some(CpuSample {
            busy: total - idle,
            total,
            server: server_pid.and_then(|pid| process_ticks(&pid.to_string(), false)),
            postgres_ours,
            postgres_other,
            children: process_ticks("self", true).unwrap_or(0),
            own: process_ticks("self", false).unwrap_or(0),
        })
    }

    fn describe(&self, after: &CpuSample, seconds: f64, backend: Backend) -> String {
        let seconds_of = |before: u64, after: u64| after.saturating_sub(before) as f64 / TICKS_PER_SEC;
        let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        let busy = after.busy.saturating_sub(self.busy) as f64 / after.total.saturating_sub(self.total).max(1) as f64;
        let mut parts = Vec::new();
        let mut listed = 0.0;
        let mut part = |name: &str, value: f64| {
            listed += value;
            parts.push(format!("{name} {value:.1}"));
        };
        if let (Some(before), Some(now)) = (self.server, after.server) {
            part("ebill serve", seconds_of(before, now));
        }
        part("ebill import", seconds_of(self.children, after.children));
        if backend == Backend::Postgres {
            part("postgres (this database)", seconds_of(self.postgres_ours, after.postgres_ours));
            part("postgres (other)", seconds_of(self.postgres_other, after.postgres_other));
        }
        part("this driver", seconds_of(self.own, after.own));
        let other = (busy * cpus as f64 * seconds - listed).max(0.0);
        format!(
            "CPU over {seconds:.1} s: {:.0}% of {cpus} cores busy; CPU seconds: {}, anything else {other:.1}",
            busy * 100.0,
            parts.join(", ")
        )
    }
}
