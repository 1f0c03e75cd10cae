//! The audit log for admins: `GET /staff/v1/audit` (newest first, a page at a time) and `GET /staff/v1/audit.csv` (the
//! same filters, as a CSV download). Reading the log is itself logged.

use super::auth::StaffAuth;
use crate::db::audit::{self, AuditFilter, StoredEntry};
use crate::domain::staff::Permission;
use crate::error::ApiError;
use crate::state::AppState;
use actix_web::http::header;
use actix_web::{get, web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(search).service(export);
}

/// Entries per page, by default and at most.
const PAGE: i64 = 50;
const MAX_PAGE: i64 = 500;
/// Entries in one export: a month of a busy call centre. Narrow the dates for more.
const MAX_EXPORT: i64 = 100_000;
/// Longest filter value accepted.
const MAX_FILTER_CHARS: usize = 128;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    pub staff: Option<String>,
    pub action: Option<String>,
    pub record_kind: Option<String>,
    pub record_id: Option<String>,
    /// Epoch milliseconds, inclusive.
    pub from: Option<i64>,
    /// Epoch milliseconds, exclusive.
    pub to: Option<i64>,
    /// The `next_before` of the previous page.
    pub before: Option<String>,
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntryView {
    pub id: String,
    pub at: i64,
    pub staff_name: String,
    pub action: String,
    pub record_kind: String,
    pub record_id: String,
    pub reason: Option<String>,
    pub outcome: String,
    pub ip: String,
    pub user_agent: String,
    /// JSON object, as recorded.
    pub detail: Option<serde_json::Value>,
}

impl From<StoredEntry> for AuditEntryView {
    fn from(entry: StoredEntry) -> AuditEntryView {
        AuditEntryView {
            id: entry.id.to_string(),
            at: entry.at,
            staff_name: entry.staff_name,
            action: entry.action,
            record_kind: entry.record_kind,
            record_id: entry.record_id,
            reason: entry.reason,
            outcome: entry.outcome,
            ip: entry.ip,
            user_agent: entry.user_agent,
            detail: entry.detail.and_then(|d| serde_json::from_str(&d).ok()),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    pub entries: Vec<AuditEntryView>,
    /// Pass as `before` for the next (older) page; null at the end.
    pub next_before: Option<String>,
}

fn filter_of(query: &AuditQuery) -> Result<AuditFilter, ApiError> {
    let text = |value: &Option<String>| -> Result<Option<String>, ApiError> {
        match value.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
            Some(v) if v.chars().count() > MAX_FILTER_CHARS => Err(ApiError::bad_request(
                "INVALID_FILTER",
                format!("filters are at most {MAX_FILTER_CHARS} characters"),
            )),
            other => Ok(other.map(str::to_owned)),
        }
    };
    let before_id = match query.before.as_deref().filter(|b| !b.is_empty()) {
        Some(before) => {
            Some(before.parse::<i64>().map_err(|_| ApiError::bad_request("INVALID_CURSOR", "before is an entry id"))?)
        }
        None => None,
    };
    if let (Some(from), Some(to)) = (query.from, query.to) {
        if from > to {
            return Err(ApiError::bad_request("INVALID_FILTER", "from is after to"));
        }
    }
    Ok(AuditFilter {
        staff_name: text(&query.staff)?,
        action: text(&query.action)?,
        record_kind: text(&query.record_kind)?,
        record_id: text(&query.record_id)?,
        from_ms: query.from,
        to_ms: query.to,
        before_id,
    })
}

/// What was asked, for the audit entry of the reading itself.
fn filter_detail(filter: &AuditFilter) -> serde_json::Value {
    serde_json::json!({
        "staff": filter.staff_name, "action": filter.action, "record_kind": filter.record_kind,
        "record_id": filter.record_id, "from": filter.from_ms, "to": filter.to_ms,
    })
}

/// A page of the audit log, newest first.
#[utoipa::path(get, path = "/staff/v1/audit", tag = "staff", params(AuditQuery),
    responses((status = 200, body = AuditPage), (status = 403)))]
