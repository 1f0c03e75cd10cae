//! Reminders on the configured schedule (by default 3 days before the due date, on it, and 3, 7 and 15 days after):
//! each day, for each step, the unpaid bills whose due date puts them on that step get one message per bound user
//! who can receive it, held until quiet hours end. A bill with no reachable mini-program user gets an SMS with its
//! e-bill link instead (when an SMS gateway is configured); every bill reached in the mini-program counts as an SMS
//! avoided. The dedupe key (step, bill, user) means a step is never sent twice; a paid bill's reminders are dropped
//! at delivery.

use super::compose::{queue_for_users, Addressed};
use crate::db::ids::next_id;
use crate::db::messages::{self as repo, BillDue, NewMessage};
use crate::domain::account::AccountType;
use crate::domain::calendar::{beijing_date, parse_date};
use crate::domain::late_fee::late_fee;
use crate::domain::message::{due_dates_for, sms_text, MessageFacts, ReminderStep};
use crate::domain::money::Fen;
use crate::state::AppState;
use serde_json::json;
use std::collections::HashSet;

/// Bills per transaction.
const BATCH: i64 = 500;

/// What a reminder pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReminderReport {
    pub bills: u64,
    pub messages: u64,
    pub sms: u64,
}

fn facts_of(state: &AppState, due: &BillDue, label: &str, today: chrono::NaiveDate) -> MessageFacts {
    let bill = &due.bill;
    let principal = Fen::new(bill.total_fen.saturating_sub(bill.paid_fen).max(0));
    let due_date = parse_date(&bill.due_date);
    let account_type = AccountType::parse(&due.account_type).unwrap_or(AccountType::Residential);
    let fee = due_date.map(|date| late_fee(&state.late_fee_rules, account_type, principal, date, &[], today));
    MessageFacts {
        account_no: bill.account_no.clone(),
        account_label: Some(label.to_owned()).filter(|label| !label.is_empty()),
        period: Some(bill.period.clone()),
        amount_due: Some(
            principal.checked_add(fee.as_ref().map(|f| f.amount).unwrap_or(Fen::ZERO)).unwrap_or(principal),
        ),
        amount_billed: Some(Fen::new(bill.total_fen)),
        usage_kwh: Some(bill.usage_kwh),
        due_date,
        days_overdue: fee.as_ref().map(|f| f.days_overdue).filter(|days| *days > 0),
        late_fee: fee.map(|f| f.amount).filter(|amount| amount.value() > 0),
        ..MessageFacts::default()
    }
}

/// A mainland mobile number (11 digits starting with 1): landlines cannot receive an SMS.
fn is_mobile(phone: &str) -> bool {
    phone.len() == 11 && phone.starts_with('1') && phone.bytes().all(|b| b.is_ascii_digit())
}

/// Runs today's reminder steps that have not run yet.
pub async fn run_due_steps(state: &AppState) -> Result<ReminderReport, sqlx::Error> {
    let now = state.now_ms();
    let today = beijing_date(now);
    let day = today.to_string();
    let mut report = ReminderReport::default();
    for (due_date, step) in due_dates_for(&state.settings.messages.reminder_days, today) {
        if repo::reminder_run_done(state.db.pool(), &day, &step.stage()).await? {
            continue;
        }
        let step_report = run_step(state, due_date, step, today).await?;
        report.bills += step_report.bills;
        report.messages += step_report.messages;
        report.sms += step_report.sms;
        repo::mark_reminder_run(state.db.pool(), &day, &step.stage(), state.now_ms()).await?;
    }
    Ok(report)
}

async fn run_step(
    state: &AppState,
    due_date: chrono::NaiveDate,
    step: ReminderStep,
    today: chrono::NaiveDate,
) -> Result<ReminderReport, sqlx::Error> {
    let settings = &state.settings.messages;
    let kind = step.kind();
    let stage = step.stage();
    let mut report = ReminderReport::default();
    let mut after = 0;
    loop {
        let now = state.now_ms();
        let run_at = settings.quiet_hours().release_at(now);
        let mut tx = state.db.begin_write().await?;
        let bills = repo::unpaid_due_on(&mut tx, &due_date.to_string(), after, BATCH).await?;
        let Some(last) = bills.last().map(|due| due.bill.bill_id) else {
            tx.commit().await?;
            return Ok(report);
        };
        let mut accounts: Vec<String> = bills.iter().map(|due| due.bill.account_no.clone()).collect();
        accounts.sort();
        accounts.dedup();
        let users = repo::bound_users(&mut tx, &accounts).await?;
        let mut addressed = Vec::new();
        for due in &bills {
            for user in users.iter().filter(|user| user.account_no == due.bill.account_no) {
                addressed.push(Addressed {
                    user,
                    facts: facts_of(state, due, &user.label, today),
                    bill_id: Some(due.bill.bill_id),
                    dedupe: due.bill.bill_id.to_string(),
                });
            }
        }
        let bill_of: Vec<Option<i64>> = addressed.iter().map(|a| a.bill_id).collect();
        let queued = queue_for_users(state, &mut tx, kind, &stage, addressed, run_at, now).await?;
        let reached: HashSet<i64> = queued.iter().filter_map(|index| bill_of[*index]).collect();
        let mut sms = Vec::new();
        // Accounts whose every bound user turned this kind off get no SMS either: they chose not to be reminded.
        let user_ids: Vec<i64> = users.iter().map(|user| user.user_id).collect();
        let off = repo::turned_off(&mut tx, kind.as_str(), &user_ids).await?;
        let opted_out = |account_no: &str| {
            let mut bound = users.iter().filter(|user| user.account_no == account_no).peekable();
            bound.peek().is_some() && bound.all(|user| off.contains(&user.user_id))
        };
        if settings.sms_fallback && state.credentials.sms.is_some() {
            let unreached = bills.iter().filter(|due| {
                !reached.contains(&due.bill.bill_id) && is_mobile(&due.phone) && !opted_out(&due.bill.account_no)
            });
            for due in unreached {
                let expires = now.div_euclid(1000) + state.settings.ebill.link_ttl_days as i64 * 86_400;
                let link =
                    format!("{}{}", state.settings.public_base_url(), state.bill_links.path(due.bill.bill_id, expires));
                let text = sms_text(kind, &facts_of(state, due, "", today), Some(&link));
                sms.push(NewMessage {
                    id: next_id(now),
                    kind: kind.as_str().into(),
                    stage: stage.clone(),
                    channel: "sms".into(),
                    user_id: None,
                    account_no: due.bill.account_no.clone(),
                    bill_id: Some(due.bill.bill_id),
                    recipient: due.phone.clone(),
                    template_id: format!("reminder_{}", kind.as_str()),
                    payload: json!({ "text": text }).to_string(),
                    dedupe_key: format!("{stage}:{}:sms", due.bill.bill_id),
                    max_attempts: settings.max_attempts,
                    run_at,
                });
            }
        }
        let sms_queued = repo::insert_many(&mut tx, &sms, now).await?.len() as u64;
        if !reached.is_empty() {
            let day = beijing_date(now).to_string();
            repo::count_sent(&mut tx, &day, "sms", kind.as_str(), 0, reached.len() as i64).await?;
        }
        tx.commit().await?;
        report.bills += bills.len() as u64;
        report.messages += queued.len() as u64;
        report.sms += sms_queued;
        after = last;
    }
}
