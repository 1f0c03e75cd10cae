//! `CustomerAuth`: the extractor every customer route takes. It reads `Authorization: Bearer <access token>` and
//! admits only a valid, unexpired customer token; anything else is 401.

use crate::domain::user::Platform;
use crate::error::ApiError;
use crate::sessions::tokens::TokenError;
use crate::state::AppState;
use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use std::future::{ready, Ready};

/// The customer a request acts for.
#[derive(Debug, Clone, Copy)]
pub struct CustomerAuth {
    pub user_id: i64,
    pub platform: Platform,
}

impl FromRequest for CustomerAuth {
    type Error = ApiError;
    type Future = Ready<Result<CustomerAuth, ApiError>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        ready(authenticate(req))
    }
}

fn authenticate(req: &HttpRequest) -> Result<CustomerAuth, ApiError> {
    let state = req.app_data::<web::Data<AppState>>().ok_or_else(|| ApiError::internal("no application state"))?;
    let header = req.headers().get(actix_web::http::header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let token = header
        .and_then(|h| h.strip_prefix("Bearer ").or_else(|| h.strip_prefix("bearer ")))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::unauthorized("MISSING_TOKEN", "send Authorization: Bearer <access token>"))?;
    let claims = state.customer_tokens.verify(token, state.now_ms()).map_err(|e| match e {
        TokenError::Expired => ApiError::unauthorized("TOKEN_EXPIRED", "the access token has expired; refresh it"),
        TokenError::Invalid | TokenError::Signing => {
            ApiError::unauthorized("INVALID_TOKEN", "the access token is not valid")
        }
    })?;
    let user_id =
        claims.sub.parse().map_err(|_| ApiError::unauthorized("INVALID_TOKEN", "the access token is not valid"))?;
    let platform = Platform::parse(&claims.scope)
        .ok_or_else(|| ApiError::unauthorized("INVALID_TOKEN", "the access token is not valid"))?;
    Ok(CustomerAuth { user_id, platform })
}
