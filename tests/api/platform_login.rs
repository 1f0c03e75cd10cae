//! The production WeChat and Alipay clients against the sandbox's simulated platforms, over real HTTP: logins,
//! each platform error and how it maps, retries, the shared access token, phone numbers, and the signatures both
//! ways (a response signed with another key, a request signed with another key).

use crate::helpers::{spawn_app, TestApp};
use ebill::clock::ManualClock;
use ebill::config::Secret;
use ebill::platform::alipay::{AlipayClient, AlipayError};
use ebill::platform::credentials::{AlipayCredentials, WechatCredentials};
use ebill::platform::crypto::rsa_keys::{RsaSigningKey, RsaVerifyingKey};
use ebill::platform::wechat::{WechatClient, WechatError, WechatTokens};
use ebill::sandbox::platforms::SandboxPlatforms;
use serde_json::{json, Value};
use std::sync::Arc;

const FIVE_MINUTES_MS: i64 = 5 * 60 * 1000;

fn sandbox(app: &TestApp) -> &SandboxPlatforms {
    app.state.sandbox.as_deref().expect("sandbox mode")
}

fn wechat_credentials(app: &TestApp) -> WechatCredentials {
    app.state.credentials.wechat.clone().expect("sandbox WeChat credentials")
}

fn alipay_credentials(app: &TestApp) -> AlipayCredentials {
    app.state.credentials.alipay.clone().expect("sandbox Alipay credentials")
}

fn wechat(app: &TestApp) -> WechatClient {
    WechatClient::new(&wechat_credentials(app), app.state.http.clone())
}

fn alipay_with(app: &TestApp, creds: &AlipayCredentials) -> AlipayClient {
    AlipayClient::new(creds, app.state.http.clone()).with_clock(app.state.clock.clone())
}

fn alipay(app: &TestApp) -> AlipayClient {
    alipay_with(app, &alipay_credentials(app))
}

fn fixture(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name);
    std::fs::read_to_string(path).expect("fixture")
}

async fn issue(app: &TestApp, path: &str, body: Value, field: &str) -> String {
    let response = app.client.post(app.url(path)).json(&body).send().await.expect("request sent");
    assert_eq!(response.status(), 200, "{path}");
    let body: Value = response.json().await.expect("JSON");
    body[field].as_str().expect("a code").to_owned()
}

async fn wechat_code(app: &TestApp, user: &str) -> String {
    issue(app, "/sandbox/wechat/login-codes", json!({ "user": user }), "code").await
}

async fn auth_code(app: &TestApp, user: &str, openid_only: bool) -> String {
    issue(app, "/sandbox/alipay/auth-codes", json!({ "user": user, "openid_only": openid_only }), "auth_code").await
}

// --- WeChat login ---

#[tokio::test]
async fn wechat_login_gives_each_user_a_stable_openid() {
    let app = spawn_app().await;
    let client = wechat(&app);
    let first = client.code2session(&wechat_code(&app, "alice").await).await.expect("logs in");
    let again = client.code2session(&wechat_code(&app, "alice").await).await.expect("logs in");
    let bob = client.code2session(&wechat_code(&app, "bob").await).await.expect("logs in");
    assert_eq!(first.openid, again.openid);
    assert_ne!(first.openid, bob.openid);
    assert_eq!(first.openid, ebill::sandbox::wechat::openid_for(client.appid(), "alice"));
    assert_eq!(first.unionid, None);
    assert_eq!(first.session_key.expose().len(), 24, "base64 of 16 bytes");
    assert_ne!(first.session_key, again.session_key);
}

#[tokio::test]
async fn wechat_login_gives_the_unionid_when_the_app_has_one() {
    let app = spawn_app().await;
    let code = issue(&app, "/sandbox/wechat/login-codes", json!({ "user": "alice", "unionid": true }), "code").await;
    let session = wechat(&app).code2session(&code).await.expect("logs in");
    assert_eq!(session.unionid, Some(ebill::sandbox::wechat::unionid_for("alice")));
}

