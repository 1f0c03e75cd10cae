//! The app's credentials on each platform, as the clients use them: read from the configured files in production,
//! or the sandbox's own (generated once into the data directory) with base URLs pointing at this instance.

use crate::config::{ConfigError, Mode, Secret, Settings};
use crate::platform::crypto::aes_gcm::ApiV3Key;
use crate::platform::crypto::rsa_keys::{PlatformCertificate, RsaSigningKey, RsaVerifyingKey};
use crate::platform::sms::SmsGateway;
use crate::platform::wechatpay::PlatformKeys;
use crate::sandbox::keys::{self, SandboxKeys};
use std::sync::Arc;
use std::time::Duration;

pub const WECHAT_API: &str = "https://api.weixin.qq.com";
pub const ALIPAY_GATEWAY: &str = "https://openapi.alipay.com/gateway.do";
pub const WECHATPAY_API: &str = "https://api.mch.weixin.qq.com";

/// Where the platforms call us back, under the public base URL.
pub const WECHATPAY_NOTIFY_PATH: &str = "/notify/wechat/pay";
pub const WECHATPAY_REFUND_NOTIFY_PATH: &str = "/notify/wechat/refund";
pub const ALIPAY_NOTIFY_PATH: &str = "/notify/alipay";

/// A WeChat mini-program's identity towards the WeChat API.
#[derive(Debug, Clone)]
pub struct WechatCredentials {
    pub appid: String,
    pub secret: Secret,
    /// Without a trailing slash, e.g. `https://api.weixin.qq.com`.
    pub api_base_url: String,
    pub timeout: Duration,
}

/// An Alipay mini-program's identity towards the OpenAPI gateway.
#[derive(Clone)]
pub struct AlipayCredentials {
    pub app_id: String,
    /// Signs our requests (RSA2).
    pub app_key: RsaSigningKey,
    /// Alipay's public key: verifies Alipay's responses and notifies.
    pub alipay_public_key: RsaVerifyingKey,
    /// The console's content-encryption key (base64), for `my.getPhoneNumber`; `None` when not configured.
    pub aes_key: Option<Secret>,
    /// The full gateway URL, e.g. `https://openapi.alipay.com/gateway.do`.
    pub gateway_url: String,
    pub timeout: Duration,
    /// The merchant's seller id; when known, a notify for another seller is refused.
    pub seller_id: Option<String>,
    /// Where Alipay sends trade notifies (`{public_base_url}/notify/alipay`).
    pub notify_url: String,
}

/// The WeChat Pay merchant (API v3) paying for the mini-program `appid`.
#[derive(Clone)]
pub struct WechatPayCredentials {
    pub mchid: String,
    /// The mini-program's AppID, which orders are placed for.
    pub appid: String,
    /// The merchant API certificate's serial, named in every request's `Authorization` header.
    pub merchant_serial_no: String,
    pub merchant_key: RsaSigningKey,
    pub apiv3_key: Arc<ApiV3Key>,
    /// WeChat Pay's keys in force (certificates and public keys), by the id `Wechatpay-Serial` names.
    pub platform_keys: Arc<PlatformKeys>,
    /// Without a trailing slash, e.g. `https://api.mch.weixin.qq.com`.
    pub api_base_url: String,
    pub notify_url: String,
    pub refund_notify_url: String,
    pub timeout: Duration,
}

impl std::fmt::Debug for WechatPayCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WechatPayCredentials")
            .field("mchid", &self.mchid)
            .field("appid", &self.appid)
            .field("api_base_url", &self.api_base_url)
            .field("platform_keys", &self.platform_keys.len())
            .finish()
    }
}

/// The marketing system's endpoint for payment events and the secret they are signed with.
#[derive(Debug, Clone)]
pub struct WritebackTarget {
    pub url: String,
    pub secret: Secret,
    pub timeout: Duration,
}

impl std::fmt::Debug for AlipayCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlipayCredentials")
            .field("app_id", &self.app_id)
            .field("gateway_url", &self.gateway_url)
            .field("seller_id", &self.seller_id)
            .finish()
    }
}

