//! The merchant's signature on every WeChat Pay v3 API request (PROTOCOLS.md, "Request signing"): the string
//! `METHOD\nPATH?QUERY\nTIMESTAMP\nNONCE\nBODY\n`, SHA256withRSA with the merchant private key, carried in an
//! `Authorization: WECHATPAY2-SHA256-RSA2048 mchid="..",nonce_str="..",timestamp="..",serial_no="..",signature=".."`
//! header. Pure: the caller supplies the clock and the nonce ([`super::nonce::signature_nonce`]), so the exact bytes
//! signed can be tested against OpenSSL.

use crate::platform::crypto::rsa_keys::RsaSigningKey;
use crate::platform::crypto::rsa_sign::SignError;

/// The authorization scheme of WeChat Pay v3, and the only `Wechatpay-Signature-Type` we accept back.
pub const SIGNATURE_SCHEME: &str = "WECHATPAY2-SHA256-RSA2048";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestSignError {
    /// A value that goes between the header's double quotes is empty or holds a quote, backslash, space or control
    /// character: the header would be ambiguous, so nothing is signed.
    #[error("`{0}` is empty or holds characters that cannot go in the Authorization header")]
    InvalidHeaderValue(&'static str),
    /// The method must be the upper-case token sent on the wire (`GET`, `POST`), since the platform signs that.
    #[error("the HTTP method must be an upper-case token such as GET or POST")]
    InvalidMethod,
    #[error(transparent)]
    Signing(#[from] SignError),
}

/// One request as it goes on the wire: what the signature covers besides the merchant's identity.
#[derive(Debug, Clone, Copy)]
pub struct RequestToSign<'a> {
    /// Upper case, as sent: `GET`, `POST`.
    pub method: &'a str,
    /// The URL's absolute path and query, exactly as sent (`/v3/pay/transactions/out-trade-no/123?mchid=1900`).
    pub path_and_query: &'a str,
    /// Epoch seconds.
    pub timestamp: i64,
    /// 32 characters of `[A-Za-z0-9]`, fresh for each request.
    pub nonce: &'a str,
    /// The body byte for byte as sent; empty for a GET.
    pub body: &'a str,
}

/// The exact string the merchant signs: `METHOD\nPATH?QUERY\nTIMESTAMP\nNONCE\nBODY\n`.
pub fn message(request: &RequestToSign<'_>) -> String {
    let RequestToSign { method, path_and_query, timestamp, nonce, body } = request;
    format!("{method}\n{path_and_query}\n{timestamp}\n{nonce}\n{body}\n")
}

/// Signs `request` and returns the value of its `Authorization` header.
/// `serial_no` is the serial of the merchant's API certificate, `mchid` the merchant id.
pub fn sign_request(
    key: &RsaSigningKey,
    mchid: &str,
    serial_no: &str,
    request: &RequestToSign<'_>,
) -> Result<String, RequestSignError> {
    if request.method.is_empty() || !request.method.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(RequestSignError::InvalidMethod);
    }
    check_quotable("mchid", mchid)?;
    check_quotable("serial_no", serial_no)?;
    check_quotable("nonce_str", request.nonce)?;
    let signature = key.sign_sha256_base64(message(request).as_bytes())?;
    Ok(format!(
        "{SIGNATURE_SCHEME} mchid=\"{mchid}\",nonce_str=\"{nonce}\",timestamp=\"{timestamp}\",serial_no=\"{serial_no}\",signature=\"{signature}\"",
        nonce = request.nonce,
        timestamp = request.timestamp,
    ))
}