#[tokio::test]
async fn a_used_wechat_code_is_invalid() {
    let app = spawn_app().await;
    let client = wechat(&app);
    let code = wechat_code(&app, "alice").await;
    client.code2session(&code).await.expect("first use logs in");
    assert_eq!(client.code2session(&code).await.unwrap_err(), WechatError::InvalidCode);
}

#[tokio::test]
async fn an_expired_wechat_code_is_invalid() {
    let app = spawn_app().await;
    let code = wechat_code(&app, "alice").await;
    app.clock.advance_ms(FIVE_MINUTES_MS + 1);
    assert_eq!(wechat(&app).code2session(&code).await.unwrap_err(), WechatError::InvalidCode);
}

#[tokio::test]
async fn wechat_error_codes_map_to_what_callers_act_on() {
    let app = spawn_app().await;
    let client = wechat(&app);
    assert_eq!(client.code2session("sandbox-err-40029").await.unwrap_err(), WechatError::InvalidCode);
    assert_eq!(client.code2session("never-issued").await.unwrap_err(), WechatError::InvalidCode);
    assert_eq!(client.code2session("sandbox-err-45011").await.unwrap_err(), WechatError::RateLimited);
    assert_eq!(client.code2session("sandbox-err-40226").await.unwrap_err(), WechatError::Blocked);
    assert_eq!(sandbox(&app).wechat.busy_answers(), 0, "definite errors are not retried");
}

#[tokio::test]
async fn a_busy_wechat_is_retried_once_then_unavailable() {
    let app = spawn_app().await;
    let error = wechat(&app).code2session("sandbox-err-busy").await.unwrap_err();
    assert!(matches!(error, WechatError::Unavailable(_)), "{error:?}");
    assert_eq!(sandbox(&app).wechat.busy_answers(), 2);
}

#[tokio::test]
async fn a_wechat_busy_once_is_overcome_by_the_retry() {
    let app = spawn_app().await;
    let client = wechat(&app);
    let session = client.code2session("sandbox-err-busy-once").await.expect("the retry logs in");
    let expected = ebill::sandbox::wechat::openid_for(client.appid(), ebill::sandbox::wechat::BUSY_ONCE_USER);
    assert_eq!(session.openid, expected);
    assert_eq!(sandbox(&app).wechat.busy_answers(), 1);
}

#[tokio::test]
async fn an_unreachable_wechat_is_unavailable() {
    let app = spawn_app().await;
    let creds = WechatCredentials { api_base_url: "http://127.0.0.1:9".into(), ..wechat_credentials(&app) };
    let error = WechatClient::new(&creds, app.state.http.clone()).code2session("any-code").await.unwrap_err();
    assert!(matches!(error, WechatError::Unavailable(_)), "{error:?}");
}

#[tokio::test]
async fn a_wrong_app_secret_is_refused_by_wechat() {
    let app = spawn_app().await;
    let creds = WechatCredentials { secret: Secret::new(b"not-the-secret".to_vec()), ..wechat_credentials(&app) };
    let client = WechatClient::new(&creds, app.state.http.clone());
    let error = client.code2session(&wechat_code(&app, "alice").await).await.unwrap_err();
    assert!(matches!(error, WechatError::Platform { code: 40125, .. }), "{error:?}");
}

// --- WeChat access token and phone number ---

#[tokio::test]
async fn the_access_token_is_fetched_once_and_shared_through_the_cache() {
    let app = spawn_app().await;
    let client = wechat(&app);
    let one_instance = WechatTokens::new(&client, app.state.cache.clone());
    let another_instance = WechatTokens::new(&client, app.state.cache.clone());
    let first = one_instance.access_token().await.expect("a token");
    assert!(first.len() >= 64);
    assert_eq!(one_instance.access_token().await.expect("a token"), first);
    assert_eq!(another_instance.access_token().await.expect("a token"), first);
    assert_eq!(sandbox(&app).wechat.stable_token_calls(), 1);
}

