//! When notifies do not come: orders still pending a while after they were opened are asked about on their
//! platform. A verified "paid" answer settles the order (like a notify would); an order past its time is closed on
//! the platform and here; an order the platform closed is closed here. `GET /api/v1/payments/{order_no}` asks the
//! same way for one order. The client's own "paid" signal never settles anything: only the platform's answers do.

use super::channel::{paid_at_or, Channel, ChannelError, TradeLookup};
use super::ordering::{close_on_platform, CloseResult};
use super::settlement::{settle, ConfirmedPayment, PaymentSource, Settlement};
use crate::db::orders::{self, StoredOrder};
use crate::domain::order::OrderState;
use crate::state::AppState;
use std::time::Duration;
use tokio::sync::watch;

/// Orders looked at per round.
const BATCH: i64 = 200;
/// The cache key that lets one instance poll per round.
const ROUND_LOCK: &str = "payments:poll-round";

/// What asking about one order did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checked {
    Settled(Settlement),
    /// Closed here as expired (or closed) after the platform confirmed it cannot be paid any more.
    Ended(OrderState),
    StillOpen,
}

/// What one round did, for logs and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PollReport {
    pub checked: u64,
    pub settled: u64,
    pub ended: u64,
    pub still_open: u64,
    pub errors: u64,
}

/// Asks the platform about a pending order and acts on the verified answer.
pub async fn check_order(state: &AppState, order: &StoredOrder) -> Result<Checked, ChannelError> {
    let channel = Channel::for_platform(state, order.platform)?;
    let now = state.now_ms();
    match channel.lookup(&order.order_no).await? {
        TradeLookup::Paid { transaction_id, amount, paid_at_ms } => {
            let payment = ConfirmedPayment {
                platform: order.platform,
                order_no: order.order_no.clone(),
                transaction_id,
                amount,
                paid_at_ms: paid_at_or(paid_at_ms, now),
                source: PaymentSource::Query,
            };
            let settlement =
                settle(state, &payment).await.map_err(|e| ChannelError::Transient(format!("settling: {e}")))?;
            Ok(Checked::Settled(settlement))
        }
        TradeLookup::Closed => {
            let to = if now >= order.expires_at { OrderState::Expired } else { OrderState::Closed };
            orders::finish_unpaid(&state.db, order.id, to, now)
                .await
                .map_err(|e| ChannelError::Transient(format!("database: {e}")))?;
            Ok(Checked::Ended(to))
        }
        TradeLookup::Open | TradeLookup::NotFound if now >= order.expires_at => {
            match close_on_platform(state, order, OrderState::Expired).await {
                Ok(CloseResult::Closed) => Ok(Checked::Ended(OrderState::Expired)),
                Ok(CloseResult::Settled) => Ok(Checked::Settled(Settlement::AlreadyRecorded)),
                // Past its time_expire the platform takes no payment for it any more (and a late notify would
                // still settle it): it ends here even when the platform's close did not answer.
                Err(ChannelError::Refused(detail)) => {
                    tracing::warn!(order_no = %order.order_no, %detail, "closing an expired order was refused");
                    orders::finish_unpaid(&state.db, order.id, OrderState::Expired, now)
                        .await
                        .map_err(|e| ChannelError::Transient(format!("database: {e}")))?;
                    Ok(Checked::Ended(OrderState::Expired))
                }
                Err(error) => Err(error),
            }
        }
        TradeLookup::Open | TradeLookup::NotFound => Ok(Checked::StillOpen),
    }
}

/// When to ask again about an order still open (or whose check failed): the interval grows with the order's age
/// (an order nobody pays is asked about less and less often) and never passes its expiry; a failed check waits
/// longer, so that orders the platform keeps refusing do not crowd out the others.
pub fn next_poll_at(order: &StoredOrder, now: i64, failed: bool, poll_after_secs: u64) -> i64 {
    let base = (poll_after_secs as i64).max(1) * 1000;
    let age = (now - order.created_at).max(0);
    let wait = if failed { (age / 2).clamp(base, 30 * 60 * 1000) } else { (age / 4).clamp(base, 10 * 60 * 1000) };
    let next = now + wait;
    if now < order.expires_at {
        next.min(order.expires_at)
    } else {
        next
    }
}

/// One round over the pending orders due for a look.
pub async fn poll_once(state: &AppState) -> Result<PollReport, sqlx::Error> {
    let now = state.now_ms();
    let mut report = PollReport::default();
    for order in orders::pending_due(state.db.pool(), now, BATCH).await? {
        report.checked += 1;
        let outcome = check_order(state, &order).await;
        match &outcome {
            Ok(Checked::Settled(_)) => report.settled += 1,
            Ok(Checked::Ended(_)) => report.ended += 1,
            Ok(Checked::StillOpen) => report.still_open += 1,
            Err(error) => {
                report.errors += 1;
                tracing::warn!(order_no = %order.order_no, %error, "polling an order failed");
            }
        }
        if matches!(outcome, Ok(Checked::StillOpen) | Err(_)) {
            let next = next_poll_at(&order, now, outcome.is_err(), state.settings.payments.poll_after_secs);
            orders::set_next_poll(state.db.pool(), order.id, next).await?;
        }
    }
    Ok(report)
}

/// Polls every `poll_interval_secs` until `shutdown`. Several instances take turns through a cache lock, so each
/// round runs once (a round run twice would only ask twice: settlement is idempotent).
pub async fn run(state: AppState, mut shutdown: watch::Receiver<bool>) {
    let interval = Duration::from_secs(state.settings.payments.poll_interval_secs.max(1));
    let owner = crate::jobs::queue::worker_owner("order-poll");
    loop {
        if *shutdown.borrow() {
            break;
        }
        let lock_ttl = interval.saturating_sub(Duration::from_millis(200)).max(Duration::from_secs(1));
        let my_turn = state.cache.set_if_absent(ROUND_LOCK, &owner, lock_ttl).await.unwrap_or(true);
        if my_turn {
            match poll_once(&state).await {
                Ok(report) if report.checked > 0 => tracing::info!(?report, "polled pending orders"),
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "polling pending orders failed"),
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            changed = shutdown.changed() => if changed.is_err() { break },
        }
    }
}
