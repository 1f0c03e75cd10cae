//! The test harness: the real application on a random port, with a fresh database per test (SQLite in a temporary
//! directory, or a PostgreSQL database of its own when `EBILL_TEST_DATABASE_URL` is set) and the in-process cache
//! (or Redis under a key prefix of its own when `EBILL_TEST_REDIS_URL` is set).

use ebill::clock::ManualClock;
use ebill::config::{Secret, Settings};
use ebill::feed::signature::{self, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use ebill::state::AppState;
use ebill::Application;
use rand::Rng;
use serde_json::Value;
use sqlx::{AnyConnection, Connection, Executor};
use std::sync::Arc;

pub const FEED_SECRET: &[u8] = b"test-feed-secret-0123456789abcdef";

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub state: AppState,
    pub clock: Arc<ManualClock>,
    pub data_dir: tempfile::TempDir,
}

/// The settings a test starts from: a free port, a fresh database and cache namespace, no demo data.
pub async fn test_settings(data_dir: &std::path::Path) -> Settings {
    let mut settings = Settings { bind: "127.0.0.1:0".into(), data_dir: data_dir.to_path_buf(), ..Settings::default() };
    settings.demo.seed = false;
    // Tests run the background loops themselves when they need them, against their own clock.
    settings.jobs.run_in_serve = false;
    settings.http.workers = 2;
    settings.database.max_connections = 5;
    settings.env_secrets.feed_hmac_secret = Some(Secret::new(FEED_SECRET.to_vec()));
    settings.cache.key_prefix = format!("ebill-test:{:016x}:", rand::thread_rng().gen::<u64>());
    if let Ok(url) = std::env::var("EBILL_TEST_DATABASE_URL") {
        settings.database_url = Some(fresh_postgres_database(&url).await);
    }
    if let Ok(url) = std::env::var("EBILL_TEST_REDIS_URL") {
        settings.redis_url = Some(url);
    }
    settings
}

/// Creates an empty database next to the one `admin_url` names and returns its URL.
pub async fn fresh_postgres_database(admin_url: &str) -> String {
    sqlx::any::install_default_drivers();
    let name = format!("ebill_t_{:016x}", rand::thread_rng().gen::<u64>());
    let mut conn = AnyConnection::connect(admin_url).await.expect("connect to EBILL_TEST_DATABASE_URL");
    conn.execute(format!("CREATE DATABASE {name}").as_str()).await.expect("create a test database");
    conn.close().await.ok();
    let (base, query) = match admin_url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (admin_url, String::new()),
    };
    let (server, _) = base.rsplit_once('/').expect("the URL names a database");
    format!("{server}/{name}{query}")
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Puts the fixture RSA keys where the sandbox looks for its keys, so that no test waits for key generation.
pub fn provide_sandbox_keys(data_dir: &std::path::Path) {
    let dir = data_dir.join("sandbox");
    std::fs::create_dir_all(&dir).unwrap();
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    std::fs::copy(fixtures.join("test_rsa_pkcs8.pem"), dir.join("alipay_app_private_key.pem")).unwrap();
    std::fs::copy(fixtures.join("test_rsa_platform_pkcs8.pem"), dir.join("alipay_platform_private_key.pem")).unwrap();
    std::fs::copy(
        fixtures.join("test_rsa_wechatpay_merchant_pkcs8.pem"),
        dir.join("wechatpay_merchant_private_key.pem"),
    )
    .unwrap();
    std::fs::copy(
        fixtures.join("test_rsa_wechatpay_platform_pkcs8.pem"),
        dir.join("wechatpay_platform_private_key.pem"),
    )
    .unwrap();
}

pub async fn spawn_app_with(customize: impl FnOnce(&mut Settings)) -> TestApp {
    let data_dir = tempfile::tempdir().expect("a temporary directory");
    provide_sandbox_keys(data_dir.path());
    let mut settings = test_settings(data_dir.path()).await;
    customize(&mut settings);
    let clock = Arc::new(ManualClock::new(chrono::Utc::now().timestamp_millis()));
    let app = Application::build_with_clock(settings, clock.clone()).await.expect("the application starts");
    let address = format!("http://127.0.0.1:{}", app.port());
    let state = app.state().clone();
    tokio::spawn(app.run_until_stopped());
    TestApp { address, client: reqwest::Client::new(), state, clock, data_dir }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.expect("request sent")
    }

    /// Posts `body` to the feed, signed now with the test secret.
    pub async fn post_feed(&self, kind: &str, body: &Value) -> reqwest::Response {
        let body = serde_json::to_vec(body).unwrap();
        self.post_feed_raw(kind, body).await
    }

    pub async fn post_feed_raw(&self, kind: &str, body: Vec<u8>) -> reqwest::Response {
        let timestamp = (self.clock_now_ms() / 1000).to_string();
        let signature = signature::sign(FEED_SECRET, &timestamp, &body);
        self.post_feed_signed(kind, body, &timestamp, &signature).await
    }

    pub async fn post_feed_signed(
        &self,
        kind: &str,
        body: Vec<u8>,
        timestamp: &str,
        signature: &str,
    ) -> reqwest::Response {
        self.client
            .post(self.url(&format!("/integration/v1/{kind}")))
            .header("content-type", "application/json")
            .header(TIMESTAMP_HEADER, timestamp)
            .header(SIGNATURE_HEADER, signature)
            .body(body)
            .send()
            .await
            .expect("request sent")
    }

    pub fn clock_now_ms(&self) -> i64 {
        use ebill::clock::Clock;
        self.clock.now_ms()
    }

    /// Feeds accounts and bills and asserts every item was accepted.
    pub async fn feed_ok(&self, kind: &str, items: Vec<Value>) -> Value {
        let response = self.post_feed(kind, &serde_json::json!({ "items": items })).await;
        assert_eq!(response.status(), 200);
        let report: Value = response.json().await.unwrap();
        assert_eq!(report["summary"]["rejected"], 0, "{report}");
        report
    }

    pub async fn count(&self, table: &str) -> i64 {
        use sqlx::Row;
        sqlx::query(&format!("SELECT COUNT(*) AS n FROM {table}"))
            .fetch_one(self.state.db.pool())
            .await
            .unwrap()
            .try_get("n")
            .unwrap()
    }
}

