//! Our message senders against the sandbox's simulated platforms, over real HTTP: WeChat subscribe messages and
//! Alipay template messages (credits used up, refusals, value limits, long-term templates, transient failures, a
//! token refreshed after 40001) and the signed, idempotent SMS gateway, all checked in the sandbox's inbox.

use crate::helpers::{spawn_app, TestApp};
use ebill::config::Secret;
use ebill::platform::alipay::{AlipayClient, AlipayError, AlipayTemplateMessage};
use ebill::platform::sms::{SmsError, SmsGateway, SmsRequest};
use ebill::platform::wechat::{SendReceipt, SubscribeMessage, WechatClient, WechatError, WechatTokens};
use ebill::sandbox::platforms::SandboxPlatforms;
use serde_json::{json, Value};
use std::time::Duration;

const BILL_TEMPLATE: &str = "bDmywsp2oEHjwAadTGKkUJ-eJEiMiOf7H-dZ7wjdw80";
const DUE_TEMPLATE: &str = "DUEywsp2oEHjwAadTGKkUJ-eJEiMiOf7H-dZ7wjdw81";
const ALIPAY_TEMPLATE: &str = "TM20240201000001";

fn sandbox(app: &TestApp) -> &SandboxPlatforms {
    app.state.sandbox.as_deref().expect("sandbox mode")
}

fn wechat(app: &TestApp) -> (WechatClient, WechatTokens) {
    let creds = app.state.credentials.wechat.clone().expect("sandbox WeChat credentials");
    let client = WechatClient::new(&creds, app.state.http.clone());
    let tokens = WechatTokens::new(&client, app.state.cache.clone());
    (client, tokens)
}

fn alipay(app: &TestApp) -> AlipayClient {
    let creds = app.state.credentials.alipay.clone().expect("sandbox Alipay credentials");
    AlipayClient::new(&creds, app.state.http.clone()).with_clock(app.state.clock.clone())
}

/// The platform's name of a logged-in user, as our users table holds it.
async fn subject(app: &TestApp, user_id: &str) -> String {
    use sqlx::Row;
    sqlx::query("SELECT subject FROM users WHERE id = $1")
        .bind(user_id.parse::<i64>().expect("a numeric user id"))
        .fetch_one(app.state.db.pool())
        .await
        .expect("the user exists")
        .try_get("subject")
        .expect("a subject")
}

async fn post_ok(app: &TestApp, path: &str, body: Value) -> Value {
    let response = app.post_json(path, &body).await;
    assert_eq!(response.status(), 200, "{path}");
    response.json().await.expect("JSON")
}

async fn inbox(app: &TestApp, query: &str) -> Value {
    let response = app.get(&format!("/sandbox/inbox?{query}")).await;
    assert_eq!(response.status(), 200);
    response.json().await.expect("JSON")
}

fn bill_data() -> Value {
    json!({
        "thing1": {"value": "2026年5月电费账单"},
        "amount2": {"value": "¥139.35"},
        "date3": {"value": "2026年6月15日"},
        "character_string4": {"value": "3100012345"},
    })
}

fn subscribe_message<'a>(openid: &'a str, template_id: &'a str, data: &'a Value) -> SubscribeMessage<'a> {
    SubscribeMessage {
        touser: openid,
        template_id,
        page: Some("pages/bill/detail?id=7012"),
        data,
        miniprogram_state: "formal",
        lang: "zh_CN",
    }
}

async fn send_wechat(
    client: &WechatClient,
    tokens: &WechatTokens,
    message: &SubscribeMessage<'_>,
) -> Result<SendReceipt, WechatError> {
    tokens.with_token(async |token: &str| client.send_subscribe_message(token, message).await).await
}

/// The errcode of a send that must fail.
async fn errcode_of(client: &WechatClient, tokens: &WechatTokens, message: &SubscribeMessage<'_>) -> Option<i64> {
    send_wechat(client, tokens, message).await.unwrap_err().errcode()
}

/// A logged-in WeChat user's openid.
async fn wechat_user(app: &TestApp, user: &str) -> String {
    let session = app.login_wechat(user).await;
    subject(app, &session.user_id).await
}

