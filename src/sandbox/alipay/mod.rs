//! The simulated Alipay under `/sandbox/alipay`, byte-compatible with the real one so that our production client
//! is what gets exercised: `POST gateway.do` checks the app id, the timestamp (UTC+8, within 15 minutes) and the
//! RSA2 request signature with the app's public key, runs `alipay.system.oauth.token` and the trade methods, and
//! signs its answers with the simulated Alipay's own key over the exact node text it emits.
//!
//! It also hands out what the mini-program would get from Alipay on the phone:
//! - `POST auth-codes {user, openid_only?: bool}` → `{auth_code}`: what `my.getAuthCode` gives; single-use,
//!   5 minutes. The same `user` always gets the same `user_id` (`2088` + 12 digits) and `open_id`;
//!   `openid_only: true` plays an app created after 2023, which gets `open_id` and no `user_id`.
//! - `POST phone-responses {user, phone}` → `{response, sign}`: what `my.getPhoneNumber` gives, encrypted with the
//!   sandbox's AES key and signed over the quoted ciphertext.
//!
//! Trades (`alipay.trade.create` for JSAPI_PAY, `.query`, `.close`, `.refund`, `.fastpay.refund.query`) are
//! remembered in a bounded map (`trades`); `POST pay` and `POST notify-again` stand in for the buyer paying and for
//! Alipay's notify retries (`notify`). The business failures they answer, in the method's signed node:
//!
//! | call | sub_code (`40004` unless said) |
//! | --- | --- |
//! | create, same `out_trade_no`, other content | `ACQ.CONTEXT_INCONSISTENT` |
//! | create of a trade paid / closed (or expired unpaid) | `ACQ.TRADE_HAS_SUCCESS` / `ACQ.TRADE_HAS_CLOSE` |
//! | create, `total_amount` above 100000000.00 | `ACQ.TOTAL_FEE_EXCEED` |
//! | create, another `product_code` than JSAPI_PAY | `ACQ.PRODUCT_CODE_NOT_SUPPORTED` |
//! | create, any other bad field (a `time_expire` already past too) | `ACQ.INVALID_PARAMETER` |
//! | create without an http(s) `notify_url` | `40001` `isv.missing-notify-url` |
//! | query, close, refund or refund query of an unknown trade | `ACQ.TRADE_NOT_EXIST` |
//! | close of a paid trade, refund of an unpaid one | `ACQ.TRADE_STATUS_ERROR` |
//! | refund beyond what is left, or a partial refund without `out_request_no` | `ACQ.REFUND_AMT_NOT_EQUAL_TOTAL` |
//! | refund, same `out_request_no`, another amount | `ACQ.DISCORDANT_REPEAT_REQUEST` |
//! | create whose `out_trade_no`, refund whose `out_request_no` starts with `SANDBOX_ERR_BUSY_ONCE` | takes effect, but the first answer is `20000` `isp.unknow-error` (an answer lost on the way back) |
//!
//! Template messages (`alipay.open.app.mini.templatemessage.send`, delivered to the sandbox's inbox) and the users'
//! subscriptions (`POST subscriptions`, `POST long-term-templates`, `POST message-failures`) are in `message`.
//!
//! Auth codes that provoke each platform error, accepted as they are:
//!
//! | auth code | `alipay.system.oauth.token` answers |
//! | --- | --- |
//! | `sandbox-err-code-invalid` | `error_response` `40002` / `isv.code-invalid` |
//! | `sandbox-err-busy` | `20000` / `isp.unknow-error`, every time |
//! | `sandbox-err-busy-once`, or any code starting with it | `20000` the first time that exact code is used, then success as user `sandbox-busy-once` |

mod gateway;
mod message;
mod notify;
mod oauth;
mod phone;
mod trade;
mod trades;

pub use notify::{build_trade_notify, NotifyBuildError, TradeNotify};
pub use oauth::BUSY_ONCE_USER;
pub use trade::TRADE_BUSY_ONCE_PREFIX;
pub use trades::{MAX_TRADES, TRADE_NO_PREFIX};

use super::failures::FailureSwitch;
use super::platforms::{digest, pseudonym, FirstUse, SingleUseCodes};
use super::subscriptions::Subscriptions;
use actix_web::web;
use std::sync::atomic::{AtomicU64, Ordering};

/// How long an auth code stays valid.
const CODE_TTL_MS: i64 = 5 * 60 * 1000;

/// An auth code's user.
pub(crate) struct AuthGrant {
    user: String,
    openid_only: bool,
}

/// What the simulated Alipay remembers.
#[derive(Default)]
pub struct AlipayMemory {
    auth_codes: SingleUseCodes<AuthGrant>,
    busy_once: FirstUse,
    busy_answers: AtomicU64,
    trades: trades::TradeBook,
    subscriptions: Subscriptions,
    message_failures: FailureSwitch,
}

impl AlipayMemory {
    /// How many times `20000` (service unavailable) was answered: lets tests count retries.
    pub fn busy_answers(&self) -> u64 {
        self.busy_answers.load(Ordering::Relaxed)
    }

    /// The users' subscriptions to message templates.
    pub fn subscriptions(&self) -> &Subscriptions {
        &self.subscriptions
    }

    fn count_busy(&self) {
        self.busy_answers.fetch_add(1, Ordering::Relaxed);
    }

    /// How many trades the simulated Alipay remembers.
    pub fn trade_count(&self) -> usize {
        self.trades.count()
    }
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/gateway.do", web::post().to(gateway::gateway))
        .route("/auth-codes", web::post().to(oauth::issue_code))
        .route("/phone-responses", web::post().to(phone::phone_response))
        .route("/pay", web::post().to(notify::pay))
        .route("/notify-again", web::post().to(notify::notify_again))
        .route("/subscriptions", web::post().to(message::grant))
        .route("/long-term-templates", web::post().to(message::declare_long_term))
        .route("/message-failures", web::post().to(message::fail_next));
}

/// The `user_id` of a sandbox user: `2088` and 12 digits, like Alipay's.
pub fn user_id_for(app_id: &str, user: &str) -> String {
    let hash = digest(&["alipay-user-id", app_id, user]);
    let mut first = [0u8; 8];
    first.copy_from_slice(&hash[..8]);
    format!("2088{:012}", u64::from_be_bytes(first) % 1_000_000_000_000)
}

/// The `open_id` of a sandbox user in an app: `0` and 43 URL-safe characters.
pub fn open_id_for(app_id: &str, user: &str) -> String {
    format!("0{}", pseudonym(&["alipay-open-id", app_id, user]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_ids_are_stable_and_shaped_like_alipay_ones() {
        let id = user_id_for("2021000000000001", "alice");
        assert_eq!(id, user_id_for("2021000000000001", "alice"));
        assert_ne!(id, user_id_for("2021000000000001", "bob"));
        assert_eq!(id.len(), 16);
        assert!(id.starts_with("2088") && id.bytes().all(|b| b.is_ascii_digit()));
    }

    #[test]
    fn open_ids_differ_per_app() {
        assert_ne!(open_id_for("2021000000000001", "alice"), open_id_for("2021000000000002", "alice"));
        assert_eq!(open_id_for("2021000000000001", "alice").len(), 44);
    }
}
