//! The check the simulated receivers of our signed POSTs (the marketing system taking the write-back, the SMS gateway)
//! make, as the real ones would: `X-Ebill-Signature` is the HMAC over `"{X-Ebill-Timestamp}\n{body}"` under the
//! shared secret, and the timestamp is within 5 minutes of their clock.

use crate::config::Secret;
use crate::error::ApiError;
use crate::feed::signature::{self, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use actix_web::HttpRequest;

const MAX_SKEW_SECS: i64 = 300;

/// Refuses (401, as the feed does) a body whose signature or timestamp does not hold.
pub fn verify(req: &HttpRequest, body: &[u8], secret: &Secret, now_ms: i64) -> Result<(), ApiError> {
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    signature::verify(
        secret.expose(),
        header(TIMESTAMP_HEADER),
        header(SIGNATURE_HEADER),
        body,
        now_ms,
        MAX_SKEW_SECS,
    )?;
    Ok(())
}
