//! Checking that a notification (or an API response) really comes from WeChat Pay (PROTOCOLS.md, "Payment
//! notification"): the `Wechatpay-*` headers, SHA256withRSA over `TIMESTAMP\nNONCE\nRAW_BODY\n` with the platform key
//! `Wechatpay-Serial` names, a timestamp within 300 s of our clock, and no `WECHATPAY/SIGNTEST/` probe.
//!
//! Nothing here trusts the body before the signature passes, and every refusal is a distinct [`NotifyError`]
//! variant so the notify route can log why without logging the body. Pure: the caller passes the clock.

use super::platform_keys::PlatformKeys;
use super::signing::SIGNATURE_SCHEME;

pub const HEADER_SERIAL: &str = "Wechatpay-Serial";
pub const HEADER_SIGNATURE: &str = "Wechatpay-Signature";
pub const HEADER_TIMESTAMP: &str = "Wechatpay-Timestamp";
pub const HEADER_NONCE: &str = "Wechatpay-Nonce";
pub const HEADER_SIGNATURE_TYPE: &str = "Wechatpay-Signature-Type";

/// Largest accepted distance between the signature's timestamp and our clock, either way (anti-replay).
pub const MAX_CLOCK_SKEW_SECS: u64 = 300;
/// WeChat Pay sends signatures starting with this to check that merchants verify; they must fail.
pub const SIGNATURE_PROBE_PREFIX: &str = "WECHATPAY/SIGNTEST/";
/// How much of an unknown serial we keep for the log (header values are attacker-chosen).
const MAX_LOGGED_SERIAL_LEN: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotifyError {
    #[error("the `{0}` header is absent or empty")]
    MissingHeader(&'static str),
    /// Not UTF-8, holds control characters, or (the timestamp) is not a number of seconds.
    #[error("the `{0}` header is malformed")]
    MalformedHeader(&'static str),
    #[error("the signature type is not {SIGNATURE_SCHEME}")]
    UnsupportedSignatureType,
    /// A `WECHATPAY/SIGNTEST/` signature: the platform checking that we verify. Refused like any bad signature.
    #[error("the signature is a WECHATPAY/SIGNTEST/ probe")]
    SignatureProbe,
    #[error("the timestamp {timestamp} is more than {MAX_CLOCK_SKEW_SECS} s away from our clock ({now_secs})")]
    StaleTimestamp { timestamp: i64, now_secs: i64 },
    /// The serial (truncated) names no key we hold: a key we have not loaded yet, or a forgery.
    #[error("no platform key has the serial `{0}`")]
    UnknownSerial(String),
    #[error("the signature does not match the body and the platform key")]
    BadSignature,
}

/// The signature headers of a notification or response, as received (or, in the sandbox, as sent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHeaders {
    /// `Wechatpay-Serial`: a platform certificate serial or a `PUB_KEY_ID_...`.
    pub serial: String,
    /// `Wechatpay-Signature`: base64.
    pub signature: String,
    /// `Wechatpay-Timestamp`: epoch seconds, kept as received because the signature covers these bytes.
    pub timestamp: String,
    /// `Wechatpay-Nonce`.
    pub nonce: String,
    /// `Wechatpay-Signature-Type`, when sent.
    pub signature_type: Option<String>,
}

impl SignedHeaders {
    /// Reads the headers through `lookup(name)`, which returns a header's raw value, so that both actix-web's and
    /// reqwest's header maps can be used (`|name| headers.get(name).map(|v| v.as_bytes())`; their lookups ignore
    /// case).
    pub fn from_lookup<'h>(lookup: impl Fn(&'static str) -> Option<&'h [u8]>) -> Result<SignedHeaders, NotifyError> {
        let required = |name: &'static str| match lookup(name) {
            None | Some([]) => Err(NotifyError::MissingHeader(name)),
            Some(raw) => header_text(name, raw),
        };
        let headers = SignedHeaders {
            serial: required(HEADER_SERIAL)?,
            signature: required(HEADER_SIGNATURE)?,
            timestamp: required(HEADER_TIMESTAMP)?,
            nonce: required(HEADER_NONCE)?,
            signature_type: match lookup(HEADER_SIGNATURE_TYPE) {
                None => None,
                Some(raw) => Some(header_text(HEADER_SIGNATURE_TYPE, raw)?),
            },
        };
        Ok(headers)
    }

    /// The headers to send, in order, for the sandbox's responses and notifications.
    pub fn pairs(&self) -> Vec<(&'static str, &str)> {
        let mut pairs = vec![
            (HEADER_SERIAL, self.serial.as_str()),
            (HEADER_SIGNATURE, self.signature.as_str()),
            (HEADER_TIMESTAMP, self.timestamp.as_str()),
            (HEADER_NONCE, self.nonce.as_str()),
        ];
        if let Some(signature_type) = &self.signature_type {
            pairs.push((HEADER_SIGNATURE_TYPE, signature_type.as_str()));
        }
        pairs
    }
}