fn check_quotable(name: &'static str, value: &str) -> Result<(), RequestSignError> {
    let quotable = |b: u8| b.is_ascii_graphic() && b != b'"' && b != b'\\';
    if value.is_empty() || !value.bytes().all(quotable) {
        return Err(RequestSignError::InvalidHeaderValue(name));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::crypto::openssl_cli;
    use crate::platform::crypto::rsa_keys::test_keys::{PKCS8_PEM, PUBLIC_PEM};
    use crate::platform::crypto::rsa_keys::RsaVerifyingKey;

    const MCHID: &str = "1230000109";
    const SERIAL_NO: &str = "1DDE55AD98ED71D6EDD4A4A16996DE7B47773A8C";
    const NONCE: &str = "593BEC0C930BF1AFEB40B4A08C8FB242";
    /// WeChat Pay's JSAPI order example, with its non-ASCII description: the body is signed as UTF-8 bytes.
    const BODY: &str = r#"{"appid":"wxd678efh567hg6787","mchid":"1230000109","description":"Image形象店-深圳腾大-QQ公仔","out_trade_no":"1217752501201407033233368018","notify_url":"https://www.weixin.qq.com/wxpay/pay.php","amount":{"total":100,"currency":"CNY"},"payer":{"openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}}"#;

    const POST_ORDER: RequestToSign<'static> = RequestToSign {
        method: "POST",
        path_and_query: "/v3/pay/transactions/jsapi",
        timestamp: 1554208460,
        nonce: NONCE,
        body: BODY,
    };

    const GET_ORDER: RequestToSign<'static> = RequestToSign {
        method: "GET",
        path_and_query: "/v3/pay/transactions/out-trade-no/1217752501201407033233368018?mchid=1230000109",
        timestamp: 1554208460,
        nonce: NONCE,
        body: "",
    };

    /// `printf '<message(POST_ORDER)>' | openssl dgst -sha256 -sign tests/fixtures/test_rsa_pkcs8.pem | base64 -w0`,
    /// run once with OpenSSL 3.0.
    const POST_ORDER_SIGNATURE: &str = concat!(
        "UycKpUikq9YwekH+oafx1M9lGwwCuAXnH+zaevp+kS7gyDOOmc6fBHTYSDWQa5d4fwEpho40lSIPsgt27Itf50a+tcWeX/3tWaOLJaKweq0I",
        "tN4hVN1Fk+Hb8HEDkZ+6UKItlCU8+jo7hrqZ40cqu3rR+bQVrKOw5cE/Zh7ZPLkzETRuh197hfnXmVFMyof/pEeLso6dlkD+0S+EMU9HW+Vb",
        "Z+4ee1acYt1qO3Jdg5xZpIfONJYWxKFI5ZFKcLyztJ0oATNO3CqFmuToQyIk4iplPTrJ0bjx2vKggr1mHSL4hVeIEWCcy6JGH2aK5xIXsp/Z",
        "UkEMRVgEDqxqNxpkiA==",
    );

    /// The same for `message(GET_ORDER)`.
    const GET_ORDER_SIGNATURE: &str = concat!(
        "J/XSylsSMCOG0qLLBFuGvxB5y96wibTBcVZ1WbGPBYZxNY+4L9BoZ0OZinF8QNb9e6LYtsLnpRLrMYAK5ACn3S+apUfH0Oa8gERzrpdwMrTC",
        "u1GofkqrtGkhKJg6Rq51usC9sK4mI534gd8fMx3BUPMU4Y7gcn2uKl/o4JC8bFYC0SdOashQ4WKfojDdZEzm47k6KhxeLaLaJBD8kXRznU5Y",
        "7EmAFcTzAL2isX1mswpOCMra9mobiMxpBYTHR7/T6+hnJcK9nw1ssoL3rfPdKFJHSjlJbufEQXcbvaeIoAJWWfmdn0esRIf1Zsyp39bkaXEp",
        "q4BtAklj194MJdvB0Q==",
    );

    fn key() -> RsaSigningKey {
        RsaSigningKey::from_text(PKCS8_PEM).expect("fixture private key")
    }

    fn header_signature(header: &str) -> &str {
        let (_, rest) = header.split_once("signature=\"").expect("a signature field");
        rest.strip_suffix('"').expect("closing quote")
    }

    #[test]
    fn message_is_the_five_lines_each_ending_in_a_newline() {
        assert_eq!(
            message(&GET_ORDER),
            "GET\n/v3/pay/transactions/out-trade-no/1217752501201407033233368018?mchid=1230000109\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n\n"
        );
        assert_eq!(message(&POST_ORDER), format!("POST\n/v3/pay/transactions/jsapi\n1554208460\n{NONCE}\n{BODY}\n"));
    }

    #[test]
    fn authorization_header_has_the_documented_shape() {
        let header = sign_request(&key(), MCHID, SERIAL_NO, &POST_ORDER).expect("signs");
        assert_eq!(
            header,
            format!(
                "WECHATPAY2-SHA256-RSA2048 mchid=\"{MCHID}\",nonce_str=\"{NONCE}\",timestamp=\"1554208460\",serial_no=\"{SERIAL_NO}\",signature=\"{POST_ORDER_SIGNATURE}\""
            )
        );
    }

    #[test]
    fn post_signature_equals_openssl_byte_for_byte() {
        let header = sign_request(&key(), MCHID, SERIAL_NO, &POST_ORDER).expect("signs");
        assert_eq!(header_signature(&header), POST_ORDER_SIGNATURE);
    }

    #[test]
    fn get_signature_with_an_empty_body_equals_openssl_byte_for_byte() {
        let header = sign_request(&key(), MCHID, SERIAL_NO, &GET_ORDER).expect("signs");
        assert_eq!(header_signature(&header), GET_ORDER_SIGNATURE);
    }

    #[test]
    fn signatures_equal_a_fresh_openssl_run_when_available() {
        for request in [POST_ORDER, GET_ORDER] {
            let Some(expected) = openssl_cli::sign_with_fixture_key(message(&request).as_bytes()) else { return };
            assert_eq!(key().sign_sha256(message(&request).as_bytes()).expect("signs"), expected);
        }
    }

    #[test]
    fn the_merchant_public_key_verifies_the_header_signature() {
        let header = sign_request(&key(), MCHID, SERIAL_NO, &POST_ORDER).expect("signs");
        let public = RsaVerifyingKey::from_text(PUBLIC_PEM).expect("fixture public key");
        assert_eq!(public.verify_sha256_base64(message(&POST_ORDER).as_bytes(), header_signature(&header)), Ok(()));
    }

    #[test]
    fn values_that_would_break_the_header_are_refused() {
        let quoted = RequestToSign { nonce: "abc\",signature=\"x", ..GET_ORDER };
        assert_eq!(
            sign_request(&key(), MCHID, SERIAL_NO, &quoted),
            Err(RequestSignError::InvalidHeaderValue("nonce_str"))
        );
        assert_eq!(sign_request(&key(), "", SERIAL_NO, &GET_ORDER), Err(RequestSignError::InvalidHeaderValue("mchid")));
        assert_eq!(
            sign_request(&key(), MCHID, "1DDE 55AD", &GET_ORDER),
            Err(RequestSignError::InvalidHeaderValue("serial_no"))
        );
    }

    #[test]
    fn a_lower_case_method_is_refused() {
        let lower = RequestToSign { method: "post", ..POST_ORDER };
        assert_eq!(sign_request(&key(), MCHID, SERIAL_NO, &lower), Err(RequestSignError::InvalidMethod));
    }
}