// --- WeChat ---

#[tokio::test]
async fn a_one_time_acceptance_lets_exactly_one_message_through() {
    let app = spawn_app().await;
    let openid = wechat_user(&app, "alice").await;
    let granted =
        post_ok(&app, "/sandbox/wechat/subscriptions", json!({"user": "alice", "template_ids": [BILL_TEMPLATE]})).await;
    assert_eq!(granted["openid"], openid.as_str(), "the sandbox user maps to the openid of the login");
    assert_eq!(granted["credits"][BILL_TEMPLATE], 1);

    let (client, tokens) = wechat(&app);
    let data = bill_data();
    let message = subscribe_message(&openid, BILL_TEMPLATE, &data);
    let receipt = send_wechat(&client, &tokens, &message).await.expect("delivered");
    assert!(receipt.msgid.as_deref().is_some_and(|id| id.parse::<u64>().is_ok()), "{receipt:?}");
    assert!(receipt.reply.contains(r#""errmsg":"ok""#), "{}", receipt.reply);

    let held = inbox(&app, &format!("channel=wechat&recipient={openid}")).await;
    assert_eq!(held["total"], json!({"wechat": 1, "alipay": 0, "sms": 0}));
    let delivered = &held["messages"][0];
    assert_eq!(delivered["template_id"], BILL_TEMPLATE);
    assert_eq!(delivered["page"], "pages/bill/detail?id=7012");
    assert_eq!(delivered["data"], data);

    let again = send_wechat(&client, &tokens, &message).await.unwrap_err();
    assert!(matches!(again, WechatError::Refused { code: 43101, .. }), "{again:?}");
    assert!(!again.is_transient());
    assert_eq!(inbox(&app, "channel=wechat").await["total"]["wechat"], 1);
}

#[tokio::test]
async fn a_value_over_its_limit_is_refused_without_using_the_credit() {
    let app = spawn_app().await;
    let openid = wechat_user(&app, "alice").await;
    post_ok(&app, "/sandbox/wechat/subscriptions", json!({"openid": openid, "template_ids": [BILL_TEMPLATE]})).await;
    let (client, tokens) = wechat(&app);

    let mut data = bill_data();
    let long = "电".repeat(21);
    data["thing1"]["value"] = json!(long);
    let error = send_wechat(&client, &tokens, &subscribe_message(&openid, BILL_TEMPLATE, &data)).await.unwrap_err();
    assert_eq!(error.errcode(), Some(47003), "{error:?}");
    assert!(matches!(&error, WechatError::Platform { msg, .. } if msg.contains("data.thing1.value")), "{error:?}");
    assert!(!error.is_transient());

    data["thing1"]["value"] = json!("电".repeat(20));
    send_wechat(&client, &tokens, &subscribe_message(&openid, BILL_TEMPLATE, &data))
        .await
        .expect("the credit is intact");
}

#[tokio::test]
async fn malformed_sends_get_wechats_errcodes() {
    let app = spawn_app().await;
    let openid = wechat_user(&app, "alice").await;
    let (client, tokens) = wechat(&app);
    let data = bill_data();
    let errcode = async |message: SubscribeMessage<'_>| errcode_of(&client, &tokens, &message).await;
    assert_eq!(errcode(subscribe_message("not an openid", BILL_TEMPLATE, &data)).await, Some(40003));
    assert_eq!(errcode(subscribe_message(&openid, "", &data)).await, Some(40037));
    let bad_page = SubscribeMessage { page: Some("index?id=1"), ..subscribe_message(&openid, BILL_TEMPLATE, &data) };
    assert_eq!(errcode(bad_page).await, Some(41030));
    let bad_date = json!({"date3": {"value": "2026-06-15"}});
    assert_eq!(errcode(subscribe_message(&openid, BILL_TEMPLATE, &bad_date)).await, Some(47003));
    assert_eq!(errcode(subscribe_message(&openid, BILL_TEMPLATE, &data)).await, Some(43101), "no credit was granted");
}

#[tokio::test]
async fn long_term_templates_and_standing_permissions_are_not_used_up() {
    let app = spawn_app().await;
    let alice = wechat_user(&app, "alice").await;
    let bob = wechat_user(&app, "bob").await;
    let declared = post_ok(&app, "/sandbox/wechat/long-term-templates", json!({"template_ids": [DUE_TEMPLATE]})).await;
    assert_eq!(declared["long_term_templates"], json!([DUE_TEMPLATE]));
    post_ok(
        &app,
        "/sandbox/wechat/subscriptions",
        json!({"user": "bob", "template_ids": [BILL_TEMPLATE], "long_term": true}),
    )
    .await;
    let (client, tokens) = wechat(&app);
    let data = bill_data();
    for _ in 0..3 {
        send_wechat(&client, &tokens, &subscribe_message(&alice, DUE_TEMPLATE, &data)).await.expect("long-term");
        send_wechat(&client, &tokens, &subscribe_message(&bob, BILL_TEMPLATE, &data)).await.expect("standing");
    }
    let error = send_wechat(&client, &tokens, &subscribe_message(&alice, BILL_TEMPLATE, &data)).await.unwrap_err();
    assert_eq!(error.errcode(), Some(43101), "bob's permission is his own");
    assert_eq!(inbox(&app, "").await["total"]["wechat"], 6);
    assert_eq!(inbox(&app, &format!("recipient={bob}&limit=2")).await["messages"].as_array().map(Vec::len), Some(2));
}

#[tokio::test]
async fn a_busy_platform_is_a_transient_failure_that_keeps_the_credit() {
    let app = spawn_app().await;
    let openid = wechat_user(&app, "alice").await;
    post_ok(&app, "/sandbox/wechat/subscriptions", json!({"user": "alice", "template_ids": [BILL_TEMPLATE]})).await;
    post_ok(&app, "/sandbox/wechat/message-failures", json!({"count": 1})).await;
    let (client, tokens) = wechat(&app);
    let data = bill_data();
    let message = subscribe_message(&openid, BILL_TEMPLATE, &data);

    let busy = send_wechat(&client, &tokens, &message).await.unwrap_err();
    assert!(busy.is_transient(), "{busy:?}");
    assert_eq!(busy.errcode(), Some(-1));
    assert_eq!(sandbox(&app).wechat.busy_answers(), 1, "the client does not retry a send by itself");
    send_wechat(&client, &tokens, &message).await.expect("the next attempt goes through");
}

#[tokio::test]
async fn a_rejected_token_is_refreshed_once_and_the_send_retried() {
    let app = spawn_app().await;
    let openid = wechat_user(&app, "alice").await;
    post_ok(&app, "/sandbox/wechat/long-term-templates", json!({"template_ids": [DUE_TEMPLATE]})).await;
    let (client, tokens) = wechat(&app);
    let old = tokens.access_token().await.expect("a token");
    let data = bill_data();
    let message = subscribe_message(&openid, DUE_TEMPLATE, &data);

    post_ok(&app, "/sandbox/wechat/message-failures", json!({"count": 1, "errcode": 40001})).await;
    send_wechat(&client, &tokens, &message).await.expect("refreshed and retried");
    let fresh = tokens.access_token().await.expect("a token");
    assert_ne!(fresh, old);
    assert_eq!(sandbox(&app).wechat.stable_token_calls(), 2);
    let stale = client.send_subscribe_message(&old, &message).await.unwrap_err();
    assert_eq!(stale, WechatError::TokenRejected(40001), "the rejected token stays invalid");

    post_ok(&app, "/sandbox/wechat/message-failures", json!({"count": 2, "errcode": 40001})).await;
    let error = send_wechat(&client, &tokens, &message).await.unwrap_err();
    assert_eq!(error, WechatError::TokenRejected(40001), "refreshed once only");
    assert_eq!(inbox(&app, "").await["total"]["wechat"], 1);
}

// --- Alipay ---

fn alipay_message<'a>(
    to_user_id: Option<&'a str>,
    to_open_id: Option<&'a str>,
    data: &'a Value,
) -> AlipayTemplateMessage<'a> {
    AlipayTemplateMessage {
        to_user_id,
        to_open_id,
        user_template_id: ALIPAY_TEMPLATE,
        page: Some("pages/bill/detail?id=7012"),
        data,
    }
}

