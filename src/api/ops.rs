//! Operations: liveness, readiness, Prometheus metrics and the OpenAPI document.

use crate::error::ApiError;
use crate::state::AppState;
use actix_web::{get, web, HttpResponse};
use serde::Serialize;
use std::time::Duration;
use utoipa::{OpenApi, ToSchema};

#[derive(Serialize, ToSchema)]
pub struct Health {
    /// Always `ok` when the process answers.
    pub status: &'static str,
}

#[derive(Serialize, ToSchema)]
pub struct Readiness {
    pub status: &'static str,
    /// `ok` or what failed.
    pub database: String,
    pub cache: String,
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "ops", responses((status = 200, body = Health)))]
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: "ok" })
}

const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// The database and the cache answer; 503 otherwise.
#[utoipa::path(get, path = "/readyz", tag = "ops", responses((status = 200, body = Readiness), (status = 503, body = Readiness)))]
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let database = match tokio::time::timeout(READY_TIMEOUT, state.db.ping()).await {
        Ok(Ok(())) => "ok".to_string(),
        Ok(Err(e)) => format!("error: {e}"),
        Err(_) => "timed out".to_string(),
    };
    let cache = match tokio::time::timeout(READY_TIMEOUT, state.cache.ping()).await {
        Ok(Ok(())) => "ok".to_string(),
        Ok(Err(e)) => format!("error: {e}"),
        Err(_) => "timed out".to_string(),
    };
    let ready = database == "ok" && cache == "ok";
    let body = Readiness { status: if ready { "ready" } else { "not_ready" }, database, cache };
    if ready {
        HttpResponse::Ok().json(body)
    } else {
        tracing::warn!(database = %body.database, cache = %body.cache, "not ready");
        HttpResponse::ServiceUnavailable().json(body)
    }
}

/// Request counts and latencies by route, and database pool use, in Prometheus text format.
#[utoipa::path(get, path = "/metrics", tag = "ops", responses((status = 200, description = "Prometheus text exposition", content_type = "text/plain")))]
#[get("/metrics")]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    let (size, idle) = state.db.pool_usage();
    let info = [
        ("version", env!("CARGO_PKG_VERSION")),
        ("mode", state.mode.as_str()),
        ("database", state.db.backend().as_str()),
        ("cache", state.cache.kind()),
    ];
    HttpResponse::Ok().content_type("text/plain; version=0.0.4").body(state.metrics.render(size, idle, &info))
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "ops", responses((status = 200, description = "The OpenAPI 3.1 document")))]
#[get("/openapi.json")]
pub async fn openapi_json() -> Result<HttpResponse, ApiError> {
    let json = super::openapi::ApiDoc::openapi().to_pretty_json().map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok().content_type("application/json").body(json))
}
