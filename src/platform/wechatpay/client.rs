//! Our client of the WeChat Pay v3 API (PROTOCOLS.md, "WeChat Pay API v3"): every request signed with the merchant
//! key over the exact method, path, query and body sent, every answer's `Wechatpay-*` signature verified with the
//! platform keys before anything in it is read. The calls themselves live in [`super::transactions`] and
//! [`super::refunds`]; here is what they share, and the `wx.requestPayment` parameters.
//!
//! No retries: every call is idempotent on the platform's side, so callers retry what [`WechatPayError::is_transient`]
//! calls transient on their own schedule. Errors and logs carry no key, signature or URL.

use super::error::WechatPayError;
use super::nonce::signature_nonce;
use super::notify::{verify_signature, SignedHeaders, HEADER_NONCE, HEADER_SERIAL, HEADER_SIGNATURE, HEADER_TIMESTAMP};
use super::pay_sign::{self, RequestPayment};
use super::platform_keys::PlatformKeys;
use super::signing::{sign_request, RequestToSign};
use crate::clock::SharedClock;
use crate::platform::credentials::WechatPayCredentials;
use crate::platform::crypto::rsa_keys::RsaSigningKey;
use reqwest::header::{HeaderMap, ACCEPT, AUTHORIZATION, CONTENT_TYPE, USER_AGENT};
use reqwest::{Method, Url};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// WeChat Pay refuses requests without a User-Agent.
const USER_AGENT_VALUE: &str = concat!("ebill/", env!("CARGO_PKG_VERSION"), " (WechatPay-APIv3; reqwest)");
/// The API's answers are a few kilobytes; anything far larger is not one.
const MAX_BODY_BYTES: usize = 64 * 1024;

/// One merchant's client of WeChat Pay v3. Cheap to clone (the keys are shared, the HTTP client is a pool).
#[derive(Clone)]
pub struct WechatPayClient {
    pub(super) mchid: String,
    pub(super) appid: String,
    merchant_serial_no: String,
    merchant_key: RsaSigningKey,
    platform_keys: Arc<PlatformKeys>,
    base_url: String,
    pub(super) notify_url: String,
    pub(super) refund_notify_url: String,
    timeout: Duration,
    http: reqwest::Client,
    clock: SharedClock,
}

impl fmt::Debug for WechatPayClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WechatPayClient")
            .field("mchid", &self.mchid)
            .field("appid", &self.appid)
            .field("base_url", &self.base_url)
            .field("platform_keys", &self.platform_keys.len())
            .finish()
    }
}

/// An answer whose signature, when it carries one, has been verified.
#[derive(Debug)]
pub(super) struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
    /// The `Wechatpay-*` headers were present and the signature verified.
    pub verified: bool,
}

impl Answer {
    /// The body of a 2xx answer, or the error another answer stands for.
    pub fn into_success(self) -> Result<Vec<u8>, WechatPayError> {
        if (200..300).contains(&self.status) {
            Ok(self.body)
        } else {
            Err(WechatPayError::from_error_answer(self.status, &self.body))
        }
    }

    /// True for a verified error answer with this status and code. Answers that decide something (no such order,
    /// already paid) are believed only when signed: an unsigned one stays an ordinary error.
    pub fn is_verified_error(&self, status: u16, code: &str) -> bool {
        self.verified
            && self.status == status
            && WechatPayError::from_error_answer(self.status, &self.body).platform_code() == Some(code)
    }
}

impl WechatPayClient {
    pub fn new(creds: &WechatPayCredentials, http: reqwest::Client, clock: SharedClock) -> WechatPayClient {
        WechatPayClient {
            mchid: creds.mchid.clone(),
            appid: creds.appid.clone(),
            merchant_serial_no: creds.merchant_serial_no.clone(),
            merchant_key: creds.merchant_key.clone(),
            platform_keys: creds.platform_keys.clone(),
            base_url: creds.api_base_url.trim_end_matches('/').to_owned(),
            notify_url: creds.notify_url.clone(),
            refund_notify_url: creds.refund_notify_url.clone(),
            timeout: creds.timeout,
            http,
            clock,
        }
    }

    pub fn mchid(&self) -> &str {
        &self.mchid
    }

    /// The mini-program's AppID, which orders are placed for.
    pub fn appid(&self) -> &str {
        &self.appid
    }

