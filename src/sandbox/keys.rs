//! Secrets the sandbox makes for itself on first start and keeps in the data directory, so that they survive
//! restarts and other local tools (the demo, the benchmark scripts) can read them.

use crate::config::Secret;
use crate::platform::crypto::rsa_keys::{generate_key_pair, RsaSigningKey, RsaVerifyingKey};
use base64::Engine;
use rand::RngCore;
use std::path::Path;

/// The sandbox app's identity on the simulated platforms, and the simulated Alipay's own key. Both sides (our clients
/// and the simulated platforms) read them from here, the way each side would hold its own half in reality.
#[derive(Clone)]
pub struct SandboxKeys {
    pub wechat_appid: String,
    pub wechat_secret: Secret,
    pub alipay_app_id: String,
    /// The app's RSA2 private key (PKCS#8 PEM): our requests are signed with it.
    pub alipay_app_key: RsaSigningKey,
    /// The simulated Alipay's private key: it signs the gateway's answers and notifies.
    pub alipay_platform_key: RsaSigningKey,
    /// The console AES key (base64 of 16 bytes), for `my.getPhoneNumber`.
    pub alipay_aes_key: Secret,
    /// The WeChat Pay merchant's private key: signs our API requests and `paySign`.
    pub wechatpay_merchant_key: RsaSigningKey,
    /// The simulated WeChat Pay's private key (public-key mode, id [`SANDBOX_WECHATPAY_PUBLIC_KEY_ID`]): signs its
    /// answers and notifications.
    pub wechatpay_platform_key: RsaSigningKey,
    /// The merchant's APIv3 key: 32 characters, encrypting notifications.
    pub wechatpay_apiv3_key: Secret,
    /// The secret write-back events to the simulated marketing system are signed with.
    pub writeback_secret: Secret,
    /// The secret requests to the simulated SMS gateway are signed with.
    pub sms_secret: Secret,
    /// The customer-token HMAC key and its id.
    pub jwt_customer_key_id: String,
    pub jwt_customer_key: Secret,
    /// The staff-token HMAC key and its id: another key than the customers'.
    pub jwt_staff_key_id: String,
    pub jwt_staff_key: Secret,
}

pub const SANDBOX_WECHAT_APPID: &str = "wx5a0d0c0e5b0a1e00";
pub const SANDBOX_ALIPAY_APP_ID: &str = "2021000000000001";
/// The sandbox merchant's id on WeChat Pay.
pub const SANDBOX_WECHATPAY_MCHID: &str = "1900000109";
/// The serial of the sandbox merchant's API certificate.
pub const SANDBOX_WECHATPAY_MERCHANT_SERIAL: &str = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1";
/// The id of the simulated WeChat Pay's public key (public-key mode).
pub const SANDBOX_WECHATPAY_PUBLIC_KEY_ID: &str = "PUB_KEY_ID_0119000001092026120400000000000001";
/// The sandbox's Alipay seller (the merchant's 2088 account).
pub const SANDBOX_ALIPAY_SELLER_ID: &str = "2088102146225135";

