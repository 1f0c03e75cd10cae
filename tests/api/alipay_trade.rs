//! The production Alipay trade client against the sandbox's simulated Alipay, over real HTTP: create (user id and
//! OpenID buyers), idempotent repeats, query, close, refund, the payment helper and the notifies it sends, and the
//! signatures both ways.

use crate::helpers::{spawn_app, TestApp};
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use ebill::platform::alipay::{
    alipay_timestamp, AlipayBuyer, AlipayClient, AlipayError, CloseOutcome, TradeCreate, TradeRefund, TradeStatus,
    TRADE_CREATE_METHOD,
};
use ebill::platform::credentials::AlipayCredentials;
use ebill::platform::crypto::alipay_sign::verify_notify;
use ebill::platform::crypto::rsa_keys::{RsaSigningKey, RsaVerifyingKey};
use ebill::sandbox::alipay::{
    build_trade_notify, open_id_for, user_id_for, TradeNotify, TRADE_BUSY_ONCE_PREFIX, TRADE_NO_PREFIX,
};
use ebill::sandbox::keys::SANDBOX_ALIPAY_SELLER_ID;
use ebill::sandbox::platforms::SandboxPlatforms;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};

const FIFTEEN_MINUTES_MS: i64 = 15 * 60 * 1000;
const SUBJECT: &str = "电费 2024年1月 户号 0001";

fn sandbox(app: &TestApp) -> &SandboxPlatforms {
    app.state.sandbox.as_deref().expect("sandbox mode")
}

fn credentials(app: &TestApp) -> AlipayCredentials {
    app.state.credentials.alipay.clone().expect("sandbox Alipay credentials")
}

fn alipay_with(app: &TestApp, creds: &AlipayCredentials) -> AlipayClient {
    AlipayClient::new(creds, app.state.http.clone()).with_clock(app.state.clock.clone())
}

fn alipay(app: &TestApp) -> AlipayClient {
    alipay_with(app, &credentials(app))
}

fn fixture(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name);
    std::fs::read_to_string(path).expect("fixture")
}

fn user_id(app: &TestApp, user: &str) -> String {
    user_id_for(&credentials(app).app_id, user)
}

fn order<'a>(app: &TestApp, out_trade_no: &'a str, amount_fen: i64, buyer: AlipayBuyer<'a>) -> TradeCreate<'a> {
    TradeCreate {
        out_trade_no,
        amount_fen,
        subject: SUBJECT,
        buyer,
        time_expire_ms: app.clock_now_ms() + FIFTEEN_MINUTES_MS,
    }
}

/// The mistake of formatting an instant in the host's zone on a UTC host.
fn utc_wall_time(epoch_ms: i64) -> String {
    alipay_timestamp(epoch_ms - 8 * 3600 * 1000).expect("in range")
}

fn has_sub_code(error: &AlipayError, code: &str, sub_code: &str) -> bool {
    matches!(error, AlipayError::Business { code: c, sub_code: s, .. } if c == code && s == sub_code)
}

async fn sandbox_post(app: &TestApp, path: &str, body: Value) -> (u16, Value) {
    let response = app.client.post(app.url(path)).json(&body).send().await.expect("request sent");
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON"))
}

async fn pay(app: &TestApp, body: Value) -> (u16, Value) {
    sandbox_post(app, "/sandbox/alipay/pay", body).await
}

async fn query(client: &AlipayClient, out_trade_no: &str) -> ebill::platform::alipay::TradeQueryAnswer {
    client.trade_query(out_trade_no).await.expect("queries").expect("the trade exists")
}

// --- create and query ---

