//! Gathering what customer service sees of one account, one user or one order from the repositories, masked or
//! revealed. A key that cannot name a record (a malformed account number, a non-numeric user id) finds nothing,
//! exactly like a well-formed key that matches nothing.

use super::views::{
    AccountBindingView, AccountPage, AccountView, BillRow, Disclosure, IncidentView, MessageView, NotifyView,
    OrderBillView, OrderPage, OrderSummaryView, OrderView, PaymentView, RefundView, UserBindingView, UserPage,
    UserView,
};
use crate::db::{bill_reads, bindings, messages, notifies, orders, payments, refunds, users};
use crate::domain::account::AccountNo;
use crate::domain::money::Fen;
use crate::domain::order::{is_order_no, payment_event_id};
use crate::error::ApiError;
use crate::jobs::writeback::WRITEBACK_QUEUE;
use crate::state::AppState;
use serde::Serialize;
use utoipa::ToSchema;

/// Bills, orders and messages shown on a page.
const BILLS: i64 = 12;
const ORDERS: i64 = 20;
const MESSAGES: i64 = 20;
const NOTIFIES: i64 = 50;

/// The kinds of record a lookup shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordKind {
    Account,
    User,
    Order,
}

impl RecordKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RecordKind::Account => "account",
            RecordKind::User => "user",
            RecordKind::Order => "order",
        }
    }

    pub fn parse(text: &str) -> Option<RecordKind> {
        [RecordKind::Account, RecordKind::User, RecordKind::Order].into_iter().find(|kind| kind.as_str() == text)
    }
}

/// One of the three pages, as a reveal answers it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum Page {
    Account(AccountPage),
    User(UserPage),
    Order(OrderPage),
}

/// The page of record `key` of `kind`; `None` when there is no such record.
pub async fn page(
    state: &AppState,
    kind: RecordKind,
    key: &str,
    disclosure: Disclosure,
) -> Result<Option<Page>, ApiError> {
    Ok(match kind {
        RecordKind::Account => account_page(state, key, disclosure).await?.map(Page::Account),
        RecordKind::User => user_page(state, key, disclosure).await?.map(Page::User),
        RecordKind::Order => order_page(state, key, disclosure).await?.map(Page::Order),
    })
}

pub async fn account_page(
    state: &AppState,
    account_no: &str,
    disclosure: Disclosure,
) -> Result<Option<AccountPage>, ApiError> {
    let Ok(account_no) = AccountNo::parse(account_no) else { return Ok(None) };
    let pool = state.db.pool();
    let Some(stored) = crate::db::accounts::find(pool, &account_no).await? else { return Ok(None) };
    let account = stored.account;
    let credit = payments::credit_held(pool, account_no.as_str()).await?;
    let bindings = bindings::for_account(pool, account_no.as_str()).await?;
    let bills = bill_reads::list_for_account(pool, &account_no, &bill_reads::BillFilter::default(), BILLS).await?;
    let orders = orders::summaries_for_account(pool, account_no.as_str(), ORDERS).await?;
    let messages = messages::for_account(pool, account_no.as_str(), MESSAGES).await?;
    Ok(Some(AccountPage {
        account: AccountView {
            account_no: account_no.as_str().to_owned(),
            holder_name: disclosure.name(&account.holder_name),
            address: disclosure.address(&account.address),
            phone: disclosure.phone(&account.phone),
            account_type: account.account_type.as_str().to_owned(),
            supply_unit: account.supply_unit,
            credit_fen: credit.value(),
        },
        masked: disclosure.is_masked(),
        bindings: bindings.iter().map(|found| AccountBindingView::of(found, disclosure)).collect(),
        bills: bills
            .into_iter()
            .map(|stored| BillRow {
                id: stored.id.to_string(),
                period: stored.bill.period.to_string(),
                total_fen: stored.bill.total.value(),
                paid_fen: stored.bill.paid.value(),
                status: stored.status.as_str().to_owned(),
                due_date: stored.bill.due_date.to_string(),
            })
            .collect(),
        orders: orders.into_iter().map(OrderSummaryView::from).collect(),
        messages: messages.into_iter().map(|message| MessageView::of(message, disclosure)).collect(),
    }))
}

