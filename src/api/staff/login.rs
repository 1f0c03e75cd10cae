//! `POST /staff/v1/login`, `POST /staff/v1/logout`, `GET /staff/v1/me`. The login answers with the token and also sets
//! it as an HttpOnly, SameSite=Strict cookie scoped to `/staff`, so the console never holds it where a script could
//! read it. Every attempt, accepted or not, is in the audit log.

use super::auth::{Origin, StaffAuth, COOKIE, COOKIE_PATH};
use crate::db::audit::{self, AuditEntry, OUTCOME_FAILED, OUTCOME_OK};
use crate::domain::calendar;
use crate::domain::staff::LockoutPolicy;
use crate::error::ApiError;
use crate::sessions::staff_accounts::{attempt_login, LoginOutcome};
use crate::state::AppState;
use actix_web::http::{header, StatusCode};
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
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
    responses((status = 200, body = LoginAnswer), (status = 401, description = "BAD_CREDENTIALS"),
        (status = 423, description = "STAFF_LOCKED: too many failed logins")))]
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
    let outcome = attempt_login(&state.db, now, &name, &body.password, policy).await.map_err(ApiError::internal)?;
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
            Err(ApiError::unauthorized("BAD_CREDENTIALS", "the name or the password is wrong"))
        }
        LoginOutcome::Locked { member, until } => {
            let detail = serde_json::json!({ "why": "locked", "locked_until": until });
            audit::append(&mut conn, &entry(Some(member.id), OUTCOME_FAILED, detail), now)
                .await
                .map_err(ApiError::internal)?;
            let at = calendar::beijing_datetime(until)
                .map(|at| at.format("%Y-%m-%d %H:%M").to_string())
                .unwrap_or_else(|| "later".into());
            Err(ApiError::new(
                StatusCode::LOCKED,
                "STAFF_LOCKED",
                format!("too many failed logins: this account is locked until {at} (Beijing time), or until an admin unlocks it"),
            ))
        }
    }
}

/// Ends the console session: the cookie is cleared.
#[utoipa::path(post, path = "/staff/v1/logout", tag = "staff", responses((status = 204)))]
#[post("/logout")]
pub async fn logout(state: web::Data<AppState>, staff: StaffAuth) -> Result<HttpResponse, ApiError> {
    staff.record(&state, &staff.entry("logout", "staff", &staff.name)).await?;
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
