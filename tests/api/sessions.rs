use crate::helpers::{spawn_app, TestApp};
use ebill::sessions::tokens::{CUSTOMER_AUDIENCE, ISSUER, STAFF_AUDIENCE};
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use reqwest::Method;
use serde_json::{json, Value};

async fn code_of(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    (status, body["code"].as_str().unwrap_or_default().to_string())
}

/// The sandbox's customer-token key, as the server reads it.
fn customer_key(app: &TestApp) -> Vec<u8> {
    std::fs::read_to_string(app.data_dir.path().join("sandbox/jwt_customer.key")).unwrap().trim().as_bytes().to_vec()
}

fn claims(app: &TestApp, audience: &str, user_id: &str) -> Value {
    let now = app.clock_now_ms() / 1000;
    json!({"iss": ISSUER, "aud": audience, "sub": user_id, "iat": now, "exp": now + 600, "scope": "wechat"})
}

async fn bindings_status(app: &TestApp, token: &str) -> (u16, String) {
    code_of(app.authed(Method::GET, "/api/v1/bindings", token, None).await).await
}

#[tokio::test]
async fn wechat_login_keeps_one_user_per_openid_and_never_shows_the_session_key() {
    let app = spawn_app().await;
    let first = app.login_wechat("alice").await;
    let again = app.login_wechat("alice").await;
    let other = app.login_wechat("bob").await;
    assert_eq!(first.user_id, again.user_id);
    assert_ne!(first.user_id, other.user_id);
    assert_eq!(first.body["user"]["platform"], "wechat");
    assert!(first.body["expires_in"].as_i64().unwrap() <= 7200);
    assert!(!first.body.to_string().contains("session_key"));
    assert_eq!(app.count("users").await, 2);
}

#[tokio::test]
async fn alipay_login_supports_user_id_and_openid_only_apps() {
    let app = spawn_app().await;
    let classic = app.login_alipay("carol", false).await;
    let openid_only = app.login_alipay("dave", true).await;
    assert_eq!(classic.body["user"]["platform"], "alipay");
    assert_ne!(classic.user_id, openid_only.user_id);
    assert_eq!(app.login_alipay("dave", true).await.user_id, openid_only.user_id);
    use sqlx::Row;
    let row = sqlx::query("SELECT alipay_user_id, alipay_open_id FROM users WHERE id = $1")
        .bind(openid_only.user_id.parse::<i64>().unwrap())
        .fetch_one(app.state.db.pool())
        .await
        .unwrap();
    assert_eq!(row.try_get::<Option<String>, _>("alipay_user_id").unwrap(), None);
    assert!(row.try_get::<Option<String>, _>("alipay_open_id").unwrap().is_some());
}

#[tokio::test]
async fn platform_login_errors_map_to_clear_answers() {
    let app = spawn_app().await;
    let login = async |code: &str| app.post_json("/api/v1/auth/wechat/login", &json!({ "code": code })).await;
    assert_eq!(code_of(login("sandbox-err-40029").await).await, (401, "INVALID_CODE".into()));
    assert_eq!(code_of(login("sandbox-err-45011").await).await, (429, "PLATFORM_RATE_LIMITED".into()));
    assert_eq!(code_of(login("sandbox-err-40226").await).await, (403, "USER_BLOCKED".into()));
    assert_eq!(code_of(login("sandbox-err-busy").await).await, (503, "PLATFORM_UNAVAILABLE".into()));
    let busy_once = login("sandbox-err-busy-once").await;
    assert_eq!(busy_once.status(), 200, "one retry gets past a single busy answer");
    let code = app.wechat_code("erin").await;
    assert_eq!(login(&code).await.status(), 200);
    assert_eq!(code_of(login(&code).await).await, (401, "INVALID_CODE".into()), "a code is single use");
    let alipay = app.post_json("/api/v1/auth/alipay/login", &json!({"auth_code": "sandbox-err-code-invalid"})).await;
    assert_eq!(code_of(alipay).await, (401, "INVALID_CODE".into()));
    let malformed = app.post_json("/api/v1/auth/wechat/login", &json!({"code": 42})).await;
    assert_eq!(code_of(malformed).await, (400, "MALFORMED_JSON".into()));
}