    /// The `wx.requestPayment` parameters for a prepay id, signed now with the merchant key (fresh nonce).
    pub fn request_payment(&self, prepay_id: &str) -> Result<RequestPayment, WechatPayError> {
        let now_secs = self.clock.now_ms().div_euclid(1000);
        pay_sign::request_payment(&self.merchant_key, &self.appid, prepay_id, now_secs, &signature_nonce())
            .map_err(|e| WechatPayError::Signing(e.to_string()))
    }

    /// The URL of an API path: the base URL's path, then `segments` each percent-encoded as one segment (an order
    /// number cannot add a segment or a query), then the query.
    pub(super) fn url(&self, segments: &[&str], query: &[(&str, &str)]) -> Result<Url, WechatPayError> {
        api_url(&self.base_url, segments, query)
    }

    /// Signs and sends one request, reads the answer within bounds and verifies its signature.
    pub(super) async fn exchange(
        &self,
        method: Method,
        url: Url,
        body: Option<String>,
    ) -> Result<Answer, WechatPayError> {
        let authorization = self.authorization(&method, &url, body.as_deref().unwrap_or_default())?;
        let mut request = self
            .http
            .request(method, url)
            .timeout(self.timeout)
            .header(AUTHORIZATION, authorization)
            .header(ACCEPT, "application/json")
            .header(USER_AGENT, USER_AGENT_VALUE);
        if let Some(body) = body {
            request = request.header(CONTENT_TYPE, "application/json").body(body);
        }
        let mut response = request.send().await.map_err(transport_failure)?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(transport_failure)? {
            if body.len() + chunk.len() > MAX_BODY_BYTES {
                return Err(WechatPayError::BadResponse(format!("the body exceeds {MAX_BODY_BYTES} bytes")));
            }
            body.extend_from_slice(&chunk);
        }
        let verified = check_signature(&self.platform_keys, &headers, status, &body, self.clock.now_ms())?;
        Ok(Answer { status, body, verified })
    }

    /// The `Authorization` header for a request to `url`, over the path and query exactly as reqwest sends them.
    fn authorization(&self, method: &Method, url: &Url, body: &str) -> Result<String, WechatPayError> {
        let path_and_query = path_and_query(url);
        let nonce = signature_nonce();
        let request = RequestToSign {
            method: method.as_str(),
            path_and_query: &path_and_query,
            timestamp: self.clock.now_ms().div_euclid(1000),
            nonce: &nonce,
            body,
        };
        sign_request(&self.merchant_key, &self.mchid, &self.merchant_serial_no, &request)
            .map_err(|e| WechatPayError::Signing(e.to_string()))
    }
}

fn api_url(base_url: &str, segments: &[&str], query: &[(&str, &str)]) -> Result<Url, WechatPayError> {
    let invalid = || WechatPayError::Signing("the API base URL is not a valid http(s) URL".into());
    let mut url = Url::parse(base_url).map_err(|_| invalid())?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid());
    }
    url.set_query(None);
    url.set_fragment(None);
    url.path_segments_mut().map_err(|_| invalid())?.pop_if_empty().extend(segments);
    if !query.is_empty() {
        url.query_pairs_mut().extend_pairs(query);
    }
    Ok(url)
}

/// The request target as sent on the wire: the path, and `?query` when there is one.
fn path_and_query(url: &Url) -> String {
    match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_owned(),
    }
}

/// Verifies an answer's signature headers. A 2xx answer with a body must be signed; others (a 204, an error answer)
/// are verified when they carry the headers, and reported unverified when they carry none. A signature that is
/// present but fails is never accepted.
fn check_signature(
    keys: &PlatformKeys,
    headers: &HeaderMap,
    status: u16,
    body: &[u8],
    now_ms: i64,
) -> Result<bool, WechatPayError> {
    let present = [HEADER_SERIAL, HEADER_SIGNATURE, HEADER_TIMESTAMP, HEADER_NONCE]
        .iter()
        .any(|name| headers.contains_key(*name));
    let required = (200..300).contains(&status) && !body.is_empty();
    if !present && !required {
        return Ok(false);
    }
    let signed = SignedHeaders::from_lookup(|name| headers.get(name).map(|value| value.as_bytes()))
        .map_err(|e| WechatPayError::BadResponse(format!("the answer is not signed: {e}")))?;
    verify_signature(keys, &signed, body, now_ms)
        .map_err(|e| WechatPayError::BadResponse(format!("the answer's signature was refused: {e}")))?;
    Ok(true)
}

