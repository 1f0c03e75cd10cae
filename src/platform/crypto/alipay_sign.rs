//! Alipay OpenAPI (v2 gateway) `RSA2` signing, byte for byte as PROTOCOLS.md states it:
//! - request: every parameter but `sign` (so `sign_type` is signed), empty values dropped, keys sorted by byte order,
//!   `k=v` joined by `&`, raw values (not URL-encoded);
//! - notification: the same but without `sign_type` as well, over the parameters form-decoded exactly once, with the
//!   *Alipay* public key;
//! - response: the signature covers the raw JSON text of the `<method>_response` (or `error_response`) value exactly
//!   as received, which [`slice_response`] cuts out of the body without ever re-serialising it.

use super::rsa_keys::{RsaSigningKey, RsaVerifyingKey};
use super::rsa_sign::{SignError, VerifyError};
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use std::fmt;

/// The node that carries a failure the gateway answered before reaching the method.
pub const ERROR_RESPONSE_NODE: &str = "error_response";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotifyVerifyError {
    #[error("the notification carries no sign")]
    MissingSign,
    /// Alipay never repeats a parameter; a repeated one could make what we verify differ from what we act on.
    #[error("the notification repeats the parameter `{0}`")]
    DuplicateParameter(String),
    #[error(transparent)]
    Signature(#[from] VerifyError),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResponseError {
    #[error("the response body is not a JSON object: {0}")]
    NotJsonObject(String),
    #[error("the response has neither `{0}` nor `error_response`")]
    MissingNode(String),
    #[error("the response repeats the top-level key `{0}`")]
    DuplicateKey(String),
    #[error("the response's `sign` is not a string")]
    SignNotString,
}

/// Which node of a gateway response [`slice_response`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseNode {
    /// `<method_with_underscores>_response`: the method ran (its `code` may still say it failed).
    Method,
    /// `error_response`: the gateway refused the call (bad app id, bad signature, ...). Often unsigned.
    Error,
}

/// A gateway response cut into what is signed and the signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedResponse<'a> {
    pub node: ResponseNode,
    /// The node's JSON value exactly as it appears in the body: the bytes the signature covers.
    pub content: &'a str,
    /// The top-level `sign`, JSON-unescaped; `None` when absent or null.
    pub sign: Option<String>,
}

/// The parameters kept for signing, sorted by key bytes; `&`-joined `k=v`.
fn sign_content<K, V>(params: impl IntoIterator<Item = (K, V)>, excluded: &[&str]) -> String
where
    K: AsRef<str>,
    V: AsRef<str>,
{
    let mut kept: Vec<(K, V)> = params
        .into_iter()
        .filter(|(k, v)| {
            let (k, v) = (k.as_ref(), v.as_ref());
            !k.is_empty() && !v.is_empty() && !excluded.contains(&k)
        })
        .collect();
    // `str` orders by bytes, which is Alipay's order (ASCII keys; upper case before lower case, `_` before letters).
    kept.sort_by(|a, b| a.0.as_ref().cmp(b.0.as_ref()));
    let mut content = String::new();
    for (i, (k, v)) in kept.iter().enumerate() {
        if i > 0 {
            content.push('&');
        }
        content.push_str(k.as_ref());
        content.push('=');
        content.push_str(v.as_ref());
    }
    content
}

/// The string an Alipay request signs: all parameters but `sign` (`sign_type` included), empty values dropped.
pub fn request_sign_content<K: AsRef<str>, V: AsRef<str>>(params: impl IntoIterator<Item = (K, V)>) -> String {
    sign_content(params, &["sign"])
}

/// The string an Alipay notification signs: all parameters but `sign` and `sign_type`, empty values dropped.
/// Values must be as form-decoded once from the body: neither still encoded nor decoded twice.
pub fn notify_sign_content<K: AsRef<str>, V: AsRef<str>>(params: impl IntoIterator<Item = (K, V)>) -> String {
    sign_content(params, &["sign", "sign_type"])
}

