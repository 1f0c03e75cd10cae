//! Our WeChat Pay v3 client against the simulated WeChat Pay, over real HTTP: orders placed, queried, paid (through
//! the sandbox's payer helper, without notifications: the notify route is tested with it), closed and refunded;
//! requests the platform must refuse, and answers our client must not trust.

use crate::helpers::{spawn_app, TestApp};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ebill::platform::credentials::WechatPayCredentials;
use ebill::platform::crypto::rsa_keys::{RsaSigningKey, RsaVerifyingKey};
use ebill::platform::wechatpay::{
    decode_notification, decrypt_transaction, sign_request, verify_signature, JsapiOrder, PlatformKeys, RefundAnswer,
    RefundRequest, RefundStatus, RequestToSign, SignedHeaders, TradeState, WechatPayClient, WechatPayError,
};
use ebill::sandbox::keys::{
    SANDBOX_WECHATPAY_MCHID, SANDBOX_WECHATPAY_MERCHANT_SERIAL, SANDBOX_WECHATPAY_PUBLIC_KEY_ID,
};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::sync::{mpsc, Arc};
use std::time::Duration;

const OPENID: &str = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o";
/// Keys of the fixtures that are neither the sandbox merchant's nor the simulated platform's.
const OTHER_PRIVATE_KEY: &str = include_str!("../fixtures/test_rsa_pkcs8.pem");
const OTHER_PUBLIC_KEY: &str = include_str!("../fixtures/test_rsa_public.pem");

fn credentials(app: &TestApp) -> WechatPayCredentials {
    app.state.credentials.wechat_pay.clone().expect("the sandbox merchant")
}

fn client_with(app: &TestApp, credentials: &WechatPayCredentials) -> WechatPayClient {
    WechatPayClient::new(credentials, reqwest::Client::new(), app.state.clock.clone())
}

fn client(app: &TestApp) -> WechatPayClient {
    client_with(app, &credentials(app))
}

/// An order of 139.23 yuan, payable for 30 minutes from the test clock's now.
fn order<'a>(app: &TestApp, out_trade_no: &'a str) -> JsapiOrder<'a> {
    JsapiOrder {
        description: "电费-0100000001-2024年1月",
        out_trade_no,
        time_expire_ms: app.clock_now_ms() + 30 * 60 * 1000,
        attach: Some("acct:0100000001"),
        amount_fen: 13923,
        openid: OPENID,
    }
}

/// The sandbox's payer pays, without notifying.
async fn pay(app: &TestApp, body: Value) -> reqwest::Response {
    let mut body = body;
    body["notify"] = json!(false);
    app.post_json("/sandbox/wechatpay/pay", &body).await
}

async fn pay_ok(app: &TestApp, out_trade_no: &str) -> String {
    let response = pay(app, json!({ "out_trade_no": out_trade_no })).await;
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.expect("JSON");
    assert_eq!(answer["notify_status"], Value::Null);
    answer["transaction_id"].as_str().expect("a transaction id").to_owned()
}

async fn error_code(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.expect("JSON");
    (status, body["code"].as_str().unwrap_or_default().to_owned())
}

fn platform_error(result: Result<impl std::fmt::Debug, WechatPayError>) -> (u16, String) {
    match result {
        Err(WechatPayError::Platform { status, code, .. }) => (status, code),
        other => panic!("expected a platform error, got {other:?}"),
    }
}

#[tokio::test]
async fn an_order_is_placed_once_paid_and_then_cannot_be_closed() {
    let app = spawn_app().await;
    let client = client(&app);
    let prepay_id = client.create_jsapi_order(&order(&app, "EB1001")).await.expect("placed");
    assert!(prepay_id.starts_with("wx"), "{prepay_id}");
    assert_eq!(client.create_jsapi_order(&order(&app, "EB1001")).await, Ok(prepay_id));

    let unpaid = client.query_order("EB1001").await.expect("answered").expect("known");
    assert_eq!(unpaid.trade_state, TradeState::NotPay);
    assert_eq!((unpaid.transaction_id, unpaid.amount.total), (None, 13923));

    let transaction_id = pay_ok(&app, "EB1001").await;
    assert!(transaction_id.starts_with("4200") && transaction_id.len() == 28, "{transaction_id}");
    let paid = client.query_order("EB1001").await.expect("answered").expect("known");
    assert_eq!(paid.trade_state, TradeState::Success);
    assert_eq!(paid.transaction_id.as_deref(), Some(transaction_id.as_str()));
    assert_eq!((paid.amount.total, paid.amount.payer_total), (13923, Some(13923)));
    assert_eq!(paid.payer.map(|payer| payer.openid).as_deref(), Some(OPENID));
    assert_eq!(paid.attach.as_deref(), Some("acct:0100000001"));
    assert!(paid.success_time.is_some_and(|time| time.ends_with("+08:00")));

    assert_eq!(client.close_order("EB1001").await, Err(WechatPayError::OrderPaid));
}

