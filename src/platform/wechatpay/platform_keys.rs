//! The WeChat Pay platform's public keys we accept signatures from, by the id `Wechatpay-Serial` names: platform
//! certificate serials (hex, compared case-insensitively and without leading zeros) and public-key-mode ids
//! (`PUB_KEY_ID_...`, compared exactly). Several are loaded at once because certificates rotate and the migration
//! to public-key mode runs both for 7 days; a signature is checked only with the key its header names.

use crate::platform::crypto::rsa_keys::{PlatformCertificate, RsaVerifyingKey};
use std::collections::HashMap;

/// The prefix of the ids of WeChat Pay's public-key mode.
pub const PUBLIC_KEY_ID_PREFIX: &str = "PUB_KEY_ID_";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlatformKeyIdError {
    #[error("a WeChat Pay public key id starts with `{PUBLIC_KEY_ID_PREFIX}` and has no spaces or control characters")]
    NotAPublicKeyId,
    #[error("a platform certificate serial is a hexadecimal number")]
    NotACertificateSerial,
}

/// The platform keys in force. Cloning copies the small map; keys themselves are shared.
#[derive(Debug, Clone, Default)]
pub struct PlatformKeys {
    by_id: HashMap<String, RsaVerifyingKey>,
}

impl PlatformKeys {
    pub fn new() -> PlatformKeys {
        PlatformKeys::default()
    }

    /// Accepts signatures whose `Wechatpay-Serial` is this certificate's serial. Replaces a key of the same id.
    pub fn insert_certificate(&mut self, certificate: PlatformCertificate) -> Result<(), PlatformKeyIdError> {
        self.insert_by_serial(&certificate.serial_hex, certificate.key)
    }

    /// Accepts signatures whose `Wechatpay-Serial` is `serial_hex`, verified with `key` (a certificate's key
    /// configured as a bare public key, or the sandbox's). Replaces a key of the same id.
    pub fn insert_by_serial(&mut self, serial_hex: &str, key: RsaVerifyingKey) -> Result<(), PlatformKeyIdError> {
        if serial_hex.is_empty() || !serial_hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(PlatformKeyIdError::NotACertificateSerial);
        }
        self.by_id.insert(normalise(serial_hex), key);
        Ok(())
    }

    /// Accepts signatures whose `Wechatpay-Serial` is the public-key-mode id `id` (`PUB_KEY_ID_...`).
    pub fn insert_public_key(&mut self, id: &str, key: RsaVerifyingKey) -> Result<(), PlatformKeyIdError> {
        let well_formed = id.len() > PUBLIC_KEY_ID_PREFIX.len()
            && id.starts_with(PUBLIC_KEY_ID_PREFIX)
            && id.bytes().all(|b| b.is_ascii_graphic());
        if !well_formed {
            return Err(PlatformKeyIdError::NotAPublicKeyId);
        }
        self.by_id.insert(id.to_owned(), key);
        Ok(())
    }

    /// The key `Wechatpay-Serial: serial` names, if we hold it.
    pub fn get(&self, serial: &str) -> Option<&RsaVerifyingKey> {
        self.by_id.get(&normalise(serial))
    }

    /// The ids held (normalised: serials upper case without leading zeros), for start-up logs.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.by_id.keys().map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
}

/// Serials are hex numbers: WeChat Pay writes them upper case, an operator may paste them lower case, and an X.509
/// serial whose first byte is below 0x10 gains a leading `0` when printed byte by byte. Other ids stay exact.
fn normalise(id: &str) -> String {
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return id.to_owned();
    }
    let significant = id.trim_start_matches('0');
    if significant.is_empty() {
        "0".to_owned()
    } else {
        significant.to_ascii_uppercase()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::crypto::rsa_keys::test_keys::{CERTIFICATE_PEM, CERTIFICATE_SERIAL, PUBLIC_PEM};

    fn public() -> RsaVerifyingKey {
        RsaVerifyingKey::from_text(PUBLIC_PEM).expect("fixture public key")
    }

    #[test]
    fn a_certificate_is_found_by_its_serial_in_either_case() {
        let mut keys = PlatformKeys::new();
        keys.insert_certificate(PlatformCertificate::from_text(CERTIFICATE_PEM).expect("fixture certificate"))
            .expect("inserts");
        assert!(keys.get(CERTIFICATE_SERIAL).is_some());
        assert!(keys.get(&CERTIFICATE_SERIAL.to_ascii_lowercase()).is_some());
        assert!(keys.get("C7A1B2C3D4E5F60718293A4B5C6D7E8F90A1B2C4").is_none());
    }

    #[test]
    fn leading_zeros_of_a_serial_do_not_matter() {
        let mut keys = PlatformKeys::new();
        keys.insert_by_serial("0ABC", public()).expect("inserts");
        assert!(keys.get("abc").is_some());
        assert!(keys.get("000ABC").is_some());
    }

    #[test]
    fn a_public_key_id_is_found_exactly() {
        let mut keys = PlatformKeys::new();
        keys.insert_public_key("PUB_KEY_ID_0114232134912410000000000000000000", public()).expect("inserts");
        assert!(keys.get("PUB_KEY_ID_0114232134912410000000000000000000").is_some());
        assert!(keys.get("PUB_KEY_ID_0114232134912410000000000000000001").is_none());
    }

    #[test]
    fn malformed_ids_are_refused() {
        let mut keys = PlatformKeys::new();
        assert_eq!(keys.insert_public_key("PUB_KEY_ID_", public()), Err(PlatformKeyIdError::NotAPublicKeyId));
        assert_eq!(keys.insert_public_key("0114232134912", public()), Err(PlatformKeyIdError::NotAPublicKeyId));
        assert_eq!(keys.insert_by_serial("PUB_KEY_ID_1", public()), Err(PlatformKeyIdError::NotACertificateSerial));
        assert_eq!(keys.insert_by_serial("", public()), Err(PlatformKeyIdError::NotACertificateSerial));
        assert!(keys.is_empty());
    }
}
