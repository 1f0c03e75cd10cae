//! The customer-service console, `/staff/`: one page (`static/console/`) embedded in the binary, which drives the
//! staff API with the session cookie. Its script is a set of ES modules, one job each, that the page loads from
//! `app.js` and that import one another by relative names beside it. Served under a CSP that allows scripts, styles
//! and calls from this origin only and nothing inline, so that data shown from the database can never run as script.

use super::headers;
use crate::error::ApiError;
use actix_web::http::header;
use actix_web::{web, HttpResponse, ResponseError};

/// The console's Content-Security-Policy (one definition, in [`headers`], shared with the staff API).
pub const CONSOLE_CSP: &str = headers::CONTENT_SECURITY_POLICY;

const INDEX_HTML: &str = include_str!("../../../static/console/index.html");

const JAVASCRIPT: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// One file of `static/console/`, embedded: its name under `/staff/assets/`, its content type, its content.
macro_rules! asset {
    ($name:literal, $content_type:expr) => {
        ($name, $content_type, include_str!(concat!("../../../static/console/", $name)))
    };
}

/// The page's stylesheet and scripts, under `/staff/assets/`: name, content type, content. The page loads `app.js`,
/// which starts the console; the other modules are reached through its imports.
const ASSETS: &[(&str, &str, &str)] = &[
    asset!("console.css", CSS),
    // Starting, routing, the session.
    asset!("app.js", JAVASCRIPT),
    asset!("router.js", JAVASCRIPT),
    asset!("session.js", JAVASCRIPT),
    asset!("view.js", JAVASCRIPT),
    // Calls, formats, building the page.
    asset!("api.js", JAVASCRIPT),
    asset!("format.js", JAVASCRIPT),
    asset!("labels.js", JAVASCRIPT),
    asset!("dom.js", JAVASCRIPT),
    asset!("flash.js", JAVASCRIPT),
    asset!("dialog.js", JAVASCRIPT),
    asset!("widgets.js", JAVASCRIPT),
    asset!("records.js", JAVASCRIPT),
    // One page each.
    asset!("page-login.js", JAVASCRIPT),
    asset!("page-search.js", JAVASCRIPT),
    asset!("page-account.js", JAVASCRIPT),
    asset!("page-user.js", JAVASCRIPT),
    asset!("page-order.js", JAVASCRIPT),
    asset!("page-audit.js", JAVASCRIPT),
    asset!("page-staff.js", JAVASCRIPT),
];

/// Mounted inside the `/staff` scope: `GET /staff` (to `/staff/`), `GET /staff/`, `GET /staff/assets/{file}`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("", web::get().to(to_index))
        .route("/", web::get().to(index))
        .route("/assets/{file}", web::get().to(asset));
}

/// `GET /staff`: to `/staff/`, where the console lives.
async fn to_index() -> HttpResponse {
    HttpResponse::PermanentRedirect().insert_header((header::LOCATION, "/staff/")).finish()
}

/// `GET /staff/`: the page. Never cached: it is the entry to a logged-in tool.
async fn index() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .content_type("text/html; charset=utf-8")
        .body(INDEX_HTML)
}

/// `GET /staff/assets/{file}`: revalidated on every load, since they change with the binary and a stale script would
/// call routes that moved.
async fn asset(file: web::Path<String>) -> HttpResponse {
    match ASSETS.iter().find(|(name, _, _)| *name == file.as_str()) {
        Some((_, content_type, body)) => HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-cache"))
            .content_type(*content_type)
            .body(*body),
        None => ApiError::not_found("no such file").error_response(),
    }
}

#[cfg(test)]
#[path = "console_tests.rs"]
mod tests;
