//! Opening an order for some or all unpaid bills of an account. The amount is each bill's amount due now, late fee
//! included (the same assessment the bill views show). A bill is in at most one open order: asking again for the
//! same bills at the same amounts hands out the open order again; anything else closes the open orders on their
//! platform first, then opens a new one.

use super::channel::{Channel, ChannelError, Closing, PayParams, TradeLookup};
use super::settlement::{settle, ConfirmedPayment, PaymentSource};
use crate::db::bill_reads;
use crate::db::ids::next_id;
use crate::db::orders::{self, InsertError, StoredOrder};
use crate::db::users::{self, Payer};
use crate::db::{accounts, bindings};
use crate::domain::account::AccountNo;
use crate::domain::assessment::assess;
use crate::domain::calendar::beijing_date;
use crate::domain::order::{fingerprint, order_amount, order_no, OrderLine, OrderState};
use crate::error::ApiError;
use crate::state::AppState;

/// The most bills one order may name.
pub const MAX_BILLS_PER_ORDER: usize = 36;
/// An open order is handed out again only while at least this much of its time is left.
const MIN_TIME_LEFT_MS: i64 = 2 * 60 * 1000;
/// An order younger than this without the platform's answer is still being opened by another request.
const OPENING_WINDOW_MS: i64 = 30 * 1000;
/// Another household member's order younger than this is not closed from under them.
const HOUSEHOLD_WINDOW_MS: i64 = 5 * 60 * 1000;

fn in_progress(message: &str) -> ApiError {
    ApiError::conflict("ORDER_IN_PROGRESS", message.to_owned())
}

/// An order ready to pay.
pub struct OpenedOrder {
    pub order: StoredOrder,
    pub lines: Vec<OrderLine>,
    pub pay: PayParams,
    /// True when an open order was handed out again.
    pub reused: bool,
}

fn no_such_account() -> ApiError {
    ApiError::not_found("no such account")
}

pub fn platform_error(error: ChannelError) -> ApiError {
    match error {
        ChannelError::NotConfigured(platform) => {
            ApiError::unavailable("PAYMENTS_NOT_CONFIGURED", format!("payments through {platform} are not configured"))
        }
        ChannelError::Transient(detail) => {
            tracing::warn!(%detail, "payment platform unavailable");
            ApiError::unavailable("PLATFORM_UNAVAILABLE", "the payment platform did not answer; try again")
        }
        ChannelError::Refused(detail) => {
            tracing::warn!(%detail, "payment platform refused");
            ApiError::new(
                actix_web::http::StatusCode::BAD_GATEWAY,
                "PLATFORM_ERROR",
                "the payment platform refused the order",
            )
        }
    }
}

/// Opens (or hands out again) an order for `bill_ids` of `account_no`, or for all its unpaid bills.
pub async fn open_order(
    state: &AppState,
    user_id: i64,
    account_no: &str,
    bill_ids: Option<&[i64]>,
) -> Result<OpenedOrder, ApiError> {
    let account_no = AccountNo::parse(account_no).map_err(|_| no_such_account())?;
    let pool = state.db.pool();
    if !bindings::user_holds(pool, user_id, account_no.as_str()).await? {
        return Err(no_such_account());
    }
    let account = accounts::find(pool, &account_no).await?.ok_or_else(no_such_account)?;
    let payer =
        users::payer(pool, user_id).await?.ok_or_else(|| ApiError::unauthorized("INVALID_TOKEN", "no such user"))?;
    let channel = Channel::for_platform(state, payer.platform).map_err(platform_error)?;

    let now = state.now_ms();
    let today = beijing_date(now);
    let unpaid = bill_reads::unpaid_for_account(pool, &account_no).await?;
    let chosen: Vec<_> = match bill_ids {
        // All unpaid bills, oldest due first, as many as one order may carry.
        None => unpaid.iter().take(MAX_BILLS_PER_ORDER).collect(),
        Some(ids) => {
            let mut chosen = Vec::with_capacity(ids.len());
            for id in ids {
                match unpaid.iter().find(|bill| bill.id == *id) {
                    Some(bill) => chosen.push(bill),
                    None => return Err(missing_bill(state, &account_no, *id).await?),
                }
            }
            chosen
        }
    };
    let lines: Vec<OrderLine> = chosen
        .iter()
        .map(|stored| {
            let assessment =
                assess(&state.late_fee_rules, account.account.account_type, &stored.bill, stored.status, today);
            OrderLine { bill_id: stored.id, principal: assessment.principal, late_fee: assessment.late_fee }
        })
        .filter(|line| line.principal.value() > 0)
        .collect();
    let amount = order_amount(&lines).ok_or_else(|| ApiError::internal("order amount overflows"))?;
    if lines.is_empty() || amount.value() <= 0 {
        return Err(ApiError::conflict("NOTHING_TO_PAY", "these bills have nothing left to pay"));
    }
    let print = fingerprint(payer.platform, &payer.id, &lines);
    let bill_ids: Vec<i64> = lines.iter().map(|line| line.bill_id).collect();

    let open_orders = orders::open_for_bills(pool, &bill_ids).await?;
    for open in &open_orders {
        let age = now - open.created_at;
        if open.platform_ref.is_none() && age < OPENING_WINDOW_MS {
            // Another request is opening it on the platform right now: closing it could race its creation.
            return Err(in_progress("a payment for these bills is being opened right now; try again in a moment"));
        }
        if open.user_id != user_id && open.platform_ref.is_some() && age < HOUSEHOLD_WINDOW_MS {
            // A family member may be paying it at this moment: do not pull it from under them.
            return Err(in_progress("another member of the household is paying these bills; try again later"));
        }
    }
    for open in open_orders {
        let reusable = open.user_id == user_id
            && open.fingerprint == print
            && open.expires_at - now >= MIN_TIME_LEFT_MS
            && open.platform_ref.is_some();
        if reusable {
            let platform_ref = open.platform_ref.clone().unwrap_or_default();
            let pay = channel.pay_params(&platform_ref).map_err(platform_error)?;
            return Ok(OpenedOrder { order: open, lines, pay, reused: true });
        }
        close_replaced(state, &open).await?;
    }

    let id = next_id(now);
    let order = StoredOrder {
        id,
        order_no: order_no(id),
        user_id,
        account_no: account_no.as_str().to_owned(),
        platform: payer.platform,
        payer: payer.id.clone(),
        amount,
        fingerprint: print,
        state: OrderState::Pending,
        platform_ref: None,
        expires_at: now + state.settings.payments.order_ttl_ms(),
        paid_at: None,
        flag: None,
        next_poll_at: now + (state.settings.payments.poll_after_secs as i64) * 1000,
        created_at: now,
        updated_at: now,
    };
    let mut tx = state.db.begin_write().await?;
    if !orders::bills_unchanged(&mut tx, &lines).await? {
        return Err(ApiError::conflict("BILLS_CHANGED", "some of these bills changed just now; reload the bills"));
    }
    match orders::insert(&mut tx, &order, &lines).await {
        Ok(()) => tx.commit().await?,
        Err(InsertError::BillTaken) => {
            return Err(in_progress("another payment for these bills is being opened right now; try again"))
        }
        Err(InsertError::Db(error)) => return Err(error.into()),
    }
    open_on_platform(state, &channel, order, lines, &payer).await
}