#[tokio::test]
async fn a_trade_for_a_user_id_is_created_once_and_waits_for_the_buyer() {
    let app = spawn_app().await;
    let client = alipay(&app);
    let buyer = user_id(&app, "alice");
    let order = order(&app, "EB1001", 8_888, AlipayBuyer::UserId(&buyer));
    let trade_no = client.trade_create(&order).await.expect("creates");
    assert!(trade_no.starts_with(TRADE_NO_PREFIX), "{trade_no}");
    assert_eq!(trade_no.len(), 28);
    assert_eq!(client.trade_create(&order).await.expect("a repeat creates nothing new"), trade_no);
    assert_eq!(sandbox(&app).alipay.trade_count(), 1);

    let trade = query(&client, "EB1001").await;
    assert_eq!(trade.trade_no, trade_no);
    assert_eq!(trade.out_trade_no, "EB1001");
    assert_eq!(trade.trade_status, TradeStatus::WaitBuyerPay);
    assert_eq!(trade.total_amount_fen, 8_888);
    assert_eq!(trade.send_pay_date_ms, None);
    assert_eq!(trade.buyer_user_id.as_deref(), Some(buyer.as_str()));
    assert_eq!(trade.buyer_open_id, None);
}

#[tokio::test]
async fn a_trade_for_an_openid_only_app_names_its_buyer_by_open_id() {
    let app = spawn_app().await;
    let client = alipay(&app);
    let open_id = open_id_for(client.app_id(), "alice");
    let order = order(&app, "EB1002", 100, AlipayBuyer::OpenId(&open_id));
    let trade_no = client.trade_create(&order).await.expect("creates");
    assert_eq!(client.trade_create(&order).await.expect("repeats"), trade_no);
    let trade = query(&client, "EB1002").await;
    assert_eq!(trade.buyer_open_id.as_deref(), Some(open_id.as_str()));
    assert_eq!(trade.buyer_user_id, None);
    assert_eq!(trade.total_amount_fen, 100);
}

#[tokio::test]
async fn the_same_order_number_with_other_content_is_refused() {
    let app = spawn_app().await;
    let client = alipay(&app);
    let buyer = user_id(&app, "alice");
    client.trade_create(&order(&app, "EB1003", 100, AlipayBuyer::UserId(&buyer))).await.expect("creates");
    let error = client.trade_create(&order(&app, "EB1003", 101, AlipayBuyer::UserId(&buyer))).await.unwrap_err();
    assert!(has_sub_code(&error, "40004", "ACQ.CONTEXT_INCONSISTENT"), "{error:?}");
}

#[tokio::test]
async fn an_unknown_trade_queries_as_none_and_closes_as_not_exist() {
    let app = spawn_app().await;
    let client = alipay(&app);
    assert_eq!(client.trade_query("EB404").await, Ok(None));
    assert_eq!(client.trade_close("EB404").await, Ok(CloseOutcome::NotExist));
}

#[tokio::test]
async fn an_unpaid_trade_past_its_time_expire_is_closed() {
    let app = spawn_app().await;
    let client = alipay(&app);
    let buyer = user_id(&app, "alice");
    client.trade_create(&order(&app, "EB1004", 100, AlipayBuyer::UserId(&buyer))).await.expect("creates");
    app.clock.advance_ms(FIFTEEN_MINUTES_MS - 1_000);
    assert_eq!(query(&client, "EB1004").await.trade_status, TradeStatus::WaitBuyerPay);
    app.clock.advance_ms(1_000);
    assert_eq!(query(&client, "EB1004").await.trade_status, TradeStatus::TradeClosed);
    let (status, body) = pay(&app, json!({ "out_trade_no": "EB1004", "notify": false })).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("TRADE_CLOSED")));
}

// --- pay and close ---

#[tokio::test]
async fn a_paid_trade_queries_as_success_and_cannot_be_closed_or_created_again() {
    let app = spawn_app().await;
    let client = alipay(&app);
    let buyer = user_id(&app, "alice");
    let order = order(&app, "EB2001", 12_345, AlipayBuyer::UserId(&buyer));
    let trade_no = client.trade_create(&order).await.expect("creates");

    let (status, body) = pay(&app, json!({ "trade_no": trade_no, "notify": false })).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["trade_no"], trade_no.as_str());
    assert_eq!(body["notify_status"], Value::Null);

    let trade = query(&client, "EB2001").await;
    assert_eq!(trade.trade_status, TradeStatus::TradeSuccess);
    assert_eq!(trade.total_amount_fen, 12_345);
    let now = app.clock_now_ms();
    assert_eq!(trade.send_pay_date_ms, Some(now - now.rem_euclid(1_000)), "Beijing time, to the second");

    assert_eq!(client.trade_close("EB2001").await, Ok(CloseOutcome::AlreadyPaid));
    let error = client.trade_create(&order).await.unwrap_err();
    assert!(has_sub_code(&error, "40004", "ACQ.TRADE_HAS_SUCCESS"), "{error:?}");
    let (status, body) = pay(&app, json!({ "out_trade_no": "EB2001", "notify": false })).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("TRADE_ALREADY_PAID")));
}

