//! Settings of the payments capability: the WeChat Pay merchant, the orders' lifetime and polling, what becomes of
//! a second payment, and the write-back of settlements to the marketing system.

use super::{ConfigError, KeyFile, Mode, Secret};
use serde::Deserialize;
use std::path::PathBuf;

/// The WeChat Pay merchant (API v3). All of `mchid`, `merchant_serial_no`, `merchant_private_key_file`,
/// `apiv3_key_file` and at least one platform key go together; without them WeChat users cannot pay (in production).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WechatPaySettings {
    /// The merchant id (商户号).
    pub mchid: Option<String>,
    /// The serial number of the merchant's API certificate, named in every request's `Authorization` header.
    pub merchant_serial_no: Option<String>,
    /// The merchant's private key `apiclient_key.pem`, which signs our requests and `paySign`.
    pub merchant_private_key_file: Option<PathBuf>,
    /// The APIv3 key: a file holding exactly 32 characters. Decrypts notifications.
    pub apiv3_key_file: Option<PathBuf>,
    /// WeChat Pay public keys (public-key mode), by their `PUB_KEY_ID_...` ids.
    pub platform_public_keys: Vec<KeyFile>,
    /// WeChat Pay platform certificates (PEM), each selected by its serial number.
    pub platform_certificate_files: Vec<PathBuf>,
    /// API base URL. Default `https://api.mch.weixin.qq.com`; in sandbox mode this instance's `/sandbox/wechatpay`.
    pub api_base_url: Option<String>,
    pub timeout_secs: u64,
}

impl Default for WechatPaySettings {
    fn default() -> Self {
        WechatPaySettings {
            mchid: None,
            merchant_serial_no: None,
            merchant_private_key_file: None,
            apiv3_key_file: None,
            platform_public_keys: Vec::new(),
            platform_certificate_files: Vec::new(),
            api_base_url: None,
            timeout_secs: 5,
        }
    }
}

impl WechatPaySettings {
    /// True when the merchant is configured.
    pub fn is_configured(&self) -> bool {
        self.mchid.is_some()
    }

    pub(super) fn check(&self) -> Result<(), ConfigError> {
        let parts = [
            self.mchid.is_some(),
            self.merchant_serial_no.is_some(),
            self.merchant_private_key_file.is_some(),
            self.apiv3_key_file.is_some(),
        ];
        if parts.iter().any(|set| *set) && !parts.iter().all(|set| *set) {
            return Err(ConfigError::Invalid(
                "wechat_pay.mchid, merchant_serial_no, merchant_private_key_file and apiv3_key_file go together".into(),
            ));
        }
        if self.is_configured() && self.platform_public_keys.is_empty() && self.platform_certificate_files.is_empty() {
            return Err(ConfigError::Invalid(
                "wechat_pay needs platform_public_keys or platform_certificate_files: notifications are verified with \
                 them"
                    .into(),
            ));
        }
        Ok(())
    }

    pub(super) fn check_files(&self) -> Result<(), ConfigError> {
        if let Some(path) = &self.merchant_private_key_file {
            Secret::from_file("WeChat Pay merchant private key", path)?;
        }
        if let Some(path) = &self.apiv3_key_file {
            let key = Secret::from_file("WeChat Pay APIv3 key", path)?;
            if key.expose().len() != 32 {
                return Err(ConfigError::Invalid(format!(
                    "wechat_pay.apiv3_key_file must hold exactly 32 characters, not {}",
                    key.expose().len()
                )));
            }
        }
        for key in &self.platform_public_keys {
            Secret::from_file("WeChat Pay public key", &key.file)?;
        }
        for path in &self.platform_certificate_files {
            Secret::from_file("WeChat Pay platform certificate", path)?;
        }
        Ok(())
    }
}

/// What becomes of money paid for bills that were already settled (paid twice, or on both platforms).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DuplicatePaymentPolicy {
    /// Kept as a credit on the account, for staff to apply or refund.
    Credit,
    /// Refunded to the payer automatically.
    Refund,
}

impl DuplicatePaymentPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            DuplicatePaymentPolicy::Credit => "credit",
            DuplicatePaymentPolicy::Refund => "refund",
        }
    }
}

/// Orders and their follow-up.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PaymentSettings {
    /// How long an order can be paid, in minutes; it is closed on the platform after that.
    pub order_ttl_mins: u64,
    /// An order still pending this many seconds after it was opened is asked about on the platform.
    pub poll_after_secs: u64,
    /// How often the polling job looks for such orders, in seconds.
    pub poll_interval_secs: u64,
    /// `credit` (default) or `refund`: what becomes of a second payment for bills already settled.
    pub duplicate_payments: DuplicatePaymentPolicy,
    /// What the payer sees as the purchase on the platform (WeChat `description`, Alipay `subject`).
    pub description: String,
}

impl Default for PaymentSettings {
    fn default() -> Self {
        PaymentSettings {
            order_ttl_mins: 30,
            poll_after_secs: 60,
            poll_interval_secs: 15,
            duplicate_payments: DuplicatePaymentPolicy::Credit,
            description: "电费".into(),
        }
    }
}

impl PaymentSettings {
    pub fn order_ttl_ms(&self) -> i64 {
        (self.order_ttl_mins as i64).saturating_mul(60_000)
    }

    pub(super) fn check(&self) -> Result<(), ConfigError> {
        // WeChat Pay's time_expire must be at least 1 minute away; prepay ids live about 2 hours.
        if !(1..=120).contains(&self.order_ttl_mins) {
            return Err(ConfigError::Invalid("payments.order_ttl_mins must be between 1 and 120".into()));
        }
        if self.poll_interval_secs == 0 || self.poll_after_secs == 0 {
            return Err(ConfigError::Invalid(
                "payments.poll_after_secs and poll_interval_secs must be positive".into(),
            ));
        }
        let length = self.description.chars().count();
        if length == 0 || length > 60 || self.description.contains(['/', '=', '&']) {
            return Err(ConfigError::Invalid(
                "payments.description must be 1 to 60 characters without / = & (Alipay's subject rules)".into(),
            ));
        }
        Ok(())
    }
}

/// Where settlements are written back to the marketing system.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WritebackSettings {
    /// The marketing system's endpoint receiving payment events; HTTPS in production. In sandbox mode it defaults
    /// to this instance's simulated receiver.
    pub url: Option<String>,
    /// File with the HMAC-SHA256 secret the events are signed with.
    pub hmac_secret_file: Option<PathBuf>,
    /// Per-delivery timeout, in seconds.
    pub timeout_secs: u64,
    /// Deliveries attempted before an event is left failed for an operator (`ebill` keeps it visible).
    pub max_attempts: i64,
}

impl Default for WritebackSettings {
    fn default() -> Self {
        WritebackSettings { url: None, hmac_secret_file: None, timeout_secs: 10, max_attempts: 30 }
    }
}

impl WritebackSettings {
    pub(super) fn check(&self, mode: Mode) -> Result<(), ConfigError> {
        if self.url.is_some() != self.hmac_secret_file.is_some() && mode == Mode::Production {
            return Err(ConfigError::Invalid("writeback.url and writeback.hmac_secret_file go together".into()));
        }
        if let Some(url) = &self.url {
            let https = url.starts_with("https://");
            if !(https || (mode == Mode::Sandbox && url.starts_with("http://"))) {
                return Err(ConfigError::Invalid("writeback.url must be an https:// address".into()));
            }
        }
        if self.max_attempts < 1 || self.timeout_secs == 0 {
            return Err(ConfigError::Invalid("writeback.max_attempts and timeout_secs must be positive".into()));
        }
        Ok(())
    }
}