#[tokio::test]
async fn refresh_rotates_and_a_reused_token_revokes_the_family() {
    let app = spawn_app().await;
    let session = app.login_wechat("alice").await;
    let refresh = async |token: &str| app.post_json("/api/v1/auth/refresh", &json!({ "refresh_token": token })).await;
    let rotated: Value = refresh(&session.refresh_token).await.json().await.unwrap();
    let next = rotated["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(next, session.refresh_token);
    assert_eq!(rotated["user"]["id"], session.user_id.as_str());
    assert_eq!(bindings_status(&app, rotated["access_token"].as_str().unwrap()).await.0, 200);

    // The old token comes back: someone holds a copy. Both it and the newest one stop working.
    assert_eq!(code_of(refresh(&session.refresh_token).await).await, (401, "REFRESH_TOKEN_REUSED".into()));
    assert_eq!(code_of(refresh(&next).await).await, (401, "INVALID_REFRESH_TOKEN".into()));
    assert_eq!(code_of(refresh("not-a-token").await).await, (401, "INVALID_REFRESH_TOKEN".into()));
}

#[tokio::test]
async fn an_expired_refresh_token_is_refused() {
    let app = spawn_app().await;
    let session = app.login_wechat("alice").await;
    app.clock.advance_ms(31 * 86_400 * 1000);
    let response = app.post_json("/api/v1/auth/refresh", &json!({ "refresh_token": session.refresh_token })).await;
    assert_eq!(code_of(response).await, (401, "INVALID_REFRESH_TOKEN".into()));
}

#[tokio::test]
async fn access_tokens_are_refused_unless_ours_current_and_for_customers() {
    let app = spawn_app().await;
    let session = app.login_wechat("alice").await;
    assert_eq!(bindings_status(&app, &session.access_token).await.0, 200);

    let missing = app.client.get(app.url("/api/v1/bindings")).send().await.unwrap();
    assert_eq!(code_of(missing).await, (401, "MISSING_TOKEN".into()));

    let key = customer_key(&app);
    let header = Header { kid: Some("sandbox-1".into()), ..Header::new(Algorithm::HS256) };
    let staff =
        encode(&header, &claims(&app, STAFF_AUDIENCE, &session.user_id), &EncodingKey::from_secret(&key)).unwrap();
    assert_eq!(bindings_status(&app, &staff).await, (401, "INVALID_TOKEN".into()), "a staff token is not a customer's");

    let forged =
        encode(&header, &claims(&app, CUSTOMER_AUDIENCE, &session.user_id), &EncodingKey::from_secret(&[1u8; 32]))
            .unwrap();
    assert_eq!(bindings_status(&app, &forged).await, (401, "INVALID_TOKEN".into()), "another key");

    let hs384 = Header { kid: Some("sandbox-1".into()), ..Header::new(Algorithm::HS384) };
    let other_alg =
        encode(&hs384, &claims(&app, CUSTOMER_AUDIENCE, &session.user_id), &EncodingKey::from_secret(&key)).unwrap();
    assert_eq!(bindings_status(&app, &other_alg).await, (401, "INVALID_TOKEN".into()), "another algorithm");

    use base64::Engine;
    let b64 = |v: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let none = format!(
        "{}.{}.",
        b64(json!({"alg": "none", "typ": "JWT"})),
        b64(claims(&app, CUSTOMER_AUDIENCE, &session.user_id))
    );
    assert_eq!(bindings_status(&app, &none).await, (401, "INVALID_TOKEN".into()), "alg none");

    app.clock.advance_ms(2 * 3600 * 1000 + 1000);
    assert_eq!(bindings_status(&app, &session.access_token).await, (401, "TOKEN_EXPIRED".into()));
}
