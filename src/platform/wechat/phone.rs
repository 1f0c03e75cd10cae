//! The user's phone number: the current API (`getuserphonenumber`, a one-time code from the button, called with the
//! access token) and the old one (`encryptedData` decrypted with the user's `session_key`, checked to be for us).

use super::{plausible_code, WechatClient, WechatError, WechatTokens};
use crate::config::Secret;
use crate::platform::crypto::aes_cbc;
use serde::{Deserialize, Deserializer};
use serde_json::{json, Value};

/// A phone number as WeChat states it. `phone_number` has the country code for numbers outside mainland China;
/// `pure_phone_number` never has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhoneInfo {
    pub phone_number: String,
    pub pure_phone_number: String,
    pub country_code: String,
}

#[derive(Deserialize)]
struct PhoneInfoWire {
    #[serde(rename = "phoneNumber")]
    phone_number: String,
    #[serde(rename = "purePhoneNumber")]
    pure_phone_number: String,
    #[serde(rename = "countryCode", deserialize_with = "string_or_number")]
    country_code: String,
    #[serde(default)]
    watermark: Option<Watermark>,
}

#[derive(Deserialize)]
struct Watermark {
    appid: String,
}

/// `countryCode` comes as `"86"` or as `86` (PROTOCOLS.md).
fn string_or_number<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Text(String),
        Number(serde_json::Number),
    }
    Ok(match Raw::deserialize(deserializer)? {
        Raw::Text(text) => text,
        Raw::Number(number) => number.to_string(),
    })
}

impl PhoneInfoWire {
    /// The phone number, provided the watermark (when present, or when `required`) names `appid`.
    fn into_phone(self, appid: &str, watermark_required: bool) -> Result<PhoneInfo, &'static str> {
        match &self.watermark {
            Some(watermark) if watermark.appid != appid => return Err("the watermark names another app"),
            None if watermark_required => return Err("the data carries no watermark"),
            _ => {}
        }
        if self.pure_phone_number.is_empty() {
            return Err("the phone number is empty");
        }
        Ok(PhoneInfo {
            phone_number: self.phone_number,
            pure_phone_number: self.pure_phone_number,
            country_code: self.country_code,
        })
    }
}

/// Reads the `phone_info` of a `getuserphonenumber` reply.
fn phone_from_reply(reply: &Value, appid: &str) -> Result<PhoneInfo, WechatError> {
    let info = reply
        .get("phone_info")
        .ok_or_else(|| WechatError::MalformedResponse("getuserphonenumber lacks phone_info".into()))?;
    let wire = PhoneInfoWire::deserialize(info)
        .map_err(|_| WechatError::MalformedResponse("phone_info lacks a field".into()))?;
    wire.into_phone(appid, false).map_err(|why| WechatError::MalformedResponse(why.into()))
}

impl WechatClient {
    /// `POST /wxa/business/getuserphonenumber` with the access token from `tokens` (this app's); a refused token is
    /// refreshed once and the call retried once.
    pub async fn phone_number(
        &self,
        tokens: &WechatTokens,
        code: &str,
        openid: Option<&str>,
    ) -> Result<PhoneInfo, WechatError> {
        tokens.with_token(async |token: &str| self.phone_number_with_token(token, code, openid).await).await
    }

    /// One `getuserphonenumber` call with a given token; a refused token is [`WechatError::TokenRejected`].
    pub async fn phone_number_with_token(
        &self,
        access_token: &str,
        code: &str,
        openid: Option<&str>,
    ) -> Result<PhoneInfo, WechatError> {
        if !plausible_code(code) {
            return Err(WechatError::InvalidCode);
        }
        let url = self.url("/wxa/business/getuserphonenumber");
        let body = match openid {
            Some(openid) => json!({ "code": code, "openid": openid }),
            None => json!({ "code": code }),
        };
        let reply = self.call(|| self.http.post(&url).query(&[("access_token", access_token)]).json(&body)).await?;
        phone_from_reply(&reply, &self.appid)
    }
}

/// The old API: decrypts `encryptedData` with the user's `session_key` and the `iv` (all base64) and checks the
/// watermark names `expected_appid` (CBC has no integrity: the watermark is what tells the data is for us).
pub fn decrypt_phone(
    encrypted_data: &str,
    iv: &str,
    session_key: &Secret,
    expected_appid: &str,
) -> Result<PhoneInfo, WechatError> {
    let session_key = std::str::from_utf8(session_key.expose())
        .map_err(|_| WechatError::EncryptedData("the session key is not base64 text"))?;
    let plaintext = aes_cbc::decrypt_wechat_encrypted_data(session_key, iv, encrypted_data)
        .map_err(|_| WechatError::EncryptedData("the data does not decrypt with this session key"))?;
    let wire: PhoneInfoWire =
        serde_json::from_slice(&plaintext).map_err(|_| WechatError::EncryptedData("the data is not a phone number"))?;
    wire.into_phone(expected_appid, true).map_err(WechatError::EncryptedData)
}

#[cfg(test)]
mod tests {
    use super::*;

    const APPID: &str = "wx4f4bc4dec97d474b";

