//! The simulated platforms' HTTP surface under `/sandbox` (mounted in sandbox mode only), answering our production
//! clients over real HTTP: WeChat under `/sandbox/wechat`, Alipay under `/sandbox/alipay`, the SMS gateway under
//! `/sandbox/sms`, the inbox of what they delivered under `/sandbox/inbox`, and the log of the payment notifies they
//! sent us under `/sandbox/notifies`.

use actix_web::web;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::scope("/wechat").configure(super::wechat::routes))
        .service(web::scope("/alipay").configure(super::alipay::routes))
        .service(web::scope("/wechatpay").configure(super::wechatpay::routes))
        .service(web::scope("/marketing").configure(super::marketing::routes))
        .service(web::scope("/sms").configure(super::sms::routes))
        .service(web::scope("/inbox").configure(super::inbox::routes))
        .service(web::scope("/notifies").configure(super::notify_log::routes));
}
