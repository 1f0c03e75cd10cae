//! SHA256withRSA (RSASSA-PKCS1-v1_5 over SHA-256), the signature of both platforms: WeChat Pay v3 requests,
//! responses, notifications and `paySign`; Alipay's `RSA2` requests, responses and notifications. Signatures travel
//! as standard base64.
//!
//! Signing goes through ring (constant time, blinded); verification through the `rsa` crate, which handles only
//! public data there. PKCS#1 v1.5 is deterministic, so our signatures equal OpenSSL's byte for byte.

use super::rsa_keys::{RsaSigningKey, RsaVerifyingKey};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ring::rand::SystemRandom;
use ring::signature::RSA_PKCS1_SHA256;
use rsa::pkcs1v15::Signature;
use rsa::signature::Verifier as _;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    /// ring found no randomness for blinding, or refused the key at signing time.
    #[error("RSA signing failed")]
    Signing,
}

/// Why a signature was refused. Callers treat both alike (the request is rejected); the distinction is for logs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("the signature is not valid base64")]
    Base64,
    #[error("the signature does not match the message and key")]
    Mismatch,
}

impl RsaSigningKey {
    /// Signs `message` with SHA256withRSA and returns the raw signature (as long as the modulus).
    pub fn sign_sha256(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
        let mut signature = vec![0; self.pair.public().modulus_len()];
        self.pair
            .sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), message, &mut signature)
            .map_err(|_| SignError::Signing)?;
        Ok(signature)
    }

    /// Signs `message` with SHA256withRSA and returns the signature in standard base64, as both platforms want it.
    pub fn sign_sha256_base64(&self, message: &[u8]) -> Result<String, SignError> {
        self.sign_sha256(message).map(|signature| STANDARD.encode(signature))
    }
}

impl RsaVerifyingKey {
    /// Checks a raw SHA256withRSA signature over `message`.
    pub fn verify_sha256(&self, message: &[u8], signature: &[u8]) -> Result<(), VerifyError> {
        let signature = Signature::try_from(signature).map_err(|_| VerifyError::Mismatch)?;
        self.key.verify(message, &signature).map_err(|_| VerifyError::Mismatch)
    }

    /// Checks a base64 SHA256withRSA signature over `message`. Anything that is not a valid signature by this key
    /// fails, including WeChat Pay's deliberate `WECHATPAY/SIGNTEST/` probes.
    pub fn verify_sha256_base64(&self, message: &[u8], signature_b64: &str) -> Result<(), VerifyError> {
        let signature = STANDARD.decode(signature_b64).map_err(|_| VerifyError::Base64)?;
        self.verify_sha256(message, &signature)
    }
}

#[cfg(test)]
mod tests {
    use super::super::rsa_keys::test_keys::*;
    use super::*;

    /// A WeChat Pay v3 request sign string (GET /v3/certificates), the kind of message we sign most.
    const MESSAGE: &str = "GET\n/v3/certificates\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n\n";

    /// `printf '<MESSAGE>' | openssl dgst -sha256 -sign tests/fixtures/test_rsa_pkcs8.pem | base64 -w0`, run once.
    const OPENSSL_SIGNATURE: &str = concat!(
        "Y0otoklZFhnU0mi7yqN5ltUSE0wNV5PAGLzr3W2/YXUcT3Ki6u8/2u33GmuVyCY7nXIOBPQbRWJVgy/k070WazLpcbhfP1tax+hO51qSLGWx",
        "Yu6t2Y8HrGfiMZI3xmWk6073qFFp6f1gMFZ8eNlt235KEIT+qWXa6rXxLLDODZUgTcZCuzTjH1hwiya22K969IlbwbRo21vyCfFOyrgheuDB",
        "5L0NRGji+dbzWkdBf698qQviGh1PEdVc1qWN6zY8oVVlG+jVHiDCngd+bfyTkkuf+150YBEDatZUTJsTn4DULg6ny6hPemmkww12TMhC6J5V",
        "H2CV0CLa6aLXVuDctA==",
    );