/// What this instance can log in with: each platform is optional in production.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub wechat: Option<WechatCredentials>,
    pub alipay: Option<AlipayCredentials>,
    /// WeChat Pay, when the merchant is configured (always in sandbox mode).
    pub wechat_pay: Option<WechatPayCredentials>,
    /// The write-back endpoint; `None` leaves settlements queued until one is configured.
    pub writeback: Option<WritebackTarget>,
    /// The SMS gateway for reminders no mini-program user can receive; `None` when not configured.
    pub sms: Option<SmsGateway>,
}

fn read_text(what: &'static str, path: &std::path::Path) -> Result<String, ConfigError> {
    let secret = Secret::from_file(what, path)?;
    String::from_utf8(secret.expose().to_vec()).map_err(|_| ConfigError::Invalid(format!("{what} is not UTF-8 text")))
}

/// Resolves the credentials. `self_base_url` is where this instance answers, for the sandbox's base URLs;
/// `sandbox_keys` are the sandbox's own, required in sandbox mode.
pub fn resolve(
    settings: &Settings,
    mode: Mode,
    self_base_url: &str,
    sandbox_keys: Option<&SandboxKeys>,
) -> Result<Credentials, ConfigError> {
    let public_base = match (&settings.public_base_url, mode) {
        (Some(url), _) => url.trim_end_matches('/').to_owned(),
        (None, Mode::Sandbox) => self_base_url.trim_end_matches('/').to_owned(),
        (None, Mode::Production) => settings.public_base_url(),
    };
    let alipay_notify_url = format!("{public_base}{ALIPAY_NOTIFY_PATH}");
    let pay_timeout = Duration::from_secs(settings.wechat_pay.timeout_secs.max(1));
    let writeback_timeout = Duration::from_secs(settings.writeback.timeout_secs.max(1));
    let wechat_timeout = Duration::from_secs(settings.wechat.timeout_secs.max(1));
    let alipay_timeout = Duration::from_secs(settings.alipay.timeout_secs.max(1));
    match mode {
        Mode::Sandbox => {
            let keys = sandbox_keys.ok_or_else(|| ConfigError::Invalid("sandbox mode without sandbox keys".into()))?;
            Ok(Credentials {
                wechat: Some(WechatCredentials {
                    appid: keys.wechat_appid.clone(),
                    secret: keys.wechat_secret.clone(),
                    api_base_url: settings
                        .wechat
                        .api_base_url
                        .clone()
                        .unwrap_or_else(|| format!("{self_base_url}/sandbox/wechat")),
                    timeout: wechat_timeout,
                }),
                alipay: Some(AlipayCredentials {
                    app_id: keys.alipay_app_id.clone(),
                    app_key: keys.alipay_app_key.clone(),
                    alipay_public_key: keys.alipay_platform_public_key().map_err(ConfigError::Invalid)?,
                    aes_key: Some(keys.alipay_aes_key.clone()),
                    gateway_url: settings
                        .alipay
                        .gateway_url
                        .clone()
                        .unwrap_or_else(|| format!("{self_base_url}/sandbox/alipay/gateway.do")),
                    timeout: alipay_timeout,
                    seller_id: Some(
                        settings.alipay.seller_id.clone().unwrap_or_else(|| keys::SANDBOX_ALIPAY_SELLER_ID.into()),
                    ),
                    notify_url: alipay_notify_url,
                }),
                wechat_pay: Some(sandbox_wechat_pay(settings, keys, self_base_url, &public_base, pay_timeout)?),
                writeback: Some(WritebackTarget {
                    url: settings
                        .writeback
                        .url
                        .clone()
                        .unwrap_or_else(|| format!("{self_base_url}/sandbox/marketing/payments")),
                    secret: match &settings.writeback.hmac_secret_file {
                        Some(file) => Secret::from_file("write-back HMAC secret", file)?,
                        None => keys.writeback_secret.clone(),
                    },
                    timeout: writeback_timeout,
                }),
                sms: Some(SmsGateway::new(
                    settings
                        .messages
                        .sms_gateway_url
                        .clone()
                        .unwrap_or_else(|| format!("{self_base_url}/sandbox/sms/send")),
                    match settings.messages.sms_hmac_secret()? {
                        Some(secret) => secret,
                        None => keys.sms_secret.clone(),
                    },
                    writeback_timeout,
                )),
            })
        }
        Mode::Production => {
            let wechat = match (&settings.wechat.appid, &settings.wechat.app_secret_file) {
                (Some(appid), Some(file)) => Some(WechatCredentials {
                    appid: appid.clone(),
                    secret: Secret::from_file("WeChat AppSecret", file)?,
                    api_base_url: settings.wechat.api_base_url.clone().unwrap_or_else(|| WECHAT_API.to_string()),
                    timeout: wechat_timeout,
                }),
                _ => None,
            };
            let alipay = match (&settings.alipay.app_id, &settings.alipay.app_private_key_file) {
                (Some(app_id), Some(key_file)) => {
                    let public_file = settings.alipay.alipay_public_key_file.as_ref().ok_or_else(|| {
                        ConfigError::Invalid("alipay.alipay_public_key_file is required with alipay.app_id".into())
                    })?;
                    Some(AlipayCredentials {
                        app_id: app_id.clone(),
                        app_key: RsaSigningKey::from_text(&read_text("Alipay app private key", key_file)?)
                            .map_err(|e| ConfigError::Invalid(format!("alipay.app_private_key_file: {e}")))?,
                        alipay_public_key: RsaVerifyingKey::from_text(&read_text("Alipay public key", public_file)?)
                            .map_err(|e| ConfigError::Invalid(format!("alipay.alipay_public_key_file: {e}")))?,
                        aes_key: match &settings.alipay.aes_key_file {
                            Some(file) => Some(Secret::from_file("Alipay AES key", file)?),
                            None => None,
                        },
                        gateway_url: settings.alipay.gateway_url.clone().unwrap_or_else(|| ALIPAY_GATEWAY.to_string()),
                        timeout: alipay_timeout,
                        seller_id: settings.alipay.seller_id.clone(),
                        notify_url: alipay_notify_url,
                    })
                }
                _ => None,
            };
            let wechat_pay = match &wechat {
                Some(wechat) if settings.wechat_pay.is_configured() => {
                    Some(production_wechat_pay(settings, &wechat.appid, &public_base, pay_timeout)?)
                }
                _ => None,
            };
            let writeback = match (&settings.writeback.url, &settings.writeback.hmac_secret_file) {
                (Some(url), Some(file)) => Some(WritebackTarget {
                    url: url.clone(),
                    secret: Secret::from_file("write-back HMAC secret", file)?,
                    timeout: writeback_timeout,
                }),
                _ => None,
            };
            let sms = match (&settings.messages.sms_gateway_url, settings.messages.sms_hmac_secret()?) {
                (Some(url), Some(secret)) => Some(SmsGateway::new(url.clone(), secret, writeback_timeout)),
                _ => None,
            };
            Ok(Credentials { wechat, alipay, wechat_pay, writeback, sms })
        }
    }
}

