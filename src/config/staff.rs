//! The customer-service console's settings: staff token lifetime and keys, login lockout, the cookie, and which
//! proxies may say where a request came from.

use super::{ConfigError, KeyFile, Mode, Secret};
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StaffSettings {
    /// Lifetime of a staff token (one shift); at most 12 hours.
    pub token_ttl_secs: u64,
    /// HMAC keys of staff tokens, by key id, never the customer keys. The first signs; all verify. Required in
    /// production; generated in sandbox mode.
    pub token_keys: Vec<KeyFile>,
    /// Consecutive failed logins that lock a staff account ...
    pub max_failed_logins: i64,
    /// ... for this long.
    pub lockout_secs: u64,
    /// Mark the session cookie `Secure` (sent over HTTPS only). Default: on in production, off in sandbox mode
    /// (served over plain http on localhost).
    pub secure_cookie: Option<bool>,
    /// Addresses of reverse proxies whose `X-Forwarded-For` names the client in the audit log; from anyone else the
    /// header is ignored and the connection's address is recorded.
    pub trusted_proxies: Vec<String>,
}

impl Default for StaffSettings {
    fn default() -> Self {
        StaffSettings {
            token_ttl_secs: 8 * 3600,
            token_keys: Vec::new(),
            max_failed_logins: 5,
            lockout_secs: 15 * 60,
            secure_cookie: None,
            trusted_proxies: Vec::new(),
        }
    }
}

impl StaffSettings {
    pub(super) fn check(&self, mode: Mode) -> Result<(), ConfigError> {
        if self.token_ttl_secs == 0 || self.token_ttl_secs > 12 * 3600 {
            return Err(ConfigError::Invalid("staff.token_ttl_secs must be between 1 and 43200".into()));
        }
        if self.max_failed_logins < 1 {
            return Err(ConfigError::Invalid("staff.max_failed_logins must be at least 1".into()));
        }
        if self.lockout_secs == 0 {
            return Err(ConfigError::Invalid("staff.lockout_secs must be at least 1".into()));
        }
        if mode == Mode::Production && self.token_keys.is_empty() {
            return Err(ConfigError::Invalid("production needs staff.token_keys (staff JWT signing keys)".into()));
        }
        if let Some(proxy) = self.trusted_proxies.iter().find(|p| p.parse::<std::net::IpAddr>().is_err()) {
            return Err(ConfigError::Invalid(format!("staff.trusted_proxies: {proxy:?} is not an IP address")));
        }
        Ok(())
    }

    pub(super) fn check_files(&self) -> Result<(), ConfigError> {
        for key in &self.token_keys {
            Secret::from_file("staff JWT key", &key.file)?;
        }
        Ok(())
    }

    /// Whether the session cookie is `Secure`.
    pub fn secure_cookie(&self, mode: Mode) -> bool {
        self.secure_cookie.unwrap_or(mode == Mode::Production)
    }
}