#[tokio::test]
async fn an_unpaid_trade_closes_and_stays_closed() {
    let app = spawn_app().await;
    let client = alipay(&app);
    let buyer = user_id(&app, "alice");
    let order = order(&app, "EB2002", 100, AlipayBuyer::UserId(&buyer));
    client.trade_create(&order).await.expect("creates");
    assert_eq!(client.trade_close("EB2002").await, Ok(CloseOutcome::Closed));
    assert_eq!(client.trade_close("EB2002").await, Ok(CloseOutcome::Closed), "closing again is harmless");
    assert_eq!(query(&client, "EB2002").await.trade_status, TradeStatus::TradeClosed);
    let error = client.trade_create(&order).await.unwrap_err();
    assert!(has_sub_code(&error, "40004", "ACQ.TRADE_HAS_CLOSE"), "{error:?}");
    let (status, body) = pay(&app, json!({ "out_trade_no": "EB2002" })).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("TRADE_CLOSED")));
}

#[tokio::test]
async fn paying_needs_exactly_one_known_trade() {
    let app = spawn_app().await;
    let (status, body) = pay(&app, json!({ "notify": false })).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("INVALID_TRADE_REFERENCE")));
    let (status, body) = pay(&app, json!({ "trade_no": "1", "out_trade_no": "EB1" })).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("INVALID_TRADE_REFERENCE")));
    let (status, body) = pay(&app, json!({ "out_trade_no": "EB404" })).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("UNKNOWN_TRADE")));
    let (status, body) = sandbox_post(&app, "/sandbox/alipay/notify-again", json!({ "out_trade_no": "EB404" })).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("UNKNOWN_TRADE")));
}

// --- refund ---

#[tokio::test]
async fn a_refund_is_idempotent_on_its_request_number_and_bounded_by_the_trade() {
    let app = spawn_app().await;
    let client = alipay(&app);
    let buyer = user_id(&app, "alice");
    let trade_no =
        client.trade_create(&order(&app, "EB3001", 1_000, AlipayBuyer::UserId(&buyer))).await.expect("creates");
    let refund = TradeRefund { out_trade_no: "EB3001", refund_fen: 300, out_request_no: "EB3001-R1", reason: "多缴" };

    let error = client.trade_refund(&refund).await.unwrap_err();
    assert!(has_sub_code(&error, "40004", "ACQ.TRADE_STATUS_ERROR"), "unpaid: {error:?}");

    pay(&app, json!({ "out_trade_no": "EB3001", "notify": false })).await;
    let first = client.trade_refund(&refund).await.expect("refunds");
    assert_eq!((first.trade_no.as_str(), first.fund_change, first.refund_fen), (trade_no.as_str(), true, 300));
    let repeat = client.trade_refund(&refund).await.expect("a repeat answers");
    assert_eq!((repeat.fund_change, repeat.refund_fen), (false, 300));

    let too_much = TradeRefund { refund_fen: 701, out_request_no: "EB3001-R2", ..refund.clone() };
    let error = client.trade_refund(&too_much).await.unwrap_err();
    assert!(has_sub_code(&error, "40004", "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL"), "{error:?}");

    let rest = TradeRefund { refund_fen: 700, out_request_no: "EB3001-R2", reason: "", ..refund };
    let second = client.trade_refund(&rest).await.expect("refunds the rest");
    assert_eq!((second.fund_change, second.refund_fen), (true, 1_000), "refund_fee is the refunded total");

    let trade = query(&client, "EB3001").await;
    assert_eq!(trade.trade_status, TradeStatus::TradeClosed, "refunded in full");
    assert!(trade.send_pay_date_ms.is_some());
    assert_eq!(client.trade_close("EB3001").await, Ok(CloseOutcome::AlreadyPaid), "the money did arrive");
}