fn keywords() -> Value {
    json!({"keyword1": {"value": "2026年5月电费"}, "keyword2": {"value": "¥139.35"}, "keyword3": {"value": "2026-06-15"}})
}

#[tokio::test]
async fn an_alipay_user_id_user_receives_one_message_per_acceptance() {
    let app = spawn_app().await;
    let session = app.login_alipay("carol", false).await;
    let user_id = subject(&app, &session.user_id).await;
    let granted =
        post_ok(&app, "/sandbox/alipay/subscriptions", json!({"user": "carol", "template_ids": [ALIPAY_TEMPLATE]}))
            .await;
    assert_eq!(granted["user_id"], user_id.as_str(), "the sandbox user maps to the user_id of the login");

    let client = alipay(&app);
    let data = keywords();
    let receipt = client.send_template_message(&alipay_message(Some(&user_id), None, &data)).await.expect("sent");
    assert!(receipt.reply.contains("10000"), "{}", receipt.reply);
    let held = inbox(&app, &format!("channel=alipay&recipient={user_id}")).await;
    assert_eq!(held["total"]["alipay"], 1);
    assert_eq!(held["messages"][0]["data"], data);
    assert_eq!(held["messages"][0]["template_id"], ALIPAY_TEMPLATE);

    let again = client.send_template_message(&alipay_message(Some(&user_id), None, &data)).await.unwrap_err();
    assert!(again.is_subscription_refused(), "{again:?}");
    assert!(!again.is_transient());
}

