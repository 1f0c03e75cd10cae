//! Login: `code2Session` turns the code of `wx.login` into the user's `openid` (and `unionid` when the app is bound
//! to an Open Platform account) and a `session_key`, which never leaves the server.

use super::{plausible_code, WechatClient, WechatError};
use crate::config::Secret;
use serde::Deserialize;

/// Who logged in. `session_key` decrypts the old APIs' `encryptedData`; its `Debug` shows nothing.
#[derive(Debug, Clone)]
pub struct WechatSession {
    pub openid: String,
    pub unionid: Option<String>,
    pub session_key: Secret,
}

#[derive(Deserialize)]
struct Code2SessionReply {
    openid: String,
    session_key: String,
    #[serde(default)]
    unionid: Option<String>,
}

impl WechatClient {
    /// `GET /sns/jscode2session`. Invalid or used codes are [`WechatError::InvalidCode`]; busy and transport
    /// failures are retried once before [`WechatError::Unavailable`].
    pub async fn code2session(&self, code: &str) -> Result<WechatSession, WechatError> {
        if !plausible_code(code) {
            return Err(WechatError::InvalidCode);
        }
        let url = self.url("/sns/jscode2session");
        let secret = self.secret_text();
        let reply = self
            .call(|| {
                self.http.get(&url).query(&[
                    ("appid", self.appid.as_str()),
                    ("secret", secret.as_str()),
                    ("js_code", code),
                    ("grant_type", "authorization_code"),
                ])
            })
            .await?;
        // Generic messages on purpose: serde's would quote values, and one of them is the session key.
        let reply: Code2SessionReply = serde_json::from_value(reply)
            .map_err(|_| WechatError::MalformedResponse("jscode2session lacks openid or session_key".into()))?;
        if reply.openid.is_empty() || reply.session_key.is_empty() {
            return Err(WechatError::MalformedResponse("jscode2session gave an empty openid or session_key".into()));
        }
        Ok(WechatSession {
            openid: reply.openid,
            unionid: reply.unionid.filter(|u| !u.is_empty()),
            session_key: Secret::new(reply.session_key.into_bytes()),
        })
    }
}
