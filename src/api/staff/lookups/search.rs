//! `GET /staff/v1/search?q=`: the console's one search box. The query says what it is: an order number (`EB` and
//! digits), a mobile number (11 digits from 1: accounts registered with it and users who verified it), an account
//! number (other 8 to 20 digits), or a platform id (openid, Alipay user_id or open_id, unionid) or one of our user
//! ids. Alipay user ids (2088 and 12 digits) and our own user ids are all digits, so a digit query that names no
//! account is also looked for among users. Results are masked; the search is audited.

use super::pages::RecordKind;
use super::views::Disclosure;
use crate::api::staff::auth::StaffAuth;
use crate::db::accounts::{self, StoredAccount};
use crate::db::orders;
use crate::db::users::{self, UserRecord};
use crate::domain::account::AccountNo;
use crate::domain::masking::mask_phone;
use crate::domain::money::Fen;
use crate::domain::order::is_order_no;
use crate::domain::staff::Permission;
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;
use actix_web::{get, web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Longest query accepted, in characters.
pub const MAX_QUERY_CHARS: usize = 64;
/// Results of each kind at most.
const PER_KIND: i64 = 20;

/// How a query is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Interpretation {
    /// An order number, upper-cased.
    Order(String),
    Phone(String),
    Account(String),
    PlatformId(String),
}

impl Interpretation {
    pub fn as_str(&self) -> &'static str {
        match self {
            Interpretation::Order(_) => "order",
            Interpretation::Phone(_) => "phone",
            Interpretation::Account(_) => "account",
            Interpretation::PlatformId(_) => "user",
        }
    }

    /// The query as the audit log keeps it: a phone number masked.
    fn audited_query(&self, query: &str) -> String {
        match self {
            Interpretation::Phone(phone) => mask_phone(phone),
            _ => query.to_owned(),
        }
    }
}

