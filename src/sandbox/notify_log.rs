//! The notifies the simulated WeChat Pay and Alipay sent to our notify endpoints, and what we answered: a bounded
//! log (the last [`MAX_KEPT`]) for the demo's "behind the scenes" panel and the tests. Every attempt is logged,
//! retries included.
//!
//! - `GET /sandbox/notifies?out_trade_no=&limit=` → `{"notifies": [...]}`, newest first; `out_trade_no` (empty =
//!   any) keeps that order's, `limit` (empty = [`DEFAULT_LIMIT`]) is 1 to [`MAX_KEPT`]. Each notify reads
//!   `{id, platform: "wechatpay"|"alipay", kind: "payment"|"refund", out_trade_no, transaction_id, amount_fen,
//!   sent_at_ms, our_status, our_reply, error}`.

use crate::domain::account::truncate;
use crate::error::ApiError;
use crate::sandbox::platforms::{lock, SandboxPlatforms};
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::VecDeque;
use std::sync::Mutex;

/// Notifies remembered at most; the oldest are forgotten beyond.
pub const MAX_KEPT: usize = 500;
/// Notifies listed when the request names no limit.
pub const DEFAULT_LIMIT: usize = 50;
/// Characters of our answer kept: enough to see `{"code":"SUCCESS"}` or `success`, or the start of an error.
pub const MAX_REPLY_CHARS: usize = 200;

/// Which simulated platform sent the notify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NotifyPlatform {
    Wechatpay,
    Alipay,
}

/// What the notify announced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NotifyKind {
    Payment,
    Refund,
}

/// What a notify is about, as its sender knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifySubject {
    pub platform: NotifyPlatform,
    pub kind: NotifyKind,
    pub out_trade_no: String,
    /// WeChat Pay's `transaction_id`, Alipay's `trade_no`.
    pub transaction_id: String,
    /// What the notify says was paid (or refunded).
    pub amount_fen: i64,
}

/// How our notify endpoint answered one notify.
#[derive(Debug, Clone, Copy, Default)]
pub struct OurAnswer<'a> {
    /// `None` when no answer came.
    pub status: Option<u16>,
    pub reply: Option<&'a str>,
    /// Why no answer came (or why the notify could not be sent).
    pub error: Option<&'a str>,
}

/// One notify sent, as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LoggedNotify {
    /// 1, 2, ... in the order sent.
    pub id: u64,
    pub platform: NotifyPlatform,
    pub kind: NotifyKind,
    pub out_trade_no: String,
    pub transaction_id: String,
    pub amount_fen: i64,
    pub sent_at_ms: i64,
    pub our_status: Option<u16>,
    /// The first [`MAX_REPLY_CHARS`] characters of our answer's body.
    pub our_reply: Option<String>,
    pub error: Option<String>,
}

/// The log; one per sandbox.
#[derive(Default)]
pub struct NotifyLog {
    entries: Mutex<Entries>,
}

#[derive(Default)]
struct Entries {
    last_id: u64,
    /// Oldest first.
    kept: VecDeque<LoggedNotify>,
}

impl NotifyLog {
    /// Logs a notify sent at `sent_at_ms` and how we answered it; returns its id.
    pub fn record(&self, subject: NotifySubject, sent_at_ms: i64, answer: OurAnswer<'_>) -> u64 {
        let mut entries = lock(&self.entries);
        entries.last_id += 1;
        let id = entries.last_id;
        while entries.kept.len() >= MAX_KEPT {
            entries.kept.pop_front();
        }
        entries.kept.push_back(LoggedNotify {
            id,
            platform: subject.platform,
            kind: subject.kind,
            out_trade_no: subject.out_trade_no,
            transaction_id: subject.transaction_id,
            amount_fen: subject.amount_fen,
            sent_at_ms,
            our_status: answer.status,
            our_reply: answer.reply.map(|reply| truncate(reply, MAX_REPLY_CHARS)),
            error: answer.error.map(str::to_owned),
        });
        id
    }

    /// At most `limit` notifies, newest first; only `out_trade_no`'s when given.
    pub fn newest(&self, out_trade_no: Option<&str>, limit: usize) -> Vec<LoggedNotify> {
        let entries = lock(&self.entries);
        entries
            .kept
            .iter()
            .rev()
            .filter(|notify| out_trade_no.is_none_or(|no| notify.out_trade_no == no))
            .take(limit)
            .cloned()
            .collect()
    }
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("", web::get().to(list));
}

