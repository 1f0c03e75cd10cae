//! Subscribe messages (PROTOCOLS.md, "Subscribe messages"): `POST /cgi-bin/message/subscribe/send` with the access
//! token. One call per message, never retried here: WeChat may have delivered a message whose answer was lost, and
//! the delivery queue, which retries with its backoff, is the one place that decides to send again. A refused token
//! is [`WechatError::TokenRejected`]: run the send through [`super::WechatTokens::with_token`] to refresh it once.
//!
//! How the `errcode`s come back: `43101` (refused, or no one-time acceptance left) is [`WechatError::Refused`];
//! `40003` (openid), `40037` (template id), `47003` (data value), `41030` (page) are [`WechatError::Platform`], also
//! permanent; `-1`, HTTP 5xx/429, timeouts and connection failures are [`WechatError::Unavailable`]
//! ([`WechatError::is_transient`]); [`WechatError::errcode`] tells the code where there is one.

use super::transport::decode_reply;
use super::{WechatClient, WechatError};
use crate::platform::http::{send_bounded, HttpFailure};
use serde_json::{Map, Value};

/// The send's answer is `{errcode, errmsg, msgid}`; anything far larger is not one.
const MAX_BODY_BYTES: usize = 64 * 1024;
/// How much of WeChat's answer a receipt keeps.
pub const MAX_REPLY_CHARS: usize = 500;

/// One subscribe message. `data` maps template keys to `{"value": ".."}` (e.g. `{"thing1": {"value": "电费账单"}}`),
/// already cut to each key type's limits. `miniprogram_state` (`developer`, `trial`, `formal`) and `lang`
/// (`zh_CN`, ...) are sent when not empty.
#[derive(Debug, Clone, Copy)]
pub struct SubscribeMessage<'a> {
    /// The recipient's openid in this mini-program.
    pub touser: &'a str,
    pub template_id: &'a str,
    /// The page the message opens, e.g. `pages/bill/detail?id=..`; `None` opens nothing.
    pub page: Option<&'a str>,
    pub data: &'a Value,
    pub miniprogram_state: &'a str,
    pub lang: &'a str,
}

impl SubscribeMessage<'_> {
    /// The request body, as WeChat documents it.
    fn body(&self) -> Value {
        let mut body = Map::new();
        body.insert("touser".into(), Value::from(self.touser));
        body.insert("template_id".into(), Value::from(self.template_id));
        if let Some(page) = self.page.filter(|page| !page.is_empty()) {
            body.insert("page".into(), Value::from(page));
        }
        body.insert("data".into(), self.data.clone());
        if !self.miniprogram_state.is_empty() {
            body.insert("miniprogram_state".into(), Value::from(self.miniprogram_state));
        }
        if !self.lang.is_empty() {
            body.insert("lang".into(), Value::from(self.lang));
        }
        Value::Object(body)
    }
}

/// What WeChat answered a delivered message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendReceipt {
    /// WeChat's id of the message (a number on the wire), when it gave one.
    pub msgid: Option<String>,
    /// The answer as received (`{"errcode":0,"errmsg":"ok","msgid":..}`), at most [`MAX_REPLY_CHARS`] characters,
    /// to be kept with the message.
    pub reply: String,
}

impl WechatClient {
    /// Sends one subscribe message with `access_token`, once (see the module documentation for the errors).
    pub async fn send_subscribe_message(
        &self,
        access_token: &str,
        message: &SubscribeMessage<'_>,
    ) -> Result<SendReceipt, WechatError> {
        let url = self.url("/cgi-bin/message/subscribe/send");
        let request = self.http.post(&url).query(&[("access_token", access_token)]).json(&message.body());
        let body = send_bounded(request, self.timeout, MAX_BODY_BYTES).await.map_err(|failure| match failure {
            HttpFailure::Unavailable(why) => WechatError::Unavailable(why),
            HttpFailure::Malformed(why) => WechatError::MalformedResponse(why),
        })?;
        let reply = decode_reply(&body)?;
        Ok(SendReceipt { msgid: msgid_of(&reply), reply: reply_text(&body, access_token) })
    }
}

/// `msgid` as text, whether WeChat sent it as a number or a string.
fn msgid_of(reply: &Value) -> Option<String> {
    match reply.get("msgid")? {
        Value::Number(number) => Some(number.to_string()),
        Value::String(text) if !text.is_empty() => Some(text.clone()),
        _ => None,
    }
}

