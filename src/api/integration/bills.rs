//! `POST /integration/v1/bills`: issue or revise bills.

use super::batch::{self, BatchReport};
use crate::domain::bill::BillInput;
use crate::error::{ApiError, ErrorBody};
use crate::feed::bill_from_json;
use crate::state::AppState;
use actix_web::{post, web, HttpRequest, HttpResponse};
use utoipa::ToSchema;

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct BillBatch {
    /// At most 5,000 bills. A bill is keyed by (account_no, period); only a higher revision replaces it, and a paid
    /// bill cannot be revised.
    items: Vec<BillInput>,
}

/// Issues or revises up to 5,000 bills; one result per item, nothing half-written.
#[utoipa::path(
    post, path = "/integration/v1/bills", tag = "integration",
    request_body = BillBatch,
    params(
        ("X-Ebill-Timestamp" = String, Header, description = "Unix seconds"),
        ("X-Ebill-Signature" = String, Header, description = "hex HMAC-SHA256 of \"{timestamp}\\n{body}\""),
    ),
    security(("feed_hmac" = [])),
    responses(
        (status = 200, body = BatchReport, description = "One result per item; rejected items carry a code: \
            UNKNOWN_ACCOUNT, LINES_MISMATCH, READINGS_MISMATCH, USAGE_MISMATCH, STALE_REVISION, REVISION_CONFLICT, \
            BILL_ALREADY_PAID, INVALID_*"),
        (status = 400, body = ErrorBody, description = "MALFORMED_JSON"),
        (status = 401, body = ErrorBody, description = "MISSING_SIGNATURE, BAD_SIGNATURE, STALE_TIMESTAMP, REPLAYED_REQUEST"),
        (status = 413, body = ErrorBody, description = "PAYLOAD_TOO_LARGE, BATCH_TOO_LARGE"),
    )
)]
#[post("/bills")]
pub async fn post(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    batch::serve(&state, &req, payload, bill_from_json, |item| {
        format!("{}/{}", batch::text_of(item, "account_no"), batch::text_of(item, "period"))
    })
    .await
}
