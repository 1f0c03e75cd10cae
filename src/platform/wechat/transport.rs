//! One WeChat API call on the wire: send, read a bounded body, decode the `errcode` envelope, and retry once after a
//! transient failure (`-1`, HTTP 5xx, timeout, connection error). URLs carry the AppSecret or the access token, so
//! they never reach an error message or a log line.

use super::{WechatClient, WechatError};
use crate::platform::http::{send_bounded, HttpFailure};
use serde_json::Value;
use std::time::Duration;

/// WeChat's answers are a few hundred bytes; anything far larger is not an answer of the API.
const MAX_BODY_BYTES: usize = 64 * 1024;
/// Pause before the one retry: long enough to step past a blip, short enough for a login.
const RETRY_PAUSE: Duration = Duration::from_millis(200);

impl WechatClient {
    /// Sends the request `build` makes, and once more (rebuilt) after a transient failure. Returns the decoded JSON
    /// object of a reply whose `errcode` is 0 or absent.
    pub(super) async fn call(&self, build: impl Fn() -> reqwest::RequestBuilder) -> Result<Value, WechatError> {
        match self.send_once(build()).await {
            Err(error) if error.is_transient() => {
                tracing::warn!(appid = %self.appid, %error, "WeChat call failed; retrying once");
                tokio::time::sleep(RETRY_PAUSE).await;
                match self.send_once(build()).await {
                    // The first attempt may have reached WeChat and used the code up before it failed for us:
                    // the code was not the client's fault, the platform was.
                    Err(WechatError::InvalidCode) => Err(error),
                    second => second,
                }
            }
            other => other,
        }
    }

    async fn send_once(&self, request: reqwest::RequestBuilder) -> Result<Value, WechatError> {
        let body = send_bounded(request, self.timeout, MAX_BODY_BYTES).await.map_err(|failure| match failure {
            HttpFailure::Unavailable(why) => WechatError::Unavailable(why),
            HttpFailure::Malformed(why) => WechatError::MalformedResponse(why),
        })?;
        decode_reply(&body)
    }
}

/// Decodes a reply: a JSON object whose `errcode` (absent means 0) says whether it succeeded. WeChat sends
/// `jscode2session` as `text/plain`, so the content type is not checked.
pub(super) fn decode_reply(body: &[u8]) -> Result<Value, WechatError> {
    let reply: Value =
        serde_json::from_slice(body).map_err(|_| WechatError::MalformedResponse("the body is not JSON".into()))?;
    let Some(object) = reply.as_object() else {
        return Err(WechatError::MalformedResponse("the body is not a JSON object".into()));
    };
    let code = match object.get("errcode") {
        None | Some(Value::Null) => 0,
        Some(Value::Number(n)) => n.as_i64().ok_or_else(|| WechatError::MalformedResponse("errcode".into()))?,
        Some(Value::String(s)) => s.trim().parse().map_err(|_| WechatError::MalformedResponse("errcode".into()))?,
        Some(_) => return Err(WechatError::MalformedResponse("errcode is not a number".into())),
    };
    let msg = object.get("errmsg").and_then(Value::as_str).unwrap_or_default();
    match WechatError::from_errcode(code, msg) {
        None => Ok(reply),
        Some(error) => Err(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_errcode_means_success() {
        let reply = decode_reply(br#"{"openid":"o1","session_key":"k"}"#).expect("success");
        assert_eq!(reply["openid"], "o1");
    }

    #[test]
    fn errcode_zero_means_success() {
        assert!(decode_reply(br#"{"errcode":0,"errmsg":"ok","phone_info":{}}"#).is_ok());
    }

    #[test]
    fn errcodes_become_errors() {
        assert_eq!(
            decode_reply(br#"{"errcode":40029,"errmsg":"invalid code, rid: 1"}"#),
            Err(WechatError::InvalidCode)
        );
        assert_eq!(decode_reply(br#"{"errcode":45011,"errmsg":"x"}"#), Err(WechatError::RateLimited));
        assert_eq!(decode_reply(br#"{"errcode":"40226","errmsg":"x"}"#), Err(WechatError::Blocked));
        assert!(decode_reply(br#"{"errcode":-1,"errmsg":"system error"}"#).is_err_and(|e| e.is_transient()));
    }

    #[test]
    fn non_json_and_non_objects_are_malformed() {
        assert!(matches!(decode_reply(b"<html>502</html>"), Err(WechatError::MalformedResponse(_))));
        assert!(matches!(decode_reply(b"[1,2]"), Err(WechatError::MalformedResponse(_))));
        assert!(matches!(decode_reply(br#"{"errcode":true}"#), Err(WechatError::MalformedResponse(_))));
    }
}
