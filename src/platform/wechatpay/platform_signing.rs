//! The platform's side of the signatures, for the sandbox that plays WeChat Pay: signing a response or notification
//! body (`TIMESTAMP\nNONCE\nBODY\n` with the platform key, sent as `Wechatpay-*` headers) and building a notification
//! whose resource is encrypted with the merchant's APIv3 key, exactly as WeChat Pay does, so that our real
//! verification and decryption paths are what the tests exercise.

use super::notify::{signed_message, SignedHeaders};
use super::resource::{EncryptedResource, Notification, RESOURCE_ALGORITHM};
use super::signing::SIGNATURE_SCHEME;
use crate::platform::crypto::aes_gcm::{encrypt_resource, AeadError, ApiV3Key};
use crate::platform::crypto::rsa_keys::RsaSigningKey;
use crate::platform::crypto::rsa_sign::SignError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlatformSignError {
    #[error(transparent)]
    Signing(#[from] SignError),
    #[error("the resource could not be encrypted: {0}")]
    Encryption(#[from] AeadError),
    #[error("the notification could not be serialised")]
    Serialisation,
}

/// The platform key that signs, and the id `Wechatpay-Serial` announces for it (a certificate serial or a
/// `PUB_KEY_ID_...`).
#[derive(Debug, Clone, Copy)]
pub struct PlatformSigner<'a> {
    pub key: &'a RsaSigningKey,
    pub serial: &'a str,
}

/// One event to notify, before encryption.
#[derive(Debug, Clone, Copy)]
pub struct NotificationToSend<'a> {
    pub id: &'a str,
    /// RFC 3339 with `+08:00`.
    pub create_time: &'a str,
    /// `TRANSACTION.SUCCESS`, `REFUND.SUCCESS`, ...
    pub event_type: &'a str,
    /// `支付成功`, `退款成功`, ...
    pub summary: &'a str,
    /// `transaction` or `refund`; WeChat Pay also uses it as the associated data.
    pub original_type: &'a str,
    /// The JSON of the [`super::Transaction`] or [`super::RefundResource`].
    pub plaintext: &'a [u8],
}

/// A notification ready to POST: the body bytes and the headers that sign them.
#[derive(Debug, Clone)]
pub struct SignedNotification {
    pub body: String,
    pub headers: SignedHeaders,
}

/// Signs a response or notification body as the platform does. `timestamp` is epoch seconds; `nonce` comes from
/// [`super::nonce::signature_nonce`].
pub fn sign_body(
    key: &RsaSigningKey,
    serial: &str,
    timestamp: i64,
    nonce: &str,
    body: &[u8],
) -> Result<SignedHeaders, SignError> {
    let timestamp = timestamp.to_string();
    let signature = key.sign_sha256_base64(&signed_message(&timestamp, nonce, body))?;
    Ok(SignedHeaders {
        serial: serial.to_owned(),
        signature,
        timestamp,
        nonce: nonce.to_owned(),
        signature_type: Some(SIGNATURE_SCHEME.to_owned()),
    })
}

/// The JSON body of a notification with its resource encrypted under `api_v3_key`. `resource_nonce` (12
/// characters) must be fresh for every encryption: [`super::nonce::resource_nonce`].
pub fn encrypt_notification(
    api_v3_key: &ApiV3Key,
    notification: &NotificationToSend<'_>,
    resource_nonce: &str,
) -> Result<String, PlatformSignError> {
    let associated_data = notification.original_type;
    let ciphertext = encrypt_resource(api_v3_key, resource_nonce, associated_data, notification.plaintext)?;
    let envelope = Notification {
        id: notification.id.to_owned(),
        create_time: notification.create_time.to_owned(),
        event_type: notification.event_type.to_owned(),
        resource_type: "encrypt-resource".to_owned(),
        summary: notification.summary.to_owned(),
        resource: EncryptedResource {
            algorithm: RESOURCE_ALGORITHM.to_owned(),
            ciphertext,
            associated_data: associated_data.to_owned(),
            nonce: resource_nonce.to_owned(),
            original_type: notification.original_type.to_owned(),
        },
    };
    serde_json::to_string(&envelope).map_err(|_| PlatformSignError::Serialisation)
}

/// A whole notification as WeChat Pay sends it: encrypted body, then its signature headers.
pub fn sign_notification(
    signer: PlatformSigner<'_>,
    api_v3_key: &ApiV3Key,
    notification: &NotificationToSend<'_>,
    timestamp: i64,
    nonce: &str,
    resource_nonce: &str,
) -> Result<SignedNotification, PlatformSignError> {
    let body = encrypt_notification(api_v3_key, notification, resource_nonce)?;
    let headers = sign_body(signer.key, signer.serial, timestamp, nonce, body.as_bytes())?;
    Ok(SignedNotification { body, headers })
}

#[cfg(test)]
mod tests {
    use super::super::notify::verify_signature;
    use super::super::platform_keys::PlatformKeys;
    use super::super::resource::{decode_notification, decrypt_refund, decrypt_transaction, TradeState};
    use super::*;
    use crate::platform::crypto::rsa_keys::test_keys::PKCS8_PEM;

