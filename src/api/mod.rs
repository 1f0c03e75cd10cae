//! HTTP routes by audience. Handlers parse input into domain types, call the repositories and the platform clients,
//! and answer; they hold no SQL.

pub mod body;
pub mod demo;
pub mod ebill;
pub mod errors;
pub mod front;
pub mod integration;
pub mod middleware;
pub mod mp;
pub mod notify;
pub mod openapi;
pub mod ops;
pub mod staff;

use crate::config::Mode;
use actix_web::web;

/// Every route of the service; the simulated platforms and the demo only in sandbox mode.
pub fn routes(cfg: &mut web::ServiceConfig, mode: Mode) {
    if mode == Mode::Sandbox {
        cfg.service(web::scope("/sandbox").configure(crate::sandbox::routes::routes));
        cfg.service(web::scope("/demo").configure(demo::routes));
    }
    cfg.service(web::scope("/api/v1").configure(mp::routes));
    cfg.configure(notify::routes);
    cfg.configure(staff::routes);
    cfg.service(ops::healthz)
        .service(ops::readyz)
        .service(ops::metrics)
        .service(ops::openapi_json)
        .service(front::index)
        .service(ebill::page)
        .service(front::asset)
        .service(web::scope("/integration/v1").service(integration::accounts::post).service(integration::bills::post));
}
