//! The body of a WeChat Pay notification and its encrypted `resource` (PROTOCOLS.md, "Payment notification"): the
//! envelope ([`Notification`]), and the decrypted payment ([`Transaction`]) and refund ([`RefundResource`]).
//! Call these only after [`super::notify::verify_signature`] has passed on the raw body.
//!
//! Fields we do not use are ignored, so a field the platform adds breaks nothing; amounts are integer fen. Errors
//! never echo the plaintext (it holds the payer's openid), only where the JSON went wrong.

use crate::platform::crypto::aes_gcm::{decrypt_resource, AeadError, ApiV3Key};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// The only resource encryption of API v3.
pub const RESOURCE_ALGORITHM: &str = "AEAD_AES_256_GCM";
/// How much of an unexpected algorithm name we keep for the log.
const MAX_LOGGED_ALGORITHM_LEN: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResourceError {
    #[error("the notification body is not the expected JSON (line {line}, column {column})")]
    MalformedNotification { line: usize, column: usize },
    #[error("the resource algorithm `{0}` is not {RESOURCE_ALGORITHM}")]
    UnsupportedAlgorithm(String),
    #[error("the resource could not be decrypted: {0}")]
    Decryption(#[from] AeadError),
    #[error("the decrypted resource is not the expected JSON (line {line}, column {column})")]
    MalformedResource { line: usize, column: usize },
}

/// A notification as posted to our notify URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    /// The notification's id; the same for every retry of one event.
    pub id: String,
    /// RFC 3339 with `+08:00`.
    pub create_time: String,
    /// `TRANSACTION.SUCCESS`, `REFUND.SUCCESS`, `REFUND.ABNORMAL`, `REFUND.CLOSED`.
    pub event_type: String,
    /// `encrypt-resource`.
    pub resource_type: String,
    /// A human-readable summary (`支付成功`); absent in some notifications.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub summary: String,
    pub resource: EncryptedResource,
}

/// The `resource` of a notification: what [`decrypt_transaction`] and [`decrypt_refund`] open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EncryptedResource {
    pub algorithm: String,
    /// base64(ciphertext ‖ 16-byte tag).
    pub ciphertext: String,
    /// The AAD; may be empty.
    #[serde(default)]
    pub associated_data: String,
    /// 12 characters.
    pub nonce: String,
    /// `transaction` or `refund`.
    #[serde(default)]
    pub original_type: String,
}

/// The state of a payment (`trade_state`). A state WeChat Pay adds later reads as `Unknown`, which settles nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TradeState {
    #[serde(rename = "SUCCESS")]
    Success,
    #[serde(rename = "REFUND")]
    Refund,
    #[serde(rename = "NOTPAY")]
    NotPay,
    #[serde(rename = "CLOSED")]
    Closed,
    #[serde(rename = "REVOKED")]
    Revoked,
    #[serde(rename = "USERPAYING")]
    UserPaying,
    #[serde(rename = "PAYERROR")]
    PayError,
    #[serde(other, rename = "UNKNOWN")]
    Unknown,
}

/// A payment, as the decrypted resource of `TRANSACTION.SUCCESS` carries it (and as the order query answers it,
/// where the fields marked optional are absent until the customer has paid).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transaction {
    pub appid: String,
    pub mchid: String,
    pub out_trade_no: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<String>,
    /// `JSAPI` for mini-program payments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trade_type: Option<String>,
    pub trade_state: TradeState,
    /// RFC 3339 with `+08:00`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payer: Option<Payer>,
    pub amount: TransactionAmount,
    /// What we sent as `attach` when placing the order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attach: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payer {
    pub openid: String,
}

/// Amounts in fen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransactionAmount {
    /// The order amount: what we asked for. (Unpaid orders' query answers may leave fields out: they default.)
    #[serde(default)]
    pub total: i64,
    /// What the customer paid after platform discounts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payer_total: Option<i64>,
    #[serde(default)]
    pub currency: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payer_currency: Option<String>,
}

/// The state of a refund (`refund_status`). A state WeChat Pay adds later reads as `Unknown`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RefundStatus {
    #[serde(rename = "SUCCESS")]
    Success,
    #[serde(rename = "CLOSED")]
    Closed,
    #[serde(rename = "PROCESSING")]
    Processing,
    #[serde(rename = "ABNORMAL")]
    Abnormal,
    #[serde(other, rename = "UNKNOWN")]
    Unknown,
}

