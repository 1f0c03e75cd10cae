//! The simulated platform's check of a request's `Authorization` header, as WeChat Pay makes it: the scheme, the
//! merchant id and certificate serial, a timestamp within 5 minutes, and the SHA256withRSA signature by the
//! merchant's key over `METHOD\nPATH?QUERY\nTIMESTAMP\nNONCE\nBODY\n`, with the path and query exactly as received
//! (under `/sandbox/wechatpay`, the prefix included). Any failure is 401 `SIGN_ERROR`.

use super::reply::Reply;
use crate::platform::crypto::rsa_keys::RsaVerifyingKey;
use crate::platform::wechatpay::signing::SIGNATURE_SCHEME;
use crate::sandbox::keys::{SANDBOX_WECHATPAY_MCHID, SANDBOX_WECHATPAY_MERCHANT_SERIAL};
use actix_web::http::{header, StatusCode};
use actix_web::HttpRequest;

/// Largest distance between the request's timestamp and the platform's clock, either way.
const MAX_SKEW_SECS: i64 = 300;

/// The fields of an `Authorization: WECHATPAY2-SHA256-RSA2048 k="v",...` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Authorization {
    pub mchid: String,
    pub nonce_str: String,
    pub timestamp: String,
    pub serial_no: String,
    pub signature: String,
}

fn sign_error(message: &str) -> Reply {
    Reply::error(StatusCode::UNAUTHORIZED, "SIGN_ERROR", message)
}

/// Parses the header's value; every field exactly once, quoted.
pub(super) fn parse(value: &str) -> Option<Authorization> {
    let fields = value.strip_prefix(SIGNATURE_SCHEME)?.strip_prefix(' ')?;
    let mut found: [Option<&str>; 5] = [None; 5];
    const NAMES: [&str; 5] = ["mchid", "nonce_str", "timestamp", "serial_no", "signature"];
    for field in fields.split(',') {
        let (name, quoted) = field.trim().split_once('=')?;
        let value = quoted.strip_prefix('"')?.strip_suffix('"')?;
        if value.is_empty() || value.contains('"') {
            return None;
        }
        let slot = NAMES.iter().position(|known| *known == name)?;
        if found[slot].replace(value).is_some() {
            return None;
        }
    }
    let [Some(mchid), Some(nonce_str), Some(timestamp), Some(serial_no), Some(signature)] = found else {
        return None;
    };
    Some(Authorization {
        mchid: mchid.to_owned(),
        nonce_str: nonce_str.to_owned(),
        timestamp: timestamp.to_owned(),
        serial_no: serial_no.to_owned(),
        signature: signature.to_owned(),
    })
}

/// The exact bytes the merchant signed.
fn message(method: &str, path_and_query: &str, authorization: &Authorization, body: &[u8]) -> Vec<u8> {
    let mut message =
        format!("{method}\n{path_and_query}\n{}\n{}\n", authorization.timestamp, authorization.nonce_str).into_bytes();
    message.extend_from_slice(body);
    message.push(b'\n');
    message
}

/// Checks an authorization for a request, given the merchant's public key and the platform's clock.
pub(super) fn check(
    authorization: Option<&str>,
    method: &str,
    path_and_query: &str,
    body: &[u8],
    merchant_key: &RsaVerifyingKey,
    now_ms: i64,
) -> Result<Authorization, Reply> {
    let value = authorization.ok_or_else(|| sign_error("Http头缺少Authorization"))?;
    let authorization = parse(value)
        .ok_or_else(|| sign_error("Http头Authorization值格式错误，请参考《微信支付商户REST API签名规则》"))?;
    if authorization.mchid != SANDBOX_WECHATPAY_MCHID {
        return Err(sign_error("商户号不存在或与签名不匹配"));
    }
    if !authorization.serial_no.eq_ignore_ascii_case(SANDBOX_WECHATPAY_MERCHANT_SERIAL) {
        return Err(sign_error("商户证书序列号有误。请使用签名私钥匹配的证书序列号"));
    }
    let timestamp = match authorization.timestamp.parse::<i64>() {
        Ok(seconds) if authorization.timestamp.bytes().all(|b| b.is_ascii_digit()) => seconds,
        _ => return Err(sign_error("Authorization中的timestamp格式错误")),
    };
    if (timestamp - now_ms.div_euclid(1000)).abs() > MAX_SKEW_SECS {
        return Err(sign_error("请求的时间戳与当前时间相差超过5分钟"));
    }
    let signed = message(method, path_and_query, &authorization, body);
    if merchant_key.verify_sha256_base64(&signed, &authorization.signature).is_err() {
        return Err(sign_error("签名错误，请检查后再试"));
    }
    Ok(authorization)
}