impl SandboxKeys {
    /// Reads the sandbox's keys from `data_dir/sandbox/`, making any that are missing. RSA keys can be put there
    /// beforehand (the tests do, to skip the key generation).
    pub fn load_or_create(data_dir: &Path) -> Result<SandboxKeys, String> {
        let dir = data_dir.join("sandbox");
        std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let app_key = rsa_key(&dir.join("alipay_app_private_key.pem"))?;
        let platform_key = rsa_key(&dir.join("alipay_platform_private_key.pem"))?;
        Ok(SandboxKeys {
            wechat_appid: SANDBOX_WECHAT_APPID.into(),
            wechat_secret: random_secret(&dir.join("wechat_app_secret"), |b| hex::encode(b))?,
            alipay_app_id: SANDBOX_ALIPAY_APP_ID.into(),
            alipay_app_key: app_key,
            alipay_platform_key: platform_key,
            alipay_aes_key: random_secret(&dir.join("alipay_aes_key"), |b| {
                base64::engine::general_purpose::STANDARD.encode(&b[..16])
            })?,
            wechatpay_merchant_key: rsa_key(&dir.join("wechatpay_merchant_private_key.pem"))?,
            wechatpay_platform_key: rsa_key(&dir.join("wechatpay_platform_private_key.pem"))?,
            wechatpay_apiv3_key: random_secret(&dir.join("wechatpay_apiv3.key"), |b| hex::encode(&b[..16]))?,
            writeback_secret: random_secret(&dir.join("writeback_hmac.key"), |b| hex::encode(b))?,
            sms_secret: random_secret(&dir.join("sms_hmac.key"), |b| hex::encode(b))?,
            jwt_customer_key_id: "sandbox-1".into(),
            jwt_customer_key: random_secret(&dir.join("jwt_customer.key"), |b| hex::encode(b))?,
            jwt_staff_key_id: "sandbox-staff-1".into(),
            jwt_staff_key: random_secret(&dir.join("jwt_staff.key"), |b| hex::encode(b))?,
        })
    }

    /// The simulated Alipay's public key, which our client trusts in sandbox mode.
    pub fn alipay_platform_public_key(&self) -> Result<RsaVerifyingKey, String> {
        self.alipay_platform_key.verifying_key().map_err(|e| e.to_string())
    }

    /// The simulated WeChat Pay's public key, which our client trusts in sandbox mode.
    pub fn wechatpay_platform_public_key(&self) -> Result<RsaVerifyingKey, String> {
        self.wechatpay_platform_key.verifying_key().map_err(|e| e.to_string())
    }

    /// The merchant's public key, with which the simulated WeChat Pay checks our requests.
    pub fn wechatpay_merchant_public_key(&self) -> Result<RsaVerifyingKey, String> {
        self.wechatpay_merchant_key.verifying_key().map_err(|e| e.to_string())
    }

    /// The app's public key, with which the simulated Alipay checks our requests.
    pub fn alipay_app_public_key(&self) -> Result<RsaVerifyingKey, String> {
        self.alipay_app_key.verifying_key().map_err(|e| e.to_string())
    }
}

/// Reads an RSA private key PEM, generating and saving a 2048-bit one when the file does not exist.
fn rsa_key(path: &Path) -> Result<RsaSigningKey, String> {
    if !path.exists() {
        let pair = generate_key_pair().map_err(|e| e.to_string())?;
        write_private(path, pair.private_key_pem.as_bytes())
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    let secret = Secret::from_file("sandbox RSA key", path).map_err(|e| e.to_string())?;
    let text = std::str::from_utf8(secret.expose()).map_err(|_| format!("{} is not text", path.display()))?;
    RsaSigningKey::from_text(text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Reads a secret file, making it from 32 random bytes (encoded by `encode`) when it does not exist.
fn random_secret(path: &Path, encode: impl Fn(&[u8; 32]) -> String) -> Result<Secret, String> {
    if !path.exists() {
        let mut bytes = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut bytes);
        write_private(path, encode(&bytes).as_bytes()).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Secret::from_file("sandbox secret", path).map_err(|e| e.to_string())
}

/// The feed's HMAC secret in sandbox mode: `data_dir/sandbox/feed_hmac.key`, made on first use.
pub fn feed_secret(data_dir: &Path) -> Result<Secret, String> {
    let dir = data_dir.join("sandbox");
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    random_secret(&dir.join("feed_hmac.key"), |b| hex::encode(b))
}

/// The demo staff's password in sandbox mode: `data_dir/sandbox/demo_staff_password`, made on first use.
pub fn demo_staff_password(data_dir: &Path) -> Result<Secret, String> {
    let dir = data_dir.join("sandbox");
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    random_secret(&dir.join("demo_staff_password"), |b| hex::encode(&b[..10]))
}

/// Writes a file readable by its owner only.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?.write_all(bytes)
}
