//! Login: `alipay.system.oauth.token` turns the auth code of `my.getAuthCode` into the user's identifiers. Apps
//! created after 2023 get only `open_id` (`user_id` absent or null), older ones `user_id`: both are supported.

use super::{AlipayClient, AlipayError};
use crate::config::Secret;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

pub const OAUTH_TOKEN_METHOD: &str = "alipay.system.oauth.token";

/// `sub_code`s that mean the auth code is unusable. `isv.code-invalid` is documented; the others are tolerated
/// spellings of the same refusal.
const INVALID_CODE_SUB_CODES: [&str; 3] = ["isv.code-invalid", "isv.invalid-code", "isv.code-expired"];
/// Longest auth code we pass on; Alipay's are 32 characters.
const MAX_AUTH_CODE_LEN: usize = 256;

/// Who logged in. At least one of `user_id` and `open_id` is present. The tokens are the user's authorisation to
/// read their Alipay profile; their `Debug` shows nothing.
#[derive(Debug, Clone)]
pub struct AlipayUser {
    pub user_id: Option<String>,
    pub open_id: Option<String>,
    pub access_token: Secret,
    pub expires_in: Option<u64>,
    pub refresh_token: Option<Secret>,
    pub re_expires_in: Option<u64>,
}

#[derive(Deserialize)]
struct OauthTokenNode {
    #[serde(default)]
    user_id: Option<String>,
    #[serde(default)]
    open_id: Option<String>,
    access_token: String,
    #[serde(default, deserialize_with = "optional_seconds")]
    expires_in: Option<u64>,
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default, deserialize_with = "optional_seconds")]
    re_expires_in: Option<u64>,
}

/// Lifetimes come as numbers, and from some versions of the gateway as strings.
fn optional_seconds<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Number(u64),
        Text(String),
    }
    Ok(match Option::<Raw>::deserialize(deserializer)? {
        Some(Raw::Number(n)) => Some(n),
        Some(Raw::Text(text)) => text.trim().parse().ok(),
        None => None,
    })
}

fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.is_empty())
}

/// Reads a verified `alipay_system_oauth_token_response` node.
fn user_from_node(node: Value) -> Result<AlipayUser, AlipayError> {
    // A generic message on purpose: serde's would quote values, and one of them is the access token.
    let node: OauthTokenNode = serde_json::from_value(node)
        .map_err(|_| AlipayError::MalformedResponse("the oauth token answer lacks a field".into()))?;
    let (user_id, open_id) = (non_empty(node.user_id), non_empty(node.open_id));
    if user_id.is_none() && open_id.is_none() {
        return Err(AlipayError::MalformedResponse("the oauth token answer has neither user_id nor open_id".into()));
    }
    if node.access_token.is_empty() {
        return Err(AlipayError::MalformedResponse("the oauth token answer has an empty access_token".into()));
    }
    Ok(AlipayUser {
        user_id,
        open_id,
        access_token: Secret::new(node.access_token.into_bytes()),
        expires_in: node.expires_in,
        refresh_token: non_empty(node.refresh_token).map(|t| Secret::new(t.into_bytes())),
        re_expires_in: node.re_expires_in,
    })
}

fn is_invalid_code(error: &AlipayError) -> bool {
    matches!(error, AlipayError::Business { sub_code, .. } if INVALID_CODE_SUB_CODES.contains(&sub_code.as_str()))
}

impl AlipayClient {
    /// `alipay.system.oauth.token` with `grant_type=authorization_code` and `code` as top-level parameters (not in
    /// `biz_content`). An unusable code is [`AlipayError::InvalidCode`]; busy and transport failures are retried
    /// once before [`AlipayError::Unavailable`].
    pub async fn oauth_token(&self, auth_code: &str) -> Result<AlipayUser, AlipayError> {
        let plausible = !auth_code.is_empty()
            && auth_code.len() <= MAX_AUTH_CODE_LEN
            && auth_code.bytes().all(|b| b.is_ascii_graphic());
        if !plausible {
            return Err(AlipayError::InvalidCode);
        }
        let extra = [("grant_type", "authorization_code"), ("code", auth_code)];
        match self.call_retrying_once(OAUTH_TOKEN_METHOD, None, &extra, is_invalid_code).await {
            Ok(node) => user_from_node(node),
            Err(error) if is_invalid_code(&error) => Err(AlipayError::InvalidCode),
            Err(error) => Err(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_user_id_app_gets_both_identifiers() {
        let user = user_from_node(json!({"user_id": "2088102104794936", "open_id": "074a1CcTG1Le",
            "access_token": "authusrB1", "expires_in": 1296000, "refresh_token": "authusrB2", "re_expires_in": 2592000}))
        .expect("reads");
        assert_eq!(user.user_id.as_deref(), Some("2088102104794936"));
        assert_eq!(user.open_id.as_deref(), Some("074a1CcTG1Le"));
        assert_eq!(user.expires_in, Some(1296000));
        assert_eq!(user.access_token.expose(), b"authusrB1");
    }

    #[test]
    fn an_openid_app_gets_no_user_id() {
        let user = user_from_node(json!({"user_id": null, "open_id": "074a1CcTG1Le", "access_token": "t",
            "expires_in": "1296000"}))
        .expect("reads");
        assert_eq!(user.user_id, None);
        assert_eq!(user.open_id.as_deref(), Some("074a1CcTG1Le"));
        assert_eq!(user.expires_in, Some(1296000));
        assert!(user.refresh_token.is_none());
    }

    #[test]
    fn an_answer_without_any_identifier_is_malformed() {
        let result = user_from_node(json!({"user_id": "", "access_token": "t"}));
        assert!(matches!(result, Err(AlipayError::MalformedResponse(_))));
    }

    #[test]
    fn invalid_code_sub_codes_are_recognised() {
        let business = |sub_code: &str| AlipayError::Business {
            code: "40002".into(),
            msg: "Invalid Arguments".into(),
            sub_code: sub_code.into(),
            sub_msg: String::new(),
        };
        assert!(is_invalid_code(&business("isv.code-invalid")));
        assert!(!is_invalid_code(&business("isv.invalid-signature")));
        assert!(!is_invalid_code(&AlipayError::Unavailable("x".into())));
    }
}
