//! A bound customer's reads of an account: its bills (`GET /api/v1/accounts/{account_no}/bills`), one bill with every
//! line (`GET /api/v1/bills/{id}`), the arrears summary (`GET /api/v1/accounts/{account_no}/summary`) and the usage
//! history (`GET /api/v1/accounts/{account_no}/usage`). Only users bound to the account see any of it; anyone else
//! gets 404, exactly as for an account or bill that does not exist.

use super::auth::CustomerAuth;
use super::bill_views::{detail, summary, BillDetailView, BillSummaryView};
use super::payments::{orders_of_bill, BillOrderView};
use crate::db::bill_reads::{self, BillFilter, StatusFilter, StoredBill};
use crate::db::{accounts, bindings};
use crate::domain::account::{AccountNo, AccountType};
use crate::domain::assessment::assess;
use crate::domain::calendar::{beijing_date, BillingPeriod};
use crate::domain::money::Fen;
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;
use actix_web::{get, web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

fn no_such_account() -> ApiError {
    ApiError::not_found("no such account")
}

/// The account, when the user is bound to it; 404 otherwise (whether or not it exists).
pub async fn bound_account(
    state: &AppState,
    user_id: i64,
    account_no: &str,
) -> Result<(AccountNo, AccountType), ApiError> {
    let account_no = AccountNo::parse(account_no).map_err(|_| no_such_account())?;
    if !bindings::user_holds(state.db.pool(), user_id, account_no.as_str()).await? {
        return Err(no_such_account());
    }
    let account = accounts::find(state.db.pool(), &account_no).await?.ok_or_else(no_such_account)?;
    Ok((account_no, account.account.account_type))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct BillListQuery {
    /// `unpaid`, `partially_paid`, `paid` or `overdue`.
    pub status: Option<String>,
    /// Only bills of this year's periods.
    pub year: Option<i32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1 to 100 (default 12).
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BillPage {
    pub bills: Vec<BillSummaryView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// The account's bills, newest first.
#[utoipa::path(get, path = "/api/v1/accounts/{account_no}/bills", tag = "customer", security(("customer_token" = [])),
    params(("account_no" = String, Path), BillListQuery),
    responses((status = 200, body = BillPage), (status = 400, body = ErrorBody, description = "INVALID_QUERY"),
        (status = 404, body = ErrorBody, description = "not bound to this account, or no such account")))]
#[get("/accounts/{account_no}/bills")]
pub async fn list(
    state: web::Data<AppState>,
    auth: CustomerAuth,
    account_no: web::Path<String>,
    query: web::Query<BillListQuery>,
) -> Result<HttpResponse, ApiError> {
    let (account_no, account_type) = bound_account(&state, auth.user_id, &account_no).await?;
    let today = beijing_date(state.now_ms());
    let invalid = |what: &str| ApiError::bad_request("INVALID_QUERY", what.to_string());
    let status = match query.status.as_deref() {
        None => None,
        Some("unpaid") => Some(StatusFilter::Unpaid { today }),
        Some("partially_paid") => Some(StatusFilter::PartiallyPaid { today }),
        Some("paid") => Some(StatusFilter::Paid),
        Some("overdue") => Some(StatusFilter::Overdue { today }),
        Some(_) => return Err(invalid("status is unpaid, partially_paid, paid or overdue")),
    };
    if query.year.is_some_and(|y| !(2000..=2099).contains(&y)) {
        return Err(invalid("year is between 2000 and 2099"));
    }
    let before = match query.cursor.as_deref() {
        None => None,
        Some(cursor) => Some(BillingPeriod::parse(cursor).ok_or_else(|| invalid("cursor is not one we gave"))?),
    };
    let limit = query.limit.unwrap_or(12);
    if !(1..=100).contains(&limit) {
        return Err(invalid("limit is between 1 and 100"));
    }
    let filter = BillFilter { status, year: query.year, before };
    // One more than asked tells whether another page follows.
    let mut stored = bill_reads::list_for_account(state.db.pool(), &account_no, &filter, limit + 1).await?;
    let more = stored.len() as i64 > limit;
    stored.truncate(limit as usize);
    let rules = &state.late_fee_rules;
    let bills: Vec<BillSummaryView> =
        stored.iter().map(|s| summary(s, assess(rules, account_type, &s.bill, s.status, today))).collect();
    let next_cursor = if more { bills.last().map(|b| b.period.clone()) } else { None };
    Ok(HttpResponse::Ok().json(BillPage { bills, next_cursor }))
}

/// One bill with its readings, tier and time-of-use lines, other charges, late fee and amount due now.
#[utoipa::path(get, path = "/api/v1/bills/{id}", tag = "customer", security(("customer_token" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = BillWithOrders),
        (status = 404, body = ErrorBody, description = "not bound to the bill's account, or no such bill")))]
