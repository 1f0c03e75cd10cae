//! One gateway call: the common parameters (timestamp in UTC+8 whatever the host's zone), the RSA2 signature over
//! the sign string, and the answer opened only after its signature checks out over the exact node text.

use super::{AlipayClient, AlipayError};
use crate::domain::calendar::beijing_datetime;
use crate::platform::crypto::alipay_sign::{sign_request, slice_response, ResponseNode};
use serde_json::Value;
use std::time::Duration;

/// Parameters the client sets itself; extra parameters may not replace them.
const COMMON_PARAMS: [&str; 9] =
    ["app_id", "method", "format", "charset", "sign_type", "timestamp", "version", "biz_content", "sign"];
/// Pause before the one retry of a call that allows it.
const RETRY_PAUSE: Duration = Duration::from_millis(200);

/// The gateway's `timestamp`: `yyyy-MM-dd HH:mm:ss` in Beijing time (UTC+8), never the host's zone.
pub fn alipay_timestamp(epoch_ms: i64) -> Option<String> {
    beijing_datetime(epoch_ms).map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
}

impl AlipayClient {
    /// Every parameter of a call, `sign` last, as sent: the common ones, `biz_content` as a JSON string when given,
    /// and `extra` top-level ones (e.g. `grant_type` and `code` for `alipay.system.oauth.token`).
    pub fn signed_params(
        &self,
        method: &str,
        biz_content: Option<&Value>,
        extra: &[(&str, &str)],
        now_ms: i64,
    ) -> Result<Vec<(String, String)>, AlipayError> {
        if let Some((key, _)) = extra.iter().find(|(key, _)| COMMON_PARAMS.contains(key)) {
            return Err(AlipayError::InvalidRequest(format!("`{key}` is set by the client")));
        }
        let timestamp =
            alipay_timestamp(now_ms).ok_or_else(|| AlipayError::InvalidRequest("the clock is out of range".into()))?;
        let mut params: Vec<(String, String)> = [
            ("app_id", self.app_id.as_str()),
            ("method", method),
            ("format", "JSON"),
            ("charset", "utf-8"),
            ("sign_type", "RSA2"),
            ("timestamp", timestamp.as_str()),
            ("version", "1.0"),
        ]
        .into_iter()
        .chain(extra.iter().copied())
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        if let Some(biz_content) = biz_content {
            let json = serde_json::to_string(biz_content)
                .map_err(|e| AlipayError::InvalidRequest(format!("biz_content: {e}")))?;
            params.push(("biz_content".to_owned(), json));
        }
        let sign = sign_request(params.iter().map(|(k, v)| (k.as_str(), v.as_str())), &self.app_key)
            .map_err(|e| AlipayError::InvalidRequest(e.to_string()))?;
        params.push(("sign".to_owned(), sign));
        Ok(params)
    }

    /// Calls `method` once and returns its verified response node; a node whose `code` is not `10000` is an error.
    pub async fn call(
        &self,
        method: &str,
        biz_content: Option<Value>,
        extra: &[(&str, &str)],
    ) -> Result<Value, AlipayError> {
        let params = self.signed_params(method, biz_content.as_ref(), extra, self.clock.now_ms())?;
        let body = self.post_form(&params).await?;
        self.open_response(&body, method)
    }

    /// [`AlipayClient::call`], and once more after a transient failure. When the retry fails in a way that only
    /// shows the first attempt reached Alipay after all (`first_went_through`, e.g. an auth code already used), the
    /// first, transient failure is the true answer.
    pub async fn call_retrying_once(
        &self,
        method: &str,
        biz_content: Option<Value>,
        extra: &[(&str, &str)],
        first_went_through: impl Fn(&AlipayError) -> bool,
    ) -> Result<Value, AlipayError> {
        match self.call(method, biz_content.clone(), extra).await {
            Err(error) if error.is_transient() => {
                tracing::warn!(app_id = %self.app_id, method, %error, "Alipay call failed; retrying once");
                tokio::time::sleep(RETRY_PAUSE).await;
                match self.call(method, biz_content, extra).await {
                    Err(second) if first_went_through(&second) => Err(error),
                    second => second,
                }
            }
            other => other,
        }
    }

