//! `StaffAuth`: the extractor every staff route but the login takes. The staff token comes from the console's
//! HttpOnly cookie or from `Authorization: Bearer`; it must be a valid, unexpired token of the staff audience (a
//! customer token never is), and its member must still exist and not be disabled. The role is read from the database
//! on every request, so that a demotion or a disabling takes effect at once.
//!
//! A request authenticated by the cookie that changes something must come from our own pages: a cross-site `Origin`
//! or `Sec-Fetch-Site: cross-site` is refused (with `SameSite=Strict` and JSON-only bodies, a second line of defence).

use crate::db::audit::{self, AuditEntry, OUTCOME_DENIED, OUTCOME_OK};
use crate::db::staff::{self, StaffMember};
use crate::domain::staff::{Permission, Role};
use crate::error::ApiError;
use crate::sessions::tokens::TokenError;
use crate::state::AppState;
use actix_web::dev::Payload;
use actix_web::http::{header, Method};
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;

/// The console's session cookie.
pub const COOKIE: &str = "ebill_staff";
/// The path the cookie is sent to: the console and its API.
pub const COOKIE_PATH: &str = "/staff";

/// Where a request came from, for the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub ip: String,
    pub user_agent: String,
}

impl Origin {
    /// The connection's address, or the client a trusted proxy names in `X-Forwarded-For`.
    pub fn of(req: &HttpRequest, trusted_proxies: &[String]) -> Origin {
        let peer = req.peer_addr().map(|addr| addr.ip().to_string()).unwrap_or_else(|| "unknown".into());
        let forwarded = || {
            let header = req.headers().get("x-forwarded-for")?.to_str().ok()?;
            let client = header.rsplit(',').map(str::trim).find(|hop| !trusted_proxies.iter().any(|p| p == hop))?;
            client.parse::<std::net::IpAddr>().ok().map(|ip| ip.to_string())
        };
        let ip = if trusted_proxies.contains(&peer) { forwarded().unwrap_or(peer) } else { peer };
        let user_agent = req
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().filter(|c| !c.is_control()).take(200).collect())
            .unwrap_or_default();
        Origin { ip, user_agent }
    }
}

/// The member of staff a request acts for.
#[derive(Debug, Clone)]
pub struct StaffAuth {
    pub id: i64,
    pub name: String,
    pub role: Role,
    pub origin: Origin,
}

impl StaffAuth {
    /// An audit entry by this member about `record_kind` `record_id`, outcome `ok` until changed.
    pub fn entry(&self, action: &str, record_kind: &str, record_id: &str) -> AuditEntry {
        AuditEntry {
            staff_id: Some(self.id),
            staff_name: self.name.clone(),
            action: action.to_owned(),
            record_kind: record_kind.to_owned(),
            record_id: record_id.chars().take(128).collect(),
            reason: None,
            outcome: OUTCOME_OK.to_owned(),
            ip: self.origin.ip.clone(),
            user_agent: self.origin.user_agent.clone(),
            detail: None,
        }
    }

    /// Appends `entry` on its own; for lookups, whose answer must not leave without its trace.
    pub async fn record(&self, state: &AppState, entry: &AuditEntry) -> Result<(), ApiError> {
        let mut conn = state.db.pool().acquire().await.map_err(ApiError::internal)?;
        audit::append(&mut conn, entry, state.now_ms()).await.map_err(ApiError::internal)?;
        Ok(())
    }

    /// Passes when the role has `permission`; otherwise the attempt is audited as `denied` and answered 403.
    pub async fn require(
        &self,
        state: &AppState,
        permission: Permission,
        action: &str,
        record_kind: &str,
        record_id: &str,
    ) -> Result<(), ApiError> {
        if self.role.allows(permission) {
            return Ok(());
        }
        let entry = self
            .entry(action, record_kind, record_id)
            .outcome(OUTCOME_DENIED)
            .detail(serde_json::json!({ "needs": permission.as_str(), "role": self.role.as_str() }));
        self.record(state, &entry).await?;
        Err(forbidden(permission))
    }
}

pub fn forbidden(permission: Permission) -> ApiError {
    ApiError::new(
        actix_web::http::StatusCode::FORBIDDEN,
        "FORBIDDEN",
        format!("your role may not do this (it needs the {} permission)", permission.as_str()),
    )
}

impl FromRequest for StaffAuth {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<StaffAuth, ApiError>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { authenticate(&req).await })
    }
}

/// The token a request carries, and whether it came in the cookie.
fn token_of(req: &HttpRequest) -> Option<(String, bool)> {
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer ").or_else(|| h.strip_prefix("bearer ")))
        .map(str::trim)
        .filter(|t| !t.is_empty());
    if let Some(token) = bearer {
        return Some((token.to_owned(), false));
    }
    cookie_value(req, COOKIE).map(|token| (token, true))
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie_value(req: &HttpRequest, name: &str) -> Option<String> {
    req.headers()
        .get_all(header::COOKIE)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, value)| *key == name && !value.is_empty())
        .map(|(_, value)| value.to_owned())
}

/// Whether a cookie-authenticated request that changes something comes from another site.
fn cross_site(req: &HttpRequest) -> bool {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return false;
    }
    let header_text = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    if header_text("sec-fetch-site").is_some_and(|site| site == "cross-site" || site == "same-site") {
        return true;
    }
    match (header_text("origin"), header_text("host")) {
        (Some(origin), Some(host)) => {
            let origin_host = origin.split_once("://").map(|(_, rest)| rest).unwrap_or(origin);
            !origin_host.eq_ignore_ascii_case(host)
        }
        (Some(_), None) => true,
        (None, _) => false,
    }
}

async fn authenticate(req: &HttpRequest) -> Result<StaffAuth, ApiError> {
    let state = req.app_data::<web::Data<AppState>>().ok_or_else(|| ApiError::internal("no application state"))?;
    let invalid = || ApiError::unauthorized("INVALID_TOKEN", "the staff token is not valid; log in again");
    let (token, from_cookie) = token_of(req)
        .ok_or_else(|| ApiError::unauthorized("MISSING_TOKEN", "log in at /staff/ (or send Authorization: Bearer)"))?;
    if from_cookie && cross_site(req) {
        return Err(ApiError::new(
            actix_web::http::StatusCode::FORBIDDEN,
            "CROSS_SITE",
            "a change through the console's cookie must come from the console",
        ));
    }
    let claims = state.staff_tokens.verify(&token, state.now_ms()).map_err(|e| match e {
        TokenError::Expired => ApiError::unauthorized("TOKEN_EXPIRED", "the staff session has expired; log in again"),
        TokenError::Invalid | TokenError::Signing => invalid(),
    })?;
    let id: i64 = claims.sub.parse().map_err(|_| invalid())?;
    let member: StaffMember =
        staff::find(state.db.pool(), id).await.map_err(ApiError::internal)?.ok_or_else(invalid)?;
    if member.disabled {
        return Err(ApiError::unauthorized("STAFF_DISABLED", "this staff account is disabled"));
    }
    // Tokens from before a logout or a password reset (to the second) are over.
    if member.sessions_valid_after.is_some_and(|after| claims.iat < after.div_euclid(1000)) {
        return Err(ApiError::unauthorized("SESSION_ENDED", "this staff session has ended; log in again"));
    }
    Ok(StaffAuth {
        id: member.id,
        name: member.name,
        role: member.role,
        origin: Origin::of(req, &state.settings.staff.trusted_proxies),
    })
}
