//! `POST /staff/v1/orders/{order_no}/refunds`: an admin refunds a paid order fully or in part, with a reason. The
//! refund is recorded pending with its job, its bills' parts and its audit entry in one transaction
//! (`payments::staff_refunds`), and answered 202: the platform is asked by the refund job, and the bills and the
//! write-back follow when the platform confirms. A refused attempt is audited too.

use super::actions::refused;
use super::auth::StaffAuth;
use super::lookups::views::RefundView;
use crate::domain::money::Fen;
use crate::domain::order::is_order_no;
use crate::domain::staff::{Permission, Reason};
use crate::error::{ApiError, ErrorBody};
use crate::payments::staff_refunds::{request_refund, RefundAsk, RefundRefusal};
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{post, web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(create);
}

const ACTION: &str = "refund";
const RECORD_KIND: &str = "order";

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundRequest {
    /// Fen to give back: a positive integer, at most what the payment paid less what was refunded of it.
    #[schema(value_type = i64)]
    pub amount_fen: serde_json::Value,
    /// 4 to 500 characters; kept in the audit log (the payer is shown a plain "电费退款").
    pub reason: String,
    /// Which payment of the order; needed only when the order has several.
    #[serde(default)]
    pub payment_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RefundAnswer {
    pub refund: RefundView,
}

/// Refunds a paid order's payment, fully or in part (admins only).
#[utoipa::path(post, path = "/staff/v1/orders/{order_no}/refunds", tag = "staff", params(("order_no" = String, Path)),
    request_body = RefundRequest,
    responses((status = 202, body = RefundAnswer, description = "recorded; the platform is asked by the refund job"),
        (status = 400, body = ErrorBody, description = "INVALID_AMOUNT, INVALID_REASON, INVALID_PAYMENT_ID, MALFORMED_JSON"),
        (status = 403, body = ErrorBody, description = "FORBIDDEN: admins only (the attempt is audited)"),
        (status = 404, body = ErrorBody, description = "no such order, or no such payment of it"),
        (status = 409, body = ErrorBody,
            description = "NOT_PAID, PAYMENT_ID_REQUIRED, REFUND_EXCEEDS_PAID (the message says what is left), REFUND_NOT_ATTRIBUTABLE")))]
#[post("/orders/{order_no}/refunds")]
pub async fn create(
    state: web::Data<AppState>,
    staff: StaffAuth,
    order_no: web::Path<String>,
    body: web::Json<RefundRequest>,
) -> Result<HttpResponse, ApiError> {
    let order_no = order_no.into_inner();
    staff.require(&state, Permission::Refund, ACTION, RECORD_KIND, &order_no).await?;
    let reason = Reason::parse(&body.reason).map_err(|message| ApiError::bad_request("INVALID_REASON", message))?;
    let amount = body
        .amount_fen
        .as_i64()
        .filter(|fen| *fen > 0)
        .map(Fen::new)
        .ok_or_else(|| ApiError::bad_request("INVALID_AMOUNT", "amount_fen must be a positive integer of fen"))?;
    let payment_id = match body.payment_id.as_deref() {
        None => None,
        Some(text) => Some(text.trim().parse::<i64>().map_err(|_| {
            ApiError::bad_request("INVALID_PAYMENT_ID", "payment_id must be the id of one of the order's payments")
        })?),
    };
    if !is_order_no(&order_no) {
        let error = ApiError::not_found("no such order");
        return refused(&state, &staff, ACTION, RECORD_KIND, &order_no, &reason, error).await;
    }
    let ask = RefundAsk { order_no: order_no.clone(), payment_id, amount, reason: reason.clone() };
    let entry = staff.entry(ACTION, RECORD_KIND, &order_no);
    match request_refund(&state, &ask, entry).await {
        Ok(refund) => Ok(HttpResponse::Accepted().json(RefundAnswer { refund: RefundView::from(&refund) })),
        Err(RefundRefusal::Failed(error)) => Err(ApiError::internal(error)),
        Err(refusal) => {
            let error = refusal_error(&refusal);
            refused(&state, &staff, ACTION, RECORD_KIND, &order_no, &reason, error).await
        }
    }
}

/// The answer to a refused refund.
fn refusal_error(refusal: &RefundRefusal) -> ApiError {
    let message = refusal.to_string();
    match refusal {
        RefundRefusal::UnknownOrder => ApiError::not_found(message),
        RefundRefusal::UnknownPayment => ApiError::new(StatusCode::NOT_FOUND, "UNKNOWN_PAYMENT", message),
        RefundRefusal::NotPaid => ApiError::conflict("NOT_PAID", message),
        RefundRefusal::PaymentRequired { payment_ids } => {
            let ids: Vec<String> = payment_ids.iter().map(i64::to_string).collect();
            ApiError::conflict("PAYMENT_ID_REQUIRED", format!("{message} (one of {})", ids.join(", ")))
        }
        RefundRefusal::InvalidAmount => ApiError::bad_request("INVALID_AMOUNT", message),
        RefundRefusal::ExceedsRefundable { refundable } => ApiError::conflict(
            "REFUND_EXCEEDS_PAID",
            format!("the refund exceeds what was paid less what was refunded: at most {} fen", refundable.value()),
        ),
        RefundRefusal::Unattributed => ApiError::conflict("REFUND_NOT_ATTRIBUTABLE", message),
        RefundRefusal::Failed(error) => ApiError::internal(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_answer_stable_codes() {
        let cases = [
            (RefundRefusal::UnknownOrder, 404, "NOT_FOUND"),
            (RefundRefusal::UnknownPayment, 404, "UNKNOWN_PAYMENT"),
            (RefundRefusal::NotPaid, 409, "NOT_PAID"),
            (RefundRefusal::PaymentRequired { payment_ids: vec![1, 2] }, 409, "PAYMENT_ID_REQUIRED"),
            (RefundRefusal::InvalidAmount, 400, "INVALID_AMOUNT"),
            (RefundRefusal::ExceedsRefundable { refundable: Fen::new(1234) }, 409, "REFUND_EXCEEDS_PAID"),
            (RefundRefusal::Unattributed, 409, "REFUND_NOT_ATTRIBUTABLE"),
        ];
        for (refusal, status, code) in cases {
            let error = refusal_error(&refusal);
            assert_eq!((actix_web::ResponseError::status_code(&error).as_u16(), error.code()), (status, code));
        }
        let exceeds = refusal_error(&RefundRefusal::ExceedsRefundable { refundable: Fen::new(1234) });
        assert!(exceeds.message().contains("1234 fen"), "{}", exceeds.message());
    }
}
