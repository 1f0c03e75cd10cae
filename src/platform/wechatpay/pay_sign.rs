//! The parameters the mini-program passes to `wx.requestPayment` after we place a JSAPI order (PROTOCOLS.md, "Place
//! order"): `timeStamp` (a 10-digit string), `nonceStr`, `package` (`prepay_id=...`), `signType: "RSA"` and
//! `paySign`, the base64 SHA256withRSA of `appId\ntimeStamp\nnonceStr\npackage\n` with the merchant private key
//! (`signType` is not signed). WeChat's client checks it with the merchant's public key, so a wrong byte here
//! surfaces only on a phone: the tests compare with OpenSSL.

use crate::platform::crypto::rsa_keys::RsaSigningKey;
use crate::platform::crypto::rsa_sign::SignError;
use serde::{Deserialize, Serialize};

/// The only `signType` of API v3 payments.
pub const PAY_SIGN_TYPE: &str = "RSA";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PaySignError {
    /// WeChat wants a 10-digit epoch-seconds `timeStamp` (2001-09-09 to 2286-11-20).
    #[error("the timestamp {0} is not a 10-digit number of epoch seconds")]
    Timestamp(i64),
    /// An empty value, or a newline that would shift the signed lines.
    #[error("`{0}` is empty or holds a line break")]
    InvalidValue(&'static str),
    #[error(transparent)]
    Signing(#[from] SignError),
}

/// `wx.requestPayment`'s arguments, serialised with exactly the names the mini-program passes on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RequestPayment {
    /// Epoch seconds as a 10-digit string.
    #[serde(rename = "timeStamp")]
    pub time_stamp: String,
    #[serde(rename = "nonceStr")]
    pub nonce_str: String,
    /// `prepay_id=<prepay id>`.
    pub package: String,
    /// Always `RSA`.
    #[serde(rename = "signType")]
    pub sign_type: String,
    /// Base64 SHA256withRSA over `appId\ntimeStamp\nnonceStr\npackage\n`.
    #[serde(rename = "paySign")]
    pub pay_sign: String,
}

/// The exact string `paySign` covers: `appId\ntimeStamp\nnonceStr\npackage\n`.
pub fn pay_sign_message(app_id: &str, time_stamp: &str, nonce_str: &str, package: &str) -> String {
    format!("{app_id}\n{time_stamp}\n{nonce_str}\n{package}\n")
}

/// Builds and signs the `wx.requestPayment` parameters for a prepay id returned by `/v3/pay/transactions/jsapi`.
/// `app_id` is the mini-program's AppID (the order's `appid`); `timestamp` is epoch seconds; `nonce` comes from
/// [`super::nonce::signature_nonce`].
pub fn request_payment(
    key: &RsaSigningKey,
    app_id: &str,
    prepay_id: &str,
    timestamp: i64,
    nonce: &str,
) -> Result<RequestPayment, PaySignError> {
    if !(1_000_000_000..=9_999_999_999).contains(&timestamp) {
        return Err(PaySignError::Timestamp(timestamp));
    }
    for (name, value) in [("appId", app_id), ("prepay_id", prepay_id), ("nonceStr", nonce)] {
        if value.is_empty() || value.contains(['\n', '\r']) {
            return Err(PaySignError::InvalidValue(name));
        }
    }
    let time_stamp = timestamp.to_string();
    let package = format!("prepay_id={prepay_id}");
    let pay_sign = key.sign_sha256_base64(pay_sign_message(app_id, &time_stamp, nonce, &package).as_bytes())?;
    Ok(RequestPayment {
        time_stamp,
        nonce_str: nonce.to_owned(),
        package,
        sign_type: PAY_SIGN_TYPE.to_owned(),
        pay_sign,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::crypto::openssl_cli;
    use crate::platform::crypto::rsa_keys::test_keys::{PKCS8_PEM, PUBLIC_PEM};
    use crate::platform::crypto::rsa_keys::RsaVerifyingKey;
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine as _;

    // The example values of WeChat Pay's JSAPI payment documentation.
    const APP_ID: &str = "wx8888888888888888";
    const TIMESTAMP: i64 = 1414561699;
    const NONCE: &str = "5K8264ILTKCH16CQ2502SI8ZNMTM67VS";
    const PREPAY_ID: &str = "wx201410272009395522657a690389285100";
    const MESSAGE: &str =
        "wx8888888888888888\n1414561699\n5K8264ILTKCH16CQ2502SI8ZNMTM67VS\nprepay_id=wx201410272009395522657a690389285100\n";

    /// `printf '<MESSAGE>' | openssl dgst -sha256 -sign tests/fixtures/test_rsa_pkcs8.pem | base64 -w0`, run once.
    const OPENSSL_PAY_SIGN: &str = concat!(
        "Q91avawby/k1q9yYpa8BbKy1++zC9PhdVNKBLV1ZsM1okNLKPbvrICqnJFFED8Gow9YUl4XyQm7gHt9Rz07HZCb3gZpfPYeXquNvE7J4uOyj",
        "y0IIIrA0NU/KZezIL5NjGJlE/sLYPNY8bYThKkA0EePT5l/rGsuOQE83q9vblr9WOWU7dPyBPA1I12VayxOk4vMNTRFzq/Cp+GrniLNz71wm",
        "4lxm0LYIQJ8PqwDL0o2sXeXK/wxV3ERgtCuJ+BofLNJRbPsv4zFoQ4uaGqj9+1wCdROSYh6A0t6oJWeEg21KiQzvNBivp6wp/9fUidIyMjYC",
        "sQakX0Z/y/2S4rAnoA==",
    );

    fn signed() -> RequestPayment {
        let key = RsaSigningKey::from_text(PKCS8_PEM).expect("fixture private key");
        request_payment(&key, APP_ID, PREPAY_ID, TIMESTAMP, NONCE).expect("signs")
    }

    #[test]
    fn message_is_app_id_timestamp_nonce_package_each_ending_in_a_newline() {
        let params = signed();
        assert_eq!(pay_sign_message(APP_ID, &params.time_stamp, &params.nonce_str, &params.package), MESSAGE);
    }

    #[test]
    fn pay_sign_equals_openssl_byte_for_byte() {
        assert_eq!(signed().pay_sign, OPENSSL_PAY_SIGN);
    }

    #[test]
    fn pay_sign_equals_a_fresh_openssl_run_when_available() {
        let Some(expected) = openssl_cli::sign_with_fixture_key(MESSAGE.as_bytes()) else { return };
        assert_eq!(STANDARD.decode(signed().pay_sign).expect("base64"), expected);
    }

    #[test]
    fn openssl_verifies_pay_sign_with_the_merchant_public_key() {
        let signature = STANDARD.decode(signed().pay_sign).expect("base64");
        let Some(verified) = openssl_cli::verify_with_fixture_public_key(MESSAGE.as_bytes(), &signature) else {
            return;
        };
        assert!(verified, "openssl refused our paySign");
        let tampered = MESSAGE.replace("1414561699", "1414561700");
        assert_eq!(openssl_cli::verify_with_fixture_public_key(tampered.as_bytes(), &signature), Some(false));
    }

    #[test]
    fn the_merchant_public_key_verifies_pay_sign() {
        let public = RsaVerifyingKey::from_text(PUBLIC_PEM).expect("fixture public key");
        assert_eq!(public.verify_sha256_base64(MESSAGE.as_bytes(), &signed().pay_sign), Ok(()));
    }

    #[test]
    fn serialises_with_the_names_wx_request_payment_takes() {
        let json = serde_json::to_value(signed()).expect("serialises");
        assert_eq!(
            json,
            serde_json::json!({
                "timeStamp": "1414561699",
                "nonceStr": NONCE,
                "package": "prepay_id=wx201410272009395522657a690389285100",
                "signType": "RSA",
                "paySign": OPENSSL_PAY_SIGN,
            })
        );
    }

    #[test]
    fn a_timestamp_that_is_not_ten_digits_is_refused() {
        let key = RsaSigningKey::from_text(PKCS8_PEM).expect("fixture private key");
        for timestamp in [999_999_999, 1_414_561_699_000, -1] {
            assert_eq!(
                request_payment(&key, APP_ID, PREPAY_ID, timestamp, NONCE),
                Err(PaySignError::Timestamp(timestamp))
            );
        }
    }

    #[test]
    fn a_line_break_in_a_signed_value_is_refused() {
        let key = RsaSigningKey::from_text(PKCS8_PEM).expect("fixture private key");
        assert_eq!(
            request_payment(&key, APP_ID, "wx2014\nforged", TIMESTAMP, NONCE),
            Err(PaySignError::InvalidValue("prepay_id"))
        );
        assert_eq!(request_payment(&key, "", PREPAY_ID, TIMESTAMP, NONCE), Err(PaySignError::InvalidValue("appId")));
    }
}