/// A refund, as the decrypted resource of `REFUND.SUCCESS|ABNORMAL|CLOSED` carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundResource {
    pub mchid: String,
    pub out_trade_no: String,
    pub transaction_id: String,
    /// Our idempotency key for the refund.
    pub out_refund_no: String,
    pub refund_id: String,
    pub refund_status: RefundStatus,
    /// Present when the refund succeeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success_time: Option<String>,
    pub amount: RefundAmount,
}

/// Amounts in fen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundAmount {
    /// The original order's amount.
    pub total: i64,
    /// The amount refunded.
    pub refund: i64,
    pub payer_total: i64,
    pub payer_refund: i64,
}

/// Parses a notification's raw body (after its signature has been verified).
pub fn decode_notification(body: &[u8]) -> Result<Notification, ResourceError> {
    serde_json::from_slice(body)
        .map_err(|e| ResourceError::MalformedNotification { line: e.line(), column: e.column() })
}

/// Decrypts the resource of a payment notification.
pub fn decrypt_transaction(key: &ApiV3Key, notification: &Notification) -> Result<Transaction, ResourceError> {
    decrypt_json(key, &notification.resource)
}

/// Decrypts the resource of a refund notification.
pub fn decrypt_refund(key: &ApiV3Key, notification: &Notification) -> Result<RefundResource, ResourceError> {
    decrypt_json(key, &notification.resource)
}

/// The plaintext of a resource: the one path both decryptions take, after checking the algorithm.
pub fn decrypt_plaintext(key: &ApiV3Key, resource: &EncryptedResource) -> Result<Vec<u8>, ResourceError> {
    if resource.algorithm != RESOURCE_ALGORITHM {
        return Err(ResourceError::UnsupportedAlgorithm(
            resource.algorithm.chars().take(MAX_LOGGED_ALGORITHM_LEN).collect(),
        ));
    }
    Ok(decrypt_resource(key, &resource.nonce, &resource.associated_data, &resource.ciphertext)?)
}

