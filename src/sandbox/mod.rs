//! The sandbox: what stands in for the outside world when no real credentials are configured, so that
//! `cargo run` shows a working product on a fresh machine. Never active in production mode.

pub mod alipay;
pub mod bounded;
pub mod demo_data;
pub mod demo_staff;
pub mod failures;
pub mod inbox;
pub mod keys;
pub mod marketing;
pub mod notify_log;
pub mod platforms;
pub mod routes;
pub mod signed;
pub mod sms;
pub mod subscriptions;
pub mod wechat;
pub mod wechatpay;
