//! `POST /integration/v1/accounts`: create or update utility accounts.

use super::batch::{self, BatchReport};
use crate::domain::account::AccountInput;
use crate::error::{ApiError, ErrorBody};
use crate::feed::account_from_json;
use crate::state::AppState;
use actix_web::{post, web, HttpRequest, HttpResponse};
use utoipa::ToSchema;

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct AccountBatch {
    /// At most 5,000 accounts.
    items: Vec<AccountInput>,
}

/// Creates or updates up to 5,000 accounts; one result per item, nothing half-written.
#[utoipa::path(
    post, path = "/integration/v1/accounts", tag = "integration",
    request_body = AccountBatch,
    params(
        ("X-Ebill-Timestamp" = String, Header, description = "Unix seconds"),
        ("X-Ebill-Signature" = String, Header, description = "hex HMAC-SHA256 of \"{timestamp}\\n{body}\""),
    ),
    security(("feed_hmac" = [])),
    responses(
        (status = 200, body = BatchReport, description = "One result per item"),
        (status = 400, body = ErrorBody, description = "MALFORMED_JSON"),
        (status = 401, body = ErrorBody, description = "MISSING_SIGNATURE, BAD_SIGNATURE, STALE_TIMESTAMP, REPLAYED_REQUEST"),
        (status = 413, body = ErrorBody, description = "PAYLOAD_TOO_LARGE, BATCH_TOO_LARGE"),
    )
)]
#[post("/accounts")]
pub async fn post(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    batch::serve(&state, &req, payload, account_from_json, |item| batch::text_of(item, "account_no")).await
}
