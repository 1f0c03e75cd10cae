//! New bills: the feed and the import mark each new bill (and each revision that changes its amount) with
//! `notify_pending`; this takes the marked bills in batches and queues one message per bound user who can receive
//! it, clearing the marks in the same transaction.

use super::compose::{queue_for_users, Addressed};
use crate::db::messages::{self as repo, BillToAnnounce};
use crate::domain::calendar::parse_date;
use crate::domain::message::{MessageFacts, MessageKind};
use crate::domain::money::Fen;
use crate::state::AppState;

/// Bills announced per transaction.
const BATCH: i64 = 500;

pub fn facts_of(bill: &BillToAnnounce, label: &str) -> MessageFacts {
    MessageFacts {
        account_no: bill.account_no.clone(),
        account_label: Some(label.to_owned()).filter(|label| !label.is_empty()),
        period: Some(bill.period.clone()),
        amount_due: Some(Fen::new(bill.total_fen.saturating_sub(bill.paid_fen).max(0))),
        amount_billed: Some(Fen::new(bill.total_fen)),
        usage_kwh: Some(bill.usage_kwh),
        due_date: parse_date(&bill.due_date),
        ..MessageFacts::default()
    }
}

/// Announces one batch of new bills; answers how many bills were taken (0 when none waits).
pub async fn announce_batch(state: &AppState) -> Result<usize, sqlx::Error> {
    let now = state.now_ms();
    let mut tx = state.db.begin_write().await?;
    let bills = repo::take_bills_to_announce(&mut tx, BATCH).await?;
    if bills.is_empty() {
        tx.rollback().await?;
        return Ok(0);
    }
    let mut accounts: Vec<String> = bills.iter().map(|bill| bill.account_no.clone()).collect();
    accounts.sort();
    accounts.dedup();
    let users = repo::bound_users(&mut tx, &accounts).await?;
    let mut addressed = Vec::new();
    for bill in &bills {
        for user in users.iter().filter(|user| user.account_no == bill.account_no) {
            addressed.push(Addressed {
                user,
                facts: facts_of(bill, &user.label),
                bill_id: Some(bill.bill_id),
                // A revision that changes the amount is announced again; one that does not is not marked at all.
                dedupe: format!("{}:{}", bill.bill_id, bill.total_fen),
            });
        }
    }
    let run_at = state.settings.messages.quiet_hours().release_at(now);
    queue_for_users(state, &mut tx, MessageKind::NewBill, MessageKind::NewBill.as_str(), addressed, run_at, now)
        .await?;
    tx.commit().await?;
    Ok(bills.len())
}

/// Announces every waiting bill; answers how many.
pub async fn announce_all(state: &AppState) -> Result<usize, sqlx::Error> {
    let mut total = 0;
    loop {
        let taken = announce_batch(state).await?;
        total += taken;
        if taken < BATCH as usize {
            return Ok(total);
        }
    }
}
