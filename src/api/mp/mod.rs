//! The mini-program API, `/api/v1`: customers log in with their platform identity, bind electricity accounts and
//! read what belongs to them. Every route but the logins and the refresh takes a customer access token.

pub mod auth;
pub mod bill_views;
pub mod bills;
pub mod bind;
pub mod bindings;
pub mod login;
pub mod payments;
pub mod phone;
pub mod session;
pub mod subscriptions;

use actix_web::web;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(login::wechat_login)
        .service(login::alipay_login)
        .service(session::refresh_session)
        .service(phone::verify_phone)
        .service(bind::bind)
        .service(bindings::list)
        .service(bindings::change)
        .service(bindings::remove)
        .service(bills::list)
        .service(bills::show)
        .service(bills::account_summary)
        .service(bills::usage)
        .service(payments::create)
        .service(payments::show)
        .service(subscriptions::subscribe)
        .service(subscriptions::show)
        .service(subscriptions::update)
        .service(crate::api::ebill::share);
}