/// Signs request parameters with the app's private key; the result is the `sign` parameter.
pub fn sign_request<K: AsRef<str>, V: AsRef<str>>(
    params: impl IntoIterator<Item = (K, V)>,
    app_key: &RsaSigningKey,
) -> Result<String, SignError> {
    app_key.sign_sha256_base64(request_sign_content(params).as_bytes())
}

/// Verifies a notification over all its parameters (the raw map, not a typed struct: unknown fields are signed too)
/// with the *Alipay* public key.
pub fn verify_notify<K: AsRef<str>, V: AsRef<str>>(
    params: impl IntoIterator<Item = (K, V)>,
    alipay_key: &RsaVerifyingKey,
) -> Result<(), NotifyVerifyError> {
    let mut params: Vec<(K, V)> = params.into_iter().collect();
    params.sort_by(|a, b| a.0.as_ref().cmp(b.0.as_ref()));
    if let Some(pair) = params.windows(2).find(|pair| pair[0].0.as_ref() == pair[1].0.as_ref()) {
        return Err(NotifyVerifyError::DuplicateParameter(pair[0].0.as_ref().to_owned()));
    }
    let sign = params
        .iter()
        .find(|(k, _)| k.as_ref() == "sign")
        .map(|(_, v)| v.as_ref())
        .filter(|sign| !sign.is_empty())
        .ok_or(NotifyVerifyError::MissingSign)?;
    let content = notify_sign_content(params.iter().map(|(k, v)| (k.as_ref(), v.as_ref())));
    alipay_key.verify_sha256_base64(content.as_bytes(), sign)?;
    Ok(())
}

/// `alipay.trade.create` → `alipay_trade_create_response`.
pub fn response_node_name(method: &str) -> String {
    format!("{}_response", method.replace('.', "_"))
}

/// The top-level members of a response, each value kept as its exact text.
struct TopLevel<'a>(Vec<(String, &'a RawValue)>);

impl<'de> Deserialize<'de> for TopLevel<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Members;
        impl<'de> Visitor<'de> for Members {
            type Value = TopLevel<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut members = Vec::new();
                while let Some(member) = map.next_entry::<String, &'de RawValue>()? {
                    members.push(member);
                }
                Ok(TopLevel(members))
            }
        }
        deserializer.deserialize_map(Members)
    }
}

/// Cuts a gateway response body into the raw text of its `<method>_response` node (or, failing that, its
/// `error_response` node) and the top-level `sign`. The body is parsed as JSON (strings, escapes, nesting and
/// whitespace all handled by serde_json) but the node comes back as the exact slice of `body` that Alipay signed.
pub fn slice_response<'a>(body: &'a str, method: &str) -> Result<SignedResponse<'a>, ResponseError> {
    let TopLevel(members) =
        serde_json::from_str::<TopLevel<'a>>(body).map_err(|e| ResponseError::NotJsonObject(e.to_string()))?;
    for (i, (key, _)) in members.iter().enumerate() {
        if members[..i].iter().any(|(earlier, _)| earlier == key) {
            return Err(ResponseError::DuplicateKey(key.clone()));
        }
    }
    let member = |name: &str| members.iter().find(|(key, _)| key == name).map(|(_, raw)| *raw);
    let method_node = response_node_name(method);
    let (node, raw) = match (member(&method_node), member(ERROR_RESPONSE_NODE)) {
        (Some(raw), _) => (ResponseNode::Method, raw),
        (None, Some(raw)) => (ResponseNode::Error, raw),
        (None, None) => return Err(ResponseError::MissingNode(method_node)),
    };
    let sign = match member("sign") {
        None => None,
        Some(raw) => serde_json::from_str::<Option<String>>(raw.get()).map_err(|_| ResponseError::SignNotString)?,
    };
    Ok(SignedResponse { node, content: raw.get(), sign })
}

