//! What the payment tests share: an account with unpaid bills bound to a WeChat and an Alipay user, orders opened
//! through the API, the sandbox platforms' "pay" buttons, and notifications signed with the simulated platforms'
//! own keys (as WeChat Pay and Alipay would sign them).

use crate::helpers::{account, bill, spawn_app_with, Session, TestApp};
use chrono::{NaiveDate, TimeZone, Utc};
use ebill::config::Settings;
use ebill::platform::crypto::alipay_sign::notify_sign_content;
use ebill::platform::wechatpay::{
    resource_nonce, sign_notification, signature_nonce, NotificationToSend, PlatformSigner, SignedNotification,
};
use ebill::sandbox::keys::{SANDBOX_ALIPAY_SELLER_ID, SANDBOX_WECHATPAY_MCHID, SANDBOX_WECHATPAY_PUBLIC_KEY_ID};
use reqwest::Method;
use serde_json::{json, Value};
use sqlx::Row;

pub const ACCOUNT: &str = "3100012345";

/// Noon in Beijing on the given day, as epoch milliseconds.
pub fn beijing_noon(y: i32, m: u32, d: u32) -> i64 {
    let date = NaiveDate::from_ymd_opt(y, m, d).unwrap();
    Utc.from_utc_datetime(&date.and_hms_opt(4, 0, 0).unwrap()).timestamp_millis()
}

pub struct Household {
    pub app: TestApp,
    /// A WeChat user and an Alipay user, both bound to [`ACCOUNT`].
    pub wechat: Session,
    pub alipay: Session,
    /// The account's two unpaid bills: 2026-09 (overdue, with a late fee) and 2026-10 (not yet due).
    pub bill_ids: Vec<String>,
}

/// The app on 2026-10-20 with [`ACCOUNT`]'s two unpaid bills (13923 fen each; the September one 22 days late).
pub async fn household_with(customize: impl FnOnce(&mut Settings)) -> Household {
    let app = spawn_app_with(customize).await;
    app.clock.set(beijing_noon(2026, 10, 20));
    app.feed_ok("accounts", vec![account(ACCOUNT), account("3100099999")]).await;
    let mut october = bill(ACCOUNT, "2026-10", 1);
    october["due_date"] = json!("2026-11-10");
    app.feed_ok("bills", vec![bill(ACCOUNT, "2026-09", 1), october, bill("3100099999", "2026-10", 1)]).await;
    let wechat = app.login_wechat("alice").await;
    let alipay = app.login_alipay("bob", false).await;
    for session in [&wechat, &alipay] {
        assert_eq!(app.bind(session, ACCOUNT, "张三", "1234").await.status(), 201);
    }
    let rows = sqlx::query("SELECT id FROM bills WHERE account_no = $1 ORDER BY period")
        .bind(ACCOUNT)
        .fetch_all(app.state.db.pool())
        .await
        .unwrap();
    let bill_ids = rows.iter().map(|row| row.get::<i64, _>("id").to_string()).collect();
    Household { app, wechat, alipay, bill_ids }
}

pub async fn household() -> Household {
    household_with(|_| {}).await
}

