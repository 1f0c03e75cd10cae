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
    let app = spawn_app_with(|s| {
        s.wechat.appid = Some("wx0123456789abcdef".into());
        s.wechat.app_secret_file = Some(secret.clone());
        s.wechat.api_base_url = Some("http://127.0.0.1:9".into());
        s.sessions.customer_keys = vec![KeyFile { id: "2026-12".into(), file: jwt.clone() }];
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
async fn production_needs_a_public_https_address() {
    let mut settings = ebill::config::Settings::default();
    settings.wechat.appid = Some("wx0123456789abcdef".into());
    settings.wechat.app_secret_file = Some("certs/wechat_app_secret".into());
    settings.sessions.customer_keys = vec![KeyFile { id: "k".into(), file: "certs/jwt.key".into() }];
    settings.public_base_url = Some("http://ebill.example.com".into());
    assert!(settings.check().unwrap_err().to_string().contains("public_base_url"));
}