/// A transport failure, described without the URL.
fn transport_failure(error: reqwest::Error) -> WechatPayError {
    WechatPayError::Transport(crate::platform::http::describe_transport_failure(error))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::platform::crypto::aes_gcm::ApiV3Key;
    use crate::platform::crypto::rsa_keys::test_keys::{PKCS8_PEM, PUBLIC_PEM};
    use crate::platform::crypto::rsa_keys::RsaVerifyingKey;
    use crate::platform::wechatpay::pay_sign::pay_sign_message;
    use crate::platform::wechatpay::platform_signing::sign_body;
    use reqwest::header::HeaderValue;

    const PLATFORM_KEY: &str =
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/test_rsa_platform_pkcs8.pem"));
    const PUBLIC_KEY_ID: &str = "PUB_KEY_ID_0114232134912410000000000000000000";
    const NOW_MS: i64 = 1_700_000_000_000;

    fn platform_key() -> RsaSigningKey {
        RsaSigningKey::from_text(PLATFORM_KEY).expect("fixture platform key")
    }

    fn platform_keys() -> PlatformKeys {
        let mut keys = PlatformKeys::new();
        keys.insert_public_key(PUBLIC_KEY_ID, platform_key().verifying_key().expect("public half")).expect("inserts");
        keys
    }

    fn credentials(base_url: &str) -> WechatPayCredentials {
        WechatPayCredentials {
            mchid: "1900000109".into(),
            appid: "wx5a0d0c0e5b0a1e00".into(),
            merchant_serial_no: "5157F09EFDC096DE15EBE81A47057A7232F1B8E1".into(),
            merchant_key: RsaSigningKey::from_text(PKCS8_PEM).expect("fixture key"),
            apiv3_key: Arc::new(ApiV3Key::new(b"ebill-test-apiv3-key-32-bytes-ok").expect("32 bytes")),
            platform_keys: Arc::new(platform_keys()),
            api_base_url: base_url.into(),
            notify_url: "https://ebill.example.com/notify/wechat/pay".into(),
            refund_notify_url: "https://ebill.example.com/notify/wechat/refund".into(),
            timeout: Duration::from_secs(5),
        }
    }

    fn client(base_url: &str) -> WechatPayClient {
        WechatPayClient::new(&credentials(base_url), reqwest::Client::new(), Arc::new(ManualClock::new(NOW_MS)))
    }

    fn signed_headers(body: &[u8], timestamp: i64) -> HeaderMap {
        let signed = sign_body(&platform_key(), PUBLIC_KEY_ID, timestamp, "n0nce", body).expect("signs");
        let mut headers = HeaderMap::new();
        for (name, value) in signed.pairs() {
            headers.insert(name, HeaderValue::from_str(value).expect("header value"));
        }
        headers
    }

    #[test]
    fn debug_shows_no_key() {
        let debug = format!("{:?}", client("https://api.mch.weixin.qq.com/"));
        assert!(debug.contains("1900000109"));
        assert!(!debug.contains("PRIVATE") && !debug.contains("ebill-test-apiv3-key"));
    }

    #[test]
    fn urls_keep_the_base_path_and_encode_each_segment() {
        let url = client("http://127.0.0.1:8080/sandbox/wechatpay/")
            .url(&["v3", "pay", "transactions", "out-trade-no", "EB1/../x?y"], &[("mchid", "1900000109")])
            .expect("a URL");
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:8080/sandbox/wechatpay/v3/pay/transactions/out-trade-no/EB1%2F..%2Fx%3Fy?mchid=1900000109"
        );
        assert_eq!(
            path_and_query(&url),
            "/sandbox/wechatpay/v3/pay/transactions/out-trade-no/EB1%2F..%2Fx%3Fy?mchid=1900000109"
        );
        let root = client("https://api.mch.weixin.qq.com").url(&["v3", "pay", "transactions", "jsapi"], &[]);
        assert_eq!(path_and_query(&root.expect("a URL")), "/v3/pay/transactions/jsapi");
    }

    #[test]
    fn a_base_url_that_is_not_http_is_refused_without_echoing_it() {
        for base in ["not a url", "ftp://secret.example.com"] {
            let error = client(base).url(&["v3"], &[]).expect_err("refused");
            assert!(matches!(&error, WechatPayError::Signing(m) if !m.contains("secret")), "{error:?}");
        }
    }

    #[test]
    fn the_authorization_covers_the_path_and_query_as_sent() {
        let client = client("http://127.0.0.1:8080/sandbox/wechatpay");
        let url = client.url(&["v3", "pay", "transactions", "out-trade-no", "EB1"], &[("mchid", "1900000109")]);
        let header = client.authorization(&Method::GET, &url.expect("a URL"), "").expect("signs");
        let field = |name: &str| {
            let start = header.find(&format!("{name}=\"")).expect("field") + name.len() + 2;
            header[start..].split('"').next().expect("value").to_owned()
        };
        assert!(header.starts_with("WECHATPAY2-SHA256-RSA2048 mchid=\"1900000109\","));
        assert_eq!(field("timestamp"), "1700000000");
        let message = format!(
            "GET\n/sandbox/wechatpay/v3/pay/transactions/out-trade-no/EB1?mchid=1900000109\n1700000000\n{}\n\n",
            field("nonce_str")
        );
        let public = RsaVerifyingKey::from_text(PUBLIC_PEM).expect("fixture public key");
        assert_eq!(public.verify_sha256_base64(message.as_bytes(), &field("signature")), Ok(()));
    }

    #[test]
    fn request_payment_is_signed_now_for_the_app() {
        let params = client("https://api.mch.weixin.qq.com").request_payment("wx2024prepay").expect("signs");
        assert_eq!(params.time_stamp, "1700000000");
        assert_eq!(params.package, "prepay_id=wx2024prepay");
        let message = pay_sign_message("wx5a0d0c0e5b0a1e00", &params.time_stamp, &params.nonce_str, &params.package);
        let public = RsaVerifyingKey::from_text(PUBLIC_PEM).expect("fixture public key");
        assert_eq!(public.verify_sha256_base64(message.as_bytes(), &params.pay_sign), Ok(()));
        assert!(matches!(
            client("https://api.mch.weixin.qq.com").request_payment("a\nb"),
            Err(WechatPayError::Signing(_))
        ));
    }

    #[test]
    fn a_signed_answer_verifies() {
        let body = br#"{"prepay_id":"wx1"}"#;
        let headers = signed_headers(body, NOW_MS / 1000);
        assert_eq!(check_signature(&platform_keys(), &headers, 200, body, NOW_MS), Ok(true));
    }

    #[test]
    fn an_unsigned_answer_with_a_body_is_refused() {
        let refused = check_signature(&platform_keys(), &HeaderMap::new(), 200, br#"{"prepay_id":"wx1"}"#, NOW_MS);
        assert!(matches!(refused, Err(WechatPayError::BadResponse(_))));
    }

    #[test]
    fn a_tampered_or_stale_answer_is_refused() {
        let body = br#"{"prepay_id":"wx1"}"#;
        let headers = signed_headers(body, NOW_MS / 1000);
        let tampered = check_signature(&platform_keys(), &headers, 200, br#"{"prepay_id":"wx2"}"#, NOW_MS);
        assert!(matches!(tampered, Err(WechatPayError::BadResponse(_))));
        let stale = signed_headers(body, NOW_MS / 1000 - 301);
        assert!(matches!(
            check_signature(&platform_keys(), &stale, 200, body, NOW_MS),
            Err(WechatPayError::BadResponse(_))
        ));
    }

    #[test]
    fn unsigned_empty_and_error_answers_pass_unverified_but_a_bad_signature_never_does() {
        assert_eq!(check_signature(&platform_keys(), &HeaderMap::new(), 204, b"", NOW_MS), Ok(false));
        let error = br#"{"code":"ORDER_NOT_EXIST","message":"x"}"#;
        assert_eq!(check_signature(&platform_keys(), &HeaderMap::new(), 404, error, NOW_MS), Ok(false));
        assert_eq!(check_signature(&platform_keys(), &signed_headers(b"", NOW_MS / 1000), 204, b"", NOW_MS), Ok(true));
        let forged = signed_headers(br#"{"code":"ORDERPAID","message":"x"}"#, NOW_MS / 1000);
        assert!(matches!(
            check_signature(&platform_keys(), &forged, 400, error, NOW_MS),
            Err(WechatPayError::BadResponse(_))
        ));
    }

    #[test]
    fn only_verified_error_answers_decide() {
        let body = r#"{"code":"ORDER_NOT_EXIST","message":"订单不存在"}"#.as_bytes().to_vec();
        let verified = Answer { status: 404, body: body.clone(), verified: true };
        assert!(verified.is_verified_error(404, "ORDER_NOT_EXIST"));
        assert!(!verified.is_verified_error(404, "RESOURCE_NOT_EXISTS"));
        let unsigned = Answer { status: 404, body, verified: false };
        assert!(!unsigned.is_verified_error(404, "ORDER_NOT_EXIST"));
        assert!(matches!(unsigned.into_success(), Err(WechatPayError::Platform { status: 404, .. })));
    }
}
