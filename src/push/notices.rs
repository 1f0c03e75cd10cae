//! Notices about money: "payment received" to the payer of each confirmed payment and "refund done" when a refund
//! succeeds. Read from the payments and refunds tables behind a cursor, so settlement itself writes nothing more.

use super::compose::{queue_for_users, Addressed};
use crate::db::messages::{self as repo, MoneyNotice};
use crate::domain::message::{MessageFacts, MessageKind};
use crate::domain::money::Fen;
use crate::state::AppState;

const BATCH: i64 = 200;

/// Queues the notices of payments and refunds not handled yet; answers how many events were read.
pub async fn queue_notices(state: &AppState) -> Result<usize, sqlx::Error> {
    let mut handled = 0;
    for (cursor, kind) in [("payments", MessageKind::PaymentReceived), ("refunds", MessageKind::RefundDone)] {
        let now = state.now_ms();
        let mut tx = state.db.begin_write().await?;
        let after = repo::cursor(&mut tx, cursor).await?;
        let events = match kind {
            MessageKind::PaymentReceived => repo::payments_after(&mut tx, after, BATCH).await?,
            _ => repo::refunds_done_after(&mut tx, after, BATCH).await?,
        };
        let Some(last) = events.last().map(|event| event.position) else {
            tx.rollback().await?;
            continue;
        };
        let mut reachable = Vec::new();
        for event in &events {
            if let Some(user) = repo::reachable_user(&mut tx, event.user_id, &event.account_no).await? {
                reachable.push((user, event));
            }
        }
        let addressed = reachable
            .iter()
            .map(|(user, event)| Addressed {
                user,
                facts: facts_of(kind, event, &user.label),
                bill_id: None,
                dedupe: format!("{}", event.id),
            })
            .collect();
        queue_for_users(
            state,
            &mut tx,
            kind,
            kind.as_str(),
            addressed,
            state.settings.messages.quiet_hours().release_at(now),
            now,
        )
        .await?;
        repo::set_cursor(&mut tx, cursor, last).await?;
        tx.commit().await?;
        handled += events.len();
    }
    Ok(handled)
}

fn facts_of(kind: MessageKind, event: &MoneyNotice, label: &str) -> MessageFacts {
    let amount = Some(Fen::new(event.amount_fen));
    MessageFacts {
        account_no: event.account_no.clone(),
        account_label: Some(label.to_owned()).filter(|label| !label.is_empty()),
        paid_amount: if kind == MessageKind::PaymentReceived { amount } else { None },
        paid_at_ms: Some(event.at_ms),
        refund_amount: if kind == MessageKind::RefundDone { amount } else { None },
        ..MessageFacts::default()
    }
}