/// A header's value as text: UTF-8 without control characters (which could shift the signed lines).
fn header_text(name: &'static str, raw: &[u8]) -> Result<String, NotifyError> {
    let text = std::str::from_utf8(raw).map_err(|_| NotifyError::MalformedHeader(name))?;
    if text.chars().any(char::is_control) {
        return Err(NotifyError::MalformedHeader(name));
    }
    Ok(text.to_owned())
}

/// The exact bytes the platform signs: `TIMESTAMP\nNONCE\nBODY\n`.
pub fn signed_message(timestamp: &str, nonce: &str, body: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(timestamp.len() + nonce.len() + body.len() + 3);
    for part in [timestamp.as_bytes(), nonce.as_bytes(), body] {
        message.extend_from_slice(part);
        message.push(b'\n');
    }
    message
}

/// Verifies that `body` (the raw bytes received, before any parsing) was signed by the platform key `headers`
/// name, recently. `now_ms` is our clock in epoch milliseconds.
pub fn verify_signature(
    keys: &PlatformKeys,
    headers: &SignedHeaders,
    body: &[u8],
    now_ms: i64,
) -> Result<(), NotifyError> {
    if headers.signature_type.as_deref().is_some_and(|kind| kind != SIGNATURE_SCHEME) {
        return Err(NotifyError::UnsupportedSignatureType);
    }
    if headers.signature.starts_with(SIGNATURE_PROBE_PREFIX) {
        return Err(NotifyError::SignatureProbe);
    }
    check_fresh(&headers.timestamp, now_ms)?;
    let key = keys
        .get(&headers.serial)
        .ok_or_else(|| NotifyError::UnknownSerial(headers.serial.chars().take(MAX_LOGGED_SERIAL_LEN).collect()))?;
    let message = signed_message(&headers.timestamp, &headers.nonce, body);
    key.verify_sha256_base64(&message, &headers.signature).map_err(|_| NotifyError::BadSignature)
}

