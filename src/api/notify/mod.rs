//! The payment platforms' webhooks: `POST /notify/wechat/pay`, `POST /notify/wechat/refund`, `POST /notify/alipay`.
//! Each verifies the platform's signature over the raw body before reading anything else, checks that the message
//! is for this merchant and matches our order, settles through `payments::settlement` (exactly once), and answers
//! in the platform's own format. A message that fails verification changes nothing and is logged without secrets;
//! there is no bypass in any mode or for any host.

pub mod alipay;
pub mod wechat_pay;
pub mod wechat_refund;

use actix_web::web;

/// The largest notify body accepted (real ones are about 1 KiB).
pub const MAX_NOTIFY_BYTES: usize = 64 * 1024;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(wechat_pay::notify).service(wechat_refund::notify).service(alipay::notify);
}
