//! Posting a notification to the merchant as WeChat Pay does: the resource encrypted with the merchant's APIv3 key,
//! the body signed with the platform key (`Wechatpay-*` headers), 5 seconds for the merchant to answer. What the
//! merchant answered is reported back, for the tests and the demo, and logged in the sandbox's notify log.

use crate::platform::crypto::aes_gcm::ApiV3Key;
use crate::platform::wechatpay::{
    resource_nonce, sign_notification, signature_nonce, NotificationToSend, PlatformSigner,
};
use crate::sandbox::keys::SANDBOX_WECHATPAY_PUBLIC_KEY_ID;
use crate::sandbox::notify_log::{NotifySubject, OurAnswer};
use crate::sandbox::platforms::SandboxPlatforms;
use crate::state::AppState;
use std::time::Duration;

/// WeChat Pay waits this long for the merchant's answer.
const NOTIFY_TIMEOUT: Duration = Duration::from_secs(5);
/// How much of the merchant's answer is kept for the report.
const MAX_REPORTED_BODY: usize = 4096;
/// The User-Agent of WeChat Pay's notifications.
const NOTIFY_USER_AGENT: &str = "Mozilla/4.0";

/// One event to send: the notification's fields and the resource's plaintext.
#[derive(Debug, Clone)]
pub(super) struct Event {
    pub id: String,
    pub create_time: String,
    /// `TRANSACTION.SUCCESS`, `REFUND.SUCCESS`.
    pub event_type: &'static str,
    pub summary: &'static str,
    /// `transaction` or `refund`, also the associated data.
    pub original_type: &'static str,
    pub plaintext: String,
    /// What the notify log says the event is about.
    pub subject: NotifySubject,
}

/// How the merchant answered a notification.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Delivery {
    /// The HTTP status of the merchant's answer; `None` when there was none.
    pub notify_status: Option<u16>,
    /// The start of its body.
    pub notify_body: Option<String>,
    /// Why there was no answer (or no notification).
    pub notify_error: Option<String>,
}

impl Delivery {
    fn failed(why: impl Into<String>) -> Delivery {
        Delivery { notify_error: Some(why.into()), ..Delivery::default() }
    }

    /// Answered 2xx: WeChat Pay stops retrying.
    pub fn accepted(&self) -> bool {
        self.notify_status.is_some_and(|status| (200..300).contains(&status))
    }
}

/// Encrypts, signs (now) and posts `event` to `url`; the attempt goes to the notify log.
pub(super) async fn deliver(state: &AppState, sandbox: &SandboxPlatforms, url: &str, event: &Event) -> Delivery {
    let sent_at_ms = state.now_ms();
    let delivery = post(state, sandbox, url, event).await;
    let answer = OurAnswer {
        status: delivery.notify_status,
        reply: delivery.notify_body.as_deref(),
        error: delivery.notify_error.as_deref(),
    };
    sandbox.notify_log.record(event.subject.clone(), sent_at_ms, answer);
    delivery
}

async fn post(state: &AppState, sandbox: &SandboxPlatforms, url: &str, event: &Event) -> Delivery {
    let api_v3_key = match ApiV3Key::new(sandbox.keys.wechatpay_apiv3_key.expose()) {
        Ok(key) => key,
        Err(e) => return Delivery::failed(format!("the sandbox APIv3 key is unusable: {e}")),
    };
    let signer = PlatformSigner { key: &sandbox.keys.wechatpay_platform_key, serial: SANDBOX_WECHATPAY_PUBLIC_KEY_ID };
    let notification = NotificationToSend {
        id: &event.id,
        create_time: &event.create_time,
        event_type: event.event_type,
        summary: event.summary,
        original_type: event.original_type,
        plaintext: event.plaintext.as_bytes(),
    };
    let timestamp = state.now_ms().div_euclid(1000);
    let signed =
        match sign_notification(signer, &api_v3_key, &notification, timestamp, &signature_nonce(), &resource_nonce()) {
            Ok(signed) => signed,
            Err(e) => return Delivery::failed(format!("the notification could not be signed: {e}")),
        };
    let mut request = state
        .http
        .post(url)
        .timeout(NOTIFY_TIMEOUT)
        .header("Content-Type", "application/json")
        .header("User-Agent", NOTIFY_USER_AGENT);
    for (name, value) in signed.headers.pairs() {
        request = request.header(name, value);
    }
    let mut response = match request.body(signed.body).send().await {
        Ok(response) => response,
        Err(e) if e.is_timeout() => return Delivery::failed("the notify URL did not answer within 5 s"),
        Err(e) => return Delivery::failed(format!("the notify URL could not be reached: {}", e.without_url())),
    };
    let status = response.status().as_u16();
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        let room = MAX_REPORTED_BODY - body.len();
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() >= MAX_REPORTED_BODY {
            break;
        }
    }
    Delivery {
        notify_status: Some(status),
        notify_body: Some(String::from_utf8_lossy(&body).into_owned()),
        notify_error: None,
    }
}