#[get("/bills/{id}")]
pub async fn show(
    state: web::Data<AppState>,
    auth: CustomerAuth,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (stored, account_type) = bound_bill(&state, auth.user_id, &id).await?;
    let today = beijing_date(state.now_ms());
    let assessment = assess(&state.late_fee_rules, account_type, &stored.bill, stored.status, today);
    let orders = orders_of_bill(&state, stored.id).await?;
    Ok(HttpResponse::Ok().json(BillWithOrders { detail: detail(&stored, assessment), orders }))
}

/// A bill's detail with the orders and payments that touched it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BillWithOrders {
    #[serde(flatten)]
    pub detail: BillDetailView,
    /// Newest first.
    pub orders: Vec<BillOrderView>,
}

/// The bill `id`, when the user is bound to its account; 404 otherwise, in the same time as for a missing bill.
pub async fn bound_bill(state: &AppState, user_id: i64, id: &str) -> Result<(StoredBill, AccountType), ApiError> {
    let no_such_bill = || ApiError::not_found("no such bill");
    let id: i64 = id.parse().map_err(|_| no_such_bill())?;
    bill_reads::find_for_user(state.db.pool(), id, user_id).await?.ok_or_else(no_such_bill)
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AccountSummary {
    pub account_no: String,
    pub unpaid_bills: i64,
    /// Unpaid principal, in fen.
    pub principal_fen: i64,
    /// Late fees accrued up to today over the unpaid bills, in fen.
    pub late_fee_fen: i64,
    /// Principal plus late fees: what settles the account today.
    pub total_due_fen: i64,
    /// The earliest due date among the unpaid bills (may be past).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_due_date: Option<String>,
    /// The latest bill with money paid against it, as the utility recorded it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_payment: Option<LastPayment>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LastPayment {
    pub bill_id: String,
    pub period: String,
    pub paid_fen: i64,
    /// When the utility's record of it reached us, UTC epoch milliseconds.
    pub recorded_at: i64,
}

/// What the account owes today, the next due date and the last payment.
#[utoipa::path(get, path = "/api/v1/accounts/{account_no}/summary", tag = "customer", security(("customer_token" = [])),
    params(("account_no" = String, Path)),
    responses((status = 200, body = AccountSummary), (status = 404, body = ErrorBody)))]
