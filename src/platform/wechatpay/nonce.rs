//! The random strings of WeChat Pay v3: the 32-character `nonce_str` of every signed request, response, notification
//! and `wx.requestPayment` call, and the 12-character nonce of an encrypted resource (what the sandbox sends).
//!
//! They come from the thread-local CSPRNG (ChaCha, seeded by the OS), so they cannot be guessed and a resource nonce
//! is never reused with the same APIv3 key in practice (62^12 ≈ 3·10^21 values).

use rand::distributions::Alphanumeric;
use rand::Rng as _;

/// Length of the `nonce_str` we put in signatures: WeChat Pay accepts up to 32 characters; its SDKs send 32.
pub const SIGNATURE_NONCE_LEN: usize = 32;
/// Length of an AEAD_AES_256_GCM resource nonce (bytes of the `nonce` string).
pub const RESOURCE_NONCE_LEN: usize = crate::platform::crypto::aes_gcm::NONCE_LEN;

/// A fresh `nonce_str` for a signature: 32 characters of `[A-Za-z0-9]`.
pub fn signature_nonce() -> String {
    alphanumeric(SIGNATURE_NONCE_LEN)
}

/// A fresh nonce for encrypting a resource: 12 characters of `[A-Za-z0-9]`, as WeChat Pay writes them.
pub fn resource_nonce() -> String {
    alphanumeric(RESOURCE_NONCE_LEN)
}

fn alphanumeric(len: usize) -> String {
    rand::thread_rng().sample_iter(&Alphanumeric).take(len).map(char::from).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_nonce_is_32_alphanumeric_characters() {
        let nonce = signature_nonce();
        assert_eq!(nonce.len(), 32);
        assert!(nonce.bytes().all(|b| b.is_ascii_alphanumeric()));
    }

    #[test]
    fn resource_nonce_is_12_alphanumeric_characters() {
        let nonce = resource_nonce();
        assert_eq!(nonce.len(), 12);
        assert!(nonce.bytes().all(|b| b.is_ascii_alphanumeric()));
    }

    #[test]
    fn nonces_do_not_repeat() {
        let drawn: std::collections::HashSet<String> = (0..1000).map(|_| signature_nonce()).collect();
        assert_eq!(drawn.len(), 1000);
    }
}