#[tokio::test]
async fn refunding_an_unknown_trade_says_it_does_not_exist() {
    let app = spawn_app().await;
    let refund = TradeRefund { out_trade_no: "EB404", refund_fen: 1, out_request_no: "R1", reason: "" };
    let error = alipay(&app).trade_refund(&refund).await.unwrap_err();
    assert!(has_sub_code(&error, "40004", "ACQ.TRADE_NOT_EXIST"), "{error:?}");
}

// --- retries ---

#[tokio::test]
async fn a_create_whose_answer_was_lost_is_retried_and_finds_the_same_trade() {
    let app = spawn_app().await;
    let client = alipay(&app);
    let buyer = user_id(&app, "alice");
    let out_trade_no = format!("{TRADE_BUSY_ONCE_PREFIX}_8001");
    let trade_no =
        client.trade_create(&order(&app, &out_trade_no, 100, AlipayBuyer::UserId(&buyer))).await.expect("retried");
    assert_eq!(sandbox(&app).alipay.busy_answers(), 1, "one lost answer, one retry");
    assert_eq!(sandbox(&app).alipay.trade_count(), 1);
    assert_eq!(query(&client, &out_trade_no).await.trade_no, trade_no);
}

#[tokio::test]
async fn a_refund_whose_answer_was_lost_stands_and_its_retry_moves_no_more_money() {
    let app = spawn_app().await;
    let client = alipay(&app);
    let buyer = user_id(&app, "alice");
    client.trade_create(&order(&app, "EB8002", 1_000, AlipayBuyer::UserId(&buyer))).await.expect("creates");
    pay(&app, json!({ "out_trade_no": "EB8002", "notify": false })).await;
    let out_request_no = format!("{TRADE_BUSY_ONCE_PREFIX}-R1");
    let refund = TradeRefund { out_trade_no: "EB8002", refund_fen: 400, out_request_no: &out_request_no, reason: "" };
    let answer = client.trade_refund(&refund).await.expect("retried");
    assert_eq!((answer.fund_change, answer.refund_fen), (false, 400), "the first attempt refunded");
    assert_eq!(sandbox(&app).alipay.busy_answers(), 1);
}

// --- what is refused before or at the gateway ---

#[tokio::test]
async fn the_client_refuses_bad_orders_before_sending_them() {
    let app = spawn_app().await;
    let client = alipay(&app);
    let buyer = user_id(&app, "alice");
    let base = order(&app, "EB4001", 100, AlipayBuyer::UserId(&buyer));
    for bad in [
        TradeCreate { amount_fen: 0, ..base.clone() },
        TradeCreate { amount_fen: 10_000_000_001, ..base.clone() },
        TradeCreate { subject: "电费/水费", ..base.clone() },
        TradeCreate { out_trade_no: "EB-4001", ..base.clone() },
    ] {
        let error = client.trade_create(&bad).await.unwrap_err();
        assert!(matches!(error, AlipayError::InvalidRequest(_)), "{bad:?}: {error:?}");
    }
    assert_eq!(sandbox(&app).alipay.trade_count(), 0);
}

