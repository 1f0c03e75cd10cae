//! Delivery: workers claim due messages under leases (several workers and instances never send the same one),
//! send them concurrently within each channel's rate limit, and record every outcome with the platform's reply.
//! Transient failures (-1, 5xx, timeouts) come back after an exponential backoff up to `messages.max_attempts`;
//! permanent ones (43101, 40003, 47003, ...) do not, and 43101 clears the user's credits for that template;
//! 40001/42001 refresh the access token once (single-flight across instances) and retry at once. A reminder whose
//! bill was paid meanwhile is skipped.

use super::rate_limit::RateLimiter;
use crate::db::messages::{self as repo, ClaimedMessage, Outcome};
use crate::domain::calendar::beijing_date;
use crate::jobs::Backoff;
use crate::platform::alipay::{AlipayClient, AlipayTemplateMessage};
use crate::platform::sms::{SmsError, SmsGateway, SmsRequest};
use crate::platform::wechat::{SubscribeMessage, WechatClient, WechatError, WechatTokens};
use crate::state::AppState;
use futures_util::StreamExt;
use serde_json::Value;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;
use tokio::sync::watch;

/// WeChat's "the user did not accept (or has no credit left)".
pub const ERR_NO_SUBSCRIPTION: i64 = 43101;

/// The platform clients a delivery round uses.
pub struct Senders {
    wechat: Option<(WechatClient, WechatTokens)>,
    alipay: Option<AlipayClient>,
    sms: Option<SmsGateway>,
    limiter: RateLimiter,
    backoff: Backoff,
}

impl Senders {
    pub fn new(state: &AppState) -> Senders {
        let wechat = state.credentials.wechat.as_ref().map(|creds| {
            let client = WechatClient::new(creds, state.http.clone());
            let tokens = WechatTokens::new(&client, state.cache.clone());
            (client, tokens)
        });
        let alipay = state
            .credentials
            .alipay
            .as_ref()
            .map(|creds| AlipayClient::new(creds, state.http.clone()).with_clock(state.clock.clone()));
        let settings = &state.settings.messages;
        Senders {
            wechat,
            alipay,
            sms: state.credentials.sms.clone().map(|gateway| gateway.with_clock(state.clock.clone())),
            limiter: RateLimiter::new(
                state.cache.clone(),
                settings.rate_limit_wechat_per_sec,
                settings.rate_limit_alipay_per_sec,
                settings.rate_limit_sms_per_sec,
            ),
            backoff: Backoff { base: Duration::from_secs(10), max: Duration::from_secs(30 * 60) },
        }
    }
}

/// One message's send, boxed so that the batch's sends stay `Send` while they borrow the batch.
type PendingSend<'a> = Pin<Box<dyn Future<Output = (usize, Outcome)> + std::marker::Send + 'a>>;

/// What a delivery loop did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    pub claimed: u64,
    pub sent: u64,
    pub retried: u64,
    pub failed: u64,
    pub skipped: u64,
}

/// Claims one batch of due messages and delivers it; answers what happened (`claimed == 0` when none was due).
pub async fn deliver_batch(state: &AppState, senders: &Senders, owner: &str) -> Result<DeliveryReport, sqlx::Error> {
    let settings = &state.settings.messages;
    let workers = settings.workers.max(1);
    let now = state.now_ms();
    let lease_until = now + 5 * 60 * 1000;
    let claimed = repo::claim(&state.db, owner, (workers * 4) as i64, lease_until, now).await?;
    let mut report = DeliveryReport { claimed: claimed.len() as u64, ..DeliveryReport::default() };
    if claimed.is_empty() {
        return Ok(report);
    }
    // Boxed as `Send` futures: the sends borrow the batch, and the loop runs in a spawned task.
    let sends: Vec<PendingSend<'_>> = claimed
        .iter()
        .enumerate()
        .map(|(index, message)| {
            Box::pin(async move { (index, deliver_one(state, senders, message).await) }) as PendingSend<'_>
        })
        .collect();
    let done: Vec<(usize, Outcome)> = futures_util::stream::iter(sends).buffer_unordered(workers).collect().await;
    let outcomes: Vec<(&ClaimedMessage, Outcome)> =
        done.into_iter().map(|(index, outcome)| (&claimed[index], outcome)).collect();
    for (_, outcome) in &outcomes {
        match outcome {
            Outcome::Sent { .. } => report.sent += 1,
            Outcome::Retry { .. } => report.retried += 1,
            Outcome::Failed { .. } => report.failed += 1,
            Outcome::Skipped { .. } => report.skipped += 1,
        }
    }
    let now = state.now_ms();
    repo::record_outcomes(&state.db, &outcomes, &beijing_date(now).to_string(), now).await?;
    Ok(report)
}