#[tokio::test]
async fn an_alipay_open_id_user_is_reached_by_open_id() {
    let app = spawn_app().await;
    let session = app.login_alipay("dave", true).await;
    let open_id = subject(&app, &session.user_id).await;
    assert!(!open_id.starts_with("2088"), "an OpenID-only app knows the open_id only");
    post_ok(&app, "/sandbox/alipay/subscriptions", json!({"open_id": open_id, "template_ids": [ALIPAY_TEMPLATE]}))
        .await;
    // Granted by sandbox user name: the credit is the same user's under either id.
    post_ok(&app, "/sandbox/alipay/subscriptions", json!({"user": "dave", "template_ids": [ALIPAY_TEMPLATE]})).await;

    let client = alipay(&app);
    let data = keywords();
    for _ in 0..2 {
        client.send_template_message(&alipay_message(None, Some(&open_id), &data)).await.expect("sent by open_id");
    }
    let error = client.send_template_message(&alipay_message(None, Some(&open_id), &data)).await.unwrap_err();
    assert!(error.is_subscription_refused(), "{error:?}");
    let held = inbox(&app, &format!("channel=alipay&recipient={open_id}")).await;
    assert_eq!(held["messages"].as_array().map(Vec::len), Some(2));
}

#[tokio::test]
async fn alipay_failures_values_and_long_term_templates() {
    let app = spawn_app().await;
    let session = app.login_alipay("carol", false).await;
    let user_id = subject(&app, &session.user_id).await;
    post_ok(&app, "/sandbox/alipay/long-term-templates", json!({"template_ids": [ALIPAY_TEMPLATE]})).await;
    let client = alipay(&app);
    let data = keywords();
    let message = alipay_message(Some(&user_id), None, &data);

    post_ok(&app, "/sandbox/alipay/message-failures", json!({"count": 1})).await;
    let busy = client.send_template_message(&message).await.unwrap_err();
    assert!(busy.is_transient(), "{busy:?}");

    let long = json!({"keyword1": {"value": "电".repeat(21)}});
    let refused = client.send_template_message(&alipay_message(Some(&user_id), None, &long)).await.unwrap_err();
    assert!(matches!(&refused, AlipayError::Business { sub_code, .. } if sub_code == "DATA_ILLEGAL"), "{refused:?}");
    assert!(!refused.is_transient() && !refused.is_subscription_refused());

    for _ in 0..3 {
        client.send_template_message(&message).await.expect("a long-term template is not used up");
    }
    assert_eq!(inbox(&app, "channel=alipay").await["total"]["alipay"], 3);
}

