//! The browser demo of the customer's journey in the mini-program (issue 8), under `/demo/`: `static/demo/`
//! embedded in the binary. Mounted in sandbox mode only, beside the simulated platforms it drives.

use crate::error::ApiError;
use actix_web::http::header;
use actix_web::{web, HttpResponse, ResponseError};

/// The demo's files: name, content type, content.
const FILES: &[(&str, &str, &str)] = &[
    ("index.html", "text/html; charset=utf-8", include_str!("../../static/demo/index.html")),
    ("demo.js", "text/javascript; charset=utf-8", include_str!("../../static/demo/demo.js")),
    ("demo.css", "text/css; charset=utf-8", include_str!("../../static/demo/demo.css")),
];

/// Scripts, styles, images and calls from this origin only; nothing inline, no frames.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
     connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("", web::get().to(to_index)).route("/", web::get().to(index)).route("/{file}", web::get().to(file));
}

/// `GET /demo`: to `/demo/`, where the page's relative links resolve.
async fn to_index() -> HttpResponse {
    HttpResponse::PermanentRedirect().insert_header((header::LOCATION, "/demo/")).finish()
}

/// `GET /demo/`: the page.
async fn index() -> HttpResponse {
    serve("index.html")
}

/// `GET /demo/{file}`.
async fn file(name: web::Path<String>) -> HttpResponse {
    serve(&name)
}

fn serve(name: &str) -> HttpResponse {
    match FILES.iter().find(|(file, _, _)| *file == name) {
        // Not cached: the demo changes with the binary, and a stale script would call routes that moved.
        Some((_, content_type, body)) => HttpResponse::Ok()
            .insert_header((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
            .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
            .insert_header((header::REFERRER_POLICY, "no-referrer"))
            .insert_header((header::CACHE_CONTROL, "no-cache"))
            .content_type(*content_type)
            .body(*body),
        None => ApiError::not_found("no such file").error_response(),
    }
}
