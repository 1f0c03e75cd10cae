//! Our client of the Alipay OpenAPI v2 gateway (PROTOCOLS.md, "Alipay"): requests signed RSA2 with the app's key
//! and their answers verified with Alipay's key over the exact node text ([`AlipayClient::call`]), login
//! ([`AlipayClient::oauth_token`]), the phone number of `my.getPhoneNumber` ([`AlipayClient::decrypt_phone`]) and
//! JSAPI_PAY trades: create, query, close, refund and refund query ([`AlipayClient::trade_create`] and the others
//! in `trade`), and template messages ([`AlipayClient::send_template_message`]).
//! The gateway URL comes from the credentials, so the same code talks to Alipay, its sandbox or ours.

mod error;
mod gateway;
mod login;
mod message;
mod phone;
mod trade;
mod trade_wire;
mod transport;

pub use error::AlipayError;
pub use gateway::alipay_timestamp;
pub use login::{AlipayUser, OAUTH_TOKEN_METHOD};
pub use message::{AlipaySendReceipt, AlipayTemplateMessage, NOT_SUBSCRIBED_SUB_CODE, TEMPLATE_MESSAGE_SEND_METHOD};
pub use trade::{
    AlipayBuyer, CloseOutcome, RefundAnswer, RefundQueryAnswer, TradeCreate, TradeQueryAnswer, TradeRefund,
    TradeStatus, UnknownTradeStatus, TRADE_CLOSE_METHOD, TRADE_CREATE_METHOD, TRADE_QUERY_METHOD, TRADE_REFUND_METHOD,
    TRADE_REFUND_QUERY_METHOD,
};
pub use trade_wire::{parse_alipay_timestamp, MAX_AMOUNT_FEN};

use crate::clock::{SharedClock, SystemClock};
use crate::config::Secret;
use crate::platform::credentials::AlipayCredentials;
use crate::platform::crypto::rsa_keys::{RsaSigningKey, RsaVerifyingKey};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// One Alipay app's client of the gateway. Cheap to clone.
#[derive(Clone)]
pub struct AlipayClient {
    app_id: String,
    app_key: RsaSigningKey,
    alipay_public_key: RsaVerifyingKey,
    aes_key: Option<Secret>,
    gateway_url: String,
    /// Where Alipay sends the trade notifies of the trades this client creates.
    notify_url: String,
    timeout: Duration,
    http: reqwest::Client,
    clock: SharedClock,
}

impl fmt::Debug for AlipayClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AlipayClient").field("app_id", &self.app_id).field("gateway_url", &self.gateway_url).finish()
    }
}

impl AlipayClient {
    /// A client that stamps its requests with the system clock; see [`AlipayClient::with_clock`].
    pub fn new(creds: &AlipayCredentials, http: reqwest::Client) -> AlipayClient {
        AlipayClient {
            app_id: creds.app_id.clone(),
            app_key: creds.app_key.clone(),
            alipay_public_key: creds.alipay_public_key.clone(),
            aes_key: creds.aes_key.clone(),
            gateway_url: creds.gateway_url.clone(),
            notify_url: creds.notify_url.clone(),
            timeout: creds.timeout,
            http,
            clock: Arc::new(SystemClock),
        }
    }

    /// Stamps requests (`timestamp`) with `clock`, e.g. the application's, which tests set.
    pub fn with_clock(mut self, clock: SharedClock) -> AlipayClient {
        self.clock = clock;
        self
    }

    pub fn app_id(&self) -> &str {
        &self.app_id
    }
}
