//! The phone number from `my.getPhoneNumber`: `{response, sign}` where `response` is base64 AES-128-CBC content and
//! `sign` is Alipay's RSA2 signature over the content *including its surrounding double quotes* (PROTOCOLS.md).
//! The signature is checked before anything is decrypted.

use super::{AlipayClient, AlipayError};
use crate::platform::crypto::aes_cbc;
use crate::platform::crypto::rsa_keys::RsaVerifyingKey;
use serde::Deserialize;

#[derive(Deserialize)]
struct PhoneContent {
    code: String,
    #[serde(default)]
    mobile: String,
}

/// Verifies and decrypts `my.getPhoneNumber` content with Alipay's public key and the console AES key (base64).
fn decrypt_phone_content(
    response: &str,
    sign: &str,
    alipay_public_key: &RsaVerifyingKey,
    aes_key_b64: &str,
) -> Result<String, AlipayError> {
    let signed = format!("\"{response}\"");
    alipay_public_key
        .verify_sha256_base64(signed.as_bytes(), sign)
        .map_err(|_| AlipayError::PhoneContent("the signature does not verify"))?;
    let plaintext = aes_cbc::decrypt_alipay_content(aes_key_b64, response)
        .map_err(|_| AlipayError::PhoneContent("the content does not decrypt"))?;
    let content: PhoneContent =
        serde_json::from_slice(&plaintext).map_err(|_| AlipayError::PhoneContent("the content is not JSON"))?;
    if content.code != "10000" {
        return Err(AlipayError::PhoneContent("the content reports a failure"));
    }
    let plausible = (5..=20).contains(&content.mobile.len()) && content.mobile.bytes().all(|b| b.is_ascii_digit());
    if !plausible {
        return Err(AlipayError::PhoneContent("the content holds no phone number"));
    }
    Ok(content.mobile)
}

impl AlipayClient {
    /// The mobile number of a `my.getPhoneNumber` answer, once Alipay's signature over it checks out.
    pub fn decrypt_phone(&self, response: &str, sign: &str) -> Result<String, AlipayError> {
        let aes_key = self.aes_key.as_ref().ok_or(AlipayError::AesKeyMissing)?;
        let aes_key = std::str::from_utf8(aes_key.expose()).map_err(|_| AlipayError::AesKeyMissing)?;
        decrypt_phone_content(response, sign, &self.alipay_public_key, aes_key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::crypto::rsa_keys::test_keys::*;
    use crate::platform::crypto::rsa_keys::RsaSigningKey;

    // The Alipay-style vector of aes_cbc.rs (tests/fixtures/README.md): {"code":"10000","msg":"Success",
    // "mobile":"13800138000"} under the key "ebill-test-aes16", zero IV.
    const AES_KEY: &str = "ZWJpbGwtdGVzdC1hZXMxNg==";
    const CIPHERTEXT: &str = "tbguhziHnyXFUfE3x9RaKd4U7WR4Gq8hC6fEqX/xk+d77llvIzMb/1NwH8ZhwLKj9zfewqiicBJCkqAeS1ibhw==";

    fn sign(message: &str) -> String {
        RsaSigningKey::from_text(PKCS8_PEM).expect("fixture key").sign_sha256_base64(message.as_bytes()).expect("signs")
    }

    fn public() -> RsaVerifyingKey {
        RsaVerifyingKey::from_text(PUBLIC_PEM).expect("fixture public key")
    }

    #[test]
    fn content_signed_with_its_quotes_decrypts_to_the_mobile() {
        let sign = sign(&format!("\"{CIPHERTEXT}\""));
        assert_eq!(decrypt_phone_content(CIPHERTEXT, &sign, &public(), AES_KEY), Ok("13800138000".to_owned()));
    }

    #[test]
    fn a_signature_over_the_bare_content_is_refused() {
        let sign = sign(CIPHERTEXT);
        assert_eq!(
            decrypt_phone_content(CIPHERTEXT, &sign, &public(), AES_KEY),
            Err(AlipayError::PhoneContent("the signature does not verify"))
        );
    }

    #[test]
    fn content_under_another_aes_key_is_refused() {
        let sign = sign(&format!("\"{CIPHERTEXT}\""));
        let other_key = "AAAAAAAAAAAAAAAAAAAAAA==";
        assert!(matches!(
            decrypt_phone_content(CIPHERTEXT, &sign, &public(), other_key),
            Err(AlipayError::PhoneContent(_))
        ));
    }

    #[test]
    fn a_failure_code_is_refused() {
        let content = aes_cbc::encrypt_alipay_content(AES_KEY, br#"{"code":"40006","msg":"Insufficient Permissions"}"#)
            .expect("encrypts");
        let sign = sign(&format!("\"{content}\""));
        assert_eq!(
            decrypt_phone_content(&content, &sign, &public(), AES_KEY),
            Err(AlipayError::PhoneContent("the content reports a failure"))
        );
    }
}
