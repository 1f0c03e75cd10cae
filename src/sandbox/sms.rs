//! The simulated SMS gateway under `/sandbox/sms`, receiving what `platform::sms` sends and delivering it to the
//! sandbox's inbox (channel `sms`).
//!
//! - `POST send`: `{message_id, phone, template, text}`, signed with the configured SMS secret (by default the
//!   sandbox's, `data/sandbox/sms_hmac.key`) like our write-back (`X-Ebill-Timestamp` within 300 s of the
//!   application's clock, `X-Ebill-Signature`), with `Idempotency-Key` equal to `message_id`. 200
//!   `{"status":"accepted","id":".."}` the first time; 200 `{"status":"duplicate","id":<the same id>}` for the same
//!   message again, which is not delivered twice; 409 for another message under a key already used; 401 for a bad
//!   signature or timestamp; 400 for a malformed message.
//! - `POST failures {"count": n}` → the next `n` sends are answered 503.
//!
//! Memory is bounded: beyond [`MAX_REMEMBERED`] keys the oldest are forgotten (a late repeat of one of those is
//! delivered again).

use super::bounded::Bounded;
use super::failures::{check_failure_count, FailureSwitch, FailuresRequest};
use super::inbox::{Channel, Delivery};
use super::platforms::{digest, lock, SandboxPlatforms};
use super::signed;
use crate::api::body::{parse_json, read_limited};
use crate::error::ApiError;
use crate::platform::signed_post::IDEMPOTENCY_KEY_HEADER;
use crate::platform::sms::SmsRequest;
use crate::state::AppState;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Idempotency keys remembered at most.
pub const MAX_REMEMBERED: usize = 200_000;
const MAX_BODY_BYTES: usize = 16 * 1024;
const MAX_KEY_CHARS: usize = 128;
const MAX_TEMPLATE_CHARS: usize = 64;
/// A long SMS is split into up to 8 parts of 67 characters; more than that is not a text message.
const MAX_TEXT_CHARS: usize = 536;

/// What the simulated SMS gateway remembers.
pub struct SmsMemory {
    /// Idempotency key → (our id, digest of the message), at most [`MAX_REMEMBERED`].
    sent: Mutex<Bounded<(String, [u8; 32])>>,
    requests: AtomicU64,
    failures: FailureSwitch,
}

impl Default for SmsMemory {
    fn default() -> Self {
        SmsMemory {
            sent: Mutex::new(Bounded::with_capacity(MAX_REMEMBERED)),
            requests: AtomicU64::default(),
            failures: FailureSwitch::default(),
        }
    }
}

/// What accepting a message did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Acceptance {
    /// New: deliver it under this id.
    Accepted(String),
    /// The same message came before under its key, with this id.
    Duplicate(String),
    /// Another message came before under the same key.
    Conflict,
}

impl SmsMemory {
    /// Remembers `request` under its key, with the id `make_id` gives when it is new.
    pub fn accept(&self, request: &SmsRequest, make_id: impl FnOnce() -> String) -> Acceptance {
        let fingerprint = digest(&[&request.message_id, &request.phone, &request.template, &request.text]);
        let mut sent = lock(&self.sent);
        if let Some((id, seen)) = sent.get(&request.message_id) {
            return if *seen == fingerprint { Acceptance::Duplicate(id.clone()) } else { Acceptance::Conflict };
        }
        let id = make_id();
        sent.insert_new(request.message_id.clone(), (id.clone(), fingerprint));
        Acceptance::Accepted(id)
    }

    /// POSTs received, whatever their answer.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// The next `count` sends fail (replacing any failures still pending).
    pub fn fail_next(&self, count: u64) {
        self.failures.arm(count, 503);
    }
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/send", web::post().to(send)).route("/failures", web::post().to(fail_next));
}