#[tokio::test]
async fn the_sandbox_refuses_the_create_calls_alipay_refuses() {
    let app = spawn_app().await;
    let client = alipay(&app);
    let notify_url = credentials(&app).notify_url;
    let buyer = user_id(&app, "alice");
    let good = json!({ "out_trade_no": "EB5001", "total_amount": "1.00", "subject": "电费",
        "product_code": "JSAPI_PAY", "buyer_id": buyer });
    let with = |key: &str, value: Value| {
        let mut biz = good.clone();
        biz[key] = value;
        biz
    };
    let cases = [
        (with("product_code", json!("FACE_TO_FACE_PAYMENT")), "ACQ.PRODUCT_CODE_NOT_SUPPORTED"),
        (with("buyer_open_id", json!("0abc")), "ACQ.INVALID_PARAMETER"),
        (with("buyer_id", Value::Null), "ACQ.INVALID_PARAMETER"),
        (with("total_amount", json!("0.001")), "ACQ.INVALID_PARAMETER"),
        (with("total_amount", json!("0.00")), "ACQ.INVALID_PARAMETER"),
        (with("total_amount", json!(1.0)), "ACQ.INVALID_PARAMETER"),
        (with("total_amount", json!("100000000.01")), "ACQ.TOTAL_FEE_EXCEED"),
        (with("subject", json!("a=b")), "ACQ.INVALID_PARAMETER"),
        (with("out_trade_no", json!("EB-5001")), "ACQ.INVALID_PARAMETER"),
        (with("out_trade_no", json!("E".repeat(65))), "ACQ.INVALID_PARAMETER"),
        (with("time_expire", json!("2024-02-01T00:00:00")), "ACQ.INVALID_PARAMETER"),
        (with("op_app_id", json!("2021999999999999")), "ACQ.INVALID_PARAMETER"),
        // Fifteen minutes from now written as UTC wall time: already past in Beijing.
        (with("time_expire", json!(utc_wall_time(app.clock_now_ms() + FIFTEEN_MINUTES_MS))), "ACQ.INVALID_PARAMETER"),
    ];
    for (biz, sub_code) in cases {
        let error = client.call(TRADE_CREATE_METHOD, Some(biz.clone()), &[("notify_url", &notify_url)]).await;
        let error = error.unwrap_err();
        assert!(has_sub_code(&error, "40004", sub_code), "{biz}: {error:?}");
    }
    let error = client.call(TRADE_CREATE_METHOD, Some(good.clone()), &[]).await.unwrap_err();
    assert!(has_sub_code(&error, "40001", "isv.missing-notify-url"), "{error:?}");
    assert_eq!(sandbox(&app).alipay.trade_count(), 0);
    // The same content with a notify URL is accepted, and answers in the signed method node.
    let node = client.call(TRADE_CREATE_METHOD, Some(good), &[("notify_url", &notify_url)]).await.expect("creates");
    assert_eq!(node["out_trade_no"], "EB5001");
}

#[tokio::test]
async fn a_client_signing_with_a_wrong_app_key_is_refused() {
    let app = spawn_app().await;
    let wrong_key = RsaSigningKey::from_text(&fixture("test_rsa_platform_pkcs8.pem")).expect("fixture key");
    let creds = AlipayCredentials { app_key: wrong_key, ..credentials(&app) };
    let buyer = user_id(&app, "alice");
    let error = alipay_with(&app, &creds).trade_create(&order(&app, "EB6001", 100, AlipayBuyer::UserId(&buyer))).await;
    let error = error.unwrap_err();
    assert!(has_sub_code(&error, "40002", "isv.invalid-signature"), "{error:?}");
    assert_eq!(sandbox(&app).alipay.trade_count(), 0);
}

#[tokio::test]
async fn a_client_trusting_another_alipay_key_refuses_the_answers() {
    let app = spawn_app().await;
    let app_public_key = RsaVerifyingKey::from_text(&fixture("test_rsa_public.pem")).expect("fixture key");
    let creds = AlipayCredentials { alipay_public_key: app_public_key, ..credentials(&app) };
    let client = alipay_with(&app, &creds);
    let buyer = user_id(&app, "alice");
    let error = client.trade_create(&order(&app, "EB6002", 100, AlipayBuyer::UserId(&buyer))).await.unwrap_err();
    assert!(matches!(error, AlipayError::Signature(_)), "{error:?}");
    alipay(&app).trade_create(&order(&app, "EB6002", 100, AlipayBuyer::UserId(&buyer))).await.expect("creates");
    assert!(matches!(client.trade_query("EB6002").await, Err(AlipayError::Signature(_))));
    assert!(matches!(client.trade_close("EB6002").await, Err(AlipayError::Signature(_))));
}

