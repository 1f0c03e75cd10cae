//! The simulated platforms' memory: what WeChat and Alipay would remember between calls (login codes issued and
//! used, access tokens handed out, ...), kept in bounded maps with expiry. One per process; sandbox mode only (the
//! application builds it only then, and its routes are mounted only then).

use super::alipay::AlipayMemory;
use super::inbox::Inbox;
use super::keys::SandboxKeys;
use super::marketing::MarketingMemory;
use super::notify_log::NotifyLog;
use super::sms::SmsMemory;
use super::wechat::WechatMemory;
use super::wechatpay::WechatPayMemory;
use crate::error::ApiError;
use crate::state::AppState;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::distributions::Alphanumeric;
use rand::Rng;
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

/// Codes outstanding at once per kind; beyond that the sandbox refuses to issue more until some expire.
const MAX_OUTSTANDING_CODES: usize = 10_000;
/// Distinct "busy once" codes remembered; the memory starts over beyond that.
const MAX_FIRST_USES: usize = 1_000;

/// The simulated platforms: the sandbox's keys and what each platform remembers.
pub struct SandboxPlatforms {
    pub keys: SandboxKeys,
    pub wechat: WechatMemory,
    pub alipay: AlipayMemory,
    pub marketing: MarketingMemory,
    pub wechatpay: WechatPayMemory,
    /// What the simulated platforms delivered: messages and SMS.
    pub inbox: Inbox,
    pub sms: SmsMemory,
    /// The notifies the simulated payment platforms sent us, and our answers.
    pub notify_log: NotifyLog,
    /// Where this instance answers (`http://127.0.0.1:{port}`), for the simulated marketing system's feed calls.
    pub self_base_url: String,
}

impl SandboxPlatforms {
    pub fn new(keys: SandboxKeys, self_base_url: &str) -> SandboxPlatforms {
        SandboxPlatforms {
            keys,
            wechat: WechatMemory::default(),
            alipay: AlipayMemory::default(),
            marketing: MarketingMemory::default(),
            wechatpay: WechatPayMemory::default(),
            inbox: Inbox::default(),
            sms: SmsMemory::default(),
            notify_log: NotifyLog::default(),
            self_base_url: self_base_url.trim_end_matches('/').to_owned(),
        }
    }

    /// The simulated platforms of a sandbox-mode application.
    pub fn of(state: &AppState) -> Result<&Arc<SandboxPlatforms>, ApiError> {
        state.sandbox.as_ref().ok_or_else(|| ApiError::not_found("the sandbox is off"))
    }
}

/// A lock that survives a panicking holder: the maps stay usable (the sandbox holds no invariant across entries).
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the sandbox holds too many outstanding codes; wait for some to expire")]
pub struct SandboxFull;

impl From<SandboxFull> for ApiError {
    fn from(full: SandboxFull) -> ApiError {
        ApiError::unavailable("SANDBOX_FULL", full.to_string())
    }
}

/// Codes a simulated platform handed out, each redeemable once until it expires.
pub struct SingleUseCodes<V> {
    entries: Mutex<HashMap<String, (V, i64)>>,
}

impl<V> Default for SingleUseCodes<V> {
    fn default() -> Self {
        SingleUseCodes { entries: Mutex::new(HashMap::new()) }
    }
}

impl<V> SingleUseCodes<V> {
    /// Remembers `code` until `expires_at_ms`.
    pub fn issue(&self, code: String, value: V, expires_at_ms: i64, now_ms: i64) -> Result<(), SandboxFull> {
        let mut entries = lock(&self.entries);
        if entries.len() >= MAX_OUTSTANDING_CODES {
            entries.retain(|_, (_, expires_at)| *expires_at > now_ms);
            if entries.len() >= MAX_OUTSTANDING_CODES {
                return Err(SandboxFull);
            }
        }
        entries.insert(code, (value, expires_at_ms));
        Ok(())
    }

    /// Takes `code` out: its value when it was issued and has not expired; `None` when unknown, used or expired.
    pub fn redeem(&self, code: &str, now_ms: i64) -> Option<V> {
        lock(&self.entries).remove(code).filter(|(_, expires_at)| *expires_at > now_ms).map(|(value, _)| value)
    }
}

/// Remembers which codes were seen, to fail a code the first time only.
#[derive(Default)]
pub struct FirstUse {
    seen: Mutex<HashSet<String>>,
}

impl FirstUse {
    /// True the first time `code` is seen.
    pub fn first_use(&self, code: &str) -> bool {
        let mut seen = lock(&self.seen);
        if seen.len() >= MAX_FIRST_USES {
            seen.clear();
        }
        seen.insert(code.to_owned())
    }
}

/// A random string of ASCII letters and digits, as platforms' codes and tokens look.
pub fn random_alphanumeric(len: usize) -> String {
    rand::thread_rng().sample_iter(&Alphanumeric).take(len).map(char::from).collect()
}

/// A stable pseudonym for a sandbox user: the same inputs always give the same 43 URL-safe characters.
pub fn pseudonym(parts: &[&str]) -> String {
    URL_SAFE_NO_PAD.encode(digest(parts))
}

/// SHA-256 over `parts` joined by `|`.
pub fn digest(parts: &[&str]) -> [u8; 32] {
    Sha256::digest(parts.join("|").as_bytes()).into()
}

/// A sandbox user name as the code-issuing endpoints accept it: 1 to 64 characters, no control characters.
pub fn check_user(user: &str) -> Result<(), ApiError> {
    let length = user.chars().count();
    if (1..=64).contains(&length) && !user.chars().any(char::is_control) {
        Ok(())
    } else {
        Err(ApiError::bad_request("INVALID_USER", "`user` must be 1 to 64 characters without control characters"))
    }
}

/// A phone number as the sandbox hands it out: 5 to 20 digits.
pub fn check_phone(phone: &str) -> Result<(), ApiError> {
    if (5..=20).contains(&phone.len()) && phone.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(ApiError::bad_request("INVALID_PHONE", "`phone` must be 5 to 20 digits"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_is_redeemed_once() {
        let codes = SingleUseCodes::default();
        codes.issue("c1".into(), "alice", 1_000, 0).unwrap();
        assert_eq!(codes.redeem("c1", 10), Some("alice"));
        assert_eq!(codes.redeem("c1", 20), None);
    }

    #[test]
    fn an_expired_code_is_not_redeemed() {
        let codes = SingleUseCodes::default();
        codes.issue("c1".into(), (), 1_000, 0).unwrap();
        assert_eq!(codes.redeem("c1", 1_000), None);
    }

    #[test]
    fn issuing_stops_at_the_bound_until_codes_expire() {
        let codes = SingleUseCodes::default();
        for i in 0..MAX_OUTSTANDING_CODES {
            codes.issue(format!("c{i}"), (), 1_000, 0).unwrap();
        }
        assert_eq!(codes.issue("one-more".into(), (), 1_000, 0), Err(SandboxFull));
        assert_eq!(codes.issue("after-expiry".into(), (), 5_000, 2_000), Ok(()));
    }

    #[test]
    fn first_use_is_true_once() {
        let seen = FirstUse::default();
        assert!(seen.first_use("x"));
        assert!(!seen.first_use("x"));
        assert!(seen.first_use("y"));
    }

    #[test]
    fn pseudonyms_are_stable_and_distinct() {
        assert_eq!(pseudonym(&["wx1", "alice"]), pseudonym(&["wx1", "alice"]));
        assert_ne!(pseudonym(&["wx1", "alice"]), pseudonym(&["wx1", "bob"]));
        assert_eq!(pseudonym(&["a"]).len(), 43);
    }
}