/// `POST /sandbox/sms/send`.
async fn send(state: web::Data<AppState>, req: HttpRequest, payload: web::Payload) -> Result<HttpResponse, ApiError> {
    let sandbox = SandboxPlatforms::of(&state)?;
    let memory = &sandbox.sms;
    let number = memory.requests.fetch_add(1, Ordering::Relaxed) + 1;
    let body = read_limited(&req, payload, MAX_BODY_BYTES).await?;
    if memory.failures.take().is_some() {
        return Err(ApiError::unavailable("SANDBOX_INJECTED_FAILURE", "this SMS fails as asked (failures)"));
    }
    // The secret our side is configured with, as the real gateway would share it; the sandbox's own by default.
    let secret = match &state.credentials.sms {
        Some(gateway) => &gateway.secret,
        None => &sandbox.keys.sms_secret,
    };
    signed::verify(&req, &body, secret, state.now_ms())?;
    let request: SmsRequest = parse_json(&body)?;
    let key = req.headers().get(IDEMPOTENCY_KEY_HEADER).and_then(|v| v.to_str().ok());
    if key != Some(request.message_id.as_str()) {
        return Err(ApiError::bad_request("IDEMPOTENCY_KEY_MISMATCH", "send the message_id as Idempotency-Key"));
    }
    check_request(&request)?;
    let inbox = &sandbox.inbox;
    match memory.accept(&request, || format!("SMS{number:016}")) {
        Acceptance::Accepted(id) => {
            let delivery = Delivery {
                channel: Channel::Sms,
                recipient: &request.phone,
                template_id: &request.template,
                page: None,
                content: &request.text,
            };
            inbox.record(delivery, state.now_ms());
            Ok(HttpResponse::Ok().json(json!({ "status": "accepted", "id": id })))
        }
        Acceptance::Duplicate(id) => Ok(HttpResponse::Ok().json(json!({ "status": "duplicate", "id": id }))),
        Acceptance::Conflict => Err(ApiError::conflict(
            "IDEMPOTENCY_KEY_REUSED",
            "another message was already sent under this Idempotency-Key",
        )),
    }
}

/// `POST /sandbox/sms/failures`: the next `count` sends are answered 503.
async fn fail_next(state: web::Data<AppState>, request: web::Json<FailuresRequest>) -> Result<HttpResponse, ApiError> {
    let memory = &SandboxPlatforms::of(&state)?.sms;
    check_failure_count(request.count)?;
    memory.fail_next(request.count);
    Ok(HttpResponse::Ok().json(json!({ "pending_failures": request.count })))
}

/// What the gateway checks of a message before sending it.
fn check_request(request: &SmsRequest) -> Result<(), ApiError> {
    let invalid = |message: &str| Err(ApiError::bad_request("INVALID_SMS", message));
    if !(1..=MAX_KEY_CHARS).contains(&request.message_id.chars().count()) {
        return invalid("message_id must be 1 to 128 characters");
    }
    let digits = request.phone.strip_prefix('+').unwrap_or(&request.phone);
    if !(5..=20).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return invalid("phone must be 5 to 20 digits, optionally after +");
    }
    if !(1..=MAX_TEMPLATE_CHARS).contains(&request.template.chars().count()) {
        return invalid("template must be 1 to 64 characters");
    }
    if !(1..=MAX_TEXT_CHARS).contains(&request.text.chars().count()) {
        return invalid("text must be 1 to 536 characters");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sms(id: &str) -> SmsRequest {
        SmsRequest {
            message_id: id.into(),
            phone: "13800138000".into(),
            template: "bill_due".into(),
            text: "您的电费账单3日后到期".into(),
        }
    }

    #[test]
    fn a_message_is_accepted_once_per_key() {
        let memory = SmsMemory::default();
        assert_eq!(memory.accept(&sms("m1"), || "S1".into()), Acceptance::Accepted("S1".into()));
        assert_eq!(memory.accept(&sms("m1"), || "S2".into()), Acceptance::Duplicate("S1".into()));
        let changed = SmsRequest { text: "另一条".into(), ..sms("m1") };
        assert_eq!(memory.accept(&changed, || "S3".into()), Acceptance::Conflict);
    }

    #[test]
    fn the_oldest_keys_are_forgotten_beyond_the_bound() {
        let memory = SmsMemory::default();
        for n in 0..=MAX_REMEMBERED {
            memory.accept(&sms(&format!("m{n}")), || format!("S{n}"));
        }
        assert_eq!(lock(&memory.sent).len(), MAX_REMEMBERED);
        assert_eq!(memory.accept(&sms("m0"), || "again".into()), Acceptance::Accepted("again".into()));
    }

    #[test]
    fn failures_are_taken_one_per_send() {
        let memory = SmsMemory::default();
        memory.fail_next(1);
        assert!(memory.failures.take().is_some());
        assert!(memory.failures.take().is_none());
    }

    #[test]
    fn malformed_messages_are_refused() {
        assert!(check_request(&sms("m1")).is_ok());
        assert!(check_request(&SmsRequest { phone: "+8613800138000".into(), ..sms("m1") }).is_ok());
        for bad in [
            sms(""),
            SmsRequest { phone: "1380013800a".into(), ..sms("m1") },
            SmsRequest { phone: "123".into(), ..sms("m1") },
            SmsRequest { template: String::new(), ..sms("m1") },
            SmsRequest { text: String::new(), ..sms("m1") },
            SmsRequest { text: "字".repeat(MAX_TEXT_CHARS + 1), ..sms("m1") },
        ] {
            assert_eq!(check_request(&bad).unwrap_err().code(), "INVALID_SMS", "{bad:?}");
        }
    }
}