/// [`check`] for an incoming request, with its own method, path and query.
pub(super) fn check_request(
    request: &HttpRequest,
    body: &[u8],
    merchant_key: &RsaVerifyingKey,
    now_ms: i64,
) -> Result<Authorization, Reply> {
    let authorization = match request.headers().get(header::AUTHORIZATION) {
        None => None,
        Some(value) => Some(value.to_str().map_err(|_| sign_error("Http头Authorization值格式错误"))?),
    };
    let path_and_query = request.uri().path_and_query().map_or("/", |target| target.as_str());
    check(authorization, request.method().as_str(), path_and_query, body, merchant_key, now_ms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::crypto::rsa_keys::test_keys::PKCS8_PEM;
    use crate::platform::crypto::rsa_keys::RsaSigningKey;
    use crate::platform::wechatpay::{sign_request, RequestToSign};

    const NOW_MS: i64 = 1_700_000_000_500;
    const PATH: &str = "/sandbox/wechatpay/v3/pay/transactions/jsapi";
    const BODY: &str = r#"{"appid":"wx5a0d0c0e5b0a1e00"}"#;

    fn key() -> RsaSigningKey {
        RsaSigningKey::from_text(PKCS8_PEM).expect("fixture key")
    }

    fn header(path: &str, timestamp: i64, body: &str) -> String {
        let request = RequestToSign { method: "POST", path_and_query: path, timestamp, nonce: "n0nce", body };
        sign_request(&key(), SANDBOX_WECHATPAY_MCHID, SANDBOX_WECHATPAY_MERCHANT_SERIAL, &request).expect("signs")
    }

    fn run(authorization: Option<&str>, path: &str, body: &str) -> Result<Authorization, Reply> {
        let public = key().verifying_key().expect("public half");
        check(authorization, "POST", path, body.as_bytes(), &public, NOW_MS)
    }

    #[test]
    fn a_request_signed_by_our_client_passes() {
        let authorization = run(Some(&header(PATH, NOW_MS / 1000, BODY)), PATH, BODY).expect("passes");
        assert_eq!(authorization.mchid, SANDBOX_WECHATPAY_MCHID);
        assert_eq!(authorization.nonce_str, "n0nce");
    }

    #[test]
    fn the_path_must_be_the_one_received_prefix_included() {
        let signed_without_prefix = header("/v3/pay/transactions/jsapi", NOW_MS / 1000, BODY);
        assert_eq!(run(Some(&signed_without_prefix), PATH, BODY).expect_err("refused").code(), "SIGN_ERROR");
    }

    #[test]
    fn another_body_or_a_stale_timestamp_is_refused() {
        let refused = run(Some(&header(PATH, NOW_MS / 1000, BODY)), PATH, r#"{"appid":"wx0"}"#).expect_err("body");
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
        assert!(run(Some(&header(PATH, NOW_MS / 1000 - 301, BODY)), PATH, BODY).is_err());
        assert!(run(Some(&header(PATH, NOW_MS / 1000 + 300, BODY)), PATH, BODY).is_ok());
    }

    #[test]
    fn a_missing_or_malformed_header_is_refused() {
        assert!(run(None, PATH, BODY).is_err());
        let good = header(PATH, NOW_MS / 1000, BODY);
        for bad in [
            good.replacen("WECHATPAY2-SHA256-RSA2048", "WECHATPAY2-SM2-WITH-SM3", 1),
            good.replacen("mchid=", "mchid=\"1\",mchid=", 1),
            good.replacen("nonce_str=\"n0nce\",", "", 1),
            good.replacen(SANDBOX_WECHATPAY_MCHID, "1230000109", 1),
            good.replacen(SANDBOX_WECHATPAY_MERCHANT_SERIAL, "1DDE55AD98ED71D6EDD4A4A16996DE7B47773A8C", 1),
        ] {
            assert_eq!(run(Some(&bad), PATH, BODY).expect_err(&bad).code(), "SIGN_ERROR");
        }
    }

    #[test]
    fn the_header_is_parsed_field_by_field() {
        let parsed =
            parse(r#"WECHATPAY2-SHA256-RSA2048 mchid="1",nonce_str="n", timestamp="2",serial_no="S",signature="x=""#);
        assert_eq!(
            parsed,
            Some(Authorization {
                mchid: "1".into(),
                nonce_str: "n".into(),
                timestamp: "2".into(),
                serial_no: "S".into(),
                signature: "x=".into(),
            })
        );
        assert_eq!(parse(r#"WECHATPAY2-SHA256-RSA2048 mchid="1",other="2""#), None);
    }
}