#[tokio::test]
async fn an_order_number_placed_again_with_other_content_is_refused() {
    let app = spawn_app().await;
    let client = client(&app);
    client.create_jsapi_order(&order(&app, "EB1002")).await.expect("placed");
    let other = JsapiOrder { amount_fen: 100, ..order(&app, "EB1002") };
    assert_eq!(platform_error(client.create_jsapi_order(&other).await), (400, "INVALID_REQUEST".into()));
}

#[tokio::test]
async fn an_order_number_with_every_allowed_character_goes_through_the_path() {
    let app = spawn_app().await;
    let client = client(&app);
    client.create_jsapi_order(&order(&app, "Eb0_-|*9")).await.expect("placed");
    let unpaid = client.query_order("Eb0_-|*9").await.expect("answered").expect("known");
    assert_eq!(unpaid.out_trade_no, "Eb0_-|*9");
    assert_eq!(client.close_order("Eb0_-|*9").await, Ok(()));
}

#[tokio::test]
async fn the_platform_enforces_the_order_rules() {
    let app = spawn_app().await;
    let client = client(&app);
    let long = "电".repeat(128);
    let too_long = JsapiOrder { description: &long, ..order(&app, "EB1003") };
    assert_eq!(platform_error(client.create_jsapi_order(&too_long).await), (400, "PARAM_ERROR".into()));
    let bad_number = order(&app, "EB.1003");
    assert_eq!(platform_error(client.create_jsapi_order(&bad_number).await), (400, "PARAM_ERROR".into()));
    let expired = JsapiOrder { time_expire_ms: app.clock_now_ms() - 1000, ..order(&app, "EB1003") };
    assert_eq!(platform_error(client.create_jsapi_order(&expired).await), (400, "PARAM_ERROR".into()));
}

#[tokio::test]
async fn an_unpaid_order_closes_and_then_reads_closed() {
    let app = spawn_app().await;
    let client = client(&app);
    client.create_jsapi_order(&order(&app, "EB1004")).await.expect("placed");
    assert_eq!(client.close_order("EB1004").await, Ok(()));
    let closed = client.query_order("EB1004").await.expect("answered").expect("known");
    assert_eq!(closed.trade_state, TradeState::Closed);
    assert_eq!(error_code(pay(&app, json!({ "out_trade_no": "EB1004" })).await).await, (400, "ORDER_CLOSED".into()));
}

#[tokio::test]
async fn an_unpaid_order_past_its_expiry_reads_closed_and_cannot_be_paid() {
    let app = spawn_app().await;
    let client = client(&app);
    client.create_jsapi_order(&order(&app, "EB1005")).await.expect("placed");
    app.clock.advance_ms(30 * 60 * 1000);
    let expired = client.query_order("EB1005").await.expect("answered").expect("known");
    assert_eq!(expired.trade_state, TradeState::Closed);
    assert_eq!(error_code(pay(&app, json!({ "out_trade_no": "EB1005" })).await).await, (400, "ORDER_EXPIRED".into()));
}

#[tokio::test]
async fn an_unknown_order_reads_as_none_and_cannot_be_closed() {
    let app = spawn_app().await;
    let client = client(&app);
    assert_eq!(client.query_order("EB404404").await, Ok(None));
    assert_eq!(platform_error(client.close_order("EB404404").await), (404, "ORDER_NOT_EXIST".into()));
    assert_eq!(
        error_code(pay(&app, json!({ "out_trade_no": "EB404404" })).await).await,
        (400, "ORDER_NOT_EXIST".into())
    );
}

#[tokio::test]
async fn the_payer_pays_by_prepay_id_once_and_may_pay_another_amount() {
    let app = spawn_app().await;
    let client = client(&app);
    let prepay_id = client.create_jsapi_order(&order(&app, "EB1006")).await.expect("placed");
    let response = pay(&app, json!({ "prepay_id": prepay_id, "amount_fen": 100 })).await;
    assert_eq!(response.status(), 200);
    let paid = client.query_order("EB1006").await.expect("answered").expect("known");
    assert_eq!((paid.amount.total, paid.amount.payer_total), (100, Some(100)));
    assert_eq!(error_code(pay(&app, json!({ "prepay_id": prepay_id })).await).await, (400, "ORDERPAID".into()));
    assert_eq!(
        error_code(pay(&app, json!({ "prepay_id": "wx-unknown" })).await).await,
        (400, "ORDER_NOT_EXIST".into())
    );
}

