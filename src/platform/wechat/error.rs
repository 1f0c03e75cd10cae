//! What can go wrong talking to WeChat, with WeChat's `errcode`s mapped to what callers act on (PROTOCOLS.md).

/// A failed WeChat call. Callers match on the variant: `InvalidCode` → ask the mini-program for a fresh code,
/// `RateLimited` → 429, `Unavailable` → 503 (already retried once), the rest → an internal failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WechatError {
    /// `40029` invalid code, `40163` code already used: codes are single-use and live 5 minutes.
    #[error("the code is invalid, expired or already used")]
    InvalidCode,
    /// `45011`: at most 100 calls per user per minute.
    #[error("WeChat rate-limits this user (45011)")]
    RateLimited,
    /// `40226`: WeChat flagged the user as high-risk.
    #[error("WeChat blocked this high-risk user (40226)")]
    Blocked,
    /// `40001` / `42001`: the access token is invalid or expired (also after one refresh and retry).
    #[error("WeChat refused the access token ({0})")]
    TokenRejected(i64),
    /// `-1` system busy, HTTP 5xx, timeout or connection failure (after one retry, except for message sends).
    #[error("WeChat is unavailable: {0}")]
    Unavailable(String),
    /// `43101`: the user refused the subscribe message, or has no one-time acceptance left for the template. Do not
    /// retry; the user's credits for the template are gone.
    #[error("WeChat refused the message: the user has no subscription for it ({code}: {msg})")]
    Refused { code: i64, msg: String },
    /// Any other `errcode`. For subscribe messages: `40003` bad openid, `40037` bad template id, `47003` bad data
    /// value, `41030` bad page; all permanent.
    #[error("WeChat answered errcode {code}: {msg}")]
    Platform { code: i64, msg: String },
    /// An answer that is not what the API promises.
    #[error("WeChat's answer could not be read: {0}")]
    MalformedResponse(String),
    /// Old-API `encryptedData` that does not decrypt, or is not for this app.
    #[error("the encrypted data was refused: {0}")]
    EncryptedData(&'static str),
}

/// What [`WechatError::Unavailable`] says when WeChat answered `-1`, so that [`WechatError::errcode`] can tell.
const SYSTEM_BUSY: &str = "system busy (-1)";

impl WechatError {
    /// The error an `errcode` stands for; `None` for 0 (success).
    pub fn from_errcode(code: i64, msg: &str) -> Option<WechatError> {
        Some(match code {
            0 => return None,
            -1 => WechatError::Unavailable(SYSTEM_BUSY.into()),
            40029 | 40163 => WechatError::InvalidCode,
            45011 => WechatError::RateLimited,
            40226 => WechatError::Blocked,
            40001 | 42001 => WechatError::TokenRejected(code),
            43101 => WechatError::Refused { code, msg: msg.to_owned() },
            _ => WechatError::Platform { code, msg: msg.to_owned() },
        })
    }

    /// Worth one more try: busy, timed out, unreachable.
    pub fn is_transient(&self) -> bool {
        matches!(self, WechatError::Unavailable(_))
    }

    /// The `errcode` WeChat answered, when the error stands for exactly one; `None` for transport failures, HTTP
    /// errors, unreadable answers and the login code errors (two codes each).
    pub fn errcode(&self) -> Option<i64> {
        match self {
            WechatError::TokenRejected(code)
            | WechatError::Refused { code, .. }
            | WechatError::Platform { code, .. } => Some(*code),
            WechatError::RateLimited => Some(45011),
            WechatError::Blocked => Some(40226),
            WechatError::Unavailable(why) if why == SYSTEM_BUSY => Some(-1),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errcodes_map_to_what_callers_act_on() {
        assert_eq!(WechatError::from_errcode(0, "ok"), None);
        assert_eq!(WechatError::from_errcode(40029, "invalid code"), Some(WechatError::InvalidCode));
        assert_eq!(WechatError::from_errcode(40163, "code been used"), Some(WechatError::InvalidCode));
        assert_eq!(WechatError::from_errcode(45011, "api minute-quota reach limit"), Some(WechatError::RateLimited));
        assert_eq!(WechatError::from_errcode(40226, "code blocked"), Some(WechatError::Blocked));
        assert_eq!(WechatError::from_errcode(40001, "invalid credential"), Some(WechatError::TokenRejected(40001)));
        assert_eq!(WechatError::from_errcode(42001, "access_token expired"), Some(WechatError::TokenRejected(42001)));
        assert!(WechatError::from_errcode(-1, "system error").is_some_and(|e| e.is_transient()));
        assert_eq!(
            WechatError::from_errcode(40125, "invalid appsecret"),
            Some(WechatError::Platform { code: 40125, msg: "invalid appsecret".into() })
        );
    }

    #[test]
    fn a_refused_subscribe_message_is_its_own_permanent_error() {
        let refused = WechatError::from_errcode(43101, "user refuse to accept the msg").expect("an error");
        assert_eq!(refused, WechatError::Refused { code: 43101, msg: "user refuse to accept the msg".into() });
        assert!(!refused.is_transient());
        assert_eq!(refused.errcode(), Some(43101));
    }

    #[test]
    fn errcodes_are_told_back_when_the_error_stands_for_one() {
        for code in [40003, 40037, 47003, 41030, 40001, 42001, 45011, 40226, -1] {
            let error = WechatError::from_errcode(code, "x").expect("an error");
            assert_eq!(error.errcode(), Some(code), "{error:?}");
        }
        assert_eq!(WechatError::Unavailable("HTTP 502".into()).errcode(), None);
        assert_eq!(WechatError::Unavailable("timed out".into()).errcode(), None);
        assert_eq!(WechatError::MalformedResponse("x".into()).errcode(), None);
        assert_eq!(WechatError::InvalidCode.errcode(), None);
    }

    #[test]
    fn only_unavailability_is_transient() {
        assert!(WechatError::Unavailable("timeout".into()).is_transient());
        assert!(!WechatError::InvalidCode.is_transient());
        assert!(!WechatError::RateLimited.is_transient());
    }
}
