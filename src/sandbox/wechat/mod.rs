//! The simulated WeChat API under `/sandbox/wechat`, byte-compatible with the real one so that our production
//! client is what gets exercised: `GET sns/jscode2session`, `POST cgi-bin/stable_token` and
//! `POST wxa/business/getuserphonenumber`, with WeChat's `errcode`s.
//!
//! It also hands out what the mini-program would get from WeChat on the phone:
//! - `POST login-codes {user, unionid?: bool}` → `{code}`: what `wx.login` gives; single-use, 5 minutes. The same
//!   `user` always logs in as the same `openid`; `unionid: true` adds a `unionid` to the login.
//! - `POST phone-codes {user, phone}` → `{code}`: what the phone-number button gives; single-use, 5 minutes.
//!
//! Subscribe messages (`POST cgi-bin/message/subscribe/send`, delivered to the sandbox's inbox) and the user's
//! subscriptions (`POST subscriptions`, `POST long-term-templates`, `POST message-failures`) are in `message`.
//!
//! Login codes that provoke each platform error, accepted as they are:
//!
//! | code | `jscode2session` answers |
//! | --- | --- |
//! | `sandbox-err-40029` | `40029` invalid code |
//! | `sandbox-err-45011` | `45011` rate limit |
//! | `sandbox-err-40226` | `40226` blocked high-risk user |
//! | `sandbox-err-busy` | `-1` system busy, every time |
//! | `sandbox-err-busy-once`, or any code starting with it | `-1` the first time that exact code is used, then success as user `sandbox-busy-once` |

mod login;
mod message;
mod phone;
mod template_values;
mod token;

pub use login::BUSY_ONCE_USER;
use token::TokenBook;

use super::failures::FailureSwitch;
use super::platforms::{lock, pseudonym, FirstUse, SingleUseCodes};
use super::subscriptions::Subscriptions;
use actix_web::http::header::ContentType;
use actix_web::{web, HttpResponse};
use rand::Rng;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// How long a `wx.login` or phone-button code stays valid.
const CODE_TTL_MS: i64 = 5 * 60 * 1000;

/// A `wx.login` code's user.
pub(crate) struct LoginGrant {
    user: String,
    unionid: bool,
}

/// A phone-button code's number.
pub(crate) struct PhoneGrant {
    phone: String,
}

/// What the simulated WeChat remembers.
#[derive(Default)]
pub struct WechatMemory {
    login_codes: SingleUseCodes<LoginGrant>,
    phone_codes: SingleUseCodes<PhoneGrant>,
    busy_once: FirstUse,
    tokens: Mutex<TokenBook>,
    busy_answers: AtomicU64,
    subscriptions: Subscriptions,
    message_failures: FailureSwitch,
}

impl WechatMemory {
    /// How many times a `-1` (system busy) was answered: lets tests count retries.
    pub fn busy_answers(&self) -> u64 {
        self.busy_answers.load(Ordering::Relaxed)
    }

    /// How many `stable_token` calls were answered: lets tests check the token is cached.
    pub fn stable_token_calls(&self) -> u64 {
        lock(&self.tokens).calls()
    }

    /// The users' subscriptions to message templates.
    pub fn subscriptions(&self) -> &Subscriptions {
        &self.subscriptions
    }

    fn count_busy(&self) {
        self.busy_answers.fetch_add(1, Ordering::Relaxed);
    }
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/sns/jscode2session", web::get().to(login::jscode2session))
        .route("/login-codes", web::post().to(login::issue_code))
        .route("/cgi-bin/stable_token", web::post().to(token::stable_token))
        .route("/wxa/business/getuserphonenumber", web::post().to(phone::get_user_phone_number))
        .route("/phone-codes", web::post().to(phone::issue_code))
        .route("/cgi-bin/message/subscribe/send", web::post().to(message::send))
        .route("/subscriptions", web::post().to(message::grant))
        .route("/long-term-templates", web::post().to(message::declare_long_term))
        .route("/message-failures", web::post().to(message::fail_next));
}

/// The openid of a sandbox user in an app: `o` and 27 URL-safe characters, like WeChat's.
pub fn openid_for(appid: &str, user: &str) -> String {
    format!("o{}", &pseudonym(&["wechat-openid", appid, user])[..27])
}

/// The unionid of a sandbox user (the same across the apps of one Open Platform account).
pub fn unionid_for(user: &str) -> String {
    format!("o{}", &pseudonym(&["wechat-unionid", user])[..27])
}

/// WeChat's request id, appended to its error messages.
fn rid() -> String {
    let mut rng = rand::thread_rng();
    format!("{:08x}-{:08x}-{:08x}", rng.gen::<u32>(), rng.gen::<u32>(), rng.gen::<u32>())
}

/// An error answer as WeChat gives it: HTTP 200, `{"errcode":..,"errmsg":"... rid: .."}`.
fn error_reply(errcode: i64, errmsg: &str) -> HttpResponse {
    json_reply(&json!({ "errcode": errcode, "errmsg": format!("{errmsg} rid: {}", rid()) }))
}

/// A JSON answer with WeChat's content type.
fn json_reply(body: &Value) -> HttpResponse {
    HttpResponse::Ok().insert_header(("content-type", "application/json; encoding=utf-8")).body(body.to_string())
}

/// `jscode2session` answers as `text/plain`: our client must not depend on the content type.
fn text_reply(body: &Value) -> HttpResponse {
    HttpResponse::Ok().insert_header(ContentType::plaintext()).body(body.to_string())
}

/// Compares a presented secret with the real one in constant time.
fn secret_matches(presented: &str, actual: &[u8]) -> bool {
    use subtle::ConstantTimeEq as _;
    presented.as_bytes().ct_eq(actual).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openids_are_stable_per_app_and_user_and_shaped_like_wechat_ones() {
        let openid = openid_for("wx5a0d0c0e5b0a1e00", "alice");
        assert_eq!(openid, openid_for("wx5a0d0c0e5b0a1e00", "alice"));
        assert_ne!(openid, openid_for("wx5a0d0c0e5b0a1e00", "bob"));
        assert_ne!(openid, openid_for("wx0000000000000000", "alice"));
        assert_eq!(openid.len(), 28);
        assert!(openid.starts_with('o'));
    }

    #[test]
    fn secrets_compare_exactly() {
        assert!(secret_matches("abc", b"abc"));
        assert!(!secret_matches("abd", b"abc"));
        assert!(!secret_matches("ab", b"abc"));
    }
}