fn is_reminder(kind: &str) -> bool {
    matches!(kind, "due_soon" | "due_today" | "overdue")
}

async fn deliver_one(state: &AppState, senders: &Senders, message: &ClaimedMessage) -> Outcome {
    if is_reminder(&message.kind) {
        if let Some(bill_id) = message.bill_id {
            match repo::bill_is_paid(state.db.pool(), bill_id).await {
                Ok(true) => return Outcome::Skipped { reason: "the bill is paid".into() },
                Ok(false) => {}
                Err(error) => return retry(state, senders, message, format!("database: {error}"), None),
            }
        }
    }
    let payload: Value = match serde_json::from_str(&message.payload) {
        Ok(payload) => payload,
        Err(error) => return Outcome::Failed { error: format!("unreadable payload: {error}"), reply: None },
    };
    senders.limiter.acquire(&message.channel).await;
    match message.channel.as_str() {
        "wechat" => send_wechat(state, senders, message, &payload).await,
        "alipay" => send_alipay(state, senders, message, &payload).await,
        "sms" => send_sms(state, senders, message, &payload).await,
        other => Outcome::Failed { error: format!("unknown channel {other}"), reply: None },
    }
}

fn retry(
    state: &AppState,
    senders: &Senders,
    message: &ClaimedMessage,
    error: String,
    reply: Option<String>,
) -> Outcome {
    let delay = senders.backoff.delay(message.attempts);
    // A retry that would land in quiet hours waits for them to end.
    let run_at = state.settings.messages.quiet_hours().release_at(state.now_ms() + delay.as_millis() as i64);
    Outcome::Retry { error, reply, run_at }
}

async fn send_wechat(state: &AppState, senders: &Senders, message: &ClaimedMessage, payload: &Value) -> Outcome {
    let Some((client, tokens)) = &senders.wechat else {
        return Outcome::Failed { error: "WeChat is not configured".into(), reply: None };
    };
    let settings = &state.settings.messages;
    let data = payload.get("data").cloned().unwrap_or(Value::Null);
    let page = payload.get("page").and_then(Value::as_str);
    let request = SubscribeMessage {
        touser: &message.recipient,
        template_id: &message.template_id,
        page,
        data: &data,
        miniprogram_state: &settings.miniprogram_state,
        lang: &settings.lang,
    };
    match send_with_token(client, tokens, &request).await {
        Ok(receipt) => Outcome::Sent { reply: receipt.reply },
        Err(error) if error.errcode() == Some(ERR_NO_SUBSCRIPTION) => {
            if let Some(user_id) = message.user_id {
                if let Err(db) =
                    repo::clear_credits(state.db.pool(), user_id, &message.template_id, state.now_ms()).await
                {
                    tracing::warn!(error = %db, "clearing credits after 43101 failed");
                }
            }
            Outcome::Failed { error: error.to_string(), reply: wechat_reply(&error) }
        }
        Err(error) if error.is_transient() => retry(state, senders, message, error.to_string(), wechat_reply(&error)),
        Err(error) => Outcome::Failed { error: error.to_string(), reply: wechat_reply(&error) },
    }
}

