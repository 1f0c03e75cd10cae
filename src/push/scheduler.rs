//! The loop that writes messages: new bills every second, notices of payments and refunds every few seconds, and
//! the day's reminder steps every few minutes (each step once a day). Instances take turns through a cache lock; a
//! round run twice would queue nothing twice (every message has a dedupe key).

use super::{announce, notices, reminders};
use crate::state::AppState;
use std::time::Duration;
use tokio::sync::watch;

const TICK: Duration = Duration::from_secs(1);
const NOTICES_EVERY: u64 = 5;
const REMINDERS_EVERY: u64 = 300;
const ROUND_LOCK: &str = "push:scheduler-round";

/// One round: what is due at tick `tick`.
pub async fn round(state: &AppState, tick: u64) -> Result<(), sqlx::Error> {
    let announced = announce::announce_all(state).await?;
    if announced > 0 {
        tracing::info!(bills = announced, "new bills announced");
    }
    if tick.is_multiple_of(NOTICES_EVERY) {
        notices::queue_notices(state).await?;
    }
    if tick.is_multiple_of(REMINDERS_EVERY) {
        let report = reminders::run_due_steps(state).await?;
        if report.bills > 0 {
            tracing::info!(?report, "reminders queued");
        }
    }
    Ok(())
}

/// Runs rounds until `shutdown`.
pub async fn run(state: AppState, mut shutdown: watch::Receiver<bool>) {
    let owner = crate::jobs::queue::worker_owner("push-scheduler");
    let mut tick: u64 = 0;
    loop {
        if *shutdown.borrow() {
            break;
        }
        let my_turn = state.cache.set_if_absent(ROUND_LOCK, &owner, Duration::from_millis(900)).await.unwrap_or(true);
        if my_turn {
            if let Err(error) = round(&state, tick).await {
                tracing::warn!(%error, "writing messages failed");
            }
        }
        tick += 1;
        tokio::select! {
            _ = tokio::time::sleep(TICK) => {}
            changed = shutdown.changed() => if changed.is_err() { break },
        }
    }
}