/// Both parameters may come empty (`?out_trade_no=&limit=`), as a page's form sends them: empty means absent.
#[derive(Deserialize)]
struct ListQuery {
    out_trade_no: Option<String>,
    limit: Option<String>,
}

/// `GET /sandbox/notifies`.
async fn list(state: web::Data<AppState>, query: web::Query<ListQuery>) -> Result<HttpResponse, ApiError> {
    let log = &SandboxPlatforms::of(&state)?.notify_log;
    let limit = match query.limit.as_deref().map(str::trim).filter(|text| !text.is_empty()) {
        None => DEFAULT_LIMIT,
        Some(text) => text.parse().ok().filter(|limit| (1..=MAX_KEPT).contains(limit)).ok_or_else(|| {
            ApiError::bad_request("INVALID_LIMIT", format!("`limit` must be a whole number from 1 to {MAX_KEPT}"))
        })?,
    };
    let out_trade_no = query.out_trade_no.as_deref().filter(|no| !no.is_empty());
    Ok(HttpResponse::Ok().json(json!({ "notifies": log.newest(out_trade_no, limit) })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject(out_trade_no: &str) -> NotifySubject {
        NotifySubject {
            platform: NotifyPlatform::Wechatpay,
            kind: NotifyKind::Payment,
            out_trade_no: out_trade_no.into(),
            transaction_id: "4200001234202610201234567890".into(),
            amount_fen: 13_923,
        }
    }

    fn answered(status: u16, reply: &str) -> OurAnswer<'_> {
        OurAnswer { status: Some(status), reply: Some(reply), error: None }
    }

    #[test]
    fn the_last_500_are_kept_newest_first() {
        let log = NotifyLog::default();
        for n in 1..=MAX_KEPT + 20 {
            log.record(subject(&format!("EB{n}")), n as i64, answered(200, ""));
        }
        let all = log.newest(None, usize::MAX);
        assert_eq!(all.len(), MAX_KEPT);
        assert_eq!(all[0].id, (MAX_KEPT + 20) as u64);
        assert_eq!(all[MAX_KEPT - 1].out_trade_no, "EB21", "the 20 oldest are forgotten");
        assert!(all.windows(2).all(|pair| pair[0].id > pair[1].id));
    }

    #[test]
    fn the_list_is_filtered_by_order_and_limited() {
        let log = NotifyLog::default();
        log.record(subject("EB1"), 1, answered(200, r#"{"code":"SUCCESS"}"#));
        log.record(subject("EB2"), 2, answered(200, ""));
        log.record(subject("EB1"), 3, answered(500, r#"{"code":"FAIL"}"#));
        let of_eb1 = log.newest(Some("EB1"), 10);
        assert_eq!(of_eb1.iter().map(|n| n.sent_at_ms).collect::<Vec<_>>(), [3, 1]);
        assert_eq!(log.newest(None, 2).iter().map(|n| n.id).collect::<Vec<_>>(), [3, 2]);
        assert!(log.newest(Some("EB9"), 10).is_empty());
    }

    #[test]
    fn our_reply_is_cut_to_200_characters_and_errors_are_kept() {
        let log = NotifyLog::default();
        let long = "应".repeat(300);
        log.record(subject("EB1"), 1, answered(500, &long));
        let unanswered = OurAnswer { error: Some("the notify URL did not answer within 5 s"), ..OurAnswer::default() };
        log.record(subject("EB1"), 2, unanswered);
        let [second, first] = <[LoggedNotify; 2]>::try_from(log.newest(None, 10)).unwrap();
        assert_eq!(first.our_reply.unwrap().chars().count(), MAX_REPLY_CHARS);
        assert_eq!((second.our_status, second.our_reply), (None, None));
        assert_eq!(second.error.as_deref(), Some("the notify URL did not answer within 5 s"));
    }

    #[test]
    fn a_notify_reads_as_the_demo_expects() {
        let log = NotifyLog::default();
        let subject = NotifySubject {
            platform: NotifyPlatform::Alipay,
            kind: NotifyKind::Refund,
            transaction_id: "2026102022001000000000000001".into(),
            ..subject("EB1")
        };
        log.record(subject, 7, answered(200, "success"));
        let listed = serde_json::to_value(&log.newest(None, 1)[0]).unwrap();
        assert_eq!(
            listed,
            json!({
                "id": 1, "platform": "alipay", "kind": "refund", "out_trade_no": "EB1",
                "transaction_id": "2026102022001000000000000001", "amount_fen": 13_923, "sent_at_ms": 7,
                "our_status": 200, "our_reply": "success", "error": null,
            })
        );
    }
}