#[cfg(test)]
mod tests {
    use super::super::rsa_keys::test_keys::*;
    use super::*;
    use std::collections::BTreeMap;

    // A real signed trade notification and the Alipay public key that signed it, from alipay-sdk-nodejs
    // test/alipay.test.ts (checkNotifySign, "verify sign should delete sign_type"). The SDK test passes
    // `fund_bill_list` as an array and JSON.stringify()s it; on the wire it is this JSON string.
    const NOTIFY_ALIPAY_PUBLIC_KEY: &str = concat!(
        "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAqObrdC7hrgAVM98tK0nv3hSQRGGKT4lBsQjHiGjeYZjOPIPHR5knm2jnnz/YGIXI",
        "ofVHkA/tAlBAd5DrY7YpvI4tP5EONLtZKC2ghBMx7McI2wRD0xiqzxOQr1FuhZGJ8/AUokBzJrzY+aGX2xcOrxFYRlFilvVLTXg4LWjR1tdP",
        "kO6+i7wQZAIVMClPkwVRZEbaERRHlKqTzv2gGv5rDU8gRoe1LeaN+6BlbTqHWkQcNCUNrA8C6l17XAXGKDsm/9TFWwO8EPHHHCaQdjtV5/Fd",
        "cWIt+L8SR1ss7EXTjYDFtxcKVv9rEoY1lX8T4mX+GbXfZHraG5NCF1+XioL5JwIDAQAB",
    );
    const NOTIFY_SIGN: &str = concat!(
        "QfTb8tqE1BMhS5qAnXtvsF3/jBkEvu9q9en0pdbBUDDjvKycZhQb7h8GDs4FKfi049PynaNuatxSgLb/nLWZpXyyh0LEWdK2S6Ri7nPwrVgO",
        "s08zugLO20vOQz44y3ti2Ncm8/wZts1Fr2gZ7pShnVX3d1B50hbsXnObT1r/U8ONNQjWXd0HIul4TG+Q3fm3svmSvFEy0WnzuhcyHPX5Gm4E",
        "LNctL6Qd5YniGJFNcc7kopHYtI/XD9YCKCH6Ct02rzUs9i11C9CsadtZn+WhxF26Dqt9sGEFajkJ8cxUTLi8+VCpLHsgPE8P0y095uQcDdK0",
        "YjCh4x7wVSov+lrmOQ==",
    );