/// The sandbox merchant on the simulated WeChat Pay (public-key mode), plus any platform keys configured.
fn sandbox_wechat_pay(
    settings: &Settings,
    keys: &SandboxKeys,
    self_base_url: &str,
    public_base: &str,
    timeout: Duration,
) -> Result<WechatPayCredentials, ConfigError> {
    let mut platform_keys = configured_platform_keys(settings)?;
    let sandbox_key = keys.wechatpay_platform_public_key().map_err(ConfigError::Invalid)?;
    platform_keys
        .insert_public_key(keys::SANDBOX_WECHATPAY_PUBLIC_KEY_ID, sandbox_key)
        .map_err(|e| ConfigError::Invalid(e.to_string()))?;
    Ok(WechatPayCredentials {
        mchid: keys::SANDBOX_WECHATPAY_MCHID.into(),
        appid: keys.wechat_appid.clone(),
        merchant_serial_no: keys::SANDBOX_WECHATPAY_MERCHANT_SERIAL.into(),
        merchant_key: keys.wechatpay_merchant_key.clone(),
        apiv3_key: Arc::new(apiv3_key(keys.wechatpay_apiv3_key.expose())?),
        platform_keys: Arc::new(platform_keys),
        api_base_url: settings
            .wechat_pay
            .api_base_url
            .clone()
            .unwrap_or_else(|| format!("{self_base_url}/sandbox/wechatpay")),
        notify_url: format!("{public_base}{WECHATPAY_NOTIFY_PATH}"),
        refund_notify_url: format!("{public_base}{WECHATPAY_REFUND_NOTIFY_PATH}"),
        timeout,
    })
}