#[tokio::test]
async fn concurrent_callers_share_one_token_fetch() {
    let app = spawn_app().await;
    let client = wechat(&app);
    let callers: Vec<_> = (0..8)
        .map(|_| {
            let tokens = WechatTokens::new(&client, app.state.cache.clone());
            async move { tokens.access_token().await }
        })
        .collect();
    let tokens: Vec<String> =
        futures_util::future::join_all(callers).await.into_iter().map(|t| t.expect("a token")).collect();
    assert!(tokens.iter().all(|t| *t == tokens[0]));
    assert_eq!(sandbox(&app).wechat.stable_token_calls(), 1);
}

#[tokio::test]
async fn a_phone_code_gives_the_phone_number_once() {
    let app = spawn_app().await;
    let client = wechat(&app);
    let tokens = WechatTokens::new(&client, app.state.cache.clone());
    let body = json!({ "user": "alice", "phone": "13800138000" });
    let code = issue(&app, "/sandbox/wechat/phone-codes", body, "code").await;
    let openid = ebill::sandbox::wechat::openid_for(client.appid(), "alice");
    let phone = client.phone_number(&tokens, &code, Some(&openid)).await.expect("the phone number");
    assert_eq!(phone.phone_number, "13800138000");
    assert_eq!(phone.pure_phone_number, "13800138000");
    assert_eq!(phone.country_code, "86");
    assert_eq!(client.phone_number(&tokens, &code, None).await.unwrap_err(), WechatError::InvalidCode);
}

#[tokio::test]
async fn an_expired_access_token_is_refreshed_and_the_call_retried() {
    let app = spawn_app().await;
    let client = wechat(&app);
    let tokens = WechatTokens::new(&client, app.state.cache.clone());
    let old = tokens.access_token().await.expect("a token");
    // The platform's clock moves past the token's two hours; our cache still holds it.
    app.clock.advance_ms(2 * 3600 * 1000 + 1);
    let code =
        issue(&app, "/sandbox/wechat/phone-codes", json!({ "user": "alice", "phone": "13800138000" }), "code").await;
    let phone = client.phone_number(&tokens, &code, None).await.expect("the retry succeeds");
    assert_eq!(phone.pure_phone_number, "13800138000");
    let fresh = tokens.access_token().await.expect("a token");
    assert_ne!(fresh, old);
    assert_eq!(sandbox(&app).wechat.stable_token_calls(), 2);
}

#[tokio::test]
async fn a_forced_refresh_leaves_the_old_token_valid_five_minutes() {
    let app = spawn_app().await;
    let client = wechat(&app);
    let tokens = WechatTokens::new(&client, app.state.cache.clone());
    let old = tokens.access_token().await.expect("a token");
    let new = tokens.invalidate_and_refresh(&old).await.expect("a new token");
    assert_ne!(new, old);
    assert_eq!(tokens.access_token().await.expect("a token"), new, "the new token is cached");
    // A second caller that saw the old token refused picks the new one up instead of refreshing again.
    assert_eq!(tokens.invalidate_and_refresh(&old).await.expect("a token"), new);
    assert_eq!(sandbox(&app).wechat.stable_token_calls(), 2);

    let phone_code = |app: &TestApp| {
        let body = json!({ "user": "alice", "phone": "13800138000" });
        let url = app.url("/sandbox/wechat/phone-codes");
        let request = app.client.post(url).json(&body);
        async move { request.send().await.unwrap().json::<Value>().await.unwrap()["code"].as_str().unwrap().to_owned() }
    };
    let code = phone_code(&app).await;
    client.phone_number_with_token(&old, &code, None).await.expect("the old token still works");
    app.clock.advance_ms(FIVE_MINUTES_MS);
    let code = phone_code(&app).await;
    assert_eq!(client.phone_number_with_token(&old, &code, None).await.unwrap_err(), WechatError::TokenRejected(42001));
    client.phone_number_with_token(&new, &code, None).await.expect("the new token works");
}