    #[test]
    fn country_code_may_be_a_string() {
        let reply = json!({"errcode": 0, "errmsg": "ok", "phone_info": {
            "phoneNumber": "13800138000", "purePhoneNumber": "13800138000", "countryCode": "86",
            "watermark": {"timestamp": 1637744274, "appid": APPID}}});
        let phone = phone_from_reply(&reply, APPID).expect("reads");
        assert_eq!(
            phone,
            PhoneInfo {
                phone_number: "13800138000".into(),
                pure_phone_number: "13800138000".into(),
                country_code: "86".into()
            }
        );
    }

    #[test]
    fn country_code_may_be_a_number() {
        let reply = json!({"phone_info": {
            "phoneNumber": "+85261234567", "purePhoneNumber": "61234567", "countryCode": 852}});
        let phone = phone_from_reply(&reply, APPID).expect("reads");
        assert_eq!(phone.country_code, "852");
        assert_eq!(phone.pure_phone_number, "61234567");
    }

    #[test]
    fn a_watermark_for_another_app_is_refused() {
        let reply = json!({"phone_info": {"phoneNumber": "1", "purePhoneNumber": "1", "countryCode": "86",
            "watermark": {"appid": "wx0000000000000000"}}});
        assert!(matches!(phone_from_reply(&reply, APPID), Err(WechatError::MalformedResponse(_))));
    }

    #[test]
    fn a_reply_without_phone_info_is_malformed() {
        assert!(matches!(phone_from_reply(&json!({"errcode": 0}), APPID), Err(WechatError::MalformedResponse(_))));
    }

    // The official demo vector (PROTOCOLS.md): it decrypts, and its watermark names the demo app, but it holds the
    // user's profile rather than a phone number.
    const DEMO_SESSION_KEY: &str = "tiihtNczf5v6AKRyjwEUhQ==";
    const DEMO_IV: &str = "r7BXXKkLb8qrSNn05n0qiA==";
    const DEMO_ENCRYPTED_DATA: &str = concat!(
        "CiyLU1Aw2KjvrjMdj8YKliAjtP4gsMZMQmRzooG2xrDcvSnxIMXFufNstNGTyaGS9uT5geRa0W4oTOb1WT7fJlAC+oNPdbB+3hVbJSRgv+4l",
        "GOETKUQz6OYStslQ142dNCuabNPGBzlooOmB231qMM85d2/fV6ChevvXvQP8Hkue1poOFtnEtpyxVLW1zAo6/1Xx1COxFvrc2d7UL/lmHInN",
        "lxuacJXwu0fjpXfz/YqYzBIBzD6WUfTIF9GRHpOn/Hz7saL8xz+W//FRAUid1OksQaQx4CMs8LOddcQhULW4ucetDf96JcR3g0gfRK4PC7E/",
        "r7Z6xNrXd2UIeorGj5Ef7b1pJAYB6Y5anaHqZ9J6nKEBvB4DnNLIVWSgARns/8wR2SiRS7MNACwTyrGvt9ts8p12PKFdlqYTopNHR1Vf7Xjf",
        "hQlVsAJdNiKdYmYVoKlaRv85IfVunYzO0IKXsyl7JCUjCpoG20f0a04COwfneQAGGwd5oa+T8yO5hzuyDb/XcxxmK01EpqOyuxINew==",
    );

    fn demo_key() -> Secret {
        Secret::new(DEMO_SESSION_KEY.as_bytes().to_vec())
    }

    #[test]
    fn the_official_vector_decrypts_but_holds_no_phone_number() {
        assert_eq!(
            decrypt_phone(DEMO_ENCRYPTED_DATA, DEMO_IV, &demo_key(), APPID),
            Err(WechatError::EncryptedData("the data is not a phone number"))
        );
    }

    #[test]
    fn a_phone_payload_under_the_demo_key_decrypts_and_checks_the_watermark() {
        let plaintext = json!({"phoneNumber": "13800138000", "purePhoneNumber": "13800138000", "countryCode": "86",
            "watermark": {"timestamp": 1477314187, "appid": APPID}})
        .to_string();
        let data =
            aes_cbc::encrypt_wechat_encrypted_data(DEMO_SESSION_KEY, DEMO_IV, plaintext.as_bytes()).expect("encrypts");
        let phone = decrypt_phone(&data, DEMO_IV, &demo_key(), APPID).expect("decrypts");
        assert_eq!(phone.pure_phone_number, "13800138000");
        assert_eq!(
            decrypt_phone(&data, DEMO_IV, &demo_key(), "wx0000000000000000"),
            Err(WechatError::EncryptedData("the watermark names another app"))
        );
    }

    #[test]
    fn data_without_a_watermark_is_refused() {
        let plaintext = json!({"phoneNumber": "1", "purePhoneNumber": "1", "countryCode": "86"}).to_string();
        let data =
            aes_cbc::encrypt_wechat_encrypted_data(DEMO_SESSION_KEY, DEMO_IV, plaintext.as_bytes()).expect("encrypts");
        assert_eq!(
            decrypt_phone(&data, DEMO_IV, &demo_key(), APPID),
            Err(WechatError::EncryptedData("the data carries no watermark"))
        );
    }

    #[test]
    fn data_under_another_session_key_is_refused() {
        let other = Secret::new(b"AAAAAAAAAAAAAAAAAAAAAA==".to_vec());
        assert!(matches!(
            decrypt_phone(DEMO_ENCRYPTED_DATA, DEMO_IV, &other, APPID),
            Err(WechatError::EncryptedData(_))
        ));
    }
}