#[get("/accounts/{account_no}/summary")]
pub async fn account_summary(
    state: web::Data<AppState>,
    auth: CustomerAuth,
    account_no: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (account_no, account_type) = bound_account(&state, auth.user_id, &account_no).await?;
    let today = beijing_date(state.now_ms());
    let unpaid = bill_reads::unpaid_for_account(state.db.pool(), &account_no).await?;
    let mut principal = Fen::ZERO;
    let mut fees = Fen::ZERO;
    for stored in &unpaid {
        let assessment = assess(&state.late_fee_rules, account_type, &stored.bill, stored.status, today);
        principal =
            principal.checked_add(assessment.principal).ok_or_else(|| ApiError::internal("arrears overflow"))?;
        fees = fees.checked_add(assessment.late_fee).ok_or_else(|| ApiError::internal("arrears overflow"))?;
    }
    let last_payment = bill_reads::last_paid(state.db.pool(), &account_no).await?.map(|s| LastPayment {
        bill_id: s.id.to_string(),
        period: s.bill.period.to_string(),
        paid_fen: s.bill.paid.value(),
        recorded_at: s.updated_at,
    });
    let total_due = principal.checked_add(fees).ok_or_else(|| ApiError::internal("arrears overflow"))?;
    Ok(HttpResponse::Ok().json(AccountSummary {
        account_no: account_no.to_string(),
        unpaid_bills: unpaid.len() as i64,
        principal_fen: principal.value(),
        late_fee_fen: fees.value(),
        total_due_fen: total_due.value(),
        next_due_date: unpaid.iter().map(|s| s.bill.due_date).min().map(|d| d.to_string()),
        last_payment,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct UsageQuery {
    /// How many months, 1 to 36 (default 12).
    pub months: Option<i32>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UsageHistory {
    /// Oldest first, one entry per month (a month without a bill has null figures).
    pub months: Vec<UsageMonth>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UsageMonth {
    pub period: String,
    pub kwh: Option<i64>,
    pub amount_fen: Option<i64>,
    /// The same month a year earlier.
    pub previous_year_kwh: Option<i64>,
    pub previous_year_amount_fen: Option<i64>,
}

/// Monthly usage and billed amounts, with the same month of the previous year beside each, ready for a chart.
#[utoipa::path(get, path = "/api/v1/accounts/{account_no}/usage", tag = "customer", security(("customer_token" = [])),
    params(("account_no" = String, Path), UsageQuery),
    responses((status = 200, body = UsageHistory), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[get("/accounts/{account_no}/usage")]
pub async fn usage(
    state: web::Data<AppState>,
    auth: CustomerAuth,
    account_no: web::Path<String>,
    query: web::Query<UsageQuery>,
) -> Result<HttpResponse, ApiError> {
    let (account_no, _) = bound_account(&state, auth.user_id, &account_no).await?;
    let months = query.months.unwrap_or(12);
    if !(1..=36).contains(&months) {
        return Err(ApiError::bad_request("INVALID_QUERY", "months is between 1 and 36"));
    }
    Ok(HttpResponse::Ok().json(usage_history(&state, &account_no, None, months).await?))
}

/// The `months` periods up to `end` (default: the last billed one, or last month), each beside the same month a
/// year earlier.
pub async fn usage_history(
    state: &AppState,
    account_no: &AccountNo,
    end: Option<BillingPeriod>,
    months: i32,
) -> Result<UsageHistory, ApiError> {
    let today = beijing_date(state.now_ms());
    let fallback = BillingPeriod::of_date(today).and_then(|p| p.plus_months(-1));
    let last = match end {
        Some(end) => end,
        None => bill_reads::latest_period(state.db.pool(), account_no)
            .await?
            .or(fallback)
            .ok_or_else(|| ApiError::internal("no billing period"))?,
    };
    let first = last.plus_months(-(months - 1)).ok_or_else(|| ApiError::internal("period out of range"))?;
    let since = first.plus_months(-12).unwrap_or(first);
    let series = bill_reads::usage_since(state.db.pool(), account_no, since).await?;
    let find = |period: Option<BillingPeriod>| period.and_then(|p| series.iter().find(|m| m.period == p));
    let months = (0..months)
        .filter_map(|offset| first.plus_months(offset))
        .map(|period| {
            let this = find(Some(period));
            let before = find(period.plus_months(-12));
            UsageMonth {
                period: period.to_string(),
                kwh: this.map(|m| m.kwh),
                amount_fen: this.map(|m| m.amount.value()),
                previous_year_kwh: before.map(|m| m.kwh),
                previous_year_amount_fen: before.map(|m| m.amount.value()),
            }
        })
        .collect();
    Ok(UsageHistory { months })
}
