//! What can go wrong calling WeChat Pay v3, with its error answers (`{"code": "...", "message": "..."}`) kept as
//! the platform gave them so callers can match on `code`.

use serde::Deserialize;

/// Longest platform message we keep: it ends up in logs, and the platform chooses it.
const MAX_MESSAGE_CHARS: usize = 256;
/// Longest error code we keep; WeChat Pay's are short upper-case words.
const MAX_CODE_CHARS: usize = 64;

/// A failed WeChat Pay call. None of the variants holds a key, a signature or a URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WechatPayError {
    /// Timed out, unreachable, or an HTTP 5xx/429 without a readable error answer: worth another try.
    #[error("WeChat Pay is unavailable: {0}")]
    Transport(String),
    /// An error answer `{code, message}`: 4xx mostly (`PARAM_ERROR`, `SIGN_ERROR`, `ORDER_NOT_EXIST`, ...), and
    /// 5xx `SYSTEM_ERROR`. See [`WechatPayError::is_transient`].
    #[error("WeChat Pay refused the call: HTTP {status} {code}: {message}")]
    Platform { status: u16, code: String, message: String },
    /// Closing the order was refused because it is paid (`ORDERPAID`).
    #[error("the order is paid and cannot be closed")]
    OrderPaid,
    /// An answer that is unsigned, badly signed, stale or not what the API promises: never trusted.
    #[error("WeChat Pay's answer was refused: {0}")]
    BadResponse(String),
    /// Our own request could not be built or signed.
    #[error("the request could not be signed: {0}")]
    Signing(String),
}

impl WechatPayError {
    /// Worth another try later: the platform was unreachable, busy or rate-limiting.
    pub fn is_transient(&self) -> bool {
        match self {
            WechatPayError::Transport(_) => true,
            WechatPayError::Platform { status, code, .. } => {
                *status >= 500 || *status == 429 || code == "SYSTEM_ERROR" || code == "FREQUENCY_LIMITED"
            }
            WechatPayError::OrderPaid | WechatPayError::BadResponse(_) | WechatPayError::Signing(_) => false,
        }
    }

    /// The platform's error code, for an error answer.
    pub fn platform_code(&self) -> Option<&str> {
        match self {
            WechatPayError::Platform { code, .. } => Some(code),
            _ => None,
        }
    }

    /// The error an answer with a status other than 2xx stands for: its `{code, message}` when it has one; a bare
    /// 5xx or 429 (a proxy's page) is a transport failure, anything else unreadable a bad response.
    pub fn from_error_answer(status: u16, body: &[u8]) -> WechatPayError {
        #[derive(Deserialize)]
        struct ErrorAnswer {
            code: String,
            #[serde(default)]
            message: String,
        }
        match serde_json::from_slice::<ErrorAnswer>(body) {
            Ok(answer) if !answer.code.is_empty() => WechatPayError::Platform {
                status,
                code: answer.code.chars().take(MAX_CODE_CHARS).collect(),
                message: answer.message.chars().take(MAX_MESSAGE_CHARS).collect(),
            },
            _ if status >= 500 || status == 429 => WechatPayError::Transport(format!("HTTP {status}")),
            _ => WechatPayError::BadResponse(format!("HTTP {status} without a {{code, message}} body")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn platform(status: u16, code: &str) -> WechatPayError {
        WechatPayError::Platform { status, code: code.into(), message: "m".into() }
    }

    #[test]
    fn an_error_answer_keeps_its_code_and_message() {
        let body = r#"{"code":"PARAM_ERROR","message":"参数错误","detail":{"location":"body"}}"#;
        assert_eq!(
            WechatPayError::from_error_answer(400, body.as_bytes()),
            WechatPayError::Platform { status: 400, code: "PARAM_ERROR".into(), message: "参数错误".into() }
        );
    }

    #[test]
    fn a_system_error_answer_is_a_transient_platform_error() {
        let error =
            WechatPayError::from_error_answer(500, r#"{"code":"SYSTEM_ERROR","message":"系统错误"}"#.as_bytes());
        assert_eq!(error.platform_code(), Some("SYSTEM_ERROR"));
        assert!(error.is_transient());
    }

    #[test]
    fn a_bare_5xx_or_429_is_a_transport_failure() {
        assert_eq!(
            WechatPayError::from_error_answer(502, b"<html>Bad Gateway</html>"),
            WechatPayError::Transport("HTTP 502".into())
        );
        assert_eq!(WechatPayError::from_error_answer(429, b""), WechatPayError::Transport("HTTP 429".into()));
    }

    #[test]
    fn a_4xx_without_an_error_body_is_a_bad_response() {
        assert!(matches!(WechatPayError::from_error_answer(404, b"Not Found"), WechatPayError::BadResponse(_)));
        assert!(matches!(
            WechatPayError::from_error_answer(400, br#"{"code":"","message":"x"}"#),
            WechatPayError::BadResponse(_)
        ));
    }

    #[test]
    fn long_messages_are_cut() {
        let body = serde_json::json!({ "code": "PARAM_ERROR", "message": "码".repeat(1000) }).to_string();
        let WechatPayError::Platform { message, .. } = WechatPayError::from_error_answer(400, body.as_bytes()) else {
            panic!("a platform error");
        };
        assert_eq!(message.chars().count(), MAX_MESSAGE_CHARS);
    }

    #[test]
    fn only_unavailability_busy_and_rate_limits_are_transient() {
        assert!(WechatPayError::Transport("timed out".into()).is_transient());
        assert!(platform(429, "FREQUENCY_LIMITED").is_transient());
        assert!(platform(403, "FREQUENCY_LIMITED").is_transient());
        assert!(platform(503, "SOMETHING").is_transient());
        assert!(!platform(400, "PARAM_ERROR").is_transient());
        assert!(!platform(401, "SIGN_ERROR").is_transient());
        assert!(!platform(404, "ORDER_NOT_EXIST").is_transient());
        assert!(!WechatPayError::OrderPaid.is_transient());
        assert!(!WechatPayError::BadResponse("unsigned".into()).is_transient());
        assert!(!WechatPayError::Signing("key".into()).is_transient());
    }
}
