use crate::helpers::{account, spawn_app, spawn_app_with};
use serde_json::{json, Value};

async fn error_body(response: reqwest::Response) -> Value {
    assert_eq!(response.headers()["content-type"], "application/json");
    response.json().await.unwrap()
}

#[tokio::test]
async fn unknown_route_is_a_json_404() {
    let app = spawn_app().await;
    let response = app.get("/no/such/route").await;
    assert_eq!(response.status(), 404);
    assert_eq!(error_body(response).await["code"], "NOT_FOUND");
}

#[tokio::test]
async fn wrong_method_gets_a_json_error() {
    let app = spawn_app().await;
    let response = app.client.delete(app.url("/healthz")).send().await.unwrap();
    assert!(response.status().is_client_error());
    assert!(error_body(response).await["code"].is_string());
}

#[tokio::test]
async fn malformed_json_is_400() {
    let app = spawn_app().await;
    let response = app.post_feed_raw("accounts", b"{\"items\": [".to_vec()).await;
    assert_eq!(response.status(), 400);
    assert_eq!(error_body(response).await["code"], "MALFORMED_JSON");
    let wrong_shape = app.post_feed("accounts", &json!({"items": "not a list"})).await;
    assert_eq!(wrong_shape.status(), 400);
    assert_eq!(app.count("accounts").await, 0);
}

#[tokio::test]
async fn a_body_over_the_limit_is_413() {
    let app = spawn_app_with(|s| s.feed.max_body_bytes = 1024).await;
    let items: Vec<Value> = (0..40).map(|n| account(&format!("31000{n:05}"))).collect();
    let response = app.post_feed("accounts", &json!({ "items": items })).await;
    assert_eq!(response.status(), 413);
    assert_eq!(error_body(response).await["code"], "PAYLOAD_TOO_LARGE");
    assert_eq!(app.count("accounts").await, 0);
}

#[tokio::test]
async fn a_batch_over_the_item_limit_is_refused_whole() {
    let app = spawn_app_with(|s| s.feed.max_batch_items = 3).await;
    let items: Vec<Value> = (0..4).map(|n| account(&format!("31000{n:05}"))).collect();
    let response = app.post_feed("accounts", &json!({ "items": items })).await;
    assert_eq!(response.status(), 413);
    assert_eq!(error_body(response).await["code"], "BATCH_TOO_LARGE");
    assert_eq!(app.count("accounts").await, 0);
}
