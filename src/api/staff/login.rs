//! `POST /staff/v1/login`, `POST /staff/v1/logout`, `GET /staff/v1/me`. The login answers with the token and also sets
//! it as an HttpOnly, SameSite=Strict cookie scoped to `/staff`, so the console never holds it where a script could
//! read it. Every attempt, accepted or not, is in the audit log.

use super::auth::{Origin, StaffAuth, COOKIE, COOKIE_PATH};
use crate::db::audit::{self, AuditEntry, OUTCOME_FAILED, OUTCOME_OK};
use crate::db::staff::StaffChange;
use crate::domain::staff::LockoutPolicy;
use crate::error::ApiError;
use crate::sessions::staff_accounts::{attempt_login, LoginError, LoginOutcome};
use crate::state::AppState;
use actix_web::http::header;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use std::time::Duration;
use utoipa::ToSchema;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(login).service(logout).service(me);
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub name: String,
    pub password: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StaffIdentity {
    pub name: String,
    pub role: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LoginAnswer {
    /// The staff JWT (audience `ebill-staff`); also set as the `ebill_staff` cookie.
    pub token: String,
    /// Epoch milliseconds.
    pub expires_at: i64,
    pub staff: StaffIdentity,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    pub name: String,
    pub role: String,
    pub permissions: Vec<String>,
}

/// Longest name looked up: anything longer is no staff name.
const MAX_NAME_CHARS: usize = 64;

/// Logs a member of staff in.
#[utoipa::path(post, path = "/staff/v1/login", tag = "staff", request_body = LoginRequest,
    responses((status = 200, body = LoginAnswer), (status = 401, description = "BAD_CREDENTIALS (also while locked after failed logins)"),
        (status = 429, description = "TOO_MANY_LOGINS from this address"), (status = 503, description = "LOGIN_BUSY")))]
#[post("/login")]
pub async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<LoginRequest>,
) -> Result<HttpResponse, ApiError> {
    let now = state.now_ms();
    let origin = Origin::of(&req, &state.settings.staff.trusted_proxies);
    let name: String = body.name.trim().chars().take(MAX_NAME_CHARS).collect();
    let settings = &state.settings.staff;
    let policy = LockoutPolicy {
        max_failures: settings.max_failed_logins,
        lock_ms: i64::try_from(settings.lockout_secs).unwrap_or(i64::MAX / 2).saturating_mul(1000),
    };
    if let Some(wait) = count_attempt_from(&state, &origin).await? {
        let entry = AuditEntry {
            staff_id: None,
            staff_name: name.clone(),
            action: "login".into(),
            record_kind: "staff".into(),
            record_id: name.clone(),
            reason: None,
            outcome: OUTCOME_FAILED.into(),
            ip: origin.ip.clone(),
            user_agent: origin.user_agent.clone(),
            detail: Some(serde_json::json!({ "why": "too_many_from_address" })),
        };
        let mut conn = state.db.pool().acquire().await.map_err(ApiError::internal)?;
        audit::append(&mut conn, &entry, now).await.map_err(ApiError::internal)?;
        return Err(ApiError::too_many_requests(
            "TOO_MANY_LOGINS",
            "too many logins from this address; wait a few minutes",
            wait.as_secs(),
        ));
    }
    let outcome = match attempt_login(&state.db, now, &name, &body.password, policy).await {
        Ok(outcome) => outcome,
        Err(LoginError::Busy(_)) => {
            return Err(ApiError::unavailable("LOGIN_BUSY", "too many logins at once; try again in a moment"))
        }
        Err(LoginError::Database(e)) => return Err(ApiError::internal(e)),
    };
    let entry = |staff_id: Option<i64>, outcome: &str, detail: serde_json::Value| AuditEntry {
        staff_id,
        staff_name: name.clone(),
        action: "login".into(),
        record_kind: "staff".into(),
        record_id: name.clone(),
        reason: None,
        outcome: outcome.into(),
        ip: origin.ip.clone(),
        user_agent: origin.user_agent.clone(),
        detail: Some(detail),
    };
    let mut conn = state.db.pool().acquire().await.map_err(ApiError::internal)?;
    match outcome {
        LoginOutcome::Accepted(member) => {
            let ttl = i64::try_from(settings.token_ttl_secs).unwrap_or(3600);
            let token =
                state.staff_tokens.issue(member.id, member.role.as_str(), now, ttl).map_err(ApiError::internal)?;
            let detail = serde_json::json!({ "role": member.role.as_str() });
            audit::append(&mut conn, &entry(Some(member.id), OUTCOME_OK, detail), now)
                .await
                .map_err(ApiError::internal)?;
            uncount_attempt_from(&state, &origin).await?;
            let secure = if settings.secure_cookie(state.mode) { "; Secure" } else { "" };
            let cookie =
                format!("{COOKIE}={token}; Path={COOKIE_PATH}; Max-Age={ttl}; HttpOnly; SameSite=Strict{secure}");
            Ok(HttpResponse::Ok().insert_header((header::SET_COOKIE, cookie)).json(LoginAnswer {
                token,
                expires_at: now + ttl * 1000,
                staff: StaffIdentity { name: member.name, role: member.role.as_str().into() },
            }))
        }
        LoginOutcome::Refused { member, why } => {
            let detail = serde_json::json!({ "why": why });
            audit::append(&mut conn, &entry(member.map(|m| m.id), OUTCOME_FAILED, detail), now)
                .await
                .map_err(ApiError::internal)?;
            Err(bad_credentials())
        }
        LoginOutcome::Locked { member, until } => {
            let detail = serde_json::json!({ "why": "locked", "locked_until": until });
            audit::append(&mut conn, &entry(Some(member.id), OUTCOME_FAILED, detail), now)
                .await
                .map_err(ApiError::internal)?;
            Err(bad_credentials())
        }
    }
}

