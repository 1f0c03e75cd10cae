//! The sandbox's inbox: every message the simulated platforms delivered (a WeChat subscribe message, an Alipay
//! template message, an SMS), so that the demo shows what a customer would receive and tests and the benchmark can
//! check and count deliveries.
//!
//! - `GET /sandbox/inbox?channel=wechat|alipay|sms&recipient=&limit=` →
//!   `{"total": {"wechat": n, "alipay": n, "sms": n}, "messages": [..]}`, the messages newest first, at most `limit`
//!   (default 50, max 500), each `{id, channel, recipient, template_id, page, data | text, received_at,
//!   received_at_ms}`.
//!
//! Memory is bounded: beyond [`MAX_MESSAGES`] the oldest messages are dropped. The totals count every delivery since
//! the start and are never reset, so a benchmark can wait for N deliveries whatever was dropped.

use super::platforms::{lock, SandboxPlatforms};
use crate::error::ApiError;
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use chrono::{TimeZone, Utc};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Messages kept at most.
pub const MAX_MESSAGES: usize = 200_000;
pub const DEFAULT_LIMIT: usize = 50;
pub const MAX_LIMIT: usize = 500;

/// Where a message went out: the channels of `messages.channel`.
pub use crate::domain::message::Channel;

/// The slot of `channel` in the delivered counts.
fn slot(channel: Channel) -> usize {
    channel as usize
}

/// A message to record.
#[derive(Debug, Clone, Copy)]
pub struct Delivery<'a> {
    pub channel: Channel,
    /// The openid, Alipay user_id or open_id, or phone number the message went to.
    pub recipient: &'a str,
    /// The template (for an SMS, the gateway template).
    pub template_id: &'a str,
    pub page: Option<&'a str>,
    /// WeChat and Alipay: the template data as JSON text; SMS: the text.
    pub content: &'a str,
}

/// A recorded message, held compactly (the benchmark keeps 100,000 of them).
struct Delivered {
    seq: u64,
    channel: Channel,
    recipient: Box<str>,
    template_id: Box<str>,
    page: Option<Box<str>>,
    content: Box<str>,
    received_at_ms: i64,
}

impl Delivered {
    fn to_json(&self) -> Value {
        let received_at = Utc.timestamp_millis_opt(self.received_at_ms).single().map(|at| at.to_rfc3339());
        let mut message = json!({
            "id": self.seq,
            "channel": self.channel.as_str(),
            "recipient": self.recipient,
            "template_id": self.template_id,
            "page": self.page,
            "received_at": received_at,
            "received_at_ms": self.received_at_ms,
        });
        match self.channel {
            Channel::Sms => message["text"] = json!(self.content),
            Channel::Wechat | Channel::Alipay => {
                message["data"] = serde_json::from_str(&self.content).unwrap_or_else(|_| json!(self.content));
            }
        }
        message
    }
}

/// What the simulated platforms delivered.
#[derive(Default)]
pub struct Inbox {
    messages: Mutex<VecDeque<Delivered>>,
    delivered: [AtomicU64; 3],
    next_seq: AtomicU64,
}

impl Inbox {
    /// Records a delivered message; returns its sequence number (1, 2, ... across channels).
    pub fn record(&self, delivery: Delivery<'_>, now_ms: i64) -> u64 {
        let seq = self.next_seq.fetch_add(1, Ordering::Relaxed) + 1;
        let message = Delivered {
            seq,
            channel: delivery.channel,
            recipient: delivery.recipient.into(),
            template_id: delivery.template_id.into(),
            page: delivery.page.map(Into::into),
            content: delivery.content.into(),
            received_at_ms: now_ms,
        };
        {
            let mut messages = lock(&self.messages);
            while messages.len() >= MAX_MESSAGES {
                messages.pop_front();
            }
            messages.push_back(message);
        }
        self.delivered[slot(delivery.channel)].fetch_add(1, Ordering::Relaxed);
        seq
    }

    /// Messages delivered on `channel` since the start (never reset, whatever the bound dropped).
    pub fn delivered(&self, channel: Channel) -> u64 {
        self.delivered[slot(channel)].load(Ordering::Relaxed)
    }

