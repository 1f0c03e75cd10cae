//! What every request handler and job shares: storage, cache, clock, settings and the loaded secrets.

use crate::cache::SharedCache;
use crate::clock::SharedClock;
use crate::config::{Mode, Secret, Settings};
use crate::db::Database;
use crate::domain::late_fee::LateFeeRules;
use crate::metrics::Metrics;
use crate::platform::credentials::Credentials;
use crate::sandbox::platforms::SandboxPlatforms;
use crate::sessions::links::BillLinks;
use crate::sessions::tokens::TokenKeys;
use std::sync::Arc;

#[derive(Clone)]
pub struct AppState {
    pub db: Database,
    pub cache: SharedCache,
    pub clock: SharedClock,
    pub settings: Arc<Settings>,
    pub mode: Mode,
    pub metrics: Arc<Metrics>,
    /// The marketing system's HMAC secret; the feed refuses every request while none is configured.
    pub feed_secret: Option<Secret>,
    /// The app's identity on WeChat and Alipay, with the base URLs the clients call.
    pub credentials: Arc<Credentials>,
    /// One HTTP client (connection pool) for every outbound call.
    pub http: reqwest::Client,
    /// The simulated platforms, in sandbox mode only.
    pub sandbox: Option<Arc<SandboxPlatforms>>,
    /// Keys of customer access tokens.
    pub customer_tokens: Arc<TokenKeys>,
    /// Keys of staff tokens (another audience and other keys).
    pub staff_tokens: Arc<TokenKeys>,
    /// Signs and checks shared e-bill links.
    pub bill_links: Arc<BillLinks>,
    /// How late fees accrue (the settings' `[late_fees]`).
    pub late_fee_rules: Arc<LateFeeRules>,
}

impl AppState {
    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }
}