#[tokio::test]
async fn an_unknown_access_token_is_refused() {
    let app = spawn_app().await;
    let error = wechat(&app).phone_number_with_token("not-a-token", "any-code", None).await.unwrap_err();
    assert_eq!(error, WechatError::TokenRejected(40001));
}

// --- Alipay login ---

#[tokio::test]
async fn alipay_login_gives_a_user_id_and_an_open_id() {
    let app = spawn_app().await;
    let client = alipay(&app);
    let user = client.oauth_token(&auth_code(&app, "alice", false).await).await.expect("logs in");
    let again = client.oauth_token(&auth_code(&app, "alice", false).await).await.expect("logs in");
    let app_id = client.app_id();
    assert_eq!(user.user_id, Some(ebill::sandbox::alipay::user_id_for(app_id, "alice")));
    assert_eq!(user.open_id, Some(ebill::sandbox::alipay::open_id_for(app_id, "alice")));
    assert_eq!((again.user_id, again.open_id), (user.user_id, user.open_id));
    assert!(user.access_token.expose().starts_with(b"authusr"));
    assert_eq!(user.expires_in, Some(1_296_000));
}

#[tokio::test]
async fn an_openid_only_alipay_app_gets_no_user_id() {
    let app = spawn_app().await;
    let client = alipay(&app);
    let user = client.oauth_token(&auth_code(&app, "alice", true).await).await.expect("logs in");
    assert_eq!(user.user_id, None);
    assert_eq!(user.open_id, Some(ebill::sandbox::alipay::open_id_for(client.app_id(), "alice")));
}

#[tokio::test]
async fn invalid_used_and_expired_alipay_codes_are_invalid() {
    let app = spawn_app().await;
    let client = alipay(&app);
    assert_eq!(client.oauth_token("sandbox-err-code-invalid").await.unwrap_err(), AlipayError::InvalidCode);
    assert_eq!(client.oauth_token("never-issued").await.unwrap_err(), AlipayError::InvalidCode);
    let code = auth_code(&app, "alice", false).await;
    client.oauth_token(&code).await.expect("first use logs in");
    assert_eq!(client.oauth_token(&code).await.unwrap_err(), AlipayError::InvalidCode);
    let code = auth_code(&app, "alice", false).await;
    app.clock.advance_ms(FIVE_MINUTES_MS + 1);
    assert_eq!(client.oauth_token(&code).await.unwrap_err(), AlipayError::InvalidCode);
}

#[tokio::test]
async fn a_busy_alipay_is_retried_once_then_unavailable() {
    let app = spawn_app().await;
    let error = alipay(&app).oauth_token("sandbox-err-busy").await.unwrap_err();
    assert!(matches!(error, AlipayError::Unavailable(_)), "{error:?}");
    assert_eq!(sandbox(&app).alipay.busy_answers(), 2);
}

#[tokio::test]
async fn an_alipay_busy_once_is_overcome_by_the_retry() {
    let app = spawn_app().await;
    let client = alipay(&app);
    let user = client.oauth_token("sandbox-err-busy-once").await.expect("the retry logs in");
    let expected = ebill::sandbox::alipay::user_id_for(client.app_id(), ebill::sandbox::alipay::BUSY_ONCE_USER);
    assert_eq!(user.user_id, Some(expected));
    assert_eq!(sandbox(&app).alipay.busy_answers(), 1);
}

#[tokio::test]
async fn an_answer_signed_with_another_key_is_rejected() {
    let app = spawn_app().await;
    // The app's own public key, not the platform's: the classic mistake, which must fail closed.
    let app_public_key = RsaVerifyingKey::from_text(&fixture("test_rsa_public.pem")).expect("fixture key");
    let creds = AlipayCredentials { alipay_public_key: app_public_key, ..alipay_credentials(&app) };
    let error = alipay_with(&app, &creds).oauth_token(&auth_code(&app, "alice", false).await).await.unwrap_err();
    assert!(matches!(error, AlipayError::Signature(_)), "{error:?}");
}

