use crate::helpers::{spawn_app_with, TestApp};
use ebill::config::KeyFile;
use serde_json::json;

/// A production-mode application (WeChat configured, Alipay not) that would seed demo data if it could, and the
/// directory of its key files.
async fn production_app() -> (TestApp, tempfile::TempDir) {
    let certs = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let path = certs.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let secret = write("wechat_app_secret", "0123456789abcdef0123456789abcdef");
    let jwt = write("jwt.key", "a-production-jwt-key-of-at-least-32-bytes");
    let staff_jwt = write("jwt_staff.key", "another-production-key-for-staff-tokens");
    let app = spawn_app_with(|s| {
        s.wechat.appid = Some("wx0123456789abcdef".into());
        s.wechat.app_secret_file = Some(secret.clone());
        s.wechat.api_base_url = Some("http://127.0.0.1:9".into());
        s.sessions.customer_keys = vec![KeyFile { id: "2026-12".into(), file: jwt.clone() }];
        s.staff.token_keys = vec![KeyFile { id: "staff-2026-12".into(), file: staff_jwt.clone() }];
        s.demo.seed = true;
        s.public_base_url = Some("https://ebill.example.com".into());
    })
    .await;
    assert_eq!(app.state.mode, ebill::config::Mode::Production);
    (app, certs)
}

#[tokio::test]
async fn production_mode_serves_no_sandbox_and_seeds_nothing() {
    let (app, _certs) = production_app().await;
    let sandbox = app.post_json("/sandbox/wechat/login-codes", &json!({"user": "alice"})).await;
    assert_eq!(sandbox.status(), 404);
    assert_eq!(app.get("/sandbox/alipay/gateway.do").await.status(), 404);
    assert_eq!(app.count("accounts").await, 0, "no demo data in production");
    assert!(app.get("/").await.text().await.unwrap().contains("production"));
    // Alipay is not configured here: its login says so instead of failing obscurely.
    let alipay = app.post_json("/api/v1/auth/alipay/login", &json!({"auth_code": "x"})).await;
    assert_eq!(alipay.status(), 503);
}

#[tokio::test]
async fn production_mode_serves_no_demo_and_no_sandbox_inbox() {
    let (app, _certs) = production_app().await;
    for path in ["/demo/", "/demo/demo.js", "/demo", "/sandbox/inbox", "/sandbox/notifies"] {
        assert_eq!(app.get(path).await.status(), 404, "{path}");
    }
}

#[tokio::test]
async fn production_has_no_demo_staff_and_its_console_cookie_is_secure() {
    let (app, _certs) = production_app().await;
    assert_eq!(app.count("staff").await, 0, "no demo staff in production");
    app.add_staff("li.na", ebill::domain::staff::Role::Viewer).await;
    let response = app.staff_login("li.na", crate::staff_support::STAFF_PASSWORD).await;
    assert_eq!(response.status(), 200);
    let cookie = response.headers().get("set-cookie").unwrap().to_str().unwrap().to_owned();
    assert!(cookie.contains("; Secure") && cookie.contains("HttpOnly"), "{cookie}");
}

#[tokio::test]
async fn production_needs_staff_token_keys() {
    let mut settings = ebill::config::Settings::default();
    settings.wechat.appid = Some("wx0123456789abcdef".into());
    settings.wechat.app_secret_file = Some("certs/wechat_app_secret".into());
    settings.sessions.customer_keys = vec![KeyFile { id: "k".into(), file: "certs/jwt.key".into() }];
    settings.public_base_url = Some("https://ebill.example.com".into());
    assert!(settings.check().unwrap_err().to_string().contains("staff.token_keys"));
}

#[tokio::test]
async fn production_needs_a_public_https_address() {
    let mut settings = ebill::config::Settings::default();
    settings.wechat.appid = Some("wx0123456789abcdef".into());
    settings.wechat.app_secret_file = Some("certs/wechat_app_secret".into());
    settings.sessions.customer_keys = vec![KeyFile { id: "k".into(), file: "certs/jwt.key".into() }];
    settings.public_base_url = Some("http://ebill.example.com".into());
    assert!(settings.check().unwrap_err().to_string().contains("public_base_url"));
}