/// Why a named bill cannot be paid: not this account's (or not at all), or paid already.
async fn missing_bill(state: &AppState, account_no: &AccountNo, id: i64) -> Result<ApiError, ApiError> {
    let bill = bill_reads::find(state.db.pool(), id).await?;
    Ok(match bill {
        Some(bill) if bill.bill.account_no == *account_no => {
            ApiError::conflict("BILL_ALREADY_PAID", format!("bill {id} is paid already"))
        }
        _ => ApiError::not_found(format!("no bill {id} on this account")),
    })
}

/// Asks the platform for the order; a refusal or a lost answer leaves the order `failed` (a payment that reaches
/// us anyway still settles).
async fn open_on_platform(
    state: &AppState,
    channel: &Channel,
    mut order: StoredOrder,
    lines: Vec<OrderLine>,
    payer: &Payer,
) -> Result<OpenedOrder, ApiError> {
    let description = &state.settings.payments.description;
    match channel.open(&order, description, payer.alipay_open_id).await {
        Ok(platform_ref) => {
            if !orders::set_platform_ref(state.db.pool(), order.id, &platform_ref, state.now_ms()).await? {
                // Closed here meanwhile: close it there too, so that it cannot be paid.
                if let Err(error) = channel.close(&order.order_no).await {
                    tracing::warn!(order_no = %order.order_no, %error, "closing an order ended meanwhile failed");
                }
                return Err(ApiError::conflict("BILLS_CHANGED", "these bills changed just now; reload the bills"));
            }
            let pay = channel.pay_params(&platform_ref).map_err(platform_error)?;
            order.platform_ref = Some(platform_ref);
            Ok(OpenedOrder { order, lines, pay, reused: false })
        }
        Err(error) => {
            orders::finish_unpaid(&state.db, order.id, OrderState::Failed, state.now_ms()).await?;
            Err(platform_error(error))
        }
    }
}

/// Closes an open order that a new one replaces. When the platform says it is paid, it is settled from the
/// platform's verified answer and the caller is told the bills changed.
pub async fn close_replaced(state: &AppState, open: &StoredOrder) -> Result<(), ApiError> {
    match close_on_platform(state, open, OrderState::Closed).await.map_err(platform_error)? {
        CloseResult::Closed => Ok(()),
        CloseResult::Settled => Err(ApiError::conflict(
            "BILLS_CHANGED",
            "a payment for some of these bills has just arrived; reload the bills",
        )),
    }
}

/// What [`close_on_platform`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseResult {
    /// Closed on the platform and here (as `to`).
    Closed,
    /// The platform had it paid: it is settled now.
    Settled,
}

/// Closes a pending order on its platform and then here (as `closed` or `expired`); when the platform has it paid,
/// settles it from the verified query answer instead.
pub async fn close_on_platform(
    state: &AppState,
    order: &StoredOrder,
    to: OrderState,
) -> Result<CloseResult, ChannelError> {
    let channel = Channel::for_platform(state, order.platform)?;
    // Closed even when we never heard back from the platform's create: it may have opened the order anyway.
    if channel.close(&order.order_no).await? == Closing::AlreadyPaid {
        if let TradeLookup::Paid { transaction_id, amount, paid_at_ms } = channel.lookup(&order.order_no).await? {
            let payment = ConfirmedPayment {
                platform: order.platform,
                order_no: order.order_no.clone(),
                transaction_id,
                amount,
                paid_at_ms: super::channel::paid_at_or(paid_at_ms, state.now_ms()),
                source: PaymentSource::Query,
            };
            settle(state, &payment).await.map_err(|e| ChannelError::Transient(format!("settling: {e}")))?;
            return Ok(CloseResult::Settled);
        }
        return Err(ChannelError::Transient("the platform says paid but its query does not (yet)".into()));
    }
    orders::finish_unpaid(&state.db, order.id, to, state.now_ms())
        .await
        .map_err(|e| ChannelError::Transient(format!("database: {e}")))?;
    Ok(CloseResult::Closed)
}
