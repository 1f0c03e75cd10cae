//! The `ebill` command line: serve the HTTP API, run the background workers, migrate the database, import CSV files.

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use ebill::clock::{Clock, SystemClock};
use ebill::config::{Mode, Settings};
use ebill::import::ImportKind;
use std::io::IsTerminal;
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "ebill", version, about = "Backend of an electricity utility's WeChat and Alipay mini-programs")]
struct Cli {
    /// TOML settings file (see ebill.example.toml); environment variables override it.
    #[arg(long, global = true, env = "EBILL_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API (the default). Without WeChat/Alipay credentials it runs in sandbox mode with demo data.
    Serve,
    /// Run the background loops (write-back, refunds, polling of pending orders, writing and delivering messages)
    /// without serving HTTP; pair with
    /// `jobs.run_in_serve = false` on the serving instances to scale them apart.
    Worker,
    /// Pushed messages: the queue by state, kind and channel; putting failed messages back.
    Push {
        #[command(subcommand)]
        action: PushAction,
    },
    /// Payments that need a person: open incidents, credits held, the write-back and refund queues.
    Payments {
        #[command(subcommand)]
        action: PaymentsAction,
    },
    /// Customer-service staff accounts for the console at /staff/.
    Staff {
        #[command(subcommand)]
        action: StaffAction,
    },
    /// Apply the database migrations and exit (serve applies them too).
    Migrate,
    /// Import accounts or bills from a CSV file, with the feed's validation; rejected lines are listed on stdout.
    Import {
        /// What the file holds.
        kind: Kind,
        /// The CSV file (formats: README.md, samples in samples/).
        file: PathBuf,
        /// Never draw the progress bar, even on a terminal.
        #[arg(long)]
        quiet: bool,
    },
}

#[derive(Subcommand)]
enum PushAction {
    /// Print the messages by state, kind and channel, and the daily counts sent and SMS avoided.
    Status,
    /// Put failed messages back in the queue; every filter given must match.
    Retry {
        /// One message, by id.
        #[arg(long)]
        id: Option<i64>,
        /// new_bill, due_soon, due_today, overdue, payment_received or refund_done.
        #[arg(long)]
        kind: Option<String>,
        /// wechat, alipay or sms.
        #[arg(long)]
        channel: Option<String>,
        /// A piece of the last error, e.g. 47003.
        #[arg(long)]
        error_contains: Option<String>,
    },
}

#[derive(Subcommand)]
enum PaymentsAction {
    /// Print open incidents, credits held and the queues.
    Status,
    /// Put failed write-back deliveries back in the queue (after the marketing system is fixed).
    RetryWriteback,
}

