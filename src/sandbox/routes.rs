//! The simulated platforms' HTTP surface under `/sandbox` (mounted in sandbox mode only), answering our production
//! clients over real HTTP: WeChat under `/sandbox/wechat`, Alipay under `/sandbox/alipay`.

use actix_web::web;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::scope("/wechat").configure(super::wechat::routes))
        .service(web::scope("/alipay").configure(super::alipay::routes))
        .service(web::scope("/wechatpay").configure(super::wechatpay::routes))
        .service(web::scope("/marketing").configure(super::marketing::routes));
}