#[tokio::test]
async fn a_request_signed_with_another_key_is_refused_by_the_gateway() {
    let app = spawn_app().await;
    let wrong_key = RsaSigningKey::from_text(&fixture("test_rsa_platform_pkcs8.pem")).expect("fixture key");
    let creds = AlipayCredentials { app_key: wrong_key, ..alipay_credentials(&app) };
    let error = alipay_with(&app, &creds).oauth_token(&auth_code(&app, "alice", false).await).await.unwrap_err();
    assert!(
        matches!(&error, AlipayError::Business { code, sub_code, .. } if code == "40002" && sub_code == "isv.invalid-signature"),
        "{error:?}"
    );
}

#[tokio::test]
async fn an_unknown_app_id_is_refused_by_the_gateway() {
    let app = spawn_app().await;
    let creds = AlipayCredentials { app_id: "2021999999999999".into(), ..alipay_credentials(&app) };
    let error = alipay_with(&app, &creds).oauth_token(&auth_code(&app, "alice", false).await).await.unwrap_err();
    assert!(matches!(&error, AlipayError::Business { sub_code, .. } if sub_code == "isv.invalid-app-id"), "{error:?}");
}

#[tokio::test]
async fn a_timestamp_off_by_the_host_zone_is_refused_by_the_gateway() {
    let app = spawn_app().await;
    // A client whose clock reads UTC wall time as if it were Beijing time sends timestamps eight hours behind.
    let eight_hours_behind = Arc::new(ManualClock::new(app.clock_now_ms() - 8 * 3600 * 1000));
    let client = AlipayClient::new(&alipay_credentials(&app), app.state.http.clone()).with_clock(eight_hours_behind);
    let error = client.oauth_token(&auth_code(&app, "alice", false).await).await.unwrap_err();
    assert!(
        matches!(&error, AlipayError::Business { sub_code, .. } if sub_code == "isv.invalid-timestamp"),
        "{error:?}"
    );
}

#[tokio::test]
async fn an_unknown_method_is_refused_by_the_gateway() {
    let app = spawn_app().await;
    let error =
        alipay(&app).call("alipay.trade.precreate", Some(json!({"out_trade_no": "E1"})), &[]).await.unwrap_err();
    assert!(matches!(&error, AlipayError::Business { sub_code, .. } if sub_code == "isv.invalid-method"), "{error:?}");
}

// --- Alipay phone number ---

#[tokio::test]
async fn an_alipay_phone_response_is_verified_then_decrypted() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(app.url("/sandbox/alipay/phone-responses"))
        .json(&json!({ "user": "alice", "phone": "13800138000" }))
        .send()
        .await
        .expect("request sent");
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("JSON");
    let (content, sign) = (body["response"].as_str().expect("response"), body["sign"].as_str().expect("sign"));
    let client = alipay(&app);
    assert_eq!(client.decrypt_phone(content, sign), Ok("13800138000".to_owned()));

    let mut tampered = content.to_owned();
    tampered.replace_range(0..4, if tampered.starts_with("AAAA") { "BBBB" } else { "AAAA" });
    assert!(matches!(client.decrypt_phone(&tampered, sign), Err(AlipayError::PhoneContent(_))));

    let app_public_key = RsaVerifyingKey::from_text(&fixture("test_rsa_public.pem")).expect("fixture key");
    let creds = AlipayCredentials { alipay_public_key: app_public_key, ..alipay_credentials(&app) };
    assert!(matches!(alipay_with(&app, &creds).decrypt_phone(content, sign), Err(AlipayError::PhoneContent(_))));

    let creds = AlipayCredentials { aes_key: None, ..alipay_credentials(&app) };
    assert_eq!(alipay_with(&app, &creds).decrypt_phone(content, sign), Err(AlipayError::AesKeyMissing));
}
