//! Per-request observation: a request id (taken from `X-Request-Id` when sane, made up otherwise) on the log span
//! and the response, an access log line, and the route metrics.

use crate::state::AppState;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{web, Error};
use rand::Rng;
use std::time::Instant;
use tracing::Instrument;

pub const REQUEST_ID: &str = "x-request-id";

fn request_id(req: &ServiceRequest) -> String {
    let given = req.headers().get(REQUEST_ID).and_then(|v| v.to_str().ok()).filter(|v| {
        !v.is_empty() && v.len() <= 64 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    });
    match given {
        Some(id) => id.to_string(),
        None => format!("{:016x}", rand::thread_rng().gen::<u64>()),
    }
}

pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody + 'static>, Error> {
    let id = request_id(&req);
    let started = Instant::now();
    let method = req.method().to_string();
    let metrics = req.app_data::<web::Data<AppState>>().map(|state| state.metrics.clone());
    let span = tracing::info_span!("request", request_id = %id, method = %method, path = %req.path());
    let result = next.call(req).instrument(span.clone()).await;
    let elapsed = started.elapsed();
    let _entered = span.enter();
    match result {
        Ok(mut response) => {
            let route = response.request().match_pattern().unwrap_or_else(|| "(unmatched)".to_string());
            let status = response.status().as_u16();
            if let Some(metrics) = &metrics {
                metrics.observe_request(&route, &method, status, elapsed);
            }
            if let Ok(value) = HeaderValue::from_str(&id) {
                response.headers_mut().insert(HeaderName::from_static(REQUEST_ID), value);
            }
            tracing::info!(status, route = %route, elapsed_ms = elapsed.as_millis() as u64, "served");
            Ok(response)
        }
        Err(error) => {
            let status = error.as_response_error().status_code().as_u16();
            if let Some(metrics) = &metrics {
                metrics.observe_request("(error)", &method, status, elapsed);
            }
            tracing::warn!(status, elapsed_ms = elapsed.as_millis() as u64, "failed");
            Err(error)
        }
    }
}