    /// Messages held now.
    pub fn len(&self) -> usize {
        lock(&self.messages).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The newest messages matching the filters, newest first, at most `limit`.
    pub fn newest(&self, channel: Option<Channel>, recipient: Option<&str>, limit: usize) -> Vec<Value> {
        let messages = lock(&self.messages);
        messages
            .iter()
            .rev()
            .filter(|m| channel.is_none_or(|channel| m.channel == channel))
            .filter(|m| recipient.is_none_or(|recipient| &*m.recipient == recipient))
            .take(limit)
            .map(Delivered::to_json)
            .collect()
    }

    fn totals(&self) -> Value {
        json!({
            "wechat": self.delivered(Channel::Wechat),
            "alipay": self.delivered(Channel::Alipay),
            "sms": self.delivered(Channel::Sms),
        })
    }
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("", web::get().to(list));
}

#[derive(Deserialize)]
struct InboxQuery {
    channel: Option<String>,
    recipient: Option<String>,
    limit: Option<usize>,
}

/// `GET /sandbox/inbox`.
async fn list(state: web::Data<AppState>, query: web::Query<InboxQuery>) -> Result<HttpResponse, ApiError> {
    let inbox = &SandboxPlatforms::of(&state)?.inbox;
    let channel = match query.channel.as_deref().filter(|c| !c.is_empty()) {
        None => None,
        Some(text) => Some(
            Channel::parse(text)
                .ok_or_else(|| ApiError::bad_request("INVALID_CHANNEL", "`channel` must be wechat, alipay or sms"))?,
        ),
    };
    let recipient = query.recipient.as_deref().filter(|r| !r.is_empty());
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT).min(MAX_LIMIT);
    Ok(HttpResponse::Ok().json(json!({
        "total": inbox.totals(),
        "messages": inbox.newest(channel, recipient, limit),
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wechat(recipient: &str) -> Delivery<'_> {
        Delivery {
            channel: Channel::Wechat,
            recipient,
            template_id: "T1",
            page: Some("pages/bill/detail?id=1"),
            content: r#"{"thing1":{"value":"电费"}}"#,
        }
    }

    #[test]
    fn messages_are_listed_newest_first_with_their_data() {
        let inbox = Inbox::default();
        assert_eq!(inbox.record(wechat("o1"), 1_000), 1);
        assert_eq!(inbox.record(wechat("o2"), 2_000), 2);
        let listed = inbox.newest(None, None, 10);
        assert_eq!(listed.len(), 2);
        assert_eq!(listed[0]["recipient"], "o2");
        assert_eq!(listed[1]["recipient"], "o1");
        assert_eq!(listed[0]["data"]["thing1"]["value"], "电费");
        assert_eq!(listed[0]["received_at_ms"], 2_000);
        assert_eq!(listed[0]["received_at"], "1970-01-01T00:00:02+00:00");
    }

    #[test]
    fn filters_and_limit_apply() {
        let inbox = Inbox::default();
        inbox.record(wechat("o1"), 0);
        inbox.record(wechat("o2"), 0);
        let sms = Delivery {
            channel: Channel::Sms,
            recipient: "13800138000",
            template_id: "due",
            page: None,
            content: "您的电费",
        };
        inbox.record(sms, 0);
        assert_eq!(inbox.newest(Some(Channel::Wechat), None, 10).len(), 2);
        assert_eq!(inbox.newest(None, Some("o1"), 10).len(), 1);
        assert_eq!(inbox.newest(None, None, 1).len(), 1);
        let texts = inbox.newest(Some(Channel::Sms), None, 10);
        assert_eq!(texts[0]["text"], "您的电费");
        assert!(texts[0].get("data").is_none());
        assert_eq!(inbox.delivered(Channel::Wechat), 2);
        assert_eq!(inbox.delivered(Channel::Sms), 1);
        assert_eq!(inbox.delivered(Channel::Alipay), 0);
    }

    #[test]
    fn the_oldest_are_dropped_but_the_totals_keep_counting() {
        let inbox = Inbox::default();
        for n in 0..=MAX_MESSAGES {
            inbox.record(wechat(if n == 0 { "first" } else { "later" }), 0);
        }
        assert_eq!(inbox.len(), MAX_MESSAGES);
        assert!(inbox.newest(None, Some("first"), 10).is_empty());
        assert_eq!(inbox.delivered(Channel::Wechat), MAX_MESSAGES as u64 + 1);
    }
}
