//! The real application for the browser: sandbox mode with the demo data and the background loops running, on a free
//! port, over a fresh SQLite database in a temporary directory (or a PostgreSQL database of its own when
//! `EBILL_TEST_DATABASE_URL` is set, and Redis when `EBILL_TEST_REDIS_URL` is).

use anyhow::{Context, Result};
use ebill::config::Settings;
use ebill::Application;
use rand::Rng;
use sqlx::{AnyConnection, Connection, Executor};
use std::path::Path;

pub struct DemoApp {
    /// `http://127.0.0.1:{port}`.
    pub address: String,
    /// The application's state, for what only the library can do (adding the first staff member).
    pub state: ebill::state::AppState,
    _data_dir: tempfile::TempDir,
}

impl DemoApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }
}

/// Starts the application as `cargo run` would in sandbox mode, but on a free port and a temporary data directory.
pub async fn spawn_demo_app() -> Result<DemoApp> {
    let data_dir = tempfile::tempdir().context("a temporary directory")?;
    provide_sandbox_keys(data_dir.path())?;
    let mut settings =
        Settings { bind: "127.0.0.1:0".into(), data_dir: data_dir.path().to_path_buf(), ..Settings::default() };
    settings.demo.seed = true;
    settings.jobs.run_in_serve = true;
    settings.http.workers = 2;
    settings.database.max_connections = 5;
    // No quiet hours: the pushed messages the test waits for go out at any hour.
    settings.messages.quiet_start = "00:00".into();
    settings.messages.quiet_end = "00:00".into();
    settings.cache.key_prefix = format!("ebill-e2e:{:016x}:", rand::thread_rng().gen::<u64>());
    if let Ok(url) = std::env::var("EBILL_TEST_DATABASE_URL") {
        settings.database_url = Some(fresh_postgres_database(&url).await?);
    }
    if let Ok(url) = std::env::var("EBILL_TEST_REDIS_URL") {
        settings.redis_url = Some(url);
    }
    let app = Application::build(settings).await.context("the application starts")?;
    let address = format!("http://127.0.0.1:{}", app.port());
    let state = app.state().clone();
    tokio::spawn(app.run_until_stopped());
    Ok(DemoApp { address, state, _data_dir: data_dir })
}

/// Puts the fixture RSA keys where the sandbox looks for its keys, so that the start does not wait for key generation
/// (as tests/api/helpers.rs does).
fn provide_sandbox_keys(data_dir: &Path) -> Result<()> {
    let dir = data_dir.join("sandbox");
    std::fs::create_dir_all(&dir)?;
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    for (fixture, key) in [
        ("test_rsa_pkcs8.pem", "alipay_app_private_key.pem"),
        ("test_rsa_platform_pkcs8.pem", "alipay_platform_private_key.pem"),
        ("test_rsa_wechatpay_merchant_pkcs8.pem", "wechatpay_merchant_private_key.pem"),
        ("test_rsa_wechatpay_platform_pkcs8.pem", "wechatpay_platform_private_key.pem"),
    ] {
        std::fs::copy(fixtures.join(fixture), dir.join(key)).with_context(|| format!("copying {fixture}"))?;
    }
    Ok(())
}

/// Creates an empty database next to the one `admin_url` names and returns its URL (`.ci/run` drops the `ebill_t_`
/// databases afterwards).
async fn fresh_postgres_database(admin_url: &str) -> Result<String> {
    sqlx::any::install_default_drivers();
    let name = format!("ebill_t_{:016x}", rand::thread_rng().gen::<u64>());
    let mut conn = AnyConnection::connect(admin_url).await.context("connect to EBILL_TEST_DATABASE_URL")?;
    conn.execute(format!("CREATE DATABASE {name}").as_str()).await.context("create a test database")?;
    conn.close().await.ok();
    let (base, query) = match admin_url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (admin_url, String::new()),
    };
    let (server, _) = base.rsplit_once('/').context("EBILL_TEST_DATABASE_URL names a database")?;
    Ok(format!("{server}/{name}{query}"))
}
