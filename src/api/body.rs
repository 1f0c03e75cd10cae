//! Reading request bodies within a limit, so a huge body is refused with 413 before it is held in memory, and the raw
//! bytes stay available for signature checks.

use crate::error::ApiError;
use actix_web::{web, HttpRequest};
use futures_util::StreamExt;

/// Reads the whole body, refusing it with 413 as soon as it is known to exceed `limit` bytes.
pub async fn read_limited(req: &HttpRequest, mut payload: web::Payload, limit: usize) -> Result<web::Bytes, ApiError> {
    let declared = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|len| len > limit) {
        return Err(ApiError::payload_too_large(limit));
    }
    let mut body = web::BytesMut::with_capacity(declared.unwrap_or(8 * 1024).min(limit));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ApiError::bad_request("BAD_BODY", format!("the body could not be read: {e}")))?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::payload_too_large(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// Parses JSON, answering 400 `MALFORMED_JSON` with serde's explanation when it is not.
pub fn parse_json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::malformed_json(format!("the body is not the expected JSON: {e}")))
}