    /// The public key of a real Alipay notification (alipay-sdk-nodejs test/alipay.test.ts): simply another key.
    const OTHER_PUBLIC_KEY: &str = concat!(
        "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAqObrdC7hrgAVM98tK0nv3hSQRGGKT4lBsQjHiGjeYZjOPIPHR5knm2jnnz/YGIXI",
        "ofVHkA/tAlBAd5DrY7YpvI4tP5EONLtZKC2ghBMx7McI2wRD0xiqzxOQr1FuhZGJ8/AUokBzJrzY+aGX2xcOrxFYRlFilvVLTXg4LWjR1tdP",
        "kO6+i7wQZAIVMClPkwVRZEbaERRHlKqTzv2gGv5rDU8gRoe1LeaN+6BlbTqHWkQcNCUNrA8C6l17XAXGKDsm/9TFWwO8EPHHHCaQdjtV5/Fd",
        "cWIt+L8SR1ss7EXTjYDFtxcKVv9rEoY1lX8T4mX+GbXfZHraG5NCF1+XioL5JwIDAQAB",
    );

    fn signing_key() -> RsaSigningKey {
        RsaSigningKey::from_text(PKCS8_PEM).expect("fixture private key")
    }

    fn verifying_key() -> RsaVerifyingKey {
        RsaVerifyingKey::from_text(PUBLIC_PEM).expect("fixture public key")
    }

    #[test]
    fn signature_equals_openssl_byte_for_byte() {
        assert_eq!(signing_key().sign_sha256_base64(MESSAGE.as_bytes()).expect("signs"), OPENSSL_SIGNATURE);
    }

    #[test]
    fn signature_equals_a_fresh_openssl_run_when_available() {
        let Some(openssl) = super::super::openssl_cli::sign_with_fixture_key(MESSAGE.as_bytes()) else { return };
        assert_eq!(signing_key().sign_sha256(MESSAGE.as_bytes()).expect("signs"), openssl);
    }

    #[test]
    fn pkcs1_and_pkcs8_forms_sign_identically() {
        let pkcs1 = RsaSigningKey::from_text(PKCS1_PEM).expect("fixture private key");
        let bare = RsaSigningKey::from_text(&bare_base64(PKCS1_PEM)).expect("fixture private key");
        for key in [pkcs1, bare] {
            assert_eq!(key.sign_sha256_base64(MESSAGE.as_bytes()).expect("signs"), OPENSSL_SIGNATURE);
        }
    }

    #[test]
    fn verify_accepts_our_signature() {
        let signature = signing_key().sign_sha256_base64(MESSAGE.as_bytes()).expect("signs");
        assert_eq!(verifying_key().verify_sha256_base64(MESSAGE.as_bytes(), &signature), Ok(()));
    }

    #[test]
    fn verify_through_a_certificate_accepts_our_signature() {
        let certificate = RsaVerifyingKey::from_text(CERTIFICATE_PEM).expect("fixture certificate");
        assert_eq!(certificate.verify_sha256_base64(MESSAGE.as_bytes(), OPENSSL_SIGNATURE), Ok(()));
    }

    #[test]
    fn verify_rejects_a_changed_message() {
        let changed = MESSAGE.replace("1554208460", "1554208461");
        assert_eq!(
            verifying_key().verify_sha256_base64(changed.as_bytes(), OPENSSL_SIGNATURE),
            Err(VerifyError::Mismatch)
        );
    }

    #[test]
    fn verify_rejects_another_key() {
        let other = RsaVerifyingKey::from_text(OTHER_PUBLIC_KEY).expect("loads");
        assert_eq!(other.verify_sha256_base64(MESSAGE.as_bytes(), OPENSSL_SIGNATURE), Err(VerifyError::Mismatch));
    }

    #[test]
    fn verify_rejects_the_wechatpay_signtest_probe() {
        let probe = "WECHATPAY/SIGNTEST/Y0otoklZFhnU0mi7yqN5ltUSE0wNV5PAGLzr3W2";
        assert!(verifying_key().verify_sha256_base64(MESSAGE.as_bytes(), probe).is_err());
    }

    #[test]
    fn verify_rejects_non_base64_and_truncated_signatures() {
        assert_eq!(verifying_key().verify_sha256_base64(MESSAGE.as_bytes(), "%%%"), Err(VerifyError::Base64));
        assert_eq!(verifying_key().verify_sha256_base64(MESSAGE.as_bytes(), "AAAA"), Err(VerifyError::Mismatch));
        assert_eq!(verifying_key().verify_sha256_base64(MESSAGE.as_bytes(), ""), Err(VerifyError::Mismatch));
    }
}