#[tokio::test]
async fn notify_again_needs_a_paid_order() {
    let app = spawn_app().await;
    client(&app).create_jsapi_order(&order(&app, "EB1007")).await.expect("placed");
    let response = app.post_json("/sandbox/wechatpay/notify-again", &json!({ "out_trade_no": "EB1007" })).await;
    assert_eq!(error_code(response).await, (400, "ORDER_NOT_PAID".into()));
}

/// Polls the refund until it leaves `PROCESSING` (the sandbox settles it within a moment).
async fn settled_refund(client: &WechatPayClient, out_refund_no: &str) -> RefundAnswer {
    for _ in 0..50 {
        let refund = client.query_refund(out_refund_no).await.expect("answered").expect("known");
        if refund.status != RefundStatus::Processing {
            return refund;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the refund {out_refund_no} is still processing after 5 s");
}

fn refund_request<'a>(out_refund_no: &'a str, refund_fen: i64) -> RefundRequest<'a> {
    RefundRequest { out_trade_no: "EB1008", out_refund_no, reason: "重复缴费", refund_fen, total_fen: 13923 }
}

#[tokio::test]
async fn a_refund_of_a_paid_order_is_accepted_then_succeeds() {
    let app = spawn_app().await;
    let client = client(&app);
    client.create_jsapi_order(&order(&app, "EB1008")).await.expect("placed");
    pay_ok(&app, "EB1008").await;

    let accepted = client.refund(&refund_request("RF1008", 5000)).await.expect("accepted");
    assert_eq!(
        (accepted.status, accepted.refund_fen, accepted.out_refund_no.as_str()),
        (RefundStatus::Processing, 5000, "RF1008")
    );
    let again = client.refund(&refund_request("RF1008", 5000)).await.expect("the same refund");
    assert_eq!(again.refund_id, accepted.refund_id);

    let settled = settled_refund(&client, "RF1008").await;
    assert_eq!((settled.status, settled.refund_id), (RefundStatus::Success, accepted.refund_id));
    let refunded = client.query_order("EB1008").await.expect("answered").expect("known");
    assert_eq!(refunded.trade_state, TradeState::Refund);
}

#[tokio::test]
async fn refunds_beyond_what_was_paid_or_of_unpaid_orders_are_refused() {
    let app = spawn_app().await;
    let client = client(&app);
    client.create_jsapi_order(&order(&app, "EB1008")).await.expect("placed");
    assert_eq!(platform_error(client.refund(&refund_request("RF1", 100)).await), (400, "INVALID_REQUEST".into()));
    pay_ok(&app, "EB1008").await;
    client.refund(&refund_request("RF2", 13000)).await.expect("accepted");
    assert_eq!(platform_error(client.refund(&refund_request("RF3", 924)).await), (400, "INVALID_REQUEST".into()));
    assert_eq!(platform_error(client.refund(&refund_request("RF2", 923)).await), (400, "INVALID_REQUEST".into()));
    assert_eq!(client.refund(&refund_request("RF3", 923)).await.map(|refund| refund.refund_fen), Ok(923));
    let unknown_order = RefundRequest { out_trade_no: "EB404404", ..refund_request("RF4", 1) };
    assert_eq!(platform_error(client.refund(&unknown_order).await), (404, "RESOURCE_NOT_EXISTS".into()));
}

#[tokio::test]
async fn an_unknown_refund_reads_as_none() {
    let app = spawn_app().await;
    assert_eq!(client(&app).query_refund("RF404404").await, Ok(None));
}

#[tokio::test]
async fn a_client_with_the_wrong_merchant_key_gets_sign_error() {
    let app = spawn_app().await;
    let mut credentials = credentials(&app);
    credentials.merchant_key = RsaSigningKey::from_text(OTHER_PRIVATE_KEY).expect("fixture key");
    let client = client_with(&app, &credentials);
    assert_eq!(platform_error(client.create_jsapi_order(&order(&app, "EB1009")).await), (401, "SIGN_ERROR".into()));
    assert_eq!(platform_error(client.query_order("EB1009").await), (401, "SIGN_ERROR".into()));
}