/// The answer as text to keep: never the token (should WeChat ever echo it), at most [`MAX_REPLY_CHARS`].
fn reply_text(body: &[u8], access_token: &str) -> String {
    let mut text = String::from_utf8_lossy(body).into_owned();
    if !access_token.is_empty() {
        text = text.replace(access_token, "***");
    }
    match text.char_indices().nth(MAX_REPLY_CHARS) {
        Some((cut, _)) => text[..cut].to_owned(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn message(data: &Value) -> SubscribeMessage<'_> {
        SubscribeMessage {
            touser: "oQ6Lx5Ex0aC4m9sSLqv2v8GqSGa8",
            template_id: "bDmywsp2oEHjwAadTGKkUJ-eJEiMiOf7H-dZ7wjdw80",
            page: Some("pages/bill/detail?id=7012"),
            data,
            miniprogram_state: "formal",
            lang: "zh_CN",
        }
    }

    #[test]
    fn the_body_has_the_documented_members() {
        let data = json!({"thing1": {"value": "电费账单"}, "amount2": {"value": "¥139.35"}});
        assert_eq!(
            message(&data).body(),
            json!({
                "touser": "oQ6Lx5Ex0aC4m9sSLqv2v8GqSGa8",
                "template_id": "bDmywsp2oEHjwAadTGKkUJ-eJEiMiOf7H-dZ7wjdw80",
                "page": "pages/bill/detail?id=7012",
                "data": {"thing1": {"value": "电费账单"}, "amount2": {"value": "¥139.35"}},
                "miniprogram_state": "formal",
                "lang": "zh_CN",
            })
        );
    }

    #[test]
    fn empty_optional_members_are_left_out() {
        let data = json!({"thing1": {"value": "x"}});
        let body = SubscribeMessage { page: None, miniprogram_state: "", lang: "", ..message(&data) }.body();
        let keys: Vec<&str> = body.as_object().expect("an object").keys().map(String::as_str).collect();
        assert_eq!(keys, ["data", "template_id", "touser"]);
        assert!(SubscribeMessage { page: Some(""), ..message(&data) }.body().get("page").is_none());
    }

    #[test]
    fn the_send_can_run_on_any_worker_thread() {
        fn assert_send<T: Send>(_: &T) {}
        let creds = crate::platform::credentials::WechatCredentials {
            appid: "wx0000000000000001".into(),
            secret: crate::config::Secret::new(b"s".to_vec()),
            api_base_url: "http://127.0.0.1:9".into(),
            timeout: std::time::Duration::from_secs(1),
        };
        let client = WechatClient::new(&creds, reqwest::Client::new());
        let data = json!({});
        let message = message(&data);
        assert_send(&client.send_subscribe_message("token", &message));
    }

    #[test]
    fn msgid_is_read_as_a_number_or_a_string() {
        assert_eq!(msgid_of(&json!({"msgid": 1_700_000_000_000_000_001_u64})).as_deref(), Some("1700000000000000001"));
        assert_eq!(msgid_of(&json!({"msgid": "42"})).as_deref(), Some("42"));
        assert_eq!(msgid_of(&json!({"errcode": 0})), None);
    }

    #[test]
    fn the_reply_is_cut_and_never_holds_the_token() {
        let token = "ACCESS_TOKEN_abcdef";
        let echoed = format!(r#"{{"errcode":0,"errmsg":"ok {token}","msgid":1}}"#);
        assert_eq!(reply_text(echoed.as_bytes(), token), r#"{"errcode":0,"errmsg":"ok ***","msgid":1}"#);
        let long = "消".repeat(MAX_REPLY_CHARS + 10);
        assert_eq!(reply_text(long.as_bytes(), token).chars().count(), MAX_REPLY_CHARS);
    }

    #[test]
    fn send_errcodes_map_to_what_the_queue_acts_on() {
        let error = |body: &str| decode_reply(body.as_bytes()).unwrap_err();
        assert!(matches!(
            error(r#"{"errcode":43101,"errmsg":"user refuse to accept the msg rid: 1"}"#),
            WechatError::Refused { code: 43101, .. }
        ));
        for code in [40003, 40037, 47003, 41030] {
            let refused = error(&format!(r#"{{"errcode":{code},"errmsg":"x"}}"#));
            assert!(matches!(refused, WechatError::Platform { .. }), "{code}");
            assert!(!refused.is_transient(), "{code}");
            assert_eq!(refused.errcode(), Some(code));
        }
        assert!(error(r#"{"errcode":-1,"errmsg":"system error"}"#).is_transient());
        assert_eq!(error(r#"{"errcode":40001,"errmsg":"invalid credential"}"#), WechatError::TokenRejected(40001));
        assert_eq!(error(r#"{"errcode":42001,"errmsg":"access_token expired"}"#), WechatError::TokenRejected(42001));
    }
}