/// The configured merchant; `Settings::check` has made sure all its parts are there.
fn production_wechat_pay(
    settings: &Settings,
    appid: &str,
    public_base: &str,
    timeout: Duration,
) -> Result<WechatPayCredentials, ConfigError> {
    let pay = &settings.wechat_pay;
    let missing = |name: &str| ConfigError::Invalid(format!("wechat_pay.{name} is required with wechat_pay.mchid"));
    let key_file = pay.merchant_private_key_file.as_ref().ok_or_else(|| missing("merchant_private_key_file"))?;
    let apiv3_file = pay.apiv3_key_file.as_ref().ok_or_else(|| missing("apiv3_key_file"))?;
    Ok(WechatPayCredentials {
        mchid: pay.mchid.clone().ok_or_else(|| missing("mchid"))?,
        appid: appid.to_owned(),
        merchant_serial_no: pay.merchant_serial_no.clone().ok_or_else(|| missing("merchant_serial_no"))?,
        merchant_key: RsaSigningKey::from_text(&read_text("WeChat Pay merchant private key", key_file)?)
            .map_err(|e| ConfigError::Invalid(format!("wechat_pay.merchant_private_key_file: {e}")))?,
        apiv3_key: Arc::new(apiv3_key(Secret::from_file("WeChat Pay APIv3 key", apiv3_file)?.expose())?),
        platform_keys: Arc::new(configured_platform_keys(settings)?),
        api_base_url: pay.api_base_url.clone().unwrap_or_else(|| WECHATPAY_API.to_string()),
        notify_url: format!("{public_base}{WECHATPAY_NOTIFY_PATH}"),
        refund_notify_url: format!("{public_base}{WECHATPAY_REFUND_NOTIFY_PATH}"),
        timeout,
    })
}

fn apiv3_key(bytes: &[u8]) -> Result<ApiV3Key, ConfigError> {
    ApiV3Key::new(bytes).map_err(|e| ConfigError::Invalid(format!("WeChat Pay APIv3 key: {e}")))
}

/// The platform public keys and certificates the settings name, each under its id.
fn configured_platform_keys(settings: &Settings) -> Result<PlatformKeys, ConfigError> {
    let mut keys = PlatformKeys::new();
    for key in &settings.wechat_pay.platform_public_keys {
        let public = RsaVerifyingKey::from_text(&read_text("WeChat Pay public key", &key.file)?)
            .map_err(|e| ConfigError::Invalid(format!("wechat_pay.platform_public_keys {}: {e}", key.id)))?;
        keys.insert_public_key(&key.id, public)
            .map_err(|e| ConfigError::Invalid(format!("wechat_pay.platform_public_keys {}: {e}", key.id)))?;
    }
    for file in &settings.wechat_pay.platform_certificate_files {
        let certificate = PlatformCertificate::from_text(&read_text("WeChat Pay platform certificate", file)?)
            .map_err(|e| ConfigError::Invalid(format!("{}: {e}", file.display())))?;
        keys.insert_certificate(certificate).map_err(|e| ConfigError::Invalid(format!("{}: {e}", file.display())))?;
    }
    Ok(keys)
}