/// An account item as the marketing system sends it.
pub fn account(account_no: &str) -> Value {
    serde_json::json!({
        "account_no": account_no,
        "holder_name": "张三",
        "address": "上海市浦东新区世纪大道100号",
        "phone": "13812341234",
        "account_type": "residential",
        "supply_unit": "浦东供电公司"
    })
}

/// A consistent tiered bill: 280 kWh = 230 at 0.4883 + 50 at 0.5383 = 11231 + 2692 fen.
pub fn bill(account_no: &str, period: &str, revision: i64) -> Value {
    serde_json::json!({
        "account_no": account_no,
        "period": period,
        "issue_date": format!("{}-28", period),
        "due_date": format!("{}-28", period),
        "revision": revision,
        "meter": {"start": 4372, "end": 4652, "multiplier": 1},
        "usage_kwh": 280,
        "tier_lines": [
            {"tier": 1, "kwh": 230, "unit_price": "0.4883", "amount_fen": 11231},
            {"tier": 2, "kwh": 50, "unit_price": "0.5383", "amount_fen": 2692}
        ],
        "total_fen": 13923,
        "paid_fen": 0
    })
}

/// A customer session as our login answered it.
pub struct Session {
    pub access_token: String,
    pub refresh_token: String,
    pub user_id: String,
    pub body: Value,
}

impl Session {
    fn from_body(body: Value) -> Session {
        Session {
            access_token: body["access_token"].as_str().expect("an access token").to_string(),
            refresh_token: body["refresh_token"].as_str().expect("a refresh token").to_string(),
            user_id: body["user"]["id"].as_str().expect("a user id").to_string(),
            body,
        }
    }
}

impl TestApp {
    pub async fn post_json(&self, path: &str, body: &Value) -> reqwest::Response {
        self.client.post(self.url(path)).json(body).send().await.expect("request sent")
    }

    /// What `wx.login` gives the mini-program of sandbox user `user`.
    pub async fn wechat_code(&self, user: &str) -> String {
        let answer: Value = self
            .post_json("/sandbox/wechat/login-codes", &serde_json::json!({ "user": user }))
            .await
            .json()
            .await
            .unwrap();
        answer["code"].as_str().expect("a login code").to_string()
    }

    /// What `my.getAuthCode` gives the mini-program of sandbox user `user`.
    pub async fn alipay_code(&self, user: &str, openid_only: bool) -> String {
        let body = serde_json::json!({ "user": user, "openid_only": openid_only });
        let answer: Value = self.post_json("/sandbox/alipay/auth-codes", &body).await.json().await.unwrap();
        answer["auth_code"].as_str().expect("an auth code").to_string()
    }

    pub async fn login_wechat(&self, user: &str) -> Session {
        let code = self.wechat_code(user).await;
        let response = self.post_json("/api/v1/auth/wechat/login", &serde_json::json!({ "code": code })).await;
        assert_eq!(response.status(), 200);
        Session::from_body(response.json().await.unwrap())
    }

    pub async fn login_alipay(&self, user: &str, openid_only: bool) -> Session {
        let code = self.alipay_code(user, openid_only).await;
        let response = self.post_json("/api/v1/auth/alipay/login", &serde_json::json!({ "auth_code": code })).await;
        assert_eq!(response.status(), 200);
        Session::from_body(response.json().await.unwrap())
    }

    /// A request carrying a customer access token.
    pub async fn authed(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<&Value>,
    ) -> reqwest::Response {
        let mut request = self.client.request(method, self.url(path)).bearer_auth(token);
        if let Some(body) = body {
            request = request.json(body);
        }
        request.send().await.expect("request sent")
    }

    /// Binds `account_no` for the session's user with the holder name and proof given.
    pub async fn bind(&self, session: &Session, account_no: &str, holder_name: &str, proof: &str) -> reqwest::Response {
        let body = serde_json::json!({ "account_no": account_no, "holder_name": holder_name, "proof": proof });
        self.authed(reqwest::Method::POST, "/api/v1/bindings", &session.access_token, Some(&body)).await
    }
}