    const PLATFORM_KEY: &str =
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/test_rsa_platform_pkcs8.pem"));
    const PUBLIC_KEY_ID: &str = "PUB_KEY_ID_0114232134912410000000000000000000";
    const NOW_SECS: i64 = 1_700_000_000;
    const TRANSACTION_JSON: &str = r#"{"appid":"wxd678efh567hg6787","mchid":"1230000109","out_trade_no":"E20240101000001","transaction_id":"4200000000202401010000000001","trade_type":"JSAPI","trade_state":"SUCCESS","success_time":"2024-01-01T10:00:00+08:00","payer":{"openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},"amount":{"total":12345,"payer_total":12345,"currency":"CNY","payer_currency":"CNY"},"attach":"acct:0100000001"}"#;

    fn platform_key() -> RsaSigningKey {
        RsaSigningKey::from_text(PLATFORM_KEY).expect("fixture platform key")
    }

    fn api_v3_key() -> ApiV3Key {
        ApiV3Key::new(b"ebill-test-apiv3-key-32-bytes-ok").expect("32 bytes")
    }

    fn merchant_side_keys() -> PlatformKeys {
        let mut keys = PlatformKeys::new();
        keys.insert_public_key(PUBLIC_KEY_ID, platform_key().verifying_key().expect("public half")).expect("inserts");
        keys
    }

    fn send(plaintext: &[u8], event_type: &str, original_type: &str) -> SignedNotification {
        let key = platform_key();
        let notification = NotificationToSend {
            id: "EV-1",
            create_time: "2024-01-01T10:00:01+08:00",
            event_type,
            summary: "支付成功",
            original_type,
            plaintext,
        };
        let signer = PlatformSigner { key: &key, serial: PUBLIC_KEY_ID };
        sign_notification(signer, &api_v3_key(), &notification, NOW_SECS, "n0nce", "Xq3Zp9Lm2Wd4").expect("signs")
    }

    #[test]
    fn a_sent_payment_notification_verifies_and_decrypts_on_the_merchant_side() {
        let sent = send(TRANSACTION_JSON.as_bytes(), "TRANSACTION.SUCCESS", "transaction");
        assert_eq!(
            verify_signature(&merchant_side_keys(), &sent.headers, sent.body.as_bytes(), NOW_SECS * 1000),
            Ok(())
        );
        let notification = decode_notification(sent.body.as_bytes()).expect("decodes");
        assert_eq!(notification.event_type, "TRANSACTION.SUCCESS");
        assert_eq!(notification.resource.associated_data, "transaction");
        let transaction = decrypt_transaction(&api_v3_key(), &notification).expect("decrypts");
        assert_eq!(transaction.trade_state, TradeState::Success);
        assert_eq!(transaction.amount.total, 12345);
    }

    #[test]
    fn a_sent_refund_notification_decrypts_as_a_refund() {
        let refund = br#"{"mchid":"1230000109","out_trade_no":"E1","transaction_id":"42","out_refund_no":"R1","refund_id":"50","refund_status":"SUCCESS","success_time":"2024-01-01T10:00:00+08:00","amount":{"total":100,"refund":100,"payer_total":100,"payer_refund":100}}"#;
        let sent = send(refund, "REFUND.SUCCESS", "refund");
        let notification = decode_notification(sent.body.as_bytes()).expect("decodes");
        assert_eq!(decrypt_refund(&api_v3_key(), &notification).expect("decrypts").refund_id, "50");
    }

    #[test]
    fn the_headers_name_the_signer_and_the_scheme() {
        let sent = send(TRANSACTION_JSON.as_bytes(), "TRANSACTION.SUCCESS", "transaction");
        assert_eq!(
            sent.headers.pairs().into_iter().map(|(name, _)| name).collect::<Vec<_>>(),
            [
                "Wechatpay-Serial",
                "Wechatpay-Signature",
                "Wechatpay-Timestamp",
                "Wechatpay-Nonce",
                "Wechatpay-Signature-Type"
            ]
        );
        assert_eq!(sent.headers.serial, PUBLIC_KEY_ID);
        assert_eq!(sent.headers.timestamp, "1700000000");
        assert_eq!(sent.headers.signature_type.as_deref(), Some("WECHATPAY2-SHA256-RSA2048"));
    }

    #[test]
    fn a_notification_signed_with_the_merchant_key_does_not_verify() {
        let merchant = RsaSigningKey::from_text(PKCS8_PEM).expect("fixture private key");
        let sent = send(TRANSACTION_JSON.as_bytes(), "TRANSACTION.SUCCESS", "transaction");
        let forged = sign_body(&merchant, PUBLIC_KEY_ID, NOW_SECS, "n0nce", sent.body.as_bytes()).expect("signs");
        assert!(verify_signature(&merchant_side_keys(), &forged, sent.body.as_bytes(), NOW_SECS * 1000).is_err());
    }
}
