//! The front page, which says what this instance is, and the static assets built into the binary.

use crate::state::AppState;
use actix_web::http::header;
use actix_web::{get, web, HttpResponse, ResponseError};

const INDEX_HTML: &str = include_str!("../../static/index.html");

/// Static files, embedded so that the binary serves them from anywhere.
const ASSETS: &[(&str, &str, &str)] = &[
    ("ebill.css", "text/css; charset=utf-8", include_str!("../../static/ebill.css")),
    ("ebill-page.css", "text/css; charset=utf-8", include_str!("../../static/ebill-page.css")),
];

/// What this instance is: mode, version, database, and links to the documentation.
#[utoipa::path(get, path = "/", tag = "ops", responses((status = 200, description = "HTML front page", content_type = "text/html")))]
#[get("/")]
pub async fn index(state: web::Data<AppState>) -> HttpResponse {
    let page = INDEX_HTML
        .replace("{{version}}", env!("CARGO_PKG_VERSION"))
        .replace("{{mode}}", state.mode.as_str())
        .replace("{{database}}", state.db.backend().as_str())
        .replace("{{cache}}", state.cache.kind());
    HttpResponse::Ok()
        .insert_header((header::CONTENT_SECURITY_POLICY, "default-src 'self'; frame-ancestors 'none'"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .content_type("text/html; charset=utf-8")
        .body(page)
}

#[get("/static/{file}")]
pub async fn asset(file: web::Path<String>) -> HttpResponse {
    match ASSETS.iter().find(|(name, _, _)| *name == file.as_str()) {
        Some((_, content_type, body)) => HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
            .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
            .content_type(*content_type)
            .body(*body),
        None => crate::error::ApiError::not_found("no such file").error_response(),
    }
}