#[get("/audit")]
pub async fn search(
    state: web::Data<AppState>,
    staff: StaffAuth,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, ApiError> {
    staff.require(&state, Permission::ReadAudit, "search_audit", "audit", "").await?;
    let filter = filter_of(&query)?;
    let limit = query.limit.unwrap_or(PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::bad_request("INVALID_LIMIT", format!("limit is 1 to {MAX_PAGE}")));
    }
    let entries = audit::search(state.db.pool(), &filter, limit + 1).await.map_err(ApiError::internal)?;
    staff.record(&state, &staff.entry("search_audit", "audit", "").detail(filter_detail(&filter))).await?;
    let more = entries.len() as i64 > limit;
    let entries: Vec<StoredEntry> = entries.into_iter().take(limit as usize).collect();
    let next_before = if more { entries.last().map(|e| e.id.to_string()) } else { None };
    Ok(HttpResponse::Ok()
        .json(AuditPage { entries: entries.into_iter().map(AuditEntryView::from).collect(), next_before }))
}

/// The audit log as CSV, newest first, with the same filters.
#[utoipa::path(get, path = "/staff/v1/audit.csv", tag = "staff", params(AuditQuery),
    responses((status = 200, content_type = "text/csv", description = "the entries as CSV"), (status = 403)))]
#[get("/audit.csv")]
pub async fn export(
    state: web::Data<AppState>,
    staff: StaffAuth,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, ApiError> {
    staff.require(&state, Permission::ReadAudit, "export_audit", "audit", "").await?;
    let filter = filter_of(&query)?;
    let entries = audit::search(state.db.pool(), &filter, MAX_EXPORT).await.map_err(ApiError::internal)?;
    let detail = filter_detail(&filter);
    staff.record(&state, &staff.entry("export_audit", "audit", "").detail(detail)).await?;
    let body = to_csv(&entries).map_err(ApiError::internal)?;
    let name = format!("ebill-audit-{}.csv", crate::domain::calendar::beijing_date(state.now_ms()));
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")))
        .body(body))
}

/// The entries as CSV with a header row (UTF-8 with a byte-order mark, so spreadsheet programs read Chinese right).
/// Cells a spreadsheet would take for a formula are prefixed with `'`.
pub fn to_csv(entries: &[StoredEntry]) -> Result<Vec<u8>, csv::Error> {
    let mut writer = csv::Writer::from_writer(b"\xEF\xBB\xBF".to_vec());
    writer.write_record([
        "id",
        "at_utc_ms",
        "at_beijing",
        "staff",
        "action",
        "record_kind",
        "record_id",
        "reason",
        "outcome",
        "ip",
        "user_agent",
        "detail",
    ])?;
    for entry in entries {
        let at = crate::domain::calendar::beijing_datetime(entry.at)
            .map(|at| at.format("%Y-%m-%d %H:%M:%S").to_string())
            .unwrap_or_default();
        let cells = [
            entry.id.to_string(),
            entry.at.to_string(),
            at,
            entry.staff_name.clone(),
            entry.action.clone(),
            entry.record_kind.clone(),
            entry.record_id.clone(),
            entry.reason.clone().unwrap_or_default(),
            entry.outcome.clone(),
            entry.ip.clone(),
            entry.user_agent.clone(),
            entry.detail.clone().unwrap_or_default(),
        ];
        writer.write_record(cells.iter().map(|cell| defuse(cell)))?;
    }
    writer.into_inner().map_err(|e| csv::Error::from(e.into_error()))
}

/// A cell that begins like a formula (`=`, `+`, `-`, `@`, tab, carriage return) gets a leading `'`.
fn defuse(cell: &str) -> String {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}"),
        _ => cell.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(reason: &str) -> StoredEntry {
        StoredEntry {
            id: 7,
            at: 1_780_000_000_000,
            staff_name: "li.na".into(),
            action: "unbind".into(),
            record_kind: "binding".into(),
            record_id: "42".into(),
            reason: Some(reason.into()),
            outcome: "ok".into(),
            ip: "10.0.0.8".into(),
            user_agent: "Firefox".into(),
            detail: Some("{\"account_no\":\"3100012345\"}".into()),
        }
    }

    #[test]
    fn the_csv_quotes_commas_and_defuses_formulas() {
        let csv = to_csv(&[entry("用户来电, 说\"换房\""), entry("=HYPERLINK(\"x\")")]).unwrap();
        let text = String::from_utf8(csv).unwrap();
        let mut lines = text.lines();
        assert!(lines.next().unwrap().starts_with("\u{feff}id,at_utc_ms,at_beijing,staff,action"));
        let first = lines.next().unwrap();
        assert!(first.contains("2026-05-29 04:26:40"), "{first}");
        assert!(first.contains("\"用户来电, 说\"\"换房\"\"\""), "{first}");
        assert!(first.contains("\"{\"\"account_no\"\":\"\"3100012345\"\"}\""), "{first}");
        assert!(lines.next().unwrap().contains("\"'=HYPERLINK(\"\"x\"\")\""));
    }
}
