//! Integration tests: the real server over HTTP, a fresh database per test. One test binary keeps linking cheap.

mod alipay_trade;
mod bill_views;
mod bindings;
mod cache_contract;
mod demo_data;
mod demo_support;
mod errors;
mod feed_accounts;
mod feed_bills;
mod feed_signature;
mod helpers;
mod import;
mod job_queue;
mod message_senders;
mod ops;
mod payment_support;
mod payments;
mod platform_login;
mod production_mode;
mod push;
mod sessions;
mod wechatpay_client;
mod writeback;