// --- notifies ---

fn notify_of<'a>(app_id: &'a str, buyer: AlipayBuyer<'a>, notify_ms: i64) -> TradeNotify<'a> {
    TradeNotify {
        app_id,
        seller_id: SANDBOX_ALIPAY_SELLER_ID,
        trade_no: "2026120422001000000000000042",
        out_trade_no: "EB7001",
        buyer,
        trade_status: "TRADE_SUCCESS",
        amount_fen: 1_234,
        subject: "电费 = 2024年1月 & 2月",
        gmt_create_ms: notify_ms - 60_000,
        gmt_payment_ms: notify_ms - 1_000,
        notify_time_ms: notify_ms,
        notify_id: "2024020100222000000000000000000042",
    }
}

#[tokio::test]
async fn a_sandbox_notify_verifies_with_the_platform_key_and_fails_when_tampered() {
    let app = spawn_app().await;
    let keys = &sandbox(&app).keys;
    let platform_public_key = keys.alipay_platform_public_key().expect("the platform's public key");
    let notify = notify_of(&keys.alipay_app_id, AlipayBuyer::UserId("2088102104794936"), app.clock_now_ms());
    let params = build_trade_notify(&notify, &keys.alipay_platform_key).expect("builds");
    assert_eq!(verify_notify(params.clone(), &platform_public_key), Ok(()));
    assert_eq!(verify_notify(params.clone(), &credentials(&app).alipay_public_key), Ok(()), "what our app trusts");

    for (key, value) in [("total_amount", "0.01"), ("out_trade_no", "EB7002"), ("seller_id", "2088000000000000")] {
        let mut tampered = params.clone();
        tampered.iter_mut().find(|(k, _)| k == key).expect("present").1 = value.to_owned();
        assert!(verify_notify(tampered, &platform_public_key).is_err(), "{key}");
    }
    let mut added = params.clone();
    added.push(("passback_params".to_owned(), "x".to_owned()));
    assert!(verify_notify(added, &platform_public_key).is_err());
    let app_public_key = RsaVerifyingKey::from_text(&fixture("test_rsa_public.pem")).expect("fixture key");
    assert!(verify_notify(params, &app_public_key).is_err(), "the app's own key is the wrong key");
}

/// What a stand-in merchant server received: content type and raw body of each POST.
type Received = Arc<Mutex<Vec<(String, String)>>>;

async fn receive(received: web::Data<Received>, request: HttpRequest, body: web::Bytes) -> HttpResponse {
    let content_type =
        request.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    received.lock().expect("lock").push((content_type, String::from_utf8_lossy(&body).into_owned()));
    HttpResponse::Ok().body("success")
}

/// A merchant server of its own (not our application): answers `success` and keeps what it got.
fn merchant_server() -> (String, Received) {
    let received: Received = Arc::default();
    let data = web::Data::new(received.clone());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binds");
    let port = listener.local_addr().expect("an address").port();
    let server = HttpServer::new(move || App::new().app_data(data.clone()).route("/notify", web::post().to(receive)))
        .workers(1)
        .listen(listener)
        .expect("listens")
        .run();
    tokio::spawn(server);
    (format!("http://127.0.0.1:{port}/notify"), received)
}

fn form(body: &str) -> Vec<(String, String)> {
    web::Query::<Vec<(String, String)>>::from_query(body).expect("a form").into_inner()
}

fn value<'a>(params: &'a [(String, String)], key: &str) -> Option<&'a str> {
    params.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

