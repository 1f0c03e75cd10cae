//! The app's credentials on each platform, as the clients use them: read from the configured files in production,
//! or the sandbox's own (generated once into the data directory) with base URLs pointing at this instance.

use crate::config::{ConfigError, Mode, Secret, Settings};
use crate::platform::crypto::rsa_keys::{RsaSigningKey, RsaVerifyingKey};
use crate::sandbox::keys::SandboxKeys;
use std::time::Duration;

pub const WECHAT_API: &str = "https://api.weixin.qq.com";
pub const ALIPAY_GATEWAY: &str = "https://openapi.alipay.com/gateway.do";

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
}

impl std::fmt::Debug for AlipayCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlipayCredentials")
            .field("app_id", &self.app_id)
            .field("gateway_url", &self.gateway_url)
            .finish()
    }
}

/// What this instance can log in with: each platform is optional in production.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub wechat: Option<WechatCredentials>,
    pub alipay: Option<AlipayCredentials>,
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
                }),
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
                    })
                }
                _ => None,
            };
            Ok(Credentials { wechat, alipay })
        }
    }
}