/// Sends with the shared access token; when WeChat refuses the token (40001/42001), refreshes it once (single-flight
/// across instances) and sends once more. (Written out rather than through `WechatTokens::with_token`, whose async
/// closure makes this future lose `Send`.)
async fn send_with_token(
    client: &WechatClient,
    tokens: &WechatTokens,
    request: &SubscribeMessage<'_>,
) -> Result<crate::platform::wechat::SendReceipt, WechatError> {
    let token = tokens.access_token().await?;
    match client.send_subscribe_message(&token, request).await {
        Err(WechatError::TokenRejected(code)) => {
            tracing::info!(code, "WeChat refused the access token while sending; refreshing");
            let fresh = tokens.invalidate_and_refresh(&token).await?;
            client.send_subscribe_message(&fresh, request).await
        }
        other => other,
    }
}

fn wechat_reply(error: &WechatError) -> Option<String> {
    error.errcode().map(|code| format!("{{\"errcode\":{code}}}"))
}

async fn send_alipay(state: &AppState, senders: &Senders, message: &ClaimedMessage, payload: &Value) -> Outcome {
    let Some(client) = &senders.alipay else {
        return Outcome::Failed { error: "Alipay is not configured".into(), reply: None };
    };
    let data = payload.get("data").cloned().unwrap_or(Value::Null);
    let open_id = payload.get("to_open_id").and_then(Value::as_bool).unwrap_or(false);
    let request = AlipayTemplateMessage {
        to_user_id: (!open_id).then_some(message.recipient.as_str()),
        to_open_id: open_id.then_some(message.recipient.as_str()),
        user_template_id: &message.template_id,
        page: payload.get("page").and_then(Value::as_str),
        data: &data,
    };
    match client.send_template_message(&request).await {
        Ok(receipt) => Outcome::Sent { reply: receipt.reply },
        Err(error) if error.is_transient() => retry(state, senders, message, error.to_string(), None),
        Err(error) => {
            if error.is_subscription_refused() {
                if let Some(user_id) = message.user_id {
                    let cleared = repo::clear_credits(state.db.pool(), user_id, &message.template_id, state.now_ms());
                    if let Err(db) = cleared.await {
                        tracing::warn!(error = %db, "clearing credits after Alipay's refusal failed");
                    }
                }
            }
            Outcome::Failed { error: error.to_string(), reply: None }
        }
    }
}

async fn send_sms(state: &AppState, senders: &Senders, message: &ClaimedMessage, payload: &Value) -> Outcome {
    let Some(gateway) = &senders.sms else {
        return retry(state, senders, message, "no SMS gateway configured".into(), None);
    };
    let request = SmsRequest {
        message_id: message.id.to_string(),
        phone: message.recipient.clone(),
        template: message.template_id.clone(),
        text: payload.get("text").and_then(Value::as_str).unwrap_or_default().to_owned(),
    };
    match gateway.send(&state.http, &request).await {
        Ok(reply) => Outcome::Sent { reply },
        Err(SmsError::Transient(error)) => retry(state, senders, message, error, None),
        Err(SmsError::Permanent(error)) => Outcome::Failed { error, reply: None },
    }
}

/// Delivers until `shutdown`: a batch at a time, sleeping briefly when nothing is due.
pub async fn run(state: AppState, mut shutdown: watch::Receiver<bool>) -> DeliveryReport {
    let owner = crate::jobs::queue::worker_owner("push");
    let senders = Senders::new(&state);
    let mut total = DeliveryReport::default();
    while !*shutdown.borrow() {
        let report = match deliver_batch(&state, &senders, &owner).await {
            Ok(report) => report,
            Err(error) => {
                tracing::warn!(%error, "delivering messages failed");
                DeliveryReport::default()
            }
        };
        total.claimed += report.claimed;
        total.sent += report.sent;
        total.retried += report.retried;
        total.failed += report.failed;
        total.skipped += report.skipped;
        if report.claimed == 0 {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                changed = shutdown.changed() => if changed.is_err() { break },
            }
        }
    }
    total
}