// --- SMS ---

fn sms_gateway(app: &TestApp, secret: Secret) -> SmsGateway {
    SmsGateway::new(app.url("/sandbox/sms/send"), secret, Duration::from_secs(5)).with_clock(app.state.clock.clone())
}

fn sms(message_id: &str) -> SmsRequest {
    SmsRequest {
        message_id: message_id.into(),
        phone: "13800138000".into(),
        template: "bill_due".into(),
        text: "【国网电费】户号3100012345的5月电费139.35元将于6月15日到期，详情 https://ebill.example.com/e-bill/1"
            .into(),
    }
}

#[tokio::test]
async fn a_signed_sms_is_delivered_once_per_message_id() {
    let app = spawn_app().await;
    let gateway = sms_gateway(&app, sandbox(&app).keys.sms_secret.clone());
    let first = gateway.send(&app.state.http, &sms("push-1")).await.expect("accepted");
    assert!(first.contains("accepted"), "{first}");
    let repeat = gateway.send(&app.state.http, &sms("push-1")).await.expect("a repeat is fine");
    assert!(repeat.contains("duplicate"), "{repeat}");

    let held = inbox(&app, "channel=sms").await;
    assert_eq!(held["total"]["sms"], 1, "the repeat was not delivered twice");
    assert_eq!(held["messages"][0]["recipient"], "13800138000");
    assert_eq!(held["messages"][0]["text"], sms("push-1").text.as_str());

    let reused = SmsRequest { text: "另一条短信".into(), ..sms("push-1") };
    assert!(matches!(gateway.send(&app.state.http, &reused).await, Err(SmsError::Permanent(_))));
}

#[tokio::test]
async fn a_forged_sms_is_refused_for_good() {
    let app = spawn_app().await;
    let forged = sms_gateway(&app, Secret::new(b"not-the-sms-secret".to_vec()));
    let error = forged.send(&app.state.http, &sms("push-1")).await.unwrap_err();
    assert!(matches!(&error, SmsError::Permanent(why) if why.contains("401")), "{error:?}");
    assert!(error.to_string().contains("127.0.0.1"), "{error}");
    assert!(!error.to_string().contains("/sandbox/sms"), "errors name the host only: {error}");
    assert_eq!(inbox(&app, "").await["total"]["sms"], 0);
}

#[tokio::test]
async fn an_sms_is_stamped_with_the_applications_clock() {
    let app = spawn_app().await;
    app.clock.advance_ms(24 * 3600 * 1000);
    let secret = sandbox(&app).keys.sms_secret.clone();
    let system_clock = SmsGateway::new(app.url("/sandbox/sms/send"), secret, Duration::from_secs(5));
    let stale = system_clock.send(&app.state.http, &sms("push-1")).await.unwrap_err();
    assert!(matches!(&stale, SmsError::Permanent(why) if why.contains("401")), "{stale:?}");
    system_clock.send_at(&app.state.http, &sms("push-1"), app.clock_now_ms()).await.expect("stamped with our clock");
    assert_eq!(inbox(&app, "").await["total"]["sms"], 1);
}

#[tokio::test]
async fn an_sms_gateway_failure_is_transient() {
    let app = spawn_app().await;
    post_ok(&app, "/sandbox/sms/failures", json!({"count": 1})).await;
    let gateway = sms_gateway(&app, sandbox(&app).keys.sms_secret.clone());
    let error = gateway.send(&app.state.http, &sms("push-1")).await.unwrap_err();
    assert!(error.is_transient(), "{error:?}");
    gateway.send(&app.state.http, &sms("push-1")).await.expect("the retry is accepted");
    assert_eq!(inbox(&app, "").await["total"]["sms"], 1);
}

// --- The inbox ---

#[tokio::test]
async fn the_inbox_checks_its_filters() {
    let app = spawn_app().await;
    let response = app.get("/sandbox/inbox?channel=email").await;
    assert_eq!(response.status(), 400);
    let held = inbox(&app, "limit=100000").await;
    assert_eq!(held["messages"], json!([]));
    assert_eq!(held["total"], json!({"wechat": 0, "alipay": 0, "sms": 0}));
}