/// Seconds as WeChat Pay's SDKs compare them: our clock truncated to the second, distance at most 300.
fn check_fresh(timestamp_text: &str, now_ms: i64) -> Result<(), NotifyError> {
    let all_digits = !timestamp_text.is_empty() && timestamp_text.bytes().all(|b| b.is_ascii_digit());
    let timestamp: i64 = match timestamp_text.parse() {
        Ok(seconds) if all_digits => seconds,
        _ => return Err(NotifyError::MalformedHeader(HEADER_TIMESTAMP)),
    };
    let now_secs = now_ms.div_euclid(1000);
    if timestamp.abs_diff(now_secs) > MAX_CLOCK_SKEW_SECS {
        return Err(NotifyError::StaleTimestamp { timestamp, now_secs });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::platform_signing::sign_body;
    use super::*;
    use crate::platform::crypto::rsa_keys::test_keys::{CERTIFICATE_PEM, CERTIFICATE_SERIAL, PKCS8_PEM};
    use crate::platform::crypto::rsa_keys::{PlatformCertificate, RsaSigningKey};
    use std::collections::HashMap;

    const PLATFORM_KEY: &str =
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/test_rsa_platform_pkcs8.pem"));
    const PUBLIC_KEY_ID: &str = "PUB_KEY_ID_0114232134912410000000000000000000";
    const NOW_SECS: i64 = 1_700_000_000;
    const NOW_MS: i64 = NOW_SECS * 1000 + 999;
    const NONCE: &str = "fdasflkja484w8ASD8dsafadsfdsdfdf";
    const BODY: &[u8] = r#"{"id":"EV-2018022511223320873","create_time":"2015-05-20T13:29:35+08:00","resource_type":"encrypt-resource","event_type":"TRANSACTION.SUCCESS","summary":"支付成功","resource":{"original_type":"transaction","algorithm":"AEAD_AES_256_GCM","ciphertext":"","associated_data":"","nonce":""}}"#.as_bytes();

    /// The fixture certificate stands in for a platform certificate; its key is `test_rsa_pkcs8.pem`.
    fn certificate_key() -> RsaSigningKey {
        RsaSigningKey::from_text(PKCS8_PEM).expect("fixture private key")
    }

    /// A second key, for public-key mode and for "wrong key" cases.
    fn public_mode_key() -> RsaSigningKey {
        RsaSigningKey::from_text(PLATFORM_KEY).expect("fixture platform key")
    }

    fn certificate_only() -> PlatformKeys {
        let mut keys = PlatformKeys::new();
        keys.insert_certificate(PlatformCertificate::from_text(CERTIFICATE_PEM).expect("fixture certificate"))
            .expect("inserts");
        keys
    }

    fn public_key_only() -> PlatformKeys {
        let mut keys = PlatformKeys::new();
        let public = public_mode_key().verifying_key().expect("public half");
        keys.insert_public_key(PUBLIC_KEY_ID, public).expect("inserts");
        keys
    }

    /// Both at once, as during the 7-day migration to public-key mode or a certificate rotation.
    fn both() -> PlatformKeys {
        let mut keys = certificate_only();
        let public = public_mode_key().verifying_key().expect("public half");
        keys.insert_public_key(PUBLIC_KEY_ID, public).expect("inserts");
        keys
    }

    fn signed(key: &RsaSigningKey, serial: &str, timestamp: i64) -> SignedHeaders {
        sign_body(key, serial, timestamp, NONCE, BODY).expect("signs")
    }

    fn by_certificate() -> SignedHeaders {
        signed(&certificate_key(), CERTIFICATE_SERIAL, NOW_SECS)
    }

    #[test]
    fn a_good_signature_passes() {
        assert_eq!(verify_signature(&certificate_only(), &by_certificate(), BODY, NOW_MS), Ok(()));
    }

    #[test]
    fn a_lower_case_serial_finds_the_certificate() {
        let headers = signed(&certificate_key(), &CERTIFICATE_SERIAL.to_ascii_lowercase(), NOW_SECS);
        assert_eq!(verify_signature(&certificate_only(), &headers, BODY, NOW_MS), Ok(()));
    }

    #[test]
    fn a_public_key_mode_signature_passes() {
        let headers = signed(&public_mode_key(), PUBLIC_KEY_ID, NOW_SECS);
        assert_eq!(verify_signature(&public_key_only(), &headers, BODY, NOW_MS), Ok(()));
    }

    #[test]
    fn with_two_keys_loaded_each_serial_verifies_with_its_own_key() {
        let keys = both();
        let by_public_key = signed(&public_mode_key(), PUBLIC_KEY_ID, NOW_SECS);
        assert_eq!(verify_signature(&keys, &by_certificate(), BODY, NOW_MS), Ok(()));
        assert_eq!(verify_signature(&keys, &by_public_key, BODY, NOW_MS), Ok(()));
        // A valid signature by one loaded key, presented under the other key's id, fails.
        let crossed = SignedHeaders { serial: PUBLIC_KEY_ID.to_owned(), ..by_certificate() };
        assert_eq!(verify_signature(&keys, &crossed, BODY, NOW_MS), Err(NotifyError::BadSignature));
    }

    #[test]
    fn a_forged_signature_is_refused() {
        let mut headers = by_certificate();
        let other = signed(&certificate_key(), CERTIFICATE_SERIAL, NOW_SECS + 1);
        headers.signature = other.signature;
        assert_eq!(verify_signature(&certificate_only(), &headers, BODY, NOW_MS), Err(NotifyError::BadSignature));
        headers.signature = "bm90IGEgc2lnbmF0dXJl".to_owned();
        assert_eq!(verify_signature(&certificate_only(), &headers, BODY, NOW_MS), Err(NotifyError::BadSignature));
        headers.signature = "%%% not base64".to_owned();
        assert_eq!(verify_signature(&certificate_only(), &headers, BODY, NOW_MS), Err(NotifyError::BadSignature));
    }

    #[test]
    fn a_signature_by_the_wrong_key_is_refused() {
        let headers = signed(&public_mode_key(), CERTIFICATE_SERIAL, NOW_SECS);
        assert_eq!(verify_signature(&certificate_only(), &headers, BODY, NOW_MS), Err(NotifyError::BadSignature));
    }

    #[test]
    fn a_certificate_serial_is_unknown_once_only_public_key_mode_is_loaded() {
        assert_eq!(
            verify_signature(&public_key_only(), &by_certificate(), BODY, NOW_MS),
            Err(NotifyError::UnknownSerial(CERTIFICATE_SERIAL.to_owned()))
        );
    }

    #[test]
    fn a_timestamp_301_seconds_either_way_is_stale() {
        for timestamp in [NOW_SECS - 301, NOW_SECS + 301] {
            let headers = signed(&certificate_key(), CERTIFICATE_SERIAL, timestamp);
            assert_eq!(
                verify_signature(&certificate_only(), &headers, BODY, NOW_MS),
                Err(NotifyError::StaleTimestamp { timestamp, now_secs: NOW_SECS })
            );
        }
    }

    #[test]
    fn a_timestamp_300_seconds_either_way_is_fresh() {
        for timestamp in [NOW_SECS - 300, NOW_SECS + 300] {
            let headers = signed(&certificate_key(), CERTIFICATE_SERIAL, timestamp);
            assert_eq!(verify_signature(&certificate_only(), &headers, BODY, NOW_MS), Ok(()));
        }
    }

    #[test]
    fn a_timestamp_that_is_not_a_number_is_malformed() {
        for timestamp in ["", "+1700000000", "1700000000.5", "99999999999999999999"] {
            let headers = SignedHeaders { timestamp: timestamp.to_owned(), ..by_certificate() };
            assert_eq!(
                verify_signature(&certificate_only(), &headers, BODY, NOW_MS),
                Err(NotifyError::MalformedHeader(HEADER_TIMESTAMP))
            );
        }
    }

    #[test]
    fn the_signtest_probe_is_refused() {
        let mut headers = by_certificate();
        headers.signature = format!("{SIGNATURE_PROBE_PREFIX}{}", headers.signature);
        assert_eq!(verify_signature(&certificate_only(), &headers, BODY, NOW_MS), Err(NotifyError::SignatureProbe));
    }

    #[test]
    fn a_tampered_body_is_refused() {
        let tampered = String::from_utf8_lossy(BODY).replace("TRANSACTION.SUCCESS", "REFUND.SUCCESS");
        assert_eq!(
            verify_signature(&certificate_only(), &by_certificate(), tampered.as_bytes(), NOW_MS),
            Err(NotifyError::BadSignature)
        );
    }

    #[test]
    fn a_changed_nonce_is_refused() {
        let headers = SignedHeaders { nonce: "another-nonce".to_owned(), ..by_certificate() };
        assert_eq!(verify_signature(&certificate_only(), &headers, BODY, NOW_MS), Err(NotifyError::BadSignature));
    }

    #[test]
    fn an_unknown_serial_is_refused() {
        let headers = signed(&certificate_key(), "5157F09EFDC096DE15EBE81A47057A7232F1B8E1", NOW_SECS);
        assert_eq!(
            verify_signature(&certificate_only(), &headers, BODY, NOW_MS),
            Err(NotifyError::UnknownSerial("5157F09EFDC096DE15EBE81A47057A7232F1B8E1".to_owned()))
        );
    }

    #[test]
    fn an_unknown_serial_is_truncated_for_the_log() {
        let headers = SignedHeaders { serial: "F".repeat(1000), ..by_certificate() };
        assert_eq!(
            verify_signature(&certificate_only(), &headers, BODY, NOW_MS),
            Err(NotifyError::UnknownSerial("F".repeat(MAX_LOGGED_SERIAL_LEN)))
        );
    }

    #[test]
    fn another_signature_type_is_refused() {
        let headers = SignedHeaders { signature_type: Some("WECHATPAY2-SM2-WITH-SM3".to_owned()), ..by_certificate() };
        assert_eq!(
            verify_signature(&certificate_only(), &headers, BODY, NOW_MS),
            Err(NotifyError::UnsupportedSignatureType)
        );
    }

    #[test]
    fn an_absent_signature_type_is_accepted() {
        let headers = SignedHeaders { signature_type: None, ..by_certificate() };
        assert_eq!(verify_signature(&certificate_only(), &headers, BODY, NOW_MS), Ok(()));
    }

    fn header_map(headers: &SignedHeaders) -> HashMap<String, Vec<u8>> {
        headers
            .pairs()
            .into_iter()
            .map(|(name, value)| (name.to_ascii_lowercase(), value.as_bytes().to_vec()))
            .collect()
    }

    fn parse(map: &HashMap<String, Vec<u8>>) -> Result<SignedHeaders, NotifyError> {
        SignedHeaders::from_lookup(|name| map.get(&name.to_ascii_lowercase()).map(Vec::as_slice))
    }

    #[test]
    fn headers_read_back_what_was_sent() {
        let sent = by_certificate();
        assert_eq!(parse(&header_map(&sent)), Ok(sent));
    }

    #[test]
    fn an_absent_or_empty_header_is_missing() {
        for name in [HEADER_SERIAL, HEADER_SIGNATURE, HEADER_TIMESTAMP, HEADER_NONCE] {
            let mut map = header_map(&by_certificate());
            map.remove(&name.to_ascii_lowercase());
            assert_eq!(parse(&map), Err(NotifyError::MissingHeader(name)));
            map.insert(name.to_ascii_lowercase(), Vec::new());
            assert_eq!(parse(&map), Err(NotifyError::MissingHeader(name)));
        }
    }

    #[test]
    fn a_non_utf8_or_control_character_header_is_malformed() {
        for name in [HEADER_SERIAL, HEADER_SIGNATURE, HEADER_TIMESTAMP, HEADER_NONCE, HEADER_SIGNATURE_TYPE] {
            let mut map = header_map(&by_certificate());
            map.insert(name.to_ascii_lowercase(), vec![0x41, 0xff, 0xfe]);
            assert_eq!(parse(&map), Err(NotifyError::MalformedHeader(name)));
            map.insert(name.to_ascii_lowercase(), b"abc\ndef".to_vec());
            assert_eq!(parse(&map), Err(NotifyError::MalformedHeader(name)));
        }
    }

    #[test]
    fn the_signed_message_is_timestamp_nonce_body_each_ending_in_a_newline() {
        assert_eq!(signed_message("1700000000", "abc", b"{}"), b"1700000000\nabc\n{}\n");
    }
}
