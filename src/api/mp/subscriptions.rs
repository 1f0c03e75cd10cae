//! `POST /api/v1/subscriptions`: what the user answered in `wx.requestSubscribeMessage` / `my.requestSubscribeMessage`
//! for each template (accept, reject, ban). A one-time acceptance is one credit; a long-term template is a standing
//! permission. `GET|PUT /api/v1/preferences`: the kinds of message the user turned off, and their credits.

use super::auth::CustomerAuth;
use crate::db::messages as repo;
use crate::domain::message::MessageKind;
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;
use actix_web::{get, post, put, web, HttpResponse};
use serde::{Deserialize, Serialize};
use sqlx::Row;
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// Templates one request may answer for (WeChat asks about at most 3 at a time).
const MAX_TEMPLATES: usize = 10;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionRequest {
    pub templates: Vec<TemplateAnswer>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateAnswer {
    pub template_id: String,
    /// `accept`, `reject` or `ban` (WeChat's `filter` reads as `reject`).
    pub status: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SubscriptionView {
    pub template_id: String,
    /// The kind of message the template carries.
    pub kind: String,
    pub status: String,
    /// One-time credits left (each lets one message through).
    pub credits: i64,
    pub long_term: bool,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Preferences {
    /// Every kind of message, on or off.
    pub kinds: BTreeMap<String, bool>,
    pub subscriptions: Vec<SubscriptionView>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreferencesUpdate {
    /// The kinds to change, e.g. `{"overdue": false}`; others stay as they are.
    pub kinds: BTreeMap<String, bool>,
}

async fn preferences_of(state: &AppState, auth: &CustomerAuth) -> Result<Preferences, ApiError> {
    let pool = state.db.pool();
    let off = repo::disabled_kinds(pool, auth.user_id).await?;
    let kinds = MessageKind::ALL
        .iter()
        .map(|kind| (kind.as_str().to_owned(), !off.iter().any(|k| k == kind.as_str())))
        .collect();
    let rows = sqlx::query(
        "SELECT template_id, status, credits, long_term FROM subscriptions WHERE user_id = $1 ORDER BY template_id",
    )
    .bind(auth.user_id)
    .fetch_all(pool)
    .await?;
    let sandbox = state.sandbox.is_some();
    let platform = auth.platform.as_str();
    let mut subscriptions = Vec::new();
    for row in rows {
        let template_id: String = row.try_get("template_id")?;
        let kind = MessageKind::ALL
            .into_iter()
            .find(|kind| {
                state
                    .settings
                    .messages
                    .template_for(*kind, platform, sandbox)
                    .is_some_and(|t| t.template_id == template_id)
            })
            .map(|kind| kind.as_str().to_owned())
            .unwrap_or_default();
        subscriptions.push(SubscriptionView {
            template_id,
            kind,
            status: row.try_get("status")?,
            credits: row.try_get("credits")?,
            long_term: row.try_get::<i64, _>("long_term")? == 1,
        });
    }
    Ok(Preferences { kinds, subscriptions })
}

/// Records the user's answers to a subscribe-message request.
#[utoipa::path(post, path = "/api/v1/subscriptions", tag = "customer", security(("customer_token" = [])),
    request_body = SubscriptionRequest,
    responses((status = 200, body = Preferences),
        (status = 400, body = ErrorBody, description = "MALFORMED_JSON, UNKNOWN_TEMPLATE, INVALID_STATUS, TOO_MANY_TEMPLATES")))]
#[post("/subscriptions")]
pub async fn subscribe(
    state: web::Data<AppState>,
    auth: CustomerAuth,
    request: web::Json<SubscriptionRequest>,
) -> Result<HttpResponse, ApiError> {
    if request.templates.is_empty() || request.templates.len() > MAX_TEMPLATES {
        return Err(ApiError::bad_request("TOO_MANY_TEMPLATES", format!("answer for 1 to {MAX_TEMPLATES} templates")));
    }
    let sandbox = state.sandbox.is_some();
    let platform = auth.platform.as_str();
    let mut answers = Vec::new();
    for answer in &request.templates {
        let known = MessageKind::ALL
            .into_iter()
            .filter_map(|kind| state.settings.messages.template_for(kind, platform, sandbox))
            .find(|spec| spec.template_id == answer.template_id);
        let Some(spec) = known else {
            return Err(ApiError::bad_request("UNKNOWN_TEMPLATE", "not a template of this mini-program"));
        };
        let status = match answer.status.as_str() {
            "accept" => "accept",
            "reject" | "filter" => "reject",
            "ban" => "ban",
            _ => return Err(ApiError::bad_request("INVALID_STATUS", "status is accept, reject or ban")),
        };
        answers.push((spec.template_id, status, spec.long_term));
    }
    let now = state.now_ms();
    let mut tx = state.db.begin_write().await?;
    for (template_id, status, long_term) in &answers {
        repo::record_subscription(&mut tx, auth.user_id, template_id, status, *long_term, now).await?;
    }
    tx.commit().await?;
    Ok(HttpResponse::Ok().json(preferences_of(&state, &auth).await?))
}

/// The kinds of message the user receives, and their subscriptions.
#[utoipa::path(get, path = "/api/v1/preferences", tag = "customer", security(("customer_token" = [])),
    responses((status = 200, body = Preferences)))]
#[get("/preferences")]
pub async fn show(state: web::Data<AppState>, auth: CustomerAuth) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(preferences_of(&state, &auth).await?))
}

/// Turns kinds of message on or off.
#[utoipa::path(put, path = "/api/v1/preferences", tag = "customer", security(("customer_token" = [])),
    request_body = PreferencesUpdate,
    responses((status = 200, body = Preferences), (status = 400, body = ErrorBody, description = "UNKNOWN_KIND")))]
#[put("/preferences")]
pub async fn update(
    state: web::Data<AppState>,
    auth: CustomerAuth,
    request: web::Json<PreferencesUpdate>,
) -> Result<HttpResponse, ApiError> {
    for kind in request.kinds.keys() {
        if MessageKind::parse(kind).is_none() {
            return Err(ApiError::bad_request("UNKNOWN_KIND", format!("{kind:?} is not a kind of message")));
        }
    }
    let now = state.now_ms();
    let mut tx = state.db.begin_write().await?;
    for (kind, enabled) in &request.kinds {
        repo::set_preference(&mut tx, auth.user_id, kind, *enabled, now).await?;
    }
    tx.commit().await?;
    Ok(HttpResponse::Ok().json(preferences_of(&state, &auth).await?))
}