    /// Verifies a gateway answer and returns its node. The method's node must be signed; an unsigned
    /// `error_response` is accepted only as a failure.
    pub fn open_response(&self, body: &str, method: &str) -> Result<Value, AlipayError> {
        let response = slice_response(body, method).map_err(|e| AlipayError::MalformedResponse(e.to_string()))?;
        match (&response.sign, response.node) {
            (Some(sign), _) => self
                .alipay_public_key
                .verify_sha256_base64(response.content.as_bytes(), sign)
                .map_err(|e| AlipayError::Signature(e.to_string()))?,
            (None, ResponseNode::Method) => return Err(AlipayError::Signature("the answer is not signed".into())),
            (None, ResponseNode::Error) => {}
        }
        let node: Value = serde_json::from_str(response.content)
            .map_err(|_| AlipayError::MalformedResponse("the response node is not JSON".into()))?;
        if !node.is_object() {
            return Err(AlipayError::MalformedResponse("the response node is not an object".into()));
        }
        let code = node.get("code").and_then(Value::as_str);
        match (response.node, code) {
            // Some methods (alipay.system.oauth.token among them) omit `code` on success.
            (ResponseNode::Method, None | Some("10000")) => Ok(node),
            (ResponseNode::Error, None | Some("10000")) => {
                Err(AlipayError::MalformedResponse("an error_response without a failure code".into()))
            }
            (_, Some(_)) => Err(AlipayError::from_node(&node)),
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::platform::credentials::AlipayCredentials;
    use crate::platform::crypto::alipay_sign::request_sign_content;
    use crate::platform::crypto::openssl_cli;
    use crate::platform::crypto::rsa_keys::test_keys::*;
    use crate::platform::crypto::rsa_keys::{RsaSigningKey, RsaVerifyingKey};
    use serde_json::json;

    /// 2024-01-31T16:00:00Z: already 1 February in Beijing.
    const FIXED_MS: i64 = 1_706_716_800_000;
    const AUTH_CODE: &str = "4b203fe6c11548bcabd8da5bb087a83b";
    const SIGN_STRING: &str = concat!(
        "app_id=2021004112345678&charset=utf-8&code=4b203fe6c11548bcabd8da5bb087a83b&format=JSON",
        "&grant_type=authorization_code&method=alipay.system.oauth.token&sign_type=RSA2",
        "&timestamp=2024-02-01 00:00:00&version=1.0",
    );
    /// `printf '%s' "$SIGN_STRING" | openssl dgst -sha256 -sign tests/fixtures/test_rsa_pkcs8.pem | base64 -w0`,
    /// run once (OpenSSL 3.0).
    const OPENSSL_SIGN: &str = concat!(
        "k6it3XtD9+PEAJmh7nf3Ws3hR4zvAJ3nm3fa+jFAa2NHaIgJl/7FxJK/+TyvqVNHHqXek0kDDCWnTUbCZ7/enShMZYjm1ypa8ayZndKAO1wa",
        "ezBD/kP+cow96t7FQOj5yjmf1uCA+oNIw+de3zBfb1FSJDEMXlUcxmsEDUlNi8+/yU/eGNa5FT3EvT1AEHBpLLJbbSiMb4+wOU1FkWOH09Ov",
        "hNrR8XUeaY+ixPM64nmwQ5u3y5IJ30IsopsgPQwdvQRmH9V86FOiRbzMl02nz2mUYht+TYbv6DeI7WSOP8vQIbDaLiXq7gMoc0Bs//rOS8H1",
        "XkbVF4GkJZXaqzDq7Q==",
    );

    /// A client whose app key and "Alipay" key are the fixture pair, so it can verify what it signs.
    pub(in crate::platform::alipay) fn client() -> AlipayClient {
        let creds = AlipayCredentials {
            app_id: "2021004112345678".into(),
            app_key: RsaSigningKey::from_text(PKCS8_PEM).expect("fixture private key"),
            alipay_public_key: RsaVerifyingKey::from_text(PUBLIC_PEM).expect("fixture public key"),
            aes_key: None,
            gateway_url: "http://127.0.0.1:9/gateway.do".into(),
            timeout: Duration::from_secs(1),
            seller_id: None,
            notify_url: "https://ebill.example.com/notify/alipay".into(),
        };
        AlipayClient::new(&creds, reqwest::Client::new())
    }

    fn oauth_params() -> Vec<(String, String)> {
        client()
            .signed_params(
                "alipay.system.oauth.token",
                None,
                &[("grant_type", "authorization_code"), ("code", AUTH_CODE)],
                FIXED_MS,
            )
            .expect("signs")
    }

    fn param<'a>(params: &'a [(String, String)], key: &str) -> Option<&'a str> {
        params.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    #[test]
    fn timestamps_are_beijing_time_whatever_the_host_zone() {
        assert_eq!(alipay_timestamp(0).as_deref(), Some("1970-01-01 08:00:00"));
        assert_eq!(alipay_timestamp(FIXED_MS).as_deref(), Some("2024-02-01 00:00:00"));
        assert_eq!(alipay_timestamp(FIXED_MS - 1).as_deref(), Some("2024-01-31 23:59:59"));
        // Absolute expectations: a host-zone dependency would fail on any host not at +08:00 (CI runs in UTC).
        assert_eq!(alipay_timestamp(1_719_763_199_000).as_deref(), Some("2024-06-30 23:59:59"));
    }

    #[test]
    fn the_sign_string_has_sign_type_and_the_beijing_timestamp_and_top_level_code() {
        let params = oauth_params();
        let content = request_sign_content(params.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        assert_eq!(content, SIGN_STRING);
        assert!(content.contains("sign_type=RSA2"));
        assert!(content.contains("timestamp=2024-02-01 00:00:00"));
        assert_eq!(param(&params, "biz_content"), None);
    }

    #[test]
    fn the_request_signature_equals_openssl() {
        assert_eq!(param(&oauth_params(), "sign"), Some(OPENSSL_SIGN));
    }

    #[test]
    fn the_request_signature_equals_a_fresh_openssl_run_when_available() {
        use base64::Engine as _;
        let Some(signature) = openssl_cli::sign_with_fixture_key(SIGN_STRING.as_bytes()) else { return };
        let openssl = base64::engine::general_purpose::STANDARD.encode(signature);
        assert_eq!(param(&oauth_params(), "sign"), Some(openssl.as_str()));
    }

    #[test]
    fn biz_content_travels_as_a_json_string_and_is_signed() {
        let biz = json!({"out_trade_no": "E20240201000001"});
        let params = client().signed_params("alipay.trade.query", Some(&biz), &[], FIXED_MS).expect("signs");
        assert_eq!(param(&params, "biz_content"), Some(r#"{"out_trade_no":"E20240201000001"}"#));
        let content = request_sign_content(params.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        assert!(content.starts_with(r#"app_id=2021004112345678&biz_content={"out_trade_no":"E20240201000001"}&"#));
    }

    #[test]
    fn extra_parameters_cannot_replace_common_ones() {
        let result = client().signed_params("alipay.trade.query", None, &[("sign_type", "RSA")], FIXED_MS);
        assert!(matches!(result, Err(AlipayError::InvalidRequest(_))));
    }

    fn signed_body(node_name: &str, node: &str) -> String {
        let key = RsaSigningKey::from_text(PKCS8_PEM).expect("fixture private key");
        let sign = key.sign_sha256_base64(node.as_bytes()).expect("signs");
        format!(r#"{{"{node_name}":{node},"sign":"{sign}"}}"#)
    }

    #[test]
    fn a_signed_success_node_opens() {
        let body = signed_body("alipay_trade_query_response", r#"{"code":"10000","msg":"Success","trade_no":"1"}"#);
        assert_eq!(client().open_response(&body, "alipay.trade.query").expect("opens")["trade_no"], "1");
    }

    #[test]
    fn a_node_without_code_is_a_success() {
        let body = signed_body("alipay_system_oauth_token_response", r#"{"open_id":"0x","access_token":"t"}"#);
        assert!(client().open_response(&body, "alipay.system.oauth.token").is_ok());
    }

    #[test]
    fn an_unsigned_success_node_is_refused() {
        let body = r#"{"alipay_trade_query_response":{"code":"10000","msg":"Success"}}"#;
        assert!(matches!(client().open_response(body, "alipay.trade.query"), Err(AlipayError::Signature(_))));
    }

    #[test]
    fn a_tampered_node_is_refused() {
        let body = signed_body("alipay_trade_query_response", r#"{"code":"10000","total_amount":"1.00"}"#)
            .replace("1.00", "9.00");
        assert!(matches!(client().open_response(&body, "alipay.trade.query"), Err(AlipayError::Signature(_))));
    }

    #[test]
    fn an_unsigned_error_response_is_only_ever_an_error() {
        let body = r#"{"error_response":{"code":"40002","msg":"Invalid Arguments","sub_code":"isv.invalid-signature","sub_msg":"验签出错"}}"#;
        assert!(matches!(
            client().open_response(body, "alipay.trade.query"),
            Err(AlipayError::Business { sub_code, .. }) if sub_code == "isv.invalid-signature"
        ));
        let claims_success = r#"{"error_response":{"code":"10000","msg":"Success"}}"#;
        assert!(matches!(
            client().open_response(claims_success, "alipay.trade.query"),
            Err(AlipayError::MalformedResponse(_))
        ));
    }

    #[test]
    fn a_signed_failure_node_decodes_its_codes() {
        let body = signed_body(
            "alipay_trade_query_response",
            r#"{"code":"40004","msg":"Business Failed","sub_code":"ACQ.TRADE_NOT_EXIST","sub_msg":"交易不存在"}"#,
        );
        assert!(matches!(
            client().open_response(&body, "alipay.trade.query"),
            Err(AlipayError::Business { code, sub_code, .. }) if code == "40004" && sub_code == "ACQ.TRADE_NOT_EXIST"
        ));
    }
}