#[tokio::test]
async fn answers_not_signed_by_the_platform_key_we_hold_are_refused() {
    let app = spawn_app().await;
    client(&app).create_jsapi_order(&order(&app, "EB1010")).await.expect("placed");
    let mut keys = PlatformKeys::new();
    let other = RsaVerifyingKey::from_text(OTHER_PUBLIC_KEY).expect("fixture public key");
    keys.insert_public_key(SANDBOX_WECHATPAY_PUBLIC_KEY_ID, other).expect("inserts");
    let mut credentials = credentials(&app);
    credentials.platform_keys = Arc::new(keys);
    let client = client_with(&app, &credentials);
    assert!(matches!(client.create_jsapi_order(&order(&app, "EB1010")).await, Err(WechatPayError::BadResponse(_))));
    assert!(matches!(client.query_order("EB1010").await, Err(WechatPayError::BadResponse(_))));
    // Not even a "no such order" is believed.
    assert!(matches!(client.query_order("EB404404").await, Err(WechatPayError::BadResponse(_))));
    assert!(matches!(client.close_order("EB1010").await, Err(WechatPayError::BadResponse(_))));
}

/// A request to the sandbox signed by hand over `signed_path`, sent to `path`.
async fn post_signed(app: &TestApp, path: &str, signed_path: &str, body: &str) -> reqwest::Response {
    let credentials = credentials(app);
    let request = RequestToSign {
        method: "POST",
        path_and_query: signed_path,
        timestamp: app.clock_now_ms() / 1000,
        nonce: "0123456789abcdefABCDEF0123456789",
        body,
    };
    let authorization =
        sign_request(&credentials.merchant_key, SANDBOX_WECHATPAY_MCHID, SANDBOX_WECHATPAY_MERCHANT_SERIAL, &request)
            .expect("signs");
    app.client
        .post(app.url(path))
        .header("Authorization", authorization)
        .header("Content-Type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .expect("request sent")
}

#[tokio::test]
async fn the_platform_checks_the_path_as_received_and_signs_its_refusals() {
    let app = spawn_app().await;
    let path = "/sandbox/wechatpay/v3/pay/transactions/out-trade-no/EB1011/close";
    let body = format!(r#"{{"mchid":"{SANDBOX_WECHATPAY_MCHID}"}}"#);
    let without_prefix = post_signed(&app, path, "/v3/pay/transactions/out-trade-no/EB1011/close", &body).await;
    assert_eq!(without_prefix.status(), 401);
    let headers = without_prefix.headers().clone();
    let answer = without_prefix.bytes().await.expect("a body");
    let signed = SignedHeaders::from_lookup(|name| headers.get(name).map(|value| value.as_bytes())).expect("signed");
    assert_eq!(signed.serial, SANDBOX_WECHATPAY_PUBLIC_KEY_ID);
    assert_eq!(verify_signature(&credentials(&app).platform_keys, &signed, &answer, app.clock_now_ms()), Ok(()));
    assert_eq!(serde_json::from_slice::<Value>(&answer).expect("JSON")["code"], "SIGN_ERROR");

    let as_received = post_signed(&app, path, path, &body).await;
    assert_eq!(error_code(as_received).await, (404, "ORDER_NOT_EXIST".into()));
    let unsigned = app.client.get(app.url("/sandbox/wechatpay/v3/pay/transactions/out-trade-no/EB1011")).send().await;
    assert_eq!(error_code(unsigned.expect("request sent")).await, (401, "SIGN_ERROR".into()));
}

#[tokio::test]
async fn pay_sign_verifies_with_openssl_and_the_merchant_public_key() {
    use rsa::pkcs8::{EncodePublicKey, LineEnding};
    let app = spawn_app().await;
    let client = client(&app);
    let prepay_id = client.create_jsapi_order(&order(&app, "EB1012")).await.expect("placed");
    let params = client.request_payment(&prepay_id).expect("signed");
    assert_eq!(
        (params.package.as_str(), params.sign_type.as_str()),
        (format!("prepay_id={prepay_id}").as_str(), "RSA")
    );
    assert_eq!(params.time_stamp, (app.clock_now_ms() / 1000).to_string());

    let sandbox = app.state.sandbox.as_ref().expect("sandbox mode");
    let public = sandbox.keys.wechatpay_merchant_public_key().expect("public half");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let public_pem = public.public_key().to_public_key_pem(LineEnding::LF).expect("PEM");
    std::fs::write(dir.path().join("pub.pem"), public_pem).expect("write the key");
    std::fs::write(dir.path().join("sig.bin"), STANDARD.decode(&params.pay_sign).expect("base64")).expect("write");
    let appid = client.appid();
    let verify = |message: String| -> Option<bool> {
        std::fs::write(dir.path().join("msg"), message).expect("write the message");
        let output = std::process::Command::new("openssl")
            .args(["dgst", "-sha256", "-verify", "pub.pem", "-signature", "sig.bin", "msg"])
            .current_dir(dir.path())
            .output();
        match output {
            Ok(output) => Some(output.status.success() && output.stdout.starts_with(b"Verified OK")),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => panic!("openssl could not run: {e}"),
        }
    };
    let message = format!("{appid}\n{}\n{}\n{}\n", params.time_stamp, params.nonce_str, params.package);
    let Some(verified) = verify(message.clone()) else {
        eprintln!("openssl is not on PATH: paySign not checked by an independent implementation");
        return;
    };
    assert!(verified, "openssl refused paySign over {message:?}");
    assert_eq!(verify(message.replace(&params.nonce_str, "tampered")), Some(false));
}

/// A notification as a stand-in notify endpoint received it: headers (lower-case names) and raw body.
struct Received {
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

/// A stand-in for the merchant's notify endpoint, answering 200 to whatever it gets: the sandbox's notifications
/// are checked here against the protocol, apart from our own notify route.
fn notify_catcher() -> (String, mpsc::Receiver<Received>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let url = format!("http://{}/notify/wechat/pay", listener.local_addr().expect("an address"));
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().expect("a second handle"));
            let mut headers = HashMap::new();
            let mut line = String::new();
            reader.read_line(&mut line).expect("the request line");
            loop {
                line.clear();
                reader.read_line(&mut line).expect("a header line");
                let Some((name, value)) = line.trim_end().split_once(':') else { break };
                headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_owned());
            }
            let length = headers.get("content-length").and_then(|n| n.parse().ok()).unwrap_or(0);
            let mut body = vec![0; length];
            reader.read_exact(&mut body).expect("the body");
            let received = sender.send(Received { headers, body });
            stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").ok();
            if received.is_err() {
                return;
            }
        }
    });
    (url, receiver)
}