    fn notify_params() -> BTreeMap<String, String> {
        [
            ("gmt_create", "2019-08-15 15:56:22"),
            ("charset", "utf-8"),
            ("seller_email", "z97-yuquerevenue@service.aliyun.com"),
            ("subject", "语雀空间 500人规模"),
            ("sign", NOTIFY_SIGN),
            ("buyer_id", "2088102534368455"),
            ("invoice_amount", "0.10"),
            ("notify_id", "2019081500222155624068450559358070"),
            ("fund_bill_list", r#"[{"amount":"0.10","fundChannel":"ALIPAYACCOUNT"}]"#),
            ("notify_type", "trade_status_sync"),
            ("trade_status", "TRADE_SUCCESS"),
            ("receipt_amount", "0.10"),
            ("buyer_pay_amount", "0.10"),
            ("sign_type", "RSA2"),
            ("app_id", "2019073166072302"),
            ("seller_id", "2088531891668739"),
            ("gmt_payment", "2019-08-15 15:56:24"),
            ("notify_time", "2019-08-15 15:56:25"),
            ("version", "1.0"),
            ("out_trade_no", "20190815155618536-564-57"),
            ("total_amount", "0.10"),
            ("trade_no", "2019081522001468450512505578"),
            ("auth_app_id", "2019073166072302"),
            ("buyer_logon_id", "xud***@126.com"),
            ("point_amount", "0.00"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    fn alipay_key() -> RsaVerifyingKey {
        RsaVerifyingKey::from_text(NOTIFY_ALIPAY_PUBLIC_KEY).expect("the vector's public key")
    }

    #[test]
    fn real_notify_verifies_with_the_notify_sign_string() {
        assert_eq!(verify_notify(&notify_params(), &alipay_key()), Ok(()));
    }

    #[test]
    fn real_notify_fails_when_sign_type_is_signed_too() {
        let with_sign_type = request_sign_content(&notify_params());
        assert!(with_sign_type.contains("&sign_type=RSA2&"));
        assert_eq!(
            alipay_key().verify_sha256_base64(with_sign_type.as_bytes(), NOTIFY_SIGN),
            Err(VerifyError::Mismatch)
        );
    }

    #[test]
    fn real_notify_with_a_tampered_value_fails() {
        let mut params = notify_params();
        params.insert("total_amount".to_owned(), "100.00".to_owned());
        assert_eq!(verify_notify(&params, &alipay_key()), Err(NotifyVerifyError::Signature(VerifyError::Mismatch)));
    }

    #[test]
    fn real_notify_with_an_added_parameter_fails() {
        let mut params = notify_params();
        params.insert("passback_params".to_owned(), "account=0001".to_owned());
        assert_eq!(verify_notify(&params, &alipay_key()), Err(NotifyVerifyError::Signature(VerifyError::Mismatch)));
    }

    #[test]
    fn real_notify_checked_with_another_key_fails() {
        let ours = RsaVerifyingKey::from_text(PUBLIC_PEM).expect("fixture public key");
        assert_eq!(verify_notify(&notify_params(), &ours), Err(NotifyVerifyError::Signature(VerifyError::Mismatch)));
    }

    #[test]
    fn notify_without_sign_is_refused() {
        let mut params = notify_params();
        params.remove("sign");
        assert_eq!(verify_notify(&params, &alipay_key()), Err(NotifyVerifyError::MissingSign));
        params.insert("sign".to_owned(), String::new());
        assert_eq!(verify_notify(&params, &alipay_key()), Err(NotifyVerifyError::MissingSign));
    }

    #[test]
    fn notify_with_a_repeated_parameter_is_refused() {
        let mut params: Vec<(String, String)> = notify_params().into_iter().collect();
        params.push(("total_amount".to_owned(), "100.00".to_owned()));
        assert_eq!(
            verify_notify(params, &alipay_key()),
            Err(NotifyVerifyError::DuplicateParameter("total_amount".to_owned()))
        );
    }

    #[test]
    fn request_sign_string_keeps_sign_type_drops_sign_and_empty_values() {
        let params = [
            ("method", "alipay.trade.create"),
            ("sign", "SHOULD-NOT-APPEAR"),
            ("sign_type", "RSA2"),
            ("notify_url", ""),
            ("app_id", "2021000000000000"),
        ];
        assert_eq!(request_sign_content(params), "app_id=2021000000000000&method=alipay.trade.create&sign_type=RSA2");
    }

    #[test]
    fn notify_sign_string_drops_sign_and_sign_type() {
        let params = [("sign_type", "RSA2"), ("sign", "x"), ("trade_status", "TRADE_SUCCESS"), ("app_id", "1")];
        assert_eq!(notify_sign_content(params), "app_id=1&trade_status=TRADE_SUCCESS");
    }

    #[test]
    fn keys_sort_by_byte_order() {
        let params = [("b", "1"), ("a_b", "2"), ("aB", "3"), ("ab", "4"), ("Z", "5"), ("a", "6")];
        assert_eq!(request_sign_content(params), "Z=5&a=6&aB=3&a_b=2&ab=4&b=1");
    }

    #[test]
    fn values_are_signed_raw_not_url_encoded() {
        let biz_content = r#"{"out_trade_no":"E2024&01","subject":"电费 = 2024年1月","total_amount":"88.88"}"#;
        let params = [("biz_content", biz_content), ("timestamp", "2024-01-31 08:00:00")];
        assert_eq!(request_sign_content(params), format!("biz_content={biz_content}&timestamp=2024-01-31 08:00:00"));
    }

    #[test]
    fn signed_request_verifies_and_matches_openssl_over_the_same_string() {
        let key = RsaSigningKey::from_text(PKCS8_PEM).expect("fixture private key");
        let params = [("app_id", "2021000000000000"), ("method", "alipay.trade.query"), ("sign_type", "RSA2")];
        let sign = sign_request(params, &key).expect("signs");
        let content = request_sign_content(params);
        let public = RsaVerifyingKey::from_text(PUBLIC_PEM).expect("fixture public key");
        assert_eq!(public.verify_sha256_base64(content.as_bytes(), &sign), Ok(()));
        assert_eq!(sign, key.sign_sha256_base64(content.as_bytes()).expect("signs"));
    }

    #[test]
    fn node_name_replaces_dots() {
        assert_eq!(response_node_name("alipay.trade.create"), "alipay_trade_create_response");
    }

    // The three cases of alipay-sdk-nodejs' getSignStr() tests: what is signed is the node's text exactly,
    // `\/` escapes and all, whatever whitespace surrounds it, even when the node itself holds a `sign` key.
    const UPLOAD_NODE: &str = r#"{"code":"10000","msg":"Success","image_id":"Zp1Nm6FDTZaEuSSniGd5awAAACMAAQED","image_url":"http:\/\/oalipay-dl-django.alicdn.com\/rest\/1.0\/image?fileIds=Zp1Nm6FDTZaEuSSniGd5awAAACMAAQED&zoom=original"}"#;
    const UPLOAD_SIGN: &str = "P8xrBWqZCUv11UrEBjhQ4Sk3hyj4607qehO2VbKIS0hWa4U+NeLlOftqTyhGv+x1lzfqN590Y/8CaNIzEEg06FiNWJlUFM/uEFJLzSKGse4MjHbblpiSzI3eCV5RzxH26wZbEd9wyVYYi0pHFBf35UrBva47g7b5EuKCHfoVA95/zin9fAyb3xhhiHhmfGaWIDV/1LmE2vtqtOHQnISbY/deC71U614ySZ3YB97ws8npCcCJ+tgZvhHPkMRGvmyYPCRDB/aIN/sKDSLtfPp0u8DxE8pHLvCHm3wR84MQxqNbKgpd8NTKNvH+obELsbCrqPhjW7qI48634qx6enDupw==";
    const UPLOAD_METHOD: &str = "alipay.offline.material.image.upload";

    #[test]
    fn slices_the_method_node_exactly() {
        let body =
            format!(r#"{{"alipay_offline_material_image_upload_response":{UPLOAD_NODE},"sign":"{UPLOAD_SIGN}"}}"#);
        let response = slice_response(&body, UPLOAD_METHOD).expect("slices");
        assert_eq!(response.node, ResponseNode::Method);
        assert_eq!(response.content, UPLOAD_NODE);
        assert_eq!(response.sign.as_deref(), Some(UPLOAD_SIGN));
    }

    #[test]
    fn slicing_ignores_whitespace_around_the_node() {
        let body = format!(
            "{{\"alipay_offline_material_image_upload_response\"\r\n        :\r\n        {UPLOAD_NODE},\n\n          \"sign\"  :  \"{UPLOAD_SIGN}\"}}"
        );
        let response = slice_response(&body, UPLOAD_METHOD).expect("slices");
        assert_eq!(response.content, UPLOAD_NODE);
        assert_eq!(response.sign.as_deref(), Some(UPLOAD_SIGN));
    }

    #[test]
    fn a_sign_key_inside_the_node_is_part_of_the_content() {
        let node = r#"{"code":"10000","sign":"xxx","msg":"Success"}"#;
        let body = format!(r#"{{"sign":"{UPLOAD_SIGN}", "alipay_offline_material_image_upload_response" : {node} }}"#);
        let response = slice_response(&body, UPLOAD_METHOD).expect("slices");
        assert_eq!(response.content, node);
        assert_eq!(response.sign.as_deref(), Some(UPLOAD_SIGN));
    }

    #[test]
    fn strings_with_escaped_quotes_and_braces_do_not_end_the_node() {
        let node = r#"{"code":"10000","subject":"a \"quoted\" } brace { and \\ slash","nested":{"list":[{"x":"}"},1,null,true]}}"#;
        let body = format!("  {{ \"alipay_trade_query_response\" :\t{node} ,\"sign\":\"c2lnbg==\" }}  ");
        let response = slice_response(&body, "alipay.trade.query").expect("slices");
        assert_eq!(response.content, node);
        assert_eq!(response.sign.as_deref(), Some("c2lnbg=="));
    }

    #[test]
    fn the_sign_value_is_json_unescaped() {
        let body = r#"{"alipay_trade_query_response":{"code":"10000"},"sign":"ab\/cd+=="}"#;
        assert_eq!(slice_response(body, "alipay.trade.query").expect("slices").sign.as_deref(), Some("ab/cd+=="));
    }

    #[test]
    fn error_response_is_sliced_when_the_method_node_is_absent() {
        let node =
            r#"{"code":"40002","msg":"Invalid Arguments","sub_code":"isv.code-invalid","sub_msg":"授权码code无效"}"#;
        let body = format!(r#"{{"error_response":{node}}}"#);
        let response = slice_response(&body, "alipay.system.oauth.token").expect("slices");
        assert_eq!(response.node, ResponseNode::Error);
        assert_eq!(response.content, node);
        assert_eq!(response.sign, None);
    }

    #[test]
    fn responses_without_a_node_or_not_json_are_refused() {
        assert_eq!(
            slice_response(r#"{"other_response":{},"sign":"x"}"#, "alipay.trade.query"),
            Err(ResponseError::MissingNode("alipay_trade_query_response".to_owned()))
        );
        assert!(matches!(slice_response("<html>", "alipay.trade.query"), Err(ResponseError::NotJsonObject(_))));
        assert!(matches!(slice_response("[1]", "alipay.trade.query"), Err(ResponseError::NotJsonObject(_))));
        assert!(matches!(
            slice_response(r#"{"alipay_trade_query_response":{"code":"10000"}"#, "alipay.trade.query"),
            Err(ResponseError::NotJsonObject(_))
        ));
    }

    #[test]
    fn repeated_top_level_keys_are_refused() {
        let body = r#"{"alipay_trade_query_response":{"code":"10000"},"alipay_trade_query_response":{"code":"40004"}}"#;
        assert_eq!(
            slice_response(body, "alipay.trade.query"),
            Err(ResponseError::DuplicateKey("alipay_trade_query_response".to_owned()))
        );
    }

    #[test]
    fn a_sign_that_is_not_a_string_is_refused() {
        let body = r#"{"alipay_trade_query_response":{"code":"10000"},"sign":42}"#;
        assert_eq!(slice_response(body, "alipay.trade.query"), Err(ResponseError::SignNotString));
    }

    #[test]
    fn a_response_signed_with_our_key_verifies_over_the_slice() {
        let key = RsaSigningKey::from_text(PKCS8_PEM).expect("fixture private key");
        let node = "{\"code\":\"10000\",\n \"trade_status\":\"TRADE_SUCCESS\",\"total_amount\":\"88.88\"}";
        let sign = key.sign_sha256_base64(node.as_bytes()).expect("signs");
        let body = format!("{{\"alipay_trade_query_response\": {node}, \"sign\": \"{sign}\"}}");
        let response = slice_response(&body, "alipay.trade.query").expect("slices");
        let public = RsaVerifyingKey::from_text(PUBLIC_PEM).expect("fixture public key");
        let sign = response.sign.as_deref().expect("signed");
        assert_eq!(public.verify_sha256_base64(response.content.as_bytes(), sign), Ok(()));
    }
}
