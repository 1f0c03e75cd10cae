//! Our clients of the platforms the mini-programs live on: WeChat (login, access token, subscribe messages),
//! WeChat Pay v3 and Alipay, and of the SMS gateway ([`sms`]). Each client speaks its platform's wire protocol byte
//! for byte (see PROTOCOLS.md); what they share, the protocol cryptography, lives in [`crypto`] so the sandbox can
//! reuse it to play the platforms.

pub mod alipay;
pub mod credentials;
pub mod crypto;
pub mod http;
pub mod signed_post;
pub mod sms;
pub mod wechat;
pub mod wechatpay;