#[tokio::test]
async fn the_payment_notification_is_signed_encrypted_and_repeated_as_the_platform_does() {
    let app = spawn_app().await;
    let (notify_url, received) = notify_catcher();
    let mut credentials = credentials(&app);
    credentials.notify_url = notify_url;
    client_with(&app, &credentials).create_jsapi_order(&order(&app, "EB1013")).await.expect("placed");

    let response = app.post_json("/sandbox/wechatpay/pay", &json!({ "out_trade_no": "EB1013" })).await;
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.expect("JSON");
    assert_eq!((answer["notify_status"].clone(), answer["notify_body"].clone()), (json!(200), json!("")));
    let first = received.recv_timeout(Duration::from_secs(5)).expect("a notification");

    let signed = SignedHeaders::from_lookup(|name| first.headers.get(&name.to_ascii_lowercase()).map(|v| v.as_bytes()))
        .expect("the signature headers");
    assert_eq!(signed.serial, SANDBOX_WECHATPAY_PUBLIC_KEY_ID);
    assert_eq!(verify_signature(&credentials.platform_keys, &signed, &first.body, app.clock_now_ms()), Ok(()));
    let notification = decode_notification(&first.body).expect("a notification body");
    assert_eq!(
        (notification.event_type.as_str(), notification.resource_type.as_str()),
        ("TRANSACTION.SUCCESS", "encrypt-resource")
    );
    assert_eq!(notification.resource.associated_data, "transaction");
    let transaction = decrypt_transaction(&credentials.apiv3_key, &notification).expect("decrypts");
    assert_eq!(transaction.trade_state, TradeState::Success);
    assert_eq!(transaction.transaction_id.as_deref(), answer["transaction_id"].as_str());
    assert_eq!((transaction.out_trade_no.as_str(), transaction.amount.total), ("EB1013", 13923));

    let again = app.post_json("/sandbox/wechatpay/notify-again", &json!({ "out_trade_no": "EB1013" })).await;
    assert_eq!(again.status(), 200);
    let second = received.recv_timeout(Duration::from_secs(5)).expect("the notification again");
    let repeated = decode_notification(&second.body).expect("a notification body");
    assert_eq!(repeated.id, notification.id);
    assert_ne!(second.headers.get("wechatpay-nonce"), first.headers.get("wechatpay-nonce"));
    assert_eq!(decrypt_transaction(&credentials.apiv3_key, &repeated).expect("decrypts"), transaction);
}
