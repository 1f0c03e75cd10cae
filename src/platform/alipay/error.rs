//! What can go wrong talking to the Alipay gateway, with the gateway's codes mapped to what callers act on.

use serde_json::Value;

/// A failed Alipay call. `InvalidCode` → ask the mini-program for a fresh auth code, `Unavailable` → 503 (already
/// retried once where the call allows it), `Signature` → Alipay's answer cannot be trusted, the rest → internal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AlipayError {
    /// `isv.code-invalid`: the auth code is unknown, expired or used.
    #[error("the auth code is invalid, expired or already used")]
    InvalidCode,
    /// A gateway or business failure: `code` is the gateway code (40002, 40004, ...), `sub_code` says why.
    /// `sub_msg` stays out of the message (and so out of logs): for a bad signature Alipay echoes the whole sign
    /// string back in it, auth code included.
    #[error("Alipay refused the call: {code} {msg} ({sub_code})")]
    Business { code: String, msg: String, sub_code: String, sub_msg: String },
    /// `20000` (service unavailable), `ACQ.SYSTEM_ERROR` (Alipay asks for the same call again), HTTP 5xx, timeout
    /// or connection failure.
    #[error("Alipay is unavailable: {0}")]
    Unavailable(String),
    /// The answer's signature is missing or does not verify with Alipay's public key.
    #[error("Alipay's answer failed signature verification: {0}")]
    Signature(String),
    #[error("Alipay's answer could not be read: {0}")]
    MalformedResponse(String),
    /// We could not build or sign the request.
    #[error("the request could not be built: {0}")]
    InvalidRequest(String),
    /// `my.getPhoneNumber` content needs the console AES key, and none is configured.
    #[error("no Alipay AES key is configured")]
    AesKeyMissing,
    /// `my.getPhoneNumber` content that does not verify, decrypt or read as a phone number.
    #[error("the phone number content was refused: {0}")]
    PhoneContent(&'static str),
}

/// The trade methods' "system error, call again with the same parameters", whatever gateway code carries it.
const SYSTEM_ERROR_SUB_CODE: &str = "ACQ.SYSTEM_ERROR";

fn text(node: &Value, key: &str) -> String {
    node.get(key).and_then(Value::as_str).unwrap_or_default().to_owned()
}

impl AlipayError {
    /// The error a failed node (`code` other than `10000`) stands for.
    pub fn from_node(node: &Value) -> AlipayError {
        let (code, sub_code) = (text(node, "code"), text(node, "sub_code"));
        if code == "20000" || sub_code == SYSTEM_ERROR_SUB_CODE {
            return AlipayError::Unavailable(format!("{code} {sub_code}"));
        }
        AlipayError::Business { code, msg: text(node, "msg"), sub_code, sub_msg: text(node, "sub_msg") }
    }

    /// Worth one more try: Alipay busy, timed out, unreachable.
    pub fn is_transient(&self) -> bool {
        matches!(self, AlipayError::Unavailable(_))
    }

    /// True for a business failure with this `sub_code` (e.g. `ACQ.TRADE_NOT_EXIST`).
    pub fn has_sub_code(&self, wanted: &str) -> bool {
        matches!(self, AlipayError::Business { sub_code, .. } if sub_code == wanted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn service_unavailable_is_transient() {
        let node = json!({"code": "20000", "msg": "Service Currently Unavailable", "sub_code": "isp.unknow-error"});
        let error = AlipayError::from_node(&node);
        assert_eq!(error, AlipayError::Unavailable("20000 isp.unknow-error".into()));
        assert!(error.is_transient());
    }

    #[test]
    fn a_trade_system_error_is_transient_whatever_its_code() {
        let node = json!({"code": "40004", "msg": "Business Failed", "sub_code": "ACQ.SYSTEM_ERROR"});
        assert!(AlipayError::from_node(&node).is_transient());
    }

    #[test]
    fn sub_codes_are_matched_on_business_failures_only() {
        let node = json!({"code": "40004", "msg": "Business Failed", "sub_code": "ACQ.TRADE_NOT_EXIST"});
        assert!(AlipayError::from_node(&node).has_sub_code("ACQ.TRADE_NOT_EXIST"));
        assert!(!AlipayError::from_node(&node).has_sub_code("ACQ.TRADE_STATUS_ERROR"));
        assert!(!AlipayError::Unavailable("ACQ.TRADE_NOT_EXIST".into()).has_sub_code("ACQ.TRADE_NOT_EXIST"));
    }

    #[test]
    fn other_codes_are_business_failures() {
        let node = json!({"code": "40002", "msg": "Invalid Arguments", "sub_code": "isv.code-invalid",
            "sub_msg": "授权码code无效"});
        assert_eq!(
            AlipayError::from_node(&node),
            AlipayError::Business {
                code: "40002".into(),
                msg: "Invalid Arguments".into(),
                sub_code: "isv.code-invalid".into(),
                sub_msg: "授权码code无效".into()
            }
        );
        assert!(!AlipayError::from_node(&node).is_transient());
    }
}
