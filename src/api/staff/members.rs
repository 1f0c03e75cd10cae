//! Staff management by admins: `GET|POST /staff/v1/staff`, `PATCH /staff/v1/staff/{name}`. Adding a member or resetting
//! a password answers a generated password once; it is never stored but as its Argon2id hash.

use super::auth::StaffAuth;
use crate::db::audit::{AuditEntry, OUTCOME_FAILED};
use crate::db::staff::{self as repo, StaffChange, StaffMember};
use crate::domain::staff::{Permission, Reason, Role};
use crate::error::ApiError;
use crate::sessions::staff_accounts::{add_staff, change_staff, new_password_hash, StaffError};
use crate::state::AppState;
use actix_web::{get, patch, post, web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(list).service(add).service(change);
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StaffView {
    pub name: String,
    pub role: String,
    pub disabled: bool,
    /// Epoch milliseconds; null unless locked now.
    pub locked_until: Option<i64>,
    pub last_login_at: Option<i64>,
    pub created_at: i64,
}

impl StaffView {
    fn of(member: &StaffMember, now_ms: i64) -> StaffView {
        StaffView {
            name: member.name.clone(),
            role: member.role.as_str().into(),
            disabled: member.disabled,
            locked_until: member.locked_until.filter(|until| *until > now_ms),
            last_login_at: member.last_login_at,
            created_at: member.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StaffList {
    pub staff: Vec<StaffView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StaffAnswer {
    pub staff: StaffView,
    /// A generated password, shown this once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewStaff {
    pub name: String,
    /// viewer | operator | admin
    pub role: String,
    pub reason: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StaffPatch {
    pub role: Option<String>,
    pub disabled: Option<bool>,
    /// Lifts a lock after failed logins.
    #[serde(default)]
    pub unlock: bool,
    /// Replaces the password with a generated one, answered once.
    #[serde(default)]
    pub reset_password: bool,
    pub reason: String,
}

fn staff_error(error: StaffError) -> ApiError {
    match error {
        StaffError::BadName => ApiError::bad_request("INVALID_NAME", error.to_string()),
        StaffError::Taken(_) => ApiError::conflict("NAME_TAKEN", error.to_string()),
        StaffError::Unknown(_) => ApiError::not_found(error.to_string()),
        StaffError::LastAdmin => ApiError::conflict("LAST_ADMIN", error.to_string()),
        StaffError::Password(e) => ApiError::bad_request("INVALID_PASSWORD", e.to_string()),
        StaffError::Busy(e) => ApiError::unavailable("BUSY", e.to_string()),
        StaffError::Database(e) => ApiError::internal(e),
    }
}

/// A refused change is audited too (outcome `failed`, with the refusal's code), then answered.
async fn refused(state: &AppState, staff: &StaffAuth, entry: AuditEntry, error: StaffError) -> ApiError {
    let answer = staff_error(error);
    let entry = entry.outcome(OUTCOME_FAILED).detail(serde_json::json!({ "error": answer.code() }));
    match staff.record(state, &entry).await {
        Ok(()) => answer,
        Err(audit_failure) => audit_failure,
    }
}

fn parse_role(text: &str) -> Result<Role, ApiError> {
    Role::parse(text).ok_or_else(|| ApiError::bad_request("INVALID_ROLE", "role is viewer, operator or admin"))
}

fn parse_reason(text: &str) -> Result<Reason, ApiError> {
    Reason::parse(text).map_err(|message| ApiError::bad_request("INVALID_REASON", message))
}

/// The staff, by name.
#[utoipa::path(get, path = "/staff/v1/staff", tag = "staff", responses((status = 200, body = StaffList), (status = 403)))]
#[get("/staff")]
pub async fn list(state: web::Data<AppState>, staff: StaffAuth) -> Result<HttpResponse, ApiError> {
    staff.require(&state, Permission::ManageStaff, "list_staff", "staff", "").await?;
    let members = repo::list(state.db.pool()).await.map_err(ApiError::internal)?;
    let entry = staff.entry("list_staff", "staff", "").detail(serde_json::json!({ "results": members.len() }));
    staff.record(&state, &entry).await?;
    let now = state.now_ms();
    Ok(HttpResponse::Ok().json(StaffList { staff: members.iter().map(|m| StaffView::of(m, now)).collect() }))
}

/// Adds a member with a generated password.
#[utoipa::path(post, path = "/staff/v1/staff", tag = "staff", request_body = NewStaff,
    responses((status = 201, body = StaffAnswer), (status = 403), (status = 409, description = "NAME_TAKEN")))]
#[post("/staff")]
pub async fn add(
    state: web::Data<AppState>,
    staff: StaffAuth,
    body: web::Json<NewStaff>,
) -> Result<HttpResponse, ApiError> {
    staff.require(&state, Permission::ManageStaff, "add_staff", "staff", &body.name).await?;
    let role = parse_role(&body.role)?;
    let reason = parse_reason(&body.reason)?;
    let name = body.name.trim();
    let entry = staff
        .entry("add_staff", "staff", name)
        .reason(reason.as_str())
        .detail(serde_json::json!({ "role": role.as_str() }));
    let (member, password) = match add_staff(&state.db, state.now_ms(), name, role, None, &entry).await {
        Ok(added) => added,
        Err(error) => return Err(refused(&state, &staff, entry, error).await),
    };
    Ok(HttpResponse::Created().json(StaffAnswer { staff: StaffView::of(&member, state.now_ms()), password }))
}

/// Changes a member's role, disables or enables it, unlocks it, or resets its password.
#[utoipa::path(patch, path = "/staff/v1/staff/{name}", tag = "staff", request_body = StaffPatch,
    responses((status = 200, body = StaffAnswer), (status = 403), (status = 404), (status = 409, description = "LAST_ADMIN")))]
#[patch("/staff/{name}")]
pub async fn change(
    state: web::Data<AppState>,
    staff: StaffAuth,
    name: web::Path<String>,
    body: web::Json<StaffPatch>,
) -> Result<HttpResponse, ApiError> {
    staff.require(&state, Permission::ManageStaff, "change_staff", "staff", &name).await?;
    let reason = parse_reason(&body.reason)?;
    let role = body.role.as_deref().map(parse_role).transpose()?;
    let now = state.now_ms();
    let (password_hash, password) = match body.reset_password {
        true => new_password_hash(None).await.map(|(hash, password)| (Some(hash), password)).map_err(staff_error)?,
        false => (None, None),
    };
    let unlock = body.unlock || body.reset_password;
    // A new password or a disabling ends the member's sessions at once.
    let end_sessions_at = (body.reset_password || body.disabled == Some(true)).then_some(now);
    let change = StaffChange { role, disabled: body.disabled, unlock, password_hash, end_sessions_at };
    let detail = serde_json::json!({
        "role": role.map(|r| r.as_str()),
        "disabled": body.disabled,
        "unlock": body.unlock,
        "reset_password": body.reset_password,
    });
    let entry = staff.entry("change_staff", "staff", &name).reason(reason.as_str()).detail(detail);
    let member = match change_staff(&state.db, now, &name, &change, &entry).await {
        Ok(member) => member,
        Err(error) => return Err(refused(&state, &staff, entry, error).await),
    };
    Ok(HttpResponse::Ok().json(StaffAnswer { staff: StaffView::of(&member, now), password }))
}