/// `POST /api/v1/payments`.
pub async fn open_order(app: &TestApp, session: &Session, body: &Value) -> (u16, Value) {
    let response = app.authed(Method::POST, "/api/v1/payments", &session.access_token, Some(body)).await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

pub async fn open_all(app: &TestApp, session: &Session) -> Value {
    let (status, order) = open_order(app, session, &json!({ "account_no": ACCOUNT })).await;
    assert_eq!(status, 201, "{order}");
    order
}

/// `GET /api/v1/payments/{order_no}`.
pub async fn show_order(app: &TestApp, session: &Session, order_no: &str) -> (u16, Value) {
    let path = format!("/api/v1/payments/{order_no}");
    let response = app.authed(Method::GET, &path, &session.access_token, None).await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The simulated platform's "pay" button (WeChat Pay or Alipay), with its own notify unless `notify` is false.
pub async fn sandbox_pay(
    app: &TestApp,
    platform: &str,
    order_no: &str,
    notify: bool,
    amount_fen: Option<i64>,
) -> Value {
    let mut body = json!({ "out_trade_no": order_no, "notify": notify });
    if let Some(amount) = amount_fen {
        body["amount_fen"] = json!(amount);
    }
    let response = app.post_json(&format!("/sandbox/{platform}/pay"), &body).await;
    assert_eq!(response.status(), 200, "the sandbox pays");
    response.json().await.unwrap()
}

pub async fn order_state(app: &TestApp, order_no: &str) -> String {
    sqlx::query("SELECT state FROM orders WHERE order_no = $1")
        .bind(order_no)
        .fetch_one(app.state.db.pool())
        .await
        .unwrap()
        .get("state")
}

/// (status, paid_fen) of each of the account's bills, oldest first.
pub async fn bill_states(app: &TestApp) -> Vec<(String, i64)> {
    let rows = sqlx::query("SELECT status, paid_fen FROM bills WHERE account_no = $1 ORDER BY period")
        .bind(ACCOUNT)
        .fetch_all(app.state.db.pool())
        .await
        .unwrap();
    rows.iter().map(|row| (row.get("status"), row.get("paid_fen"))).collect()
}

pub async fn count_where(app: &TestApp, table: &str, condition: &str) -> i64 {
    sqlx::query(&format!("SELECT COUNT(*) AS n FROM {table} WHERE {condition}"))
        .fetch_one(app.state.db.pool())
        .await
        .unwrap()
        .get("n")
}

/// A decrypted transaction as WeChat Pay would put it in a `TRANSACTION.SUCCESS` notification for our order.
pub fn transaction(app: &TestApp, order_no: &str, transaction_id: &str, total: i64) -> Value {
    let keys = &app.state.sandbox.as_ref().unwrap().keys;
    json!({
        "appid": keys.wechat_appid,
        "mchid": SANDBOX_WECHATPAY_MCHID,
        "out_trade_no": order_no,
        "transaction_id": transaction_id,
        "trade_type": "JSAPI",
        "trade_state": "SUCCESS",
        "trade_state_desc": "支付成功",
        "success_time": "2026-10-20T12:00:05+08:00",
        "payer": { "openid": "o-test" },
        "amount": { "total": total, "payer_total": total, "currency": "CNY", "payer_currency": "CNY" }
    })
}

/// A notification signed by the simulated WeChat Pay's key at `timestamp` (epoch seconds).
pub fn wechat_notification(app: &TestApp, resource: &Value, timestamp: i64) -> SignedNotification {
    let keys = &app.state.sandbox.as_ref().unwrap().keys;
    let apiv3 = &app.state.credentials.wechat_pay.as_ref().unwrap().apiv3_key;
    let plaintext = resource.to_string();
    let notification = NotificationToSend {
        id: "EV-2026-test",
        create_time: "2026-10-20T12:00:06+08:00",
        event_type: "TRANSACTION.SUCCESS",
        summary: "支付成功",
        original_type: "transaction",
        plaintext: plaintext.as_bytes(),
    };
    let signer = PlatformSigner { key: &keys.wechatpay_platform_key, serial: SANDBOX_WECHATPAY_PUBLIC_KEY_ID };
    sign_notification(signer, apiv3, &notification, timestamp, &signature_nonce(), &resource_nonce()).unwrap()
}

pub fn now_secs(app: &TestApp) -> i64 {
    app.clock_now_ms() / 1000
}

/// POSTs a notification to `/notify/wechat/pay` with its headers, optionally replaced.
pub async fn post_wechat_notify(app: &TestApp, body: &str, headers: &[(&str, String)]) -> (u16, Value) {
    let mut request = app.client.post(app.url("/notify/wechat/pay")).header("content-type", "application/json");
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let response = request.body(body.to_owned()).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

pub fn headers_of(notification: &SignedNotification) -> Vec<(&'static str, String)> {
    notification.headers.pairs().into_iter().map(|(name, value)| (name, value.to_owned())).collect()
}

pub async fn send_wechat(app: &TestApp, notification: &SignedNotification) -> (u16, Value) {
    post_wechat_notify(app, &notification.body, &headers_of(notification)).await
}

/// An Alipay trade notify for our order, signed by the simulated Alipay's key (the form fields in order).
pub fn alipay_notify(app: &TestApp, order_no: &str, trade_no: &str, total_amount: &str) -> Vec<(String, String)> {
    let keys = &app.state.sandbox.as_ref().unwrap().keys;
    let mut params: Vec<(String, String)> = [
        ("notify_time", "2026-10-20 12:00:06"),
        ("notify_type", "trade_status_sync"),
        ("notify_id", "ac05099524730693a8b330c5ecf72da9786"),
        ("app_id", keys.alipay_app_id.as_str()),
        ("charset", "utf-8"),
        ("version", "1.0"),
        ("sign_type", "RSA2"),
        ("trade_no", trade_no),
        ("out_trade_no", order_no),
        ("buyer_id", "2088102122524333"),
        ("seller_id", SANDBOX_ALIPAY_SELLER_ID),
        ("trade_status", "TRADE_SUCCESS"),
        ("total_amount", total_amount),
        ("receipt_amount", total_amount),
        ("gmt_create", "2026-10-20 12:00:00"),
        ("gmt_payment", "2026-10-20 12:00:05"),
        ("subject", "电费"),
        ("fund_bill_list", r#"[{"amount":"1.00","fundChannel":"ALIPAYACCOUNT"}]"#),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    resign_alipay(app, &mut params);
    params
}

/// Signs (again) a notify's parameters with the simulated Alipay's key.
pub fn resign_alipay(app: &TestApp, params: &mut Vec<(String, String)>) {
    let keys = &app.state.sandbox.as_ref().unwrap().keys;
    params.retain(|(k, _)| k != "sign");
    let content = notify_sign_content(params.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let sign = keys.alipay_platform_key.sign_sha256_base64(content.as_bytes()).unwrap();
    params.push(("sign".into(), sign));
}

pub async fn post_alipay_notify(app: &TestApp, params: &[(String, String)]) -> (u16, String) {
    let body: String =
        params.iter().map(|(k, v)| format!("{}={}", urlencode(k), urlencode(v))).collect::<Vec<_>>().join("&");
    let response = app
        .client
        .post(app.url("/notify/alipay"))
        .header("content-type", "application/x-www-form-urlencoded; charset=utf-8")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Runs every due write-back job once, against the sandbox's simulated marketing system.
pub async fn deliver_writebacks(app: &TestApp) -> usize {
    use ebill::jobs::queue;
    use ebill::jobs::writeback::{deliver, WRITEBACK_QUEUE};
    let jobs = queue::claim(
        &app.state.db,
        WRITEBACK_QUEUE,
        "test-writeback",
        100,
        std::time::Duration::from_secs(60),
        app.clock_now_ms(),
    )
    .await
    .unwrap();
    let count = jobs.len();
    for job in jobs {
        match deliver(&app.state, &job).await {
            Ok(()) => {
                queue::complete(&app.state.db, &job.lease, app.clock_now_ms()).await.unwrap();
            }
            Err(error) => panic!("write-back failed: {error}"),
        }
    }
    count
}

/// The events the simulated marketing system booked.
pub async fn booked_events(app: &TestApp) -> Vec<Value> {
    let answer: Value = app.get("/sandbox/marketing/payments").await.json().await.unwrap();
    answer["events"].as_array().cloned().unwrap_or_default()
}
