//! Turning "tell these users about this bill" into queued messages: the template of the kind on each user's
//! platform, the user's preferences and subscription credits (a one-time credit is used by the message that takes
//! it), values cut to the template's limits, and a dedupe key so the same stage of the same bill never reaches the
//! same user twice.

use crate::db::ids::next_id;
use crate::db::messages::{self as repo, NewMessage, Reachable};
use crate::domain::message::{render, MessageFacts, MessageKind};
use crate::state::AppState;
use serde_json::json;
use sqlx::AnyConnection;
use std::collections::HashMap;

/// One message to compose: who, about what.
pub struct Addressed<'a> {
    pub user: &'a Reachable,
    pub facts: MessageFacts,
    pub bill_id: Option<i64>,
    /// Distinguishes messages of the same kind (the reminder step, or the bill's amount for a new bill).
    pub dedupe: String,
}

/// Queues the messages of `kind` at `stage` that their users can receive, on the caller's transaction; answers how
/// many were queued, and for which (bill or account) keys at least one was.
pub async fn queue_for_users(
    state: &AppState,
    tx: &mut AnyConnection,
    kind: MessageKind,
    stage: &str,
    addressed: Vec<Addressed<'_>>,
    run_at: i64,
    now: i64,
) -> Result<Vec<usize>, sqlx::Error> {
    let settings = &state.settings.messages;
    let sandbox = state.sandbox.is_some();
    let user_ids: Vec<i64> = addressed.iter().map(|a| a.user.user_id).collect();
    let off = repo::turned_off(tx, kind.as_str(), &user_ids).await?;
    let mut messages = Vec::new();
    let mut queued = Vec::new();
    let mut templates_spent: Vec<(String, Vec<(i64, i64)>)> = Vec::new();
    for platform in ["wechat", "alipay"] {
        let Some(spec) = settings.template_for(kind, platform, sandbox) else { continue };
        let on_platform: Vec<usize> = (0..addressed.len())
            .filter(|i| addressed[*i].user.platform == platform && !off.contains(&addressed[*i].user.user_id))
            .collect();
        if on_platform.is_empty() {
            continue;
        }
        let ids: Vec<i64> = on_platform.iter().map(|i| addressed[*i].user.user_id).collect();
        let mut credits: HashMap<i64, (i64, bool)> =
            if spec.long_term { HashMap::new() } else { repo::subscriptions_for(tx, &spec.template_id, &ids).await? };
        // A long-term template needs no acceptance, but a user who rejected or banned it is left alone.
        let refused = if spec.long_term { repo::refused(tx, &spec.template_id, &ids).await? } else { Vec::new() };
        let mut spenders: Vec<(i64, i64)> = Vec::new();
        for index in on_platform {
            let item = &addressed[index];
            let user_id = item.user.user_id;
            let allowed = (spec.long_term && !refused.contains(&user_id))
                || match credits.get_mut(&user_id) {
                    Some((_, true)) => true,
                    Some((left, false)) if *left > 0 => {
                        *left -= 1;
                        true
                    }
                    _ => false,
                };
            if !allowed {
                continue;
            }
            let rendered = render(&spec, &item.facts, item.bill_id);
            let payload = json!({
                "page": rendered.page,
                "data": rendered.data,
                "to_open_id": item.user.alipay_open_id,
            });
            let id = next_id(now);
            if !spec.long_term && !credits.get(&user_id).is_some_and(|(_, standing)| *standing) {
                spenders.push((id, user_id));
            }
            messages.push(NewMessage {
                id,
                kind: kind.as_str().into(),
                stage: stage.into(),
                channel: platform.into(),
                user_id: Some(user_id),
                account_no: item.user.account_no.clone(),
                bill_id: item.bill_id,
                recipient: item.user.recipient.clone(),
                template_id: spec.template_id.clone(),
                payload: payload.to_string(),
                dedupe_key: format!("{stage}:{}:{user_id}", item.dedupe),
                max_attempts: settings.max_attempts,
                run_at,
            });
            queued.push(index);
        }
        templates_spent.push((spec.template_id.clone(), spenders));
    }
    let inserted: std::collections::HashSet<i64> = repo::insert_many(tx, &messages, now).await?.into_iter().collect();
    // One credit per message queued that took one (a repeat skipped by its dedupe key takes none; a user bound to
    // two accounts may spend two).
    for (template_id, spenders) in templates_spent {
        let mut spent: Vec<i64> =
            spenders.iter().filter(|(id, _)| inserted.contains(id)).map(|(_, user_id)| *user_id).collect();
        while !spent.is_empty() {
            let mut round = Vec::new();
            spent.retain(|id| {
                if round.contains(id) {
                    true
                } else {
                    round.push(*id);
                    false
                }
            });
            repo::use_credits(tx, &template_id, &round, now).await?;
        }
    }
    Ok(queued)
}
