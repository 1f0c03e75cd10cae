//! Access tokens: JWTs signed HS256 with a key named by `kid`. The algorithm, issuer and audience are pinned: a token
//! with `alg: none`, another algorithm, an unknown key, another audience (a staff token) or past its expiry is refused.
//! Expiry is checked against our clock, not the host's, so that tests can move time.

use crate::config::Secret;
use jsonwebtoken::{decode, decode_header, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

pub const ISSUER: &str = "ebill";
pub const CUSTOMER_AUDIENCE: &str = "ebill-customer";
pub const STAFF_AUDIENCE: &str = "ebill-staff";

/// Shortest key we accept: HS256 keys below 256 bits are guessable.
const MIN_KEY_BYTES: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    /// The user (or staff member) id.
    pub sub: String,
    pub iat: i64,
    pub exp: i64,
    /// The platform of a customer, the role of a staff member.
    pub scope: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token is malformed or not ours")]
    Invalid,
    #[error("the token has expired")]
    Expired,
    #[error("the token could not be signed")]
    Signing,
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("no signing key is configured for {0}")]
    NoKeys(&'static str),
    #[error("key {0:?} is shorter than {MIN_KEY_BYTES} bytes")]
    TooShort(String),
}

/// The keys of one audience. The first key signs; every key verifies, so a new key can be put first and the old one
/// kept until the tokens it signed have expired.
pub struct TokenKeys {
    audience: &'static str,
    keys: Vec<(String, Secret)>,
}

impl TokenKeys {
    pub fn new(audience: &'static str, keys: Vec<(String, Secret)>) -> Result<TokenKeys, KeyError> {
        if keys.is_empty() {
            return Err(KeyError::NoKeys(audience));
        }
        if let Some((id, _)) = keys.iter().find(|(_, key)| key.expose().len() < MIN_KEY_BYTES) {
            return Err(KeyError::TooShort(id.clone()));
        }
        Ok(TokenKeys { audience, keys })
    }

    /// The signing key (the first), from which other keys (e-bill links) are derived.
    pub fn signing_key(&self) -> &Secret {
        &self.keys[0].1
    }

    /// A token for `subject`, valid `ttl_secs` from `now_ms`.
    pub fn issue(&self, subject: i64, scope: &str, now_ms: i64, ttl_secs: i64) -> Result<String, TokenError> {
        let (kid, key) = &self.keys[0];
        let now = now_ms.div_euclid(1000);
        let claims = Claims {
            iss: ISSUER.into(),
            aud: self.audience.into(),
            sub: subject.to_string(),
            iat: now,
            exp: now + ttl_secs,
            scope: scope.into(),
        };
        let header = Header { kid: Some(kid.clone()), ..Header::new(Algorithm::HS256) };
        encode(&header, &claims, &EncodingKey::from_secret(key.expose())).map_err(|_| TokenError::Signing)
    }

    /// The claims of a valid, unexpired token of this audience.
    pub fn verify(&self, token: &str, now_ms: i64) -> Result<Claims, TokenError> {
        let header = decode_header(token).map_err(|_| TokenError::Invalid)?;
        if header.alg != Algorithm::HS256 {
            return Err(TokenError::Invalid);
        }
        let kid = header.kid.ok_or(TokenError::Invalid)?;
        let (_, key) = self.keys.iter().find(|(id, _)| *id == kid).ok_or(TokenError::Invalid)?;
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_audience(&[self.audience]);
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "aud", "iss", "sub"]);
        validation.validate_exp = false;
        let claims = decode::<Claims>(token, &DecodingKey::from_secret(key.expose()), &validation)
            .map_err(|_| TokenError::Invalid)?
            .claims;
        if claims.exp <= now_ms.div_euclid(1000) {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    const NOW: i64 = 1_780_000_000_000;

    fn keys(audience: &'static str, id: &str, key: &[u8]) -> TokenKeys {
        TokenKeys::new(audience, vec![(id.into(), Secret::new(key.to_vec()))]).unwrap()
    }

    fn customer() -> TokenKeys {
        keys(CUSTOMER_AUDIENCE, "k1", &[7u8; 32])
    }

    #[test]
    fn a_fresh_token_verifies() {
        let token = customer().issue(42, "wechat", NOW, 3600).unwrap();
        let claims = customer().verify(&token, NOW + 1000).unwrap();
        assert_eq!((claims.sub.as_str(), claims.scope.as_str()), ("42", "wechat"));
    }

    #[test]
    fn an_expired_token_is_refused() {
        let token = customer().issue(42, "wechat", NOW, 3600).unwrap();
        assert_eq!(customer().verify(&token, NOW + 3600 * 1000), Err(TokenError::Expired));
    }

    #[test]
    fn another_audience_or_key_is_refused() {
        let staff = keys(STAFF_AUDIENCE, "k1", &[7u8; 32]).issue(42, "admin", NOW, 3600).unwrap();
        assert_eq!(customer().verify(&staff, NOW), Err(TokenError::Invalid));
        let other_key = keys(CUSTOMER_AUDIENCE, "k1", &[8u8; 32]).issue(42, "wechat", NOW, 3600).unwrap();
        assert_eq!(customer().verify(&other_key, NOW), Err(TokenError::Invalid));
        let unknown_kid = keys(CUSTOMER_AUDIENCE, "k9", &[7u8; 32]).issue(42, "wechat", NOW, 3600).unwrap();
        assert_eq!(customer().verify(&unknown_kid, NOW), Err(TokenError::Invalid));
    }

    #[test]
    fn alg_none_and_other_algorithms_are_refused() {
        let b64 = |v: &serde_json::Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        let claims = serde_json::json!({"iss": ISSUER, "aud": CUSTOMER_AUDIENCE, "sub": "42", "iat": 0,
            "exp": NOW / 1000 + 3600, "scope": "wechat"});
        let none = format!("{}.{}.", b64(&serde_json::json!({"alg": "none", "kid": "k1"})), b64(&claims));
        assert_eq!(customer().verify(&none, NOW), Err(TokenError::Invalid));
        let header = Header { kid: Some("k1".into()), ..Header::new(Algorithm::HS512) };
        let hs512 = encode(&header, &claims, &EncodingKey::from_secret(&[7u8; 32])).unwrap();
        assert_eq!(customer().verify(&hs512, NOW), Err(TokenError::Invalid));
    }

    #[test]
    fn rotated_keys_keep_old_tokens_valid() {
        let old = customer().issue(42, "wechat", NOW, 3600).unwrap();
        let rotated = TokenKeys::new(
            CUSTOMER_AUDIENCE,
            vec![("k2".into(), Secret::new(vec![9u8; 32])), ("k1".into(), Secret::new(vec![7u8; 32]))],
        )
        .unwrap();
        assert!(rotated.verify(&old, NOW).is_ok());
        let new = rotated.issue(42, "wechat", NOW, 3600).unwrap();
        assert_eq!(decode_header(&new).unwrap().kid.as_deref(), Some("k2"));
    }

    #[test]
    fn short_keys_are_refused() {
        assert!(TokenKeys::new(CUSTOMER_AUDIENCE, vec![("k".into(), Secret::new(vec![1u8; 16]))]).is_err());
    }
}
