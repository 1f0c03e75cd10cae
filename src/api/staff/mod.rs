//! The customer-service API, `/staff/v1`, and the console pages, `/staff/`: staff log in with a name and password and
//! get a staff token (another audience and other keys than the customers'); their role says what they may do; every
//! lookup and action leaves an entry in the append-only audit log.

pub mod actions;
pub mod audit_log;
pub mod auth;
pub mod console;
pub mod headers;
pub mod login;
pub mod lookups;
pub mod members;
pub mod refunds;

use actix_web::middleware::from_fn;
use actix_web::web;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/staff")
            .wrap(from_fn(headers::secure))
            .service(
                web::scope("/v1")
                    .configure(login::routes)
                    .configure(lookups::routes)
                    .configure(actions::routes)
                    .configure(refunds::routes)
                    .configure(members::routes)
                    .configure(audit_log::routes),
            )
            .configure(console::routes),
    );
}
