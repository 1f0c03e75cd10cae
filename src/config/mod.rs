//! Settings: an optional TOML file (`--config PATH`) overridden by environment variables. Secrets never sit in the
//! file itself: it names files (`*_file`), or the environment carries them; their values are never printed.

mod messages;
mod payments;
mod staff;

pub use messages::{MessageSettings, TemplateSetting};
pub use payments::{DuplicatePaymentPolicy, PaymentSettings, WechatPaySettings, WritebackSettings};
pub use staff::StaffSettings;

use crate::domain::late_fee::{DailyRate, FeeRounding, LateFeeRules, YearRates};
use crate::domain::money::Fen;
use serde::Deserialize;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the configuration file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("the configuration file {path} is not valid: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("environment variable {name} is not valid: {message}")]
    Env { name: &'static str, message: String },
    #[error("cannot read the secret {what} from {path}: {source}")]
    Secret { what: &'static str, path: PathBuf, source: std::io::Error },
    #[error("{0}")]
    Invalid(String),
}

/// A secret value. Its `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Arc<[u8]>);

impl Secret {
    pub fn new(bytes: impl Into<Vec<u8>>) -> Secret {
        Secret(Arc::from(bytes.into()))
    }

    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// Reads a secret file; surrounding white space (a trailing newline) is not part of the secret.
    pub fn from_file(what: &'static str, path: &Path) -> Result<Secret, ConfigError> {
        let bytes =
            std::fs::read(path).map_err(|source| ConfigError::Secret { what, path: path.to_path_buf(), source })?;
        Ok(Secret::new(bytes.trim_ascii().to_vec()))
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Sandbox: no platform credentials, the built-in simulated platforms stand in. Production: real credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Sandbox,
    Production,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Sandbox => "sandbox",
            Mode::Production => "production",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Address the HTTP server listens on.
    pub bind: String,
    /// Where the SQLite database and the sandbox's generated keys live.
    pub data_dir: PathBuf,
    /// `postgres://...` for PostgreSQL; unset: SQLite at `data_dir/ebill.db`.
    pub database_url: Option<String>,
    /// `redis://...`; unset: an in-process cache (one instance only).
    pub redis_url: Option<String>,
    /// The URL customers and platforms reach this service at; used in links. Default: `http://{bind}`.
    pub public_base_url: Option<String>,
    pub log_format: LogFormat,
    pub database: DatabaseSettings,
    pub cache: CacheSettings,
    pub http: HttpSettings,
    pub feed: FeedSettings,
    pub demo: DemoSettings,
    pub wechat: WechatSettings,
    pub alipay: AlipaySettings,
    pub sessions: SessionSettings,
    pub bindings: BindingSettings,
    pub ebill: EbillSettings,
    pub late_fees: LateFeeSettings,
    pub wechat_pay: WechatPaySettings,
    pub payments: PaymentSettings,
    pub writeback: WritebackSettings,
    pub jobs: JobSettings,
    /// Pushed messages: reminders, quiet hours, delivery and templates.
    pub messages: MessageSettings,
    /// The customer-service console and its staff.
    pub staff: StaffSettings,
    /// Secrets loaded from the environment (never from the file).
    #[serde(skip)]
    pub env_secrets: EnvSecrets,
}

#[derive(Debug, Clone, Default)]
pub struct EnvSecrets {
    pub feed_hmac_secret: Option<Secret>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseSettings {
    pub max_connections: u32,
    pub acquire_timeout_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CacheSettings {
    /// Prefix of every key this instance writes, so several deployments can share one Redis.
    pub key_prefix: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpSettings {
    /// Largest JSON body the mini-program and staff APIs accept.
    pub max_json_bytes: usize,
    /// Worker threads of the HTTP server; 0 means one per core.
    pub workers: usize,
    /// How long in-flight requests get to finish after SIGTERM/SIGINT.
    pub shutdown_timeout_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FeedSettings {
    /// File holding the HMAC-SHA256 secret shared with the marketing system (or `EBILL_FEED_HMAC_SECRET`).
    pub hmac_secret_file: Option<PathBuf>,
    pub max_batch_items: usize,
    pub max_body_bytes: usize,
    /// How far a request's timestamp may be from our clock.
    pub max_clock_skew_secs: i64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DemoSettings {
    /// In sandbox mode, seed an empty database with demo accounts and bills.
    pub seed: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WechatSettings {
    /// The mini-program's AppID (wx...). Set together with `app_secret_file` to leave sandbox mode.
    pub appid: Option<String>,
    pub app_secret_file: Option<PathBuf>,
    /// WeChat API base URL. Default `https://api.weixin.qq.com`; in sandbox mode this instance's `/sandbox/wechat`.
    pub api_base_url: Option<String>,
    /// Per-call timeout towards WeChat.
    pub timeout_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlipaySettings {
    /// The Alipay mini-program's app id. Set together with `app_private_key_file` to leave sandbox mode.
    pub app_id: Option<String>,
    /// The app's RSA2 private key (PKCS#8 or PKCS#1 PEM, or bare base64).
    pub app_private_key_file: Option<PathBuf>,
    /// Alipay's public key (not the app's), which signs Alipay's responses and notifies. Required with `app_id`.
    pub alipay_public_key_file: Option<PathBuf>,
    /// The content-encryption (AES) key from the Alipay console, base64; needed to read `my.getPhoneNumber`.
    pub aes_key_file: Option<PathBuf>,
    /// OpenAPI gateway. Default `https://openapi.alipay.com/gateway.do`; in sandbox mode this instance's
    /// `/sandbox/alipay/gateway.do`.
    pub gateway_url: Option<String>,
    pub timeout_secs: u64,
    /// The merchant's Alipay account id (`2088...`, seller_id): when set, notifies for another seller are refused.
    pub seller_id: Option<String>,
}

/// Our own session tokens after a platform login.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SessionSettings {
    /// Lifetime of an access token (JWT); at most 7200 seconds.
    pub access_ttl_secs: u64,
    /// Lifetime of a refresh token; each use rotates it.
    pub refresh_ttl_days: u64,
    /// HMAC keys of customer tokens, by key id. The first signs new tokens; all verify, so keys rotate without
    /// logging anyone out. Required in production; generated in sandbox mode.
    pub customer_keys: Vec<KeyFile>,
}

/// A signing key kept in a file, named by an id that travels in the token header (`kid`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyFile {
    pub id: String,
    pub file: PathBuf,
}

/// Limits on binding electricity accounts.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BindingSettings {
    pub max_accounts_per_user: i64,
    pub max_users_per_account: i64,
    /// Failed binding attempts a user may make in an hour.
    pub max_failures_per_user_hour: i64,
    /// Failed binding attempts on one account (by anyone) in a day.
    pub max_failures_per_account_day: i64,
}

/// Background work (write-back, refunds, order polling).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JobSettings {
    /// Run the background loops inside `ebill serve`; turn off when separate `ebill worker` processes run them.
    pub run_in_serve: bool,
}

impl Default for JobSettings {
    fn default() -> Self {
        JobSettings { run_in_serve: true }
    }
}

/// The shareable e-bill page.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EbillSettings {
    /// How long a shared e-bill link works, in days.
    pub link_ttl_days: u64,
}

impl Default for EbillSettings {
    fn default() -> Self {
        EbillSettings { link_ttl_days: 7 }
    }
}

/// Late fees (违约金) on overdue bills (`domain::late_fee` has the rules in full). The defaults are the national supply
/// business rules (供电营业规则). Rates are per mille of the unpaid principal per day, written as strings with at most
/// 3 decimals ("1.5") so they stay exact.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LateFeeSettings {
    /// Residential accounts, days in the due date's calendar year.
    pub residential_per_mille: DailyRate,
    /// Residential accounts, days in a later calendar year.
    pub residential_cross_year_per_mille: DailyRate,
    /// Non-residential accounts, days in the due date's calendar year.
    pub non_residential_per_mille: DailyRate,
    /// Non-residential accounts, days in a later calendar year (跨年度欠费).
    pub non_residential_cross_year_per_mille: DailyRate,
    /// Days after the due date that are free; an amount paid by the last of them bears no fee.
    pub grace_days: u32,
    /// Once an amount outlives the grace, its fee counts from the day after the due date (`true`) or only from the
    /// first day after the grace (`false`).
    pub grace_counts_from_due_date: bool,
    /// How the exact fee is rounded to the fen, once: `round_half_up`, `floor` or `ceil`.
    pub rounding: FeeRounding,
    /// The least fee charged when any fee accrued, in fen; 0 for none.
    pub minimum_fee_fen: i64,
}

impl LateFeeSettings {
    /// The highest daily rate accepted: the national rules top out at 3‰, so more than 10‰ is taken for a mistake.
    pub const MAX_RATE_PER_MILLE: u32 = 10;
    /// The longest grace accepted, in days.
    pub const MAX_GRACE_DAYS: u32 = 365;

    /// The rules the late-fee function applies. Call after `Settings::check`.
    pub fn rules(&self) -> LateFeeRules {
        LateFeeRules {
            residential: YearRates {
                within_year: self.residential_per_mille,
                cross_year: self.residential_cross_year_per_mille,
            },
            non_residential: YearRates {
                within_year: self.non_residential_per_mille,
                cross_year: self.non_residential_cross_year_per_mille,
            },
            grace_days: self.grace_days,
            grace_counts_from_due_date: self.grace_counts_from_due_date,
            rounding: self.rounding,
            minimum_fee: Fen::new(self.minimum_fee_fen.max(0)),
        }
    }

    fn check(&self) -> Result<(), ConfigError> {
        let rates = [
            ("residential_per_mille", self.residential_per_mille),
            ("residential_cross_year_per_mille", self.residential_cross_year_per_mille),
            ("non_residential_per_mille", self.non_residential_per_mille),
            ("non_residential_cross_year_per_mille", self.non_residential_cross_year_per_mille),
        ];
        for (name, rate) in rates {
            if rate.millionths() > Self::MAX_RATE_PER_MILLE * 1000 {
                return Err(ConfigError::Invalid(format!(
                    "late_fees.{name} is {rate}‰ a day; at most {}‰ is accepted (the national rules charge 1 to 3)",
                    Self::MAX_RATE_PER_MILLE
                )));
            }
        }
        if self.grace_days > Self::MAX_GRACE_DAYS {
            return Err(ConfigError::Invalid(format!(
                "late_fees.grace_days must be between 0 and {}",
                Self::MAX_GRACE_DAYS
            )));
        }
        if self.minimum_fee_fen < 0 {
            return Err(ConfigError::Invalid("late_fees.minimum_fee_fen must not be negative".into()));
        }
        Ok(())
    }
}

impl Default for LateFeeSettings {
    fn default() -> Self {
        let national = LateFeeRules::national();
        LateFeeSettings {
            residential_per_mille: national.residential.within_year,
            residential_cross_year_per_mille: national.residential.cross_year,
            non_residential_per_mille: national.non_residential.within_year,
            non_residential_cross_year_per_mille: national.non_residential.cross_year,
            grace_days: national.grace_days,
            grace_counts_from_due_date: national.grace_counts_from_due_date,
            rounding: national.rounding,
            minimum_fee_fen: national.minimum_fee.value(),
        }
    }
}

impl Default for WechatSettings {
    fn default() -> Self {
        WechatSettings { appid: None, app_secret_file: None, api_base_url: None, timeout_secs: 5 }
    }
}

impl Default for AlipaySettings {
    fn default() -> Self {
        AlipaySettings {
            app_id: None,
            app_private_key_file: None,
            alipay_public_key_file: None,
            aes_key_file: None,
            gateway_url: None,
            timeout_secs: 5,
            seller_id: None,
        }
    }
}

impl Default for SessionSettings {
    fn default() -> Self {
        SessionSettings { access_ttl_secs: 3600, refresh_ttl_days: 30, customer_keys: Vec::new() }
    }
}

impl Default for BindingSettings {
    fn default() -> Self {
        BindingSettings {
            max_accounts_per_user: 10,
            max_users_per_account: 20,
            max_failures_per_user_hour: 5,
            max_failures_per_account_day: 10,
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            bind: "127.0.0.1:8080".into(),
            data_dir: PathBuf::from("./data"),
            database_url: None,
            redis_url: None,
            public_base_url: None,
            log_format: LogFormat::Text,
            database: DatabaseSettings::default(),
            cache: CacheSettings::default(),
            http: HttpSettings::default(),
            feed: FeedSettings::default(),
            demo: DemoSettings::default(),
            wechat: WechatSettings::default(),
            alipay: AlipaySettings::default(),
            sessions: SessionSettings::default(),
            bindings: BindingSettings::default(),
            ebill: EbillSettings::default(),
            late_fees: LateFeeSettings::default(),
            wechat_pay: WechatPaySettings::default(),
            payments: PaymentSettings::default(),
            writeback: WritebackSettings::default(),
            jobs: JobSettings::default(),
            messages: MessageSettings::default(),
            staff: StaffSettings::default(),
            env_secrets: EnvSecrets::default(),
        }
    }
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        DatabaseSettings { max_connections: 10, acquire_timeout_secs: 5 }
    }
}

impl Default for CacheSettings {
    fn default() -> Self {
        CacheSettings { key_prefix: "ebill:".into() }
    }
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings { max_json_bytes: 64 * 1024, workers: 0, shutdown_timeout_secs: 30 }
    }
}

impl Default for FeedSettings {
    fn default() -> Self {
        FeedSettings {
            hmac_secret_file: None,
            max_batch_items: 5000,
            max_body_bytes: 32 * 1024 * 1024,
            max_clock_skew_secs: 300,
        }
    }
}

impl Default for DemoSettings {
    fn default() -> Self {
        DemoSettings { seed: true }
    }
}

impl Settings {
    /// Reads the file (when given) and applies the process environment.
    pub fn load(path: Option<&Path>) -> Result<Settings, ConfigError> {
        let mut settings = match path {
            Some(path) => Settings::from_toml_file(path)?,
            None => Settings::default(),
        };
        settings.apply_env(|name| std::env::var(name).ok())?;
        settings.check()?;
        Ok(settings)
    }

    pub fn from_toml_file(path: &Path) -> Result<Settings, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
        toml::from_str(&text).map_err(|e| ConfigError::Parse { path: path.to_path_buf(), message: e.to_string() })
    }

    /// Applies `EBILL_*`, `DATABASE_URL` and `REDIS_URL` from `lookup` (the process environment in production).
    pub fn apply_env(&mut self, lookup: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        if let Some(v) = get("EBILL_BIND") {
            self.bind = v;
        }
        if let Some(v) = get("EBILL_DATA_DIR") {
            self.data_dir = PathBuf::from(v);
        }
        if let Some(v) = get("DATABASE_URL") {
            self.database_url = Some(v);
        }
        if let Some(v) = get("REDIS_URL") {
            self.redis_url = Some(v);
        }
        if let Some(v) = get("EBILL_PUBLIC_BASE_URL") {
            self.public_base_url = Some(v);
        }
        if let Some(v) = get("EBILL_LOG_FORMAT") {
            self.log_format = match v.as_str() {
                "text" => LogFormat::Text,
                "json" => LogFormat::Json,
                _ => return Err(ConfigError::Env { name: "EBILL_LOG_FORMAT", message: "use text or json".into() }),
            };
        }
        if let Some(v) = get("EBILL_DATABASE_MAX_CONNECTIONS") {
            self.database.max_connections = v.parse().map_err(|_| ConfigError::Env {
                name: "EBILL_DATABASE_MAX_CONNECTIONS",
                message: "a positive whole number".into(),
            })?;
        }
        if let Some(v) = get("EBILL_CACHE_KEY_PREFIX") {
            self.cache.key_prefix = v;
        }
        if let Some(v) = get("EBILL_DEMO_SEED") {
            self.demo.seed = parse_bool("EBILL_DEMO_SEED", &v)?;
        }
        if let Some(v) = get("EBILL_JOBS_RUN_IN_SERVE") {
            self.jobs.run_in_serve = parse_bool("EBILL_JOBS_RUN_IN_SERVE", &v)?;
        }
        if let Some(v) = get("EBILL_FEED_HMAC_SECRET_FILE") {
            self.feed.hmac_secret_file = Some(PathBuf::from(v));
        }
        if let Some(v) = get("EBILL_FEED_HMAC_SECRET") {
            self.env_secrets.feed_hmac_secret = Some(Secret::new(v.trim().as_bytes().to_vec()));
        }
        Ok(())
    }

    /// Refuses settings that cannot work, before anything starts.
    pub fn check(&self) -> Result<(), ConfigError> {
        if self.database.max_connections == 0 {
            return Err(ConfigError::Invalid("database.max_connections must be at least 1".into()));
        }
        if self.feed.max_batch_items == 0 || self.feed.max_body_bytes == 0 || self.http.max_json_bytes == 0 {
            return Err(ConfigError::Invalid("feed and http limits must be positive".into()));
        }
        if self.wechat.appid.is_some() != self.wechat.app_secret_file.is_some() {
            return Err(ConfigError::Invalid("wechat.appid and wechat.app_secret_file go together".into()));
        }
        if self.alipay.app_id.is_some() != self.alipay.app_private_key_file.is_some() {
            return Err(ConfigError::Invalid("alipay.app_id and alipay.app_private_key_file go together".into()));
        }
        if self.alipay.app_id.is_some() && self.alipay.alipay_public_key_file.is_none() {
            return Err(ConfigError::Invalid(
                "alipay.alipay_public_key_file is required with alipay.app_id: Alipay's answers are verified with it"
                    .into(),
            ));
        }
        if self.sessions.access_ttl_secs == 0 || self.sessions.access_ttl_secs > 7200 {
            return Err(ConfigError::Invalid("sessions.access_ttl_secs must be between 1 and 7200".into()));
        }
        if self.ebill.link_ttl_days == 0 || self.ebill.link_ttl_days > 90 {
            return Err(ConfigError::Invalid("ebill.link_ttl_days must be between 1 and 90".into()));
        }
        if self.sessions.refresh_ttl_days == 0 {
            return Err(ConfigError::Invalid("sessions.refresh_ttl_days must be at least 1".into()));
        }
        if self.mode() == Mode::Sandbox
            && (!self.sessions.customer_keys.is_empty() || !self.staff.token_keys.is_empty())
        {
            // A production configuration that lost its platform credentials must not come up serving the
            // simulated platforms (which mint logins and verified phones) against real data and keys.
            return Err(ConfigError::Invalid(
                "sessions.customer_keys or staff.token_keys are configured but no WeChat or Alipay credentials: \
                 refusing to start in sandbox mode"
                    .into(),
            ));
        }
        if self.mode() == Mode::Production
            && !self.public_base_url.as_deref().is_some_and(|u| u.starts_with("https://"))
        {
            // Links put in messages and SMS (e-bills, and later notify URLs) must name the public HTTPS address.
            return Err(ConfigError::Invalid("production needs public_base_url, an https:// address".into()));
        }
        if self.mode() == Mode::Production && self.sessions.customer_keys.is_empty() {
            return Err(ConfigError::Invalid("production needs sessions.customer_keys (JWT signing keys)".into()));
        }
        self.late_fees.check()?;
        self.wechat_pay.check()?;
        if self.wechat_pay.is_configured() && self.mode() == Mode::Production && self.wechat.appid.is_none() {
            return Err(ConfigError::Invalid(
                "wechat_pay is configured without [wechat]: orders are placed for the mini-program's appid".into(),
            ));
        }
        self.payments.check()?;
        self.writeback.check(self.mode())?;
        self.messages.check(self.mode())?;
        self.staff.check(self.mode())?;
        Ok(())
    }

    /// Sandbox unless real platform credentials are configured.
    pub fn mode(&self) -> Mode {
        if self.wechat.appid.is_some() || self.alipay.app_id.is_some() {
            Mode::Production
        } else {
            Mode::Sandbox
        }
    }

    /// The database to use: `DATABASE_URL`, or the embedded SQLite file in the data directory.
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}?mode=rwc", self.data_dir.join("ebill.db").display()),
        }
    }

    pub fn public_base_url(&self) -> String {
        match &self.public_base_url {
            Some(url) => url.trim_end_matches('/').to_string(),
            None => format!("http://{}", self.bind),
        }
    }

    /// Reads every configured platform credential once, so that a wrong path stops the start instead of the first
    /// login. The values are read again by the clients that use them.
    pub fn check_credential_files(&self) -> Result<(), ConfigError> {
        if let Some(path) = &self.wechat.app_secret_file {
            Secret::from_file("WeChat AppSecret", path)?;
        }
        if let Some(path) = &self.alipay.app_private_key_file {
            Secret::from_file("Alipay app private key", path)?;
        }
        if let Some(path) = &self.alipay.alipay_public_key_file {
            Secret::from_file("Alipay public key", path)?;
        }
        if let Some(path) = &self.alipay.aes_key_file {
            Secret::from_file("Alipay AES key", path)?;
        }
        for key in &self.sessions.customer_keys {
            Secret::from_file("customer JWT key", &key.file)?;
        }
        self.wechat_pay.check_files()?;
        self.staff.check_files()?;
        if let Some(path) = &self.writeback.hmac_secret_file {
            Secret::from_file("write-back HMAC secret", path)?;
        }
        Ok(())
    }

    /// The feed's shared secret: from the environment, else from the configured file.
    pub fn feed_hmac_secret(&self) -> Result<Option<Secret>, ConfigError> {
        if let Some(secret) = &self.env_secrets.feed_hmac_secret {
            return Ok(Some(secret.clone()));
        }
        match &self.feed.hmac_secret_file {
            Some(path) => Secret::from_file("feed HMAC secret", path).map(Some),
            None => Ok(None),
        }
    }
}