pub async fn user_page(state: &AppState, user_id: &str, disclosure: Disclosure) -> Result<Option<UserPage>, ApiError> {
    let Ok(user_id) = user_id.parse::<i64>() else { return Ok(None) };
    let pool = state.db.pool();
    let Some(user) = users::find_record(pool, user_id).await? else { return Ok(None) };
    let bindings = bindings::list_for_user(pool, user_id).await?;
    let orders = orders::summaries_for_user(pool, user_id, ORDERS).await?;
    let messages = messages::for_user(pool, user_id, MESSAGES).await?;
    Ok(Some(UserPage {
        user: UserView::of(&user, disclosure),
        masked: disclosure.is_masked(),
        bindings: bindings.into_iter().map(UserBindingView::from).collect(),
        orders: orders.into_iter().map(OrderSummaryView::from).collect(),
        messages: messages.into_iter().map(|message| MessageView::of(message, disclosure)).collect(),
    }))
}

fn overflow() -> ApiError {
    ApiError::internal("refund amounts overflow")
}

pub async fn order_page(
    state: &AppState,
    order_no: &str,
    disclosure: Disclosure,
) -> Result<Option<OrderPage>, ApiError> {
    if !is_order_no(order_no) {
        return Ok(None);
    }
    let pool = state.db.pool();
    let Some(order) = orders::find_by_no(pool, order_no).await? else { return Ok(None) };
    let lines = orders::lines_with_periods(pool, order.id).await?;
    let payments = payments::for_orders(pool, &[order.id]).await?;
    let payment_ids: Vec<i64> = payments.iter().map(|payment| payment.id).collect();
    let refunds = refunds::refunds_for_payments(pool, &payment_ids).await?;
    let event_ids: Vec<String> = payment_ids.iter().map(|id| payment_event_id(*id)).collect();
    let mut writebacks = orders::writebacks(pool, WRITEBACK_QUEUE, &event_ids).await?;
    let notifies = notifies::for_order(pool, &order.order_no, NOTIFIES).await?;
    let references: Vec<String> =
        std::iter::once(order.order_no.clone()).chain(refunds.iter().map(|r| r.out_refund_no.clone())).collect();
    let incidents = payments::incidents_about(pool, &references).await?;

    // Per payment: what refunds not failed hold back, and what the platform confirmed refunded.
    let totals = refunds::refund_totals(pool, &payment_ids).await?;
    let mut payment_views = Vec::with_capacity(payments.len());
    let mut refunded = Fen::ZERO;
    for payment in &payments {
        let (reserved, succeeded) = totals.get(&payment.id).copied().unwrap_or((Fen::ZERO, Fen::ZERO));
        let refundable = payment.amount.checked_sub(reserved).ok_or_else(overflow)?.value().max(0);
        refunded = refunded.checked_add(succeeded).ok_or_else(overflow)?;
        let writeback = writebacks.remove(&payment_event_id(payment.id));
        payment_views.push(PaymentView::of(payment, refundable, writeback));
    }
    Ok(Some(OrderPage {
        order: OrderView::of(&order, refunded.value(), disclosure),
        masked: disclosure.is_masked(),
        bills: lines
            .into_iter()
            .map(|(line, period)| OrderBillView {
                bill_id: line.bill_id.to_string(),
                period,
                principal_fen: line.principal.value(),
                late_fee_fen: line.late_fee.value(),
            })
            .collect(),
        payments: payment_views,
        refunds: refunds.iter().map(RefundView::from).collect(),
        notifies: notifies.into_iter().map(NotifyView::from).collect(),
        incidents: incidents.into_iter().map(IncidentView::from).collect(),
    }))
}
