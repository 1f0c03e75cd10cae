//! WeChat Pay API v3 as the mini-program's JSAPI payments use it (PROTOCOLS.md, "WeChat Pay API v3"): the protocol
//! pieces are pure, no HTTP and no database, so the payments capability and the sandbox share one byte-exact
//! implementation tested against OpenSSL and the public vectors; our HTTP client of the API is built on them.
//!
//! - [`client`]: [`WechatPayClient`], signing every request and verifying every answer; its calls in
//!   [`transactions`] (place, query, close an order) and [`refunds`]; failures as [`WechatPayError`].
//! - [`signing`]: the merchant's `Authorization` signature on our API requests.
//! - [`pay_sign`]: the `wx.requestPayment` parameters and their `paySign`.
//! - [`platform_keys`]: the platform keys in force (certificate serials and `PUB_KEY_ID_` ids, several at once).
//! - [`notify`]: verifying a notification's or response's `Wechatpay-*` signature headers.
//! - [`resource`]: the notification body and its decrypted transaction or refund.
//! - [`platform_signing`]: the platform's side of the signatures, for the sandbox.
//! - [`nonce`]: the random strings all of these need.

pub mod client;
pub mod error;
pub mod nonce;
pub mod notify;
pub mod pay_sign;
pub mod platform_keys;
pub mod platform_signing;
pub mod refunds;
pub mod resource;
pub mod signing;
pub mod transactions;

pub use client::WechatPayClient;
pub use error::WechatPayError;
pub use nonce::{resource_nonce, signature_nonce};
pub use notify::{verify_signature, NotifyError, SignedHeaders};
pub use pay_sign::{request_payment, PaySignError, RequestPayment};
pub use platform_keys::{PlatformKeyIdError, PlatformKeys};
pub use platform_signing::{
    sign_body, sign_notification, NotificationToSend, PlatformSignError, PlatformSigner, SignedNotification,
};
pub use refunds::{RefundAnswer, RefundRequest};
pub use resource::{
    decode_notification, decrypt_refund, decrypt_transaction, Notification, RefundResource, RefundStatus,
    ResourceError, TradeState, Transaction,
};
pub use signing::{sign_request, RequestSignError, RequestToSign};
pub use transactions::{time_expire, JsapiOrder};
