//! WeChat Pay v3 `AEAD_AES_256_GCM`: the encryption of the `resource` of payment and refund notifications (and of
//! the platform certificates download). Key = the merchant's APIv3 key (32 bytes), nonce = the 12-byte `nonce`
//! string, AAD = `associated_data` (may be empty), `ciphertext` = base64(ciphertext ‖ 16-byte tag).
//!
//! Decryption is what the notify routes need; encryption is what the sandbox needs to send notifications that the
//! real decryption path accepts. AES-GCM comes from ring, already in the tree through rustls.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
use std::fmt;

/// Length of the APIv3 key: WeChat Pay issues a 32-character key, used as the raw AES-256 key.
pub const API_V3_KEY_LEN: usize = 32;
/// Length of the nonce WeChat Pay sends with each encrypted resource.
pub const NONCE_LEN: usize = 12;
/// Length of the GCM tag appended to the ciphertext.
pub const TAG_LEN: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AeadError {
    #[error("the APIv3 key must be exactly {API_V3_KEY_LEN} bytes, got {0}")]
    KeyLength(usize),
    #[error("the nonce must be exactly {NONCE_LEN} bytes, got {0}")]
    NonceLength(usize),
    #[error("the ciphertext is not valid base64")]
    Base64,
    #[error("the ciphertext is shorter than its {TAG_LEN}-byte tag")]
    TooShort,
    /// Wrong key, nonce or associated data, or a tampered ciphertext: GCM cannot tell which, and must not.
    #[error("the ciphertext failed authentication")]
    Authentication,
    #[error("the plaintext is too long to encrypt")]
    TooLong,
}

/// The merchant's APIv3 key, checked for length once at the edge so every later use is infallible on that count.
pub struct ApiV3Key(LessSafeKey);

impl ApiV3Key {
    /// Takes the key as configured: WeChat Pay's APIv3 key is 32 ASCII characters whose bytes are the AES key.
    pub fn new(key: &[u8]) -> Result<ApiV3Key, AeadError> {
        if key.len() != API_V3_KEY_LEN {
            return Err(AeadError::KeyLength(key.len()));
        }
        let unbound = UnboundKey::new(&AES_256_GCM, key).map_err(|_| AeadError::KeyLength(key.len()))?;
        Ok(ApiV3Key(LessSafeKey::new(unbound)))
    }
}

impl fmt::Debug for ApiV3Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiV3Key(<redacted>)")
    }
}

fn nonce(nonce: &str) -> Result<Nonce, AeadError> {
    Nonce::try_assume_unique_for_key(nonce.as_bytes()).map_err(|_| AeadError::NonceLength(nonce.len()))
}

/// Decrypts a notification `resource`: returns the plaintext (the JSON of the transaction or refund).
/// Any mismatch of key, nonce, associated data or ciphertext is one and the same [`AeadError::Authentication`].
pub fn decrypt_resource(
    key: &ApiV3Key,
    nonce_text: &str,
    associated_data: &str,
    ciphertext_b64: &str,
) -> Result<Vec<u8>, AeadError> {
    let nonce = nonce(nonce_text)?;
    let mut in_out = STANDARD.decode(ciphertext_b64).map_err(|_| AeadError::Base64)?;
    if in_out.len() < TAG_LEN {
        return Err(AeadError::TooShort);
    }
    let plaintext_len = key
        .0
        .open_in_place(nonce, Aad::from(associated_data.as_bytes()), &mut in_out)
        .map_err(|_| AeadError::Authentication)?
        .len();
    in_out.truncate(plaintext_len);
    Ok(in_out)
}

/// Encrypts a resource the way WeChat Pay does: base64(ciphertext ‖ tag). The caller must never reuse a nonce with
/// the same key (GCM loses confidentiality and integrity if it does); the sandbox draws a fresh random one each time.
pub fn encrypt_resource(
    key: &ApiV3Key,
    nonce_text: &str,
    associated_data: &str,
    plaintext: &[u8],
) -> Result<String, AeadError> {
    let nonce = nonce(nonce_text)?;
    let mut in_out = plaintext.to_vec();
    key.0
        .seal_in_place_append_tag(nonce, Aad::from(associated_data.as_bytes()), &mut in_out)
        .map_err(|_| AeadError::TooLong)?;
    Ok(STANDARD.encode(in_out))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Public vector of wechatpay-java's AeadAesCipherTest.
    const KEY: &str = "a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb";
    const AAD: &str = "associatedData";
    const NONCE: &str = "uluk4a9R25RW";
    const PLAINTEXT: &str = "message";
    const CIPHERTEXT: &str = "ulwSiIajGClcvcOYvOQ7+l+0PAbzzwI=";

    fn key() -> ApiV3Key {
        ApiV3Key::new(KEY.as_bytes()).expect("the vector's key is 32 bytes")
    }

    #[test]
    fn decrypts_the_wechatpay_java_vector() {
        let plaintext = decrypt_resource(&key(), NONCE, AAD, CIPHERTEXT).expect("decrypts");
        assert_eq!(plaintext, PLAINTEXT.as_bytes());
    }

    #[test]
    fn encrypts_to_the_wechatpay_java_vector() {
        assert_eq!(encrypt_resource(&key(), NONCE, AAD, PLAINTEXT.as_bytes()).expect("encrypts"), CIPHERTEXT);
    }

    #[test]
    fn empty_associated_data_round_trips() {
        let sealed = encrypt_resource(&key(), NONCE, "", b"{\"trade_state\":\"SUCCESS\"}").expect("encrypts");
        assert_eq!(decrypt_resource(&key(), NONCE, "", &sealed).expect("decrypts"), b"{\"trade_state\":\"SUCCESS\"}");
    }

    #[test]
    fn tampered_tag_fails_authentication() {
        let mut raw = STANDARD.decode(CIPHERTEXT).expect("base64");
        let last = raw.len() - 1;
        raw[last] ^= 0x01;
        let tampered = STANDARD.encode(raw);
        assert_eq!(decrypt_resource(&key(), NONCE, AAD, &tampered), Err(AeadError::Authentication));
    }

    #[test]
    fn other_associated_data_fails_authentication() {
        assert_eq!(decrypt_resource(&key(), NONCE, "transaction", CIPHERTEXT), Err(AeadError::Authentication));
    }

    #[test]
    fn wrong_key_length_is_rejected() {
        assert_eq!(ApiV3Key::new(b"0123456789abcdef").err(), Some(AeadError::KeyLength(16)));
        assert_eq!(ApiV3Key::new(&[0u8; 33]).err(), Some(AeadError::KeyLength(33)));
    }

    #[test]
    fn wrong_nonce_length_is_rejected() {
        assert_eq!(decrypt_resource(&key(), "short", AAD, CIPHERTEXT), Err(AeadError::NonceLength(5)));
    }

    #[test]
    fn ciphertext_shorter_than_a_tag_is_rejected() {
        assert_eq!(decrypt_resource(&key(), NONCE, AAD, "AAAA"), Err(AeadError::TooShort));
    }

    #[test]
    fn invalid_base64_is_rejected() {
        assert_eq!(decrypt_resource(&key(), NONCE, AAD, "not base64!"), Err(AeadError::Base64));
    }

    #[test]
    fn debug_does_not_print_the_key() {
        assert!(!format!("{:?}", key()).contains(KEY));
    }
}
