//! `POST /api/v1/auth/refresh`: rotate a refresh token into a new session; and the session answer logins share.

use crate::db::users::{self, User};
use crate::error::{ApiError, ErrorBody};
use crate::sessions::refresh::{self, IssuedSession, Lifetimes, RefreshError};
use crate::state::AppState;
use actix_web::{post, web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A session: a short-lived access token and the refresh token that renews it (once).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SessionResponse {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// Single use: each refresh answers a new one; presenting a used one revokes the session everywhere.
    pub refresh_token: String,
    pub user: SessionUser,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SessionUser {
    pub id: String,
    pub platform: String,
    /// Whether a platform-verified phone number is on file (it can prove a binding).
    pub has_verified_phone: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

pub fn lifetimes(state: &AppState) -> Lifetimes {
    let sessions = &state.settings.sessions;
    Lifetimes { access_secs: sessions.access_ttl_secs as i64, refresh_secs: sessions.refresh_ttl_days as i64 * 86_400 }
}

/// The answer for a session that could not be started or rotated.
pub fn session_error(error: RefreshError) -> ApiError {
    match error {
        RefreshError::Invalid => ApiError::unauthorized("INVALID_REFRESH_TOKEN", "the refresh token is not valid"),
        RefreshError::Reused => {
            ApiError::unauthorized("REFRESH_TOKEN_REUSED", "the refresh token was already used; log in again")
        }
        RefreshError::Signing => ApiError::internal("signing an access token failed"),
        RefreshError::Database(e) => ApiError::from(e),
    }
}

pub fn session_response(session: IssuedSession, user: &User) -> SessionResponse {
    SessionResponse {
        access_token: session.access_token,
        token_type: "Bearer".into(),
        expires_in: session.expires_in,
        refresh_token: session.refresh_token,
        user: SessionUser {
            id: user.id.to_string(),
            platform: user.platform.as_str().into(),
            has_verified_phone: user.phone.is_some(),
        },
    }
}

/// Rotates a refresh token.
#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "customer", request_body = RefreshRequest,
    responses(
        (status = 200, body = SessionResponse),
        (status = 401, body = ErrorBody, description = "INVALID_REFRESH_TOKEN, REFRESH_TOKEN_REUSED (the family is revoked)"),
    ))]
#[post("/auth/refresh")]
pub async fn refresh_session(
    state: web::Data<AppState>,
    request: web::Json<RefreshRequest>,
) -> Result<HttpResponse, ApiError> {
    let now_ms = state.now_ms();
    let session =
        refresh::rotate(&state.db, &state.customer_tokens, request.refresh_token.trim(), lifetimes(&state), now_ms)
            .await
            .map_err(session_error)?;
    let user =
        users::find(state.db.pool(), session.user_id).await?.ok_or_else(|| ApiError::internal("user vanished"))?;
    Ok(HttpResponse::Ok().json(session_response(session, &user)))
}