#[derive(Subcommand)]
enum StaffAction {
    /// Add a member. The password is generated and printed once, unless --ask-password.
    Add {
        name: String,
        #[arg(long, value_enum)]
        role: StaffRole,
        /// Read the password from the terminal (not echoed) or from the first line of stdin.
        #[arg(long)]
        ask_password: bool,
    },
    /// List the staff with their roles and locks.
    List,
    /// Change a member's role.
    SetRole {
        name: String,
        #[arg(long, value_enum)]
        role: StaffRole,
    },
    /// Stop a member from logging in; its tokens stop working at once.
    Disable { name: String },
    /// Let a disabled member log in again.
    Enable { name: String },
    /// Lift a lock after failed logins.
    Unlock { name: String },
    /// Replace a member's password (generated and printed once, unless --ask-password) and lift any lock.
    ResetPassword {
        name: String,
        #[arg(long)]
        ask_password: bool,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum StaffRole {
    Viewer,
    Operator,
    Admin,
}

impl From<StaffRole> for ebill::domain::staff::Role {
    fn from(role: StaffRole) -> Self {
        match role {
            StaffRole::Viewer => ebill::domain::staff::Role::Viewer,
            StaffRole::Operator => ebill::domain::staff::Role::Operator,
            StaffRole::Admin => ebill::domain::staff::Role::Admin,
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum Kind {
    Accounts,
    Bills,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings = Settings::load(cli.config.as_deref()).context("loading settings")?;
    ebill::telemetry::init(settings.log_format);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the runtime")?;
    runtime.block_on(async move {
        match cli.command.unwrap_or(Command::Serve) {
            Command::Serve => serve(settings).await,
            Command::Worker => worker(settings).await,
            Command::Push { action } => push(settings, action).await,
            Command::Payments { action } => payments(settings, action).await,
            Command::Staff { action } => staff(settings, action).await,
            Command::Migrate => migrate(settings).await,
            Command::Import { kind, file, quiet } => import(settings, kind, file, quiet).await,
        }
    })
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let mode = settings.mode();
    match mode {
        Mode::Sandbox => tracing::info!(
            "ebill {} starting in SANDBOX mode: no WeChat or Alipay credentials are configured, the built-in \
             simulated platforms stand in and no real money moves",
            env!("CARGO_PKG_VERSION")
        ),
        Mode::Production => tracing::info!("ebill {} starting in PRODUCTION mode", env!("CARGO_PKG_VERSION")),
    }
    tracing::info!(database = %describe_database(&settings), cache = if settings.redis_url.is_some() { "redis" } else { "in-process" }, "storage");
    let app = ebill::Application::build(settings).await.context("starting ebill")?;
    let base = app.state().settings.public_base_url();
    tracing::info!(port = app.port(), "listening on {base}/ (API document at {base}/openapi.json)");
    app.run_until_stopped().await.context("serving")?;
    tracing::info!("stopped");
    Ok(())
}

async fn worker(settings: Settings) -> anyhow::Result<()> {
    // In sandbox mode the simulated platforms answer at the serving instance's address.
    let base = settings.public_base_url();
    let state =
        ebill::build_state(settings, std::sync::Arc::new(SystemClock), &base).await.context("starting ebill")?;
    tracing::info!(mode = state.mode.as_str(), "worker running: write-back, refunds, order polling, messages");
    let background = ebill::jobs::runner::start(&state);
    shutdown_signal().await;
    tracing::info!("stopping: letting the running jobs finish");
    background.stop().await;
    state.db.close().await;
    Ok(())
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(signal) => signal,
            Err(_) => {
                let _ = interrupt.await;
                return;
            }
        };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}

async fn push(settings: Settings, action: PushAction) -> anyhow::Result<()> {
    let db = ebill::open_storage(&settings).await.context("opening the database")?;
    match action {
        PushAction::Status => ebill::push::report::write_status(&db, &mut std::io::stdout()).await?,
        PushAction::Retry { id, kind, channel, error_contains } => {
            let filter = ebill::db::messages::RetryFilter { id, kind, channel, error_contains };
            let count = ebill::db::messages::retry_failed(&db, &filter, SystemClock.now_ms()).await?;
            println!("{count} failed messages queued again");
        }
    }
    db.close().await;
    Ok(())
}

async fn payments(settings: Settings, action: PaymentsAction) -> anyhow::Result<()> {
    let db = ebill::open_storage(&settings).await.context("opening the database")?;
    match action {
        PaymentsAction::Status => ebill::payments::report::write_status(&db, &mut std::io::stdout()).await?,
        PaymentsAction::RetryWriteback => {
            let queue = ebill::jobs::writeback::WRITEBACK_QUEUE;
            let filter = ebill::jobs::queue::RetryFilter::default();
            let count = ebill::jobs::queue::retry_failed(&db, queue, &filter, SystemClock.now_ms()).await?;
            println!("{count} failed write-back deliveries queued again");
        }
    }
    db.close().await;
    Ok(())
}

async fn staff(settings: Settings, action: StaffAction) -> anyhow::Result<()> {
    use ebill::db::audit::AuditEntry;
    use ebill::db::staff::StaffChange;
    use ebill::sessions::staff_accounts::{add_staff, change_staff, new_password_hash};
    let db = ebill::open_storage(&settings).await.context("opening the database")?;
    let now = SystemClock.now_ms();
    let who = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
    let change = |name: &str, change: StaffChange, detail: serde_json::Value| {
        let audit = AuditEntry::command_line(&who, "change_staff", "staff", name).detail(detail);
        let db = db.clone();
        let name = name.to_owned();
        async move { change_staff(&db, now, &name, &change, &audit).await }
    };
    match action {
        StaffAction::Add { name, role, ask_password } => {
            let role = ebill::domain::staff::Role::from(role);
            let password = if ask_password { Some(read_password()?) } else { None };
            let audit = AuditEntry::command_line(&who, "add_staff", "staff", &name)
                .detail(serde_json::json!({ "role": role.as_str() }));
            let (member, generated) = add_staff(&db, now, &name, role, password.as_deref(), &audit).await?;
            println!("added {} ({})", member.name, member.role.as_str());
            if let Some(password) = generated {
                println!("password (shown once): {password}");
            }
        }
        StaffAction::List => {
            for member in ebill::db::staff::list(db.pool()).await? {
                let locked = member.locked_until.filter(|until| *until > now).map_or("", |_| " locked");
                let disabled = if member.disabled { " disabled" } else { "" };
                println!("{:<32} {:<8}{disabled}{locked}", member.name, member.role.as_str());
            }
        }
        StaffAction::SetRole { name, role } => {
            let role = ebill::domain::staff::Role::from(role);
            let detail = serde_json::json!({ "role": role.as_str() });
            let member = change(&name, StaffChange { role: Some(role), ..StaffChange::default() }, detail).await?;
            println!("{} is now {}", member.name, member.role.as_str());
        }
        StaffAction::Disable { name } => {
            let detail = serde_json::json!({ "disabled": true });
            let disable = StaffChange { disabled: Some(true), end_sessions_at: Some(now), ..StaffChange::default() };
            change(&name, disable, detail).await?;
            println!("{name} is disabled");
        }
        StaffAction::Enable { name } => {
            let detail = serde_json::json!({ "disabled": false });
            change(&name, StaffChange { disabled: Some(false), ..StaffChange::default() }, detail).await?;
            println!("{name} is enabled");
        }
        StaffAction::Unlock { name } => {
            let detail = serde_json::json!({ "unlock": true });
            change(&name, StaffChange { unlock: true, ..StaffChange::default() }, detail).await?;
            println!("{name} is unlocked");
        }
        StaffAction::ResetPassword { name, ask_password } => {
            let password = if ask_password { Some(read_password()?) } else { None };
            let (hash, generated) = new_password_hash(password.as_deref()).await?;
            let detail = serde_json::json!({ "reset_password": true });
            let reset = StaffChange {
                password_hash: Some(hash),
                unlock: true,
                end_sessions_at: Some(now),
                ..StaffChange::default()
            };
            change(&name, reset, detail).await?;
            match generated {
                Some(password) => println!("new password for {name} (shown once): {password}"),
                None => println!("the password of {name} is changed"),
            }
        }
    }
    db.close().await;
    Ok(())
}

/// A password typed on the terminal without echo (through `stty`), or the first line of a piped stdin.
fn read_password() -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    let terminal = stdin.is_terminal();
    let stty = |arg: &str| {
        let _ = std::process::Command::new("stty").arg(arg).stdin(std::process::Stdio::inherit()).status();
    };
    if terminal {
        eprint!("password: ");
        stty("-echo");
    }
    let mut line = String::new();
    let read = stdin.read_line(&mut line);
    if terminal {
        stty("echo");
        eprintln!();
    }
    read.context("reading the password")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

async fn migrate(settings: Settings) -> anyhow::Result<()> {
    ebill::open_storage(&settings).await.context("migrating")?.close().await;
    tracing::info!("migrations applied");
    Ok(())
}

async fn import(settings: Settings, kind: Kind, file: PathBuf, quiet: bool) -> anyhow::Result<()> {
    let db = ebill::open_storage(&settings).await.context("opening the database")?;
    let kind = match kind {
        Kind::Accounts => ImportKind::Accounts,
        Kind::Bills => ImportKind::Bills,
    };
    let clock = SystemClock;
    let show_progress = !quiet && std::io::stderr().is_terminal();
    let mut stdout = std::io::stdout();
    let summary = ebill::import::run(&db, kind, &file, move || clock.now_ms(), show_progress, &mut stdout)
        .await
        .with_context(|| format!("importing {}", file.display()))?;
    let t = summary.tally;
    println!(
        "imported {}: {} rows in {:.1} s ({:.0} rows/s): {} created, {} updated, {} unchanged, {} rejected",
        file.display(),
        t.total(),
        summary.elapsed.as_secs_f64(),
        summary.rows_per_second(),
        t.created,
        t.updated,
        t.unchanged,
        t.rejected
    );
    db.close().await;
    Ok(())
}

/// The database in a log line: the backend and where, never a password.
fn describe_database(settings: &Settings) -> String {
    match &settings.database_url {
        None => format!("sqlite at {}", settings.data_dir.join("ebill.db").display()),
        Some(url) => {
            let scheme = url.split("://").next().unwrap_or("?");
            let host = url.split('@').nth(1).or_else(|| url.split("://").nth(1)).unwrap_or("");
            let host = host.split(['/', '?']).next().unwrap_or("");
            format!("{scheme} at {host}")
        }
    }
}
