//! The simulated WeChat Pay v3 under `/sandbox/wechatpay`, byte-compatible with the real API so that our production
//! client is what gets exercised: every request's `Authorization` is checked with the merchant's public key over
//! the path and query as received, and every answer (errors included) is signed with the simulated platform's key
//! (public-key mode, id `SANDBOX_WECHATPAY_PUBLIC_KEY_ID`).
//!
//! - `POST v3/pay/transactions/jsapi`, `GET v3/pay/transactions/out-trade-no/{no}?mchid=`,
//!   `POST v3/pay/transactions/out-trade-no/{no}/close`: JSAPI orders. An unpaid order past its `time_expire`
//!   reads `CLOSED`.
//! - `POST v3/refund/domestic/refunds`, `GET v3/refund/domestic/refunds/{out_refund_no}`: refunds of paid orders,
//!   answered `PROCESSING`; shortly after, the refund succeeds and a `REFUND.SUCCESS` notification goes to its
//!   `notify_url` (tried 3 times, 1 s apart, until it is answered 2xx).
//!
//! It also plays the payer, which the real platform does not offer:
//! - `POST pay {out_trade_no | prepay_id, notify?: bool = true, amount_fen?: n}`: the payer pays (`amount_fen`,
//!   default the order's total, becomes the transaction's `total` and `payer_total`, to provoke a mismatch), and
//!   unless `notify` is false the `TRANSACTION.SUCCESS` notification is posted to the order's `notify_url` before
//!   answering `{transaction_id, notify_status, notify_body, notify_error}`.
//! - `POST notify-again {out_trade_no}`: the same notification again (same id and transaction, fresh signature), as
//!   the platform retries; answered like `pay`.

mod auth;
mod book;
mod notify;
mod orders;
mod payer;
mod refunds;
mod reply;

use actix_web::web;
use book::Book;
use rand::Rng as _;
use std::sync::Mutex;

/// What the simulated WeChat Pay remembers: orders and refunds, each kind bounded (the oldest are forgotten).
#[derive(Default)]
pub struct WechatPayMemory {
    book: Mutex<Book>,
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/v3/pay/transactions/jsapi", web::post().to(orders::place))
        .route("/v3/pay/transactions/out-trade-no/{out_trade_no}", web::get().to(orders::query))
        .route("/v3/pay/transactions/out-trade-no/{out_trade_no}/close", web::post().to(orders::close))
        .route("/v3/refund/domestic/refunds", web::post().to(refunds::create))
        .route("/v3/refund/domestic/refunds/{out_refund_no}", web::get().to(refunds::query))
        .route("/pay", web::post().to(payer::pay))
        .route("/notify-again", web::post().to(payer::notify_again));
}

/// `count` random decimal digits.
fn random_digits(count: usize) -> String {
    let mut rng = rand::thread_rng();
    (0..count).map(|_| char::from(b'0' + rng.gen_range(0..10u8))).collect()
}

/// `count` random lower-case hexadecimal digits.
fn random_hex(count: usize) -> String {
    let mut rng = rand::thread_rng();
    (0..count).map(|_| char::from_digit(rng.gen_range(0..16u32), 16).unwrap_or('0')).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_digits_and_hex_have_the_asked_length_and_alphabet() {
        let digits = random_digits(28);
        assert_eq!(digits.len(), 28);
        assert!(digits.bytes().all(|b| b.is_ascii_digit()));
        let hex = random_hex(20);
        assert_eq!(hex.len(), 20);
        assert!(hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
    }
}