fn decrypt_json<T: DeserializeOwned>(key: &ApiV3Key, resource: &EncryptedResource) -> Result<T, ResourceError> {
    let plaintext = decrypt_plaintext(key, resource)?;
    serde_json::from_slice(&plaintext)
        .map_err(|e| ResourceError::MalformedResource { line: e.line(), column: e.column() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::crypto::aes_gcm::encrypt_resource;

    // Public vector of wechatpay-java's AeadAesCipherTest (PROTOCOLS.md, "Public vectors").
    const VECTOR_KEY: &str = "a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb";
    const VECTOR_AAD: &str = "associatedData";
    const VECTOR_NONCE: &str = "uluk4a9R25RW";
    const VECTOR_CIPHERTEXT: &str = "ulwSiIajGClcvcOYvOQ7+l+0PAbzzwI=";

    /// WeChat Pay's documented payment notification plaintext, unknown fields (`bank_type`, `promotion_detail`,
    /// `scene_info`) included.
    const TRANSACTION_JSON: &str = r#"{"transaction_id":"1217752501201407033233368018","amount":{"payer_total":100,"total":100,"currency":"CNY","payer_currency":"CNY"},"mchid":"1230000109","trade_state":"SUCCESS","bank_type":"CMC","promotion_detail":[{"amount":100,"wechatpay_contribute":0,"coupon_id":"109519","scope":"GLOBAL","merchant_contribute":0,"name":"单品惠-6","other_contribute":0,"currency":"CNY","stock_id":"931386","goods_detail":[{"goods_remark":"商品备注信息","quantity":1,"discount_amount":1,"goods_id":"M1006","unit_price":100}]}],"success_time":"2018-06-08T10:34:56+08:00","payer":{"openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},"out_trade_no":"1217752501201407033233368018","appid":"wxd678efh567hg6787","trade_state_desc":"支付成功","trade_type":"MICROPAY","attach":"自定义数据","scene_info":{"device_id":"013467007045764"}}"#;

    /// WeChat Pay's documented refund notification plaintext.
    const REFUND_JSON: &str = r#"{"mchid":"1900000100","transaction_id":"1008450740201411110005820873","out_trade_no":"20150806125346","refund_id":"50200207182018070300011301001","out_refund_no":"7752501201407033233368018","refund_status":"SUCCESS","success_time":"2018-06-08T10:34:56+08:00","user_received_account":"招商银行信用卡0403","amount":{"total":999,"refund":999,"payer_total":999,"payer_refund":999}}"#;

    const API_V3_KEY: &[u8] = b"ebill-test-apiv3-key-32-bytes-ok";

    fn vector_key() -> ApiV3Key {
        ApiV3Key::new(VECTOR_KEY.as_bytes()).expect("32 bytes")
    }

    fn test_key() -> ApiV3Key {
        ApiV3Key::new(API_V3_KEY).expect("32 bytes")
    }

    fn notification(event_type: &str, original_type: &str, plaintext: &str) -> Notification {
        let nonce = "Xq3Zp9Lm2Wd4";
        let ciphertext = encrypt_resource(&test_key(), nonce, original_type, plaintext.as_bytes()).expect("encrypts");
        Notification {
            id: "EV-2018022511223320873".to_owned(),
            create_time: "2015-05-20T13:29:35+08:00".to_owned(),
            event_type: event_type.to_owned(),
            resource_type: "encrypt-resource".to_owned(),
            summary: "支付成功".to_owned(),
            resource: EncryptedResource {
                algorithm: RESOURCE_ALGORITHM.to_owned(),
                ciphertext,
                associated_data: original_type.to_owned(),
                nonce: nonce.to_owned(),
                original_type: original_type.to_owned(),
            },
        }
    }

    fn vector_resource() -> EncryptedResource {
        EncryptedResource {
            algorithm: RESOURCE_ALGORITHM.to_owned(),
            ciphertext: VECTOR_CIPHERTEXT.to_owned(),
            associated_data: VECTOR_AAD.to_owned(),
            nonce: VECTOR_NONCE.to_owned(),
            original_type: "transaction".to_owned(),
        }
    }

    #[test]
    fn the_public_aes_gcm_vector_decrypts_through_the_notification_path() {
        assert_eq!(decrypt_plaintext(&vector_key(), &vector_resource()), Ok(b"message".to_vec()));
    }

    #[test]
    fn the_public_vector_reaches_the_json_step_of_decrypt_transaction() {
        // `message` is not JSON: failing there proves decryption itself passed.
        let body = serde_json::json!({
            "id": "EV-1", "create_time": "2015-05-20T13:29:35+08:00", "event_type": "TRANSACTION.SUCCESS",
            "resource_type": "encrypt-resource", "resource": vector_resource(),
        });
        let notification = decode_notification(body.to_string().as_bytes()).expect("decodes");
        assert!(matches!(
            decrypt_transaction(&vector_key(), &notification),
            Err(ResourceError::MalformedResource { .. })
        ));
    }

    #[test]
    fn decodes_the_documented_notification_envelope() {
        let body = r#"{"id":"EV-2018022511223320873","create_time":"2015-05-20T13:29:35+08:00","resource_type":"encrypt-resource","event_type":"TRANSACTION.SUCCESS","summary":"支付成功","resource":{"original_type":"transaction","algorithm":"AEAD_AES_256_GCM","ciphertext":"ulwSiIajGClcvcOYvOQ7+l+0PAbzzwI=","associated_data":"","nonce":"fdasflkja484"}}"#;
        let notification = decode_notification(body.as_bytes()).expect("decodes");
        assert_eq!(notification.event_type, "TRANSACTION.SUCCESS");
        assert_eq!(notification.resource.nonce, "fdasflkja484");
        assert_eq!(notification.resource.associated_data, "");
    }

    #[test]
    fn a_body_that_is_not_a_notification_is_malformed() {
        assert!(matches!(decode_notification(b"{\"id\":1}"), Err(ResourceError::MalformedNotification { .. })));
        assert!(matches!(decode_notification(b"\xff"), Err(ResourceError::MalformedNotification { .. })));
    }

    #[test]
    fn decrypts_the_documented_transaction() {
        let notification = notification("TRANSACTION.SUCCESS", "transaction", TRANSACTION_JSON);
        let transaction = decrypt_transaction(&test_key(), &notification).expect("decrypts");
        assert_eq!(
            transaction,
            Transaction {
                appid: "wxd678efh567hg6787".to_owned(),
                mchid: "1230000109".to_owned(),
                out_trade_no: "1217752501201407033233368018".to_owned(),
                transaction_id: Some("1217752501201407033233368018".to_owned()),
                trade_type: Some("MICROPAY".to_owned()),
                trade_state: TradeState::Success,
                success_time: Some("2018-06-08T10:34:56+08:00".to_owned()),
                payer: Some(Payer { openid: "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o".to_owned() }),
                amount: TransactionAmount {
                    total: 100,
                    payer_total: Some(100),
                    currency: "CNY".to_owned(),
                    payer_currency: Some("CNY".to_owned()),
                },
                attach: Some("自定义数据".to_owned()),
            }
        );
    }

    #[test]
    fn decrypts_the_documented_refund() {
        let notification = notification("REFUND.SUCCESS", "refund", REFUND_JSON);
        let refund = decrypt_refund(&test_key(), &notification).expect("decrypts");
        assert_eq!(
            refund,
            RefundResource {
                mchid: "1900000100".to_owned(),
                out_trade_no: "20150806125346".to_owned(),
                transaction_id: "1008450740201411110005820873".to_owned(),
                out_refund_no: "7752501201407033233368018".to_owned(),
                refund_id: "50200207182018070300011301001".to_owned(),
                refund_status: RefundStatus::Success,
                success_time: Some("2018-06-08T10:34:56+08:00".to_owned()),
                amount: RefundAmount { total: 999, refund: 999, payer_total: 999, payer_refund: 999 },
            }
        );
    }

    #[test]
    fn an_unpaid_order_has_no_payment_fields() {
        let json = r#"{"appid":"wx1","mchid":"1","out_trade_no":"A1","trade_state":"NOTPAY","amount":{"total":1,"currency":"CNY"}}"#;
        let transaction: Transaction = serde_json::from_str(json).expect("parses");
        assert_eq!(transaction.trade_state, TradeState::NotPay);
        assert_eq!((transaction.transaction_id, transaction.payer, transaction.amount.payer_total), (None, None, None));
    }

    #[test]
    fn an_unknown_trade_state_reads_as_unknown() {
        let json = TRANSACTION_JSON.replace("\"trade_state\":\"SUCCESS\"", "\"trade_state\":\"SOMETHING_NEW\"");
        let transaction: Transaction = serde_json::from_str(&json).expect("parses");
        assert_eq!(transaction.trade_state, TradeState::Unknown);
    }

    #[test]
    fn a_fractional_amount_is_refused() {
        let json = TRANSACTION_JSON.replace("\"total\":100,", "\"total\":1.5,");
        let notification = notification("TRANSACTION.SUCCESS", "transaction", &json);
        assert!(matches!(
            decrypt_transaction(&test_key(), &notification),
            Err(ResourceError::MalformedResource { .. })
        ));
    }

    #[test]
    fn another_algorithm_is_refused() {
        let mut notification = notification("TRANSACTION.SUCCESS", "transaction", TRANSACTION_JSON);
        notification.resource.algorithm = "AEAD_SM4_GCM".to_owned();
        assert_eq!(
            decrypt_transaction(&test_key(), &notification),
            Err(ResourceError::UnsupportedAlgorithm("AEAD_SM4_GCM".to_owned()))
        );
    }

    #[test]
    fn a_wrong_api_v3_key_fails_authentication() {
        let notification = notification("TRANSACTION.SUCCESS", "transaction", TRANSACTION_JSON);
        assert_eq!(
            decrypt_transaction(&vector_key(), &notification),
            Err(ResourceError::Decryption(AeadError::Authentication))
        );
    }

    #[test]
    fn a_changed_associated_data_fails_authentication() {
        let mut notification = notification("TRANSACTION.SUCCESS", "transaction", TRANSACTION_JSON);
        notification.resource.associated_data = "refund".to_owned();
        assert_eq!(
            decrypt_transaction(&test_key(), &notification),
            Err(ResourceError::Decryption(AeadError::Authentication))
        );
    }

    #[test]
    fn errors_do_not_echo_the_plaintext() {
        let json = TRANSACTION_JSON.replace("\"trade_state\":\"SUCCESS\"", "\"trade_state\":7");
        let notification = notification("TRANSACTION.SUCCESS", "transaction", &json);
        let error = decrypt_transaction(&test_key(), &notification).expect_err("fails");
        assert!(!format!("{error} {error:?}").contains("oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"));
    }
}