/// Reads a trimmed, non-empty query.
pub fn classify(query: &str) -> Interpretation {
    let digits = !query.is_empty() && query.bytes().all(|b| b.is_ascii_digit());
    let upper = query.to_ascii_uppercase();
    if is_order_no(&upper) {
        Interpretation::Order(upper)
    } else if digits && query.len() == 11 && query.starts_with('1') {
        Interpretation::Phone(query.to_owned())
    } else if digits && (8..=20).contains(&query.len()) {
        Interpretation::Account(query.to_owned())
    } else {
        Interpretation::PlatformId(query.to_owned())
    }
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct SearchQuery {
    /// An order number, a mobile number, an account number, or an openid / Alipay id / user id; at most 64
    /// characters.
    pub q: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SearchResult {
    /// account | user | order: which page `key` opens.
    pub kind: String,
    /// The account number, user id or order number.
    pub key: String,
    /// Masked.
    pub title: String,
    /// Masked.
    pub subtitle: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SearchAnswer {
    /// How the query was read: order | phone | account | user.
    pub kind: String,
    pub query: String,
    pub results: Vec<SearchResult>,
}

fn account_result(stored: &StoredAccount) -> SearchResult {
    let account = &stored.account;
    let masked = Disclosure::Masked;
    SearchResult {
        kind: RecordKind::Account.as_str().into(),
        key: account.account_no.as_str().into(),
        title: account.account_no.as_str().into(),
        subtitle: format!("{} · {}", masked.name(&account.holder_name), masked.address(&account.address)),
    }
}

fn user_result(user: &UserRecord) -> SearchResult {
    let masked = Disclosure::Masked;
    let mut subtitle = format!("{} · user {}", user.platform.as_str(), user.id);
    if let Some(phone) = &user.phone {
        subtitle.push_str(&format!(" · {}", masked.phone(phone)));
    }
    SearchResult {
        kind: RecordKind::User.as_str().into(),
        key: user.id.to_string(),
        title: masked.platform_id(&user.subject),
        subtitle,
    }
}

async fn account_by_number(state: &AppState, number: &str) -> Result<Option<StoredAccount>, ApiError> {
    match AccountNo::parse(number) {
        Ok(account_no) => Ok(accounts::find(state.db.pool(), &account_no).await?),
        Err(_) => Ok(None),
    }
}

/// The results for a query read as `interpretation`, and the kind finally given to the query.
async fn find(
    state: &AppState,
    interpretation: &Interpretation,
) -> Result<(&'static str, Vec<SearchResult>), ApiError> {
    let pool = state.db.pool();
    let mut results = Vec::new();
    let mut kind = interpretation.as_str();
    match interpretation {
        Interpretation::Order(order_no) => {
            if let Some(order) = orders::find_by_no(pool, order_no).await? {
                results.push(SearchResult {
                    kind: RecordKind::Order.as_str().into(),
                    key: order.order_no.clone(),
                    title: order.order_no.clone(),
                    subtitle: format!(
                        "{} · {} · {}元 · {}",
                        order.account_no,
                        order.platform.as_str(),
                        Fen::to_yuan_string(order.amount),
                        order.state.as_str()
                    ),
                });
            }
        }
        Interpretation::Phone(phone) => {
            // An 11-digit account number starting with 1 would read as a phone: it is found too.
            if let Some(account) = account_by_number(state, phone).await? {
                results.push(account_result(&account));
            }
            for account in accounts::with_phone(pool, phone, PER_KIND).await? {
                if !results.iter().any(|r| r.key == account.account.account_no.as_str()) {
                    results.push(account_result(&account));
                }
            }
            results.extend(users::with_verified_phone(pool, phone, PER_KIND).await?.iter().map(user_result));
        }
        Interpretation::Account(number) => {
            if let Some(account) = account_by_number(state, number).await? {
                results.push(account_result(&account));
            }
            let users = users::find_by_platform_id(pool, number, PER_KIND).await?;
            if results.is_empty() && !users.is_empty() {
                kind = RecordKind::User.as_str();
            }
            results.extend(users.iter().map(user_result));
        }
        Interpretation::PlatformId(id) => {
            results.extend(users::find_by_platform_id(pool, id, PER_KIND).await?.iter().map(user_result));
        }
    }
    Ok((kind, results))
}

/// Finds accounts, users and orders by any of the four kinds of key.
#[utoipa::path(get, path = "/staff/v1/search", tag = "staff", params(SearchQuery),
    responses((status = 200, body = SearchAnswer), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
#[get("/search")]
pub async fn search(
    state: web::Data<AppState>,
    staff: StaffAuth,
    query: web::Query<SearchQuery>,
) -> Result<HttpResponse, ApiError> {
    let text = query.q.as_deref().unwrap_or_default().trim();
    if text.is_empty() || text.chars().count() > MAX_QUERY_CHARS || text.chars().any(char::is_control) {
        return Err(ApiError::bad_request(
            "INVALID_SEARCH",
            format!("search for 1 to {MAX_QUERY_CHARS} characters: an order, phone or account number, or a user id"),
        ));
    }
    let interpretation = classify(text);
    let audited = interpretation.audited_query(text);
    staff.require(&state, Permission::Lookup, "search", interpretation.as_str(), &audited).await?;
    let (kind, results) = find(&state, &interpretation).await?;
    let entry = staff.entry("search", kind, &audited).detail(serde_json::json!({ "results": results.len() }));
    staff.record(&state, &entry).await?;
    Ok(HttpResponse::Ok().json(SearchAnswer { kind: kind.into(), query: text.into(), results }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_read_by_their_shape() {
        assert_eq!(classify("EB7312345678901234567"), Interpretation::Order("EB7312345678901234567".into()));
        assert_eq!(classify("eb42"), Interpretation::Order("EB42".into()));
        assert_eq!(classify("13812341234"), Interpretation::Phone("13812341234".into()));
        assert_eq!(classify("3100012345"), Interpretation::Account("3100012345".into()));
        assert_eq!(classify("23812341234").as_str(), "account");
        assert_eq!(classify("2088102122524333").as_str(), "account");
        assert_eq!(classify("o6_bmjrPTlm6_2sgVt7hMZOPfL2M").as_str(), "user");
        assert_eq!(classify("1234567").as_str(), "user");
        assert_eq!(classify("EB").as_str(), "user");
    }

    #[test]
    fn a_phone_query_is_audited_masked() {
        assert_eq!(classify("13812341234").audited_query("13812341234"), "138****1234");
        assert_eq!(classify("3100012345").audited_query("3100012345"), "3100012345");
    }
}