fn parse_bool(name: &'static str, value: &str) -> Result<bool, ConfigError> {
    match value.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(ConfigError::Env { name, message: "use true or false".into() }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn defaults_serve_sandbox_on_local_sqlite() {
        let settings = Settings::default();
        assert_eq!(settings.bind, "127.0.0.1:8080");
        assert_eq!(settings.mode(), Mode::Sandbox);
        assert!(settings.database_url().starts_with("sqlite://./data/ebill.db"));
    }

    #[test]
    fn environment_overrides_the_file() {
        let mut settings: Settings = toml::from_str("bind = \"0.0.0.0:9000\"\n[demo]\nseed = true\n").unwrap();
        settings
            .apply_env(env(&[
                ("EBILL_BIND", "127.0.0.1:9999"),
                ("DATABASE_URL", "postgres://localhost/ebill"),
                ("EBILL_DEMO_SEED", "false"),
            ]))
            .unwrap();
        assert_eq!(settings.bind, "127.0.0.1:9999");
        assert_eq!(settings.database_url(), "postgres://localhost/ebill");
        assert!(!settings.demo.seed);
    }

    #[test]
    fn the_example_file_documents_valid_settings() {
        let settings: Settings = toml::from_str(include_str!("../../ebill.example.toml")).unwrap();
        settings.check().unwrap();
        let defaults = Settings::default();
        assert_eq!(settings.bind, defaults.bind);
        assert_eq!(settings.sessions.access_ttl_secs, defaults.sessions.access_ttl_secs);
        assert_eq!(settings.bindings.max_accounts_per_user, defaults.bindings.max_accounts_per_user);
    }

    #[test]
    fn unknown_settings_are_refused() {
        assert!(toml::from_str::<Settings>("bnd = \"x\"").is_err());
    }

    #[test]
    fn secrets_do_not_print() {
        let mut settings = Settings::default();
        settings.apply_env(env(&[("EBILL_FEED_HMAC_SECRET", "s3cret-value")])).unwrap();
        let shown = format!("{settings:?}");
        assert!(!shown.contains("s3cret-value"), "{shown}");
        assert_eq!(settings.feed_hmac_secret().unwrap().unwrap().expose(), b"s3cret-value");
    }

    #[test]
    fn credentials_select_production_mode() {
        let settings: Settings =
            toml::from_str("[wechat]\nappid = \"wx123\"\napp_secret_file = \"certs/wechat_app_secret\"\n").unwrap();
        assert_eq!(settings.mode(), Mode::Production);
        assert!(settings.check().is_err(), "production needs JWT keys and a public https address");
        let half: Settings = toml::from_str("[wechat]\nappid = \"wx123\"\n").unwrap();
        assert!(half.check().is_err());
    }

    #[test]
    fn late_fees_default_to_the_national_rules() {
        let settings = Settings::default();
        assert_eq!(settings.late_fees.rules(), LateFeeRules::national());
        let rules = settings.late_fees.rules();
        assert_eq!(rules.residential.within_year.millionths(), 1_000);
        assert_eq!(rules.residential.cross_year.millionths(), 1_000);
        assert_eq!(rules.non_residential.within_year.millionths(), 2_000);
        assert_eq!(rules.non_residential.cross_year.millionths(), 3_000);
        assert_eq!(rules.grace_days, 0);
        assert!(rules.grace_counts_from_due_date);
        assert_eq!(rules.rounding, FeeRounding::RoundHalfUp);
        assert_eq!(rules.minimum_fee, Fen::ZERO);
    }

    #[test]
    fn the_example_file_documents_the_late_fee_defaults() {
        let settings: Settings = toml::from_str(include_str!("../../ebill.example.toml")).unwrap();
        assert_eq!(settings.late_fees.rules(), LateFeeRules::national());
    }

    #[test]
    fn late_fee_settings_are_read_exactly() {
        let settings: Settings = toml::from_str(
            "[late_fees]\nresidential_per_mille = \"0.5\"\nnon_residential_cross_year_per_mille = 3\n\
             grace_days = 5\ngrace_counts_from_due_date = false\nrounding = \"floor\"\nminimum_fee_fen = 100\n",
        )
        .unwrap();
        settings.check().unwrap();
        let rules = settings.late_fees.rules();
        assert_eq!(rules.residential.within_year.millionths(), 500);
        assert_eq!(rules.non_residential.cross_year.millionths(), 3_000);
        assert_eq!(rules.grace_days, 5);
        assert!(!rules.grace_counts_from_due_date);
        assert_eq!(rules.rounding, FeeRounding::Floor);
        assert_eq!(rules.minimum_fee, Fen::new(100));
    }

    #[test]
    fn invalid_late_fee_settings_are_refused() {
        let unreadable = [
            "residential_per_mille = 1.5",
            "residential_per_mille = \"-1\"",
            "residential_per_mille = -1",
            "residential_per_mille = \"0.0005\"",
            "residential_per_mille = \"1‰\"",
            "residential_per_mille = \"0.1%\"",
            "non_residential_per_mille = \"two\"",
            "rounding = \"bankers\"",
            "grace_days = -1",
            "late_days = 3",
        ];
        for line in unreadable {
            assert!(toml::from_str::<Settings>(&format!("[late_fees]\n{line}\n")).is_err(), "{line}");
        }
        let refused = [
            "non_residential_cross_year_per_mille = \"10.001\"",
            "residential_per_mille = 30",
            "grace_days = 366",
            "minimum_fee_fen = -1",
        ];
        for line in refused {
            let settings: Settings = toml::from_str(&format!("[late_fees]\n{line}\n")).unwrap();
            let error = settings.check().unwrap_err().to_string();
            assert!(error.contains("late_fees."), "{line}: {error}");
        }
        let highest: Settings = toml::from_str("[late_fees]\nnon_residential_cross_year_per_mille = \"10\"\n").unwrap();
        highest.check().unwrap();
    }

    #[test]
    fn production_keys_without_platform_credentials_do_not_fall_back_to_sandbox() {
        let settings: Settings =
            toml::from_str("[sessions]\ncustomer_keys = [{ id = \"k1\", file = \"certs/jwt.key\" }]\n").unwrap();
        assert_eq!(settings.mode(), Mode::Sandbox);
        assert!(settings.check().unwrap_err().to_string().contains("refusing to start in sandbox mode"));
    }

    #[test]
    fn a_missing_credential_file_stops_the_start() {
        let settings: Settings =
            toml::from_str("[wechat]\nappid = \"wx123\"\napp_secret_file = \"/nonexistent/wechat_app_secret\"\n")
                .unwrap();
        let error = settings.check_credential_files().unwrap_err().to_string();
        assert!(error.contains("WeChat AppSecret"), "{error}");
        assert!(!error.contains("wx123"));
    }
}