#[tokio::test]
async fn paying_posts_a_signed_form_notify_to_the_trades_notify_url_and_retries_send_it_again() {
    let app = spawn_app().await;
    let (notify_url, received) = merchant_server();
    let client = alipay_with(&app, &AlipayCredentials { notify_url, ..credentials(&app) });
    let open_id = open_id_for(client.app_id(), "alice");
    let trade_no =
        client.trade_create(&order(&app, "EB7001", 1_234, AlipayBuyer::OpenId(&open_id))).await.expect("creates");

    let (status, body) = pay(&app, json!({ "out_trade_no": "EB7001", "amount_fen": 1_200 })).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!((body["notify_status"].as_u64(), body["notify_body"].as_str()), (Some(200), Some("success")));

    let (content_type, raw) = received.lock().expect("lock")[0].clone();
    assert_eq!(content_type, "application/x-www-form-urlencoded; charset=utf-8");
    let params = form(&raw);
    let platform_public_key = sandbox(&app).keys.alipay_platform_public_key().expect("the platform's public key");
    assert_eq!(verify_notify(params.clone(), &platform_public_key), Ok(()));
    assert_eq!(value(&params, "app_id"), Some(client.app_id()));
    assert_eq!(value(&params, "trade_no"), Some(trade_no.as_str()));
    assert_eq!(value(&params, "out_trade_no"), Some("EB7001"));
    assert_eq!(value(&params, "buyer_open_id"), Some(open_id.as_str()));
    assert_eq!(value(&params, "buyer_id"), None);
    assert_eq!(value(&params, "seller_id"), Some(SANDBOX_ALIPAY_SELLER_ID));
    assert_eq!(value(&params, "trade_status"), Some("TRADE_SUCCESS"));
    assert_eq!(value(&params, "total_amount"), Some("12.00"), "the amount asked for");
    assert_eq!(value(&params, "subject"), Some(SUBJECT));
    assert_eq!(value(&params, "notify_type"), Some("trade_status_sync"));
    assert_eq!(value(&params, "sign_type"), Some("RSA2"));
    assert_eq!(value(&params, "fund_bill_list"), Some(r#"[{"amount":"12.00","fundChannel":"ALIPAYACCOUNT"}]"#));
    // The trade itself keeps its amount: a query tells the truth the notify does not.
    assert_eq!(query(&client, "EB7001").await.total_amount_fen, 1_234);

    app.clock.advance_ms(4 * 60 * 1000);
    let (status, body) = sandbox_post(&app, "/sandbox/alipay/notify-again", json!({ "out_trade_no": "EB7001" })).await;
    assert_eq!((status, body["notify_status"].as_u64()), (200, Some(200)), "{body}");
    let again = form(&received.lock().expect("lock")[1].1);
    assert_eq!(verify_notify(again.clone(), &platform_public_key), Ok(()));
    assert_ne!(value(&again, "notify_id"), value(&params, "notify_id"));
    assert_ne!(value(&again, "notify_time"), value(&params, "notify_time"));
    for key in ["trade_no", "out_trade_no", "total_amount", "gmt_payment", "buyer_open_id"] {
        assert_eq!(value(&again, key), value(&params, key), "{key}");
    }
}

#[tokio::test]
async fn an_unpaid_trade_has_no_notify_to_send_again() {
    let app = spawn_app().await;
    let buyer = user_id(&app, "alice");
    alipay(&app).trade_create(&order(&app, "EB7003", 100, AlipayBuyer::UserId(&buyer))).await.expect("creates");
    let (status, body) = sandbox_post(&app, "/sandbox/alipay/notify-again", json!({ "out_trade_no": "EB7003" })).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("TRADE_NOT_PAID")));
}

#[tokio::test]
async fn paying_with_the_default_notify_reaches_our_notify_url() {
    let app = spawn_app().await;
    let client = alipay(&app);
    let buyer = user_id(&app, "alice");
    client.trade_create(&order(&app, "EB7004", 100, AlipayBuyer::UserId(&buyer))).await.expect("creates");
    let (status, body) = pay(&app, json!({ "out_trade_no": "EB7004" })).await;
    assert_eq!(status, 200, "{body}");
    // What /notify/alipay answers is its own business; here only that the notify got an HTTP answer.
    assert_eq!(body["notify_error"], Value::Null, "{body}");
    assert_eq!(query(&client, "EB7004").await.trade_status, TradeStatus::TradeSuccess);
}
