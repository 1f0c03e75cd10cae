//! Our client of the WeChat mini-program server API (PROTOCOLS.md, "WeChat mini-program"): login
//! ([`WechatClient::code2session`]), the access token ([`WechatClient::stable_token`], cached and refreshed
//! single-flight across instances by [`WechatTokens`]), phone numbers ([`WechatClient::phone_number`],
//! [`decrypt_phone`]) and subscribe messages ([`WechatClient::send_subscribe_message`]). The base URL comes from the
//! credentials, so the same code talks to WeChat, its backup domain or the sandbox.
//!
//! Nothing secret is logged: the AppSecret travels in `jscode2session`'s query string and the access token in the
//! other calls' query strings, so URLs are never logged and transport errors are stripped of theirs.

mod error;
mod login;
mod message;
mod phone;
mod token;
mod transport;

pub use error::WechatError;
pub use login::WechatSession;
pub use message::{SendReceipt, SubscribeMessage, MAX_REPLY_CHARS};
pub use phone::{decrypt_phone, PhoneInfo};
pub use token::WechatTokens;

use crate::config::Secret;
use crate::platform::credentials::WechatCredentials;
use std::fmt;
use std::time::Duration;

/// Longest code (`wx.login` code, `getPhoneNumber` code) we pass on; WeChat's are 32 characters.
const MAX_CODE_LEN: usize = 256;

/// One mini-program's client of the WeChat API. Cheap to clone (the HTTP client is a shared pool).
#[derive(Clone)]
pub struct WechatClient {
    appid: String,
    secret: Secret,
    base_url: String,
    timeout: Duration,
    http: reqwest::Client,
}

impl fmt::Debug for WechatClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WechatClient").field("appid", &self.appid).field("base_url", &self.base_url).finish()
    }
}

impl WechatClient {
    pub fn new(creds: &WechatCredentials, http: reqwest::Client) -> WechatClient {
        WechatClient {
            appid: creds.appid.clone(),
            secret: creds.secret.clone(),
            base_url: creds.api_base_url.trim_end_matches('/').to_owned(),
            timeout: creds.timeout,
            http,
        }
    }

    pub fn appid(&self) -> &str {
        &self.appid
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// The AppSecret as sent on the wire. A secret file that is not UTF-8 cannot be right; WeChat refuses it (40125).
    fn secret_text(&self) -> String {
        String::from_utf8_lossy(self.secret.expose()).into_owned()
    }
}

/// A code as a mini-program hands it over, before it goes to WeChat: anything else is refused without a call.
fn plausible_code(code: &str) -> bool {
    !code.is_empty() && code.len() <= MAX_CODE_LEN && code.bytes().all(|b| b.is_ascii_graphic())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_must_be_short_printable_ascii() {
        assert!(plausible_code("0a3Xyz-_09AbCdEfGhIjKlMnOpQrStUv"));
        assert!(!plausible_code(""));
        assert!(!plausible_code("has space"));
        assert!(!plausible_code("码"));
        assert!(!plausible_code(&"a".repeat(MAX_CODE_LEN + 1)));
    }

    #[test]
    fn debug_shows_no_secret() {
        let creds = WechatCredentials {
            appid: "wx0000000000000001".into(),
            secret: Secret::new(b"top-secret-value".to_vec()),
            api_base_url: "https://api.weixin.qq.com/".into(),
            timeout: Duration::from_secs(5),
        };
        let client = WechatClient::new(&creds, reqwest::Client::new());
        let debug = format!("{client:?}");
        assert!(!debug.contains("top-secret-value"));
        assert_eq!(client.url("/sns/jscode2session"), "https://api.weixin.qq.com/sns/jscode2session");
    }
}