/// The one answer to every refused login, so that it does not tell which names exist or are locked.
fn bad_credentials() -> ApiError {
    ApiError::unauthorized(
        "BAD_CREDENTIALS",
        "the name or the password is wrong (after 5 failed logins in a row an account is locked for a while; an admin \
         can unlock it)",
    )
}

/// Logins counted per address, whatever the name: a guesser moving from name to name meets this limit.
const ATTEMPTS_PER_ADDRESS: i64 = 30;
const ADDRESS_WINDOW: Duration = Duration::from_secs(10 * 60);

fn address_key(origin: &Origin) -> String {
    format!("staff-login:{}", origin.ip)
}

/// Counts this attempt from its address before the password is looked at; answers how long to wait when over the
/// limit. A successful login takes its count back.
async fn count_attempt_from(state: &AppState, origin: &Origin) -> Result<Option<Duration>, ApiError> {
    let count = state.cache.incr_window(&address_key(origin), ADDRESS_WINDOW).await.map_err(cache_error)?;
    Ok((count.count > ATTEMPTS_PER_ADDRESS).then_some(count.resets_in))
}

async fn uncount_attempt_from(state: &AppState, origin: &Origin) -> Result<(), ApiError> {
    state.cache.add_to_window(&address_key(origin), -1, ADDRESS_WINDOW).await.map_err(cache_error)?;
    Ok(())
}

fn cache_error(error: crate::cache::CacheError) -> ApiError {
    tracing::warn!(%error, "the cache does not answer: staff logins are refused meanwhile");
    ApiError::unavailable("CACHE_UNAVAILABLE", "logins are not possible for a moment; try again")
}

/// Ends the console session: the cookie is cleared.
#[utoipa::path(post, path = "/staff/v1/logout", tag = "staff", responses((status = 204)))]
#[post("/logout")]
pub async fn logout(state: web::Data<AppState>, staff: StaffAuth) -> Result<HttpResponse, ApiError> {
    // Every token of this member stops working, not only the cookie's: a copy elsewhere is no use either.
    let entry = staff.entry("logout", "staff", &staff.name);
    let change = StaffChange { end_sessions_at: Some(state.now_ms()), ..StaffChange::default() };
    let mut tx = state.db.begin_write().await.map_err(ApiError::internal)?;
    crate::db::staff::update(&mut tx, staff.id, &change, state.now_ms()).await.map_err(ApiError::internal)?;
    audit::append(&mut tx, &entry, state.now_ms()).await.map_err(ApiError::internal)?;
    tx.commit().await.map_err(ApiError::internal)?;
    let secure = if state.settings.staff.secure_cookie(state.mode) { "; Secure" } else { "" };
    let cookie = format!("{COOKIE}=; Path={COOKIE_PATH}; Max-Age=0; HttpOnly; SameSite=Strict{secure}");
    Ok(HttpResponse::NoContent().insert_header((header::SET_COOKIE, cookie)).finish())
}

/// Who is logged in, and what the role may do.
#[utoipa::path(get, path = "/staff/v1/me", tag = "staff", responses((status = 200, body = Me)))]
#[get("/me")]
pub async fn me(staff: StaffAuth) -> HttpResponse {
    HttpResponse::Ok().json(Me {
        name: staff.name.clone(),
        role: staff.role.as_str().into(),
        permissions: staff.role.permissions().iter().map(|p| p.as_str().to_owned()).collect(),
    })
}
