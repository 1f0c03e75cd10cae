//! JSON answers for what the framework itself refuses: unknown routes, bodies and parameters its extractors cannot
//! read, and any other error response that would otherwise leave without a `{"code", "message"}` body.

use crate::error::ApiError;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::ServiceResponse;
use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::http::{header, StatusCode};
use actix_web::middleware::ErrorHandlerResponse;
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};

pub fn json_config(limit: usize) -> web::JsonConfig {
    web::JsonConfig::default().limit(limit).error_handler(move |error, _req| {
        let api_error = match &error {
            JsonPayloadError::OverflowKnownLength { .. } | JsonPayloadError::Overflow { .. } => {
                ApiError::payload_too_large(limit)
            }
            JsonPayloadError::ContentType => ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "UNSUPPORTED_MEDIA_TYPE",
                "send the body as application/json",
            ),
            other => ApiError::malformed_json(format!("the body is not the expected JSON: {other}")),
        };
        actix_web::error::InternalError::from_response(error, api_error.error_response()).into()
    })
}

pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|error: QueryPayloadError, _req| {
        let api_error = ApiError::bad_request("INVALID_QUERY", format!("the query string is not valid: {error}"));
        actix_web::error::InternalError::from_response(error, api_error.error_response()).into()
    })
}

pub fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|error: PathError, _req| {
        let api_error = ApiError::not_found("no such resource");
        actix_web::error::InternalError::from_response(error, api_error.error_response()).into()
    })
}

/// The answer for a route that does not exist.
pub async fn not_found(req: HttpRequest) -> HttpResponse {
    ApiError::not_found(format!("no route for {} {}", req.method(), req.path())).error_response()
}

/// Gives an error response that has no JSON body one, so every rejection reads the same way.
pub fn ensure_json_body<B: MessageBody + 'static>(
    response: ServiceResponse<B>,
) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let is_json = response
        .response()
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    // The e-bill page's refusals are HTML pages meant for people, and Alipay's notify expects its own plain `fail`;
    // everything else answers JSON.
    let path = response.request().path();
    let own_format = path.starts_with("/e-bill/") || path == "/notify/alipay";
    if is_json || own_format {
        return Ok(ErrorHandlerResponse::Response(response.map_into_left_body()));
    }
    let status = response.status();
    let (code, message) = match status {
        StatusCode::NOT_FOUND => ("NOT_FOUND", "no such resource"),
        StatusCode::METHOD_NOT_ALLOWED => ("METHOD_NOT_ALLOWED", "this method is not allowed here"),
        StatusCode::PAYLOAD_TOO_LARGE => ("PAYLOAD_TOO_LARGE", "the body is too large"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ("UNSUPPORTED_MEDIA_TYPE", "this content type is not accepted"),
        s if s.is_client_error() => ("BAD_REQUEST", "the request could not be understood"),
        _ => ("INTERNAL", "an internal error occurred; it has been logged"),
    };
    let (req, old) = response.into_parts();
    let mut rebuilt = ApiError::new(status, code, message).error_response();
    for (name, value) in old.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            rebuilt.headers_mut().insert(name.clone(), value.clone());
        }
    }
    let rebuilt: HttpResponse<BoxBody> = rebuilt;
    Ok(ErrorHandlerResponse::Response(ServiceResponse::new(req, rebuilt).map_into_right_body()))
}
