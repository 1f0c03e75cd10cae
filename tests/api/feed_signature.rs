use crate::helpers::{account, spawn_app, FEED_SECRET};
use ebill::feed::signature::sign;
use serde_json::{json, Value};

fn body() -> Vec<u8> {
    serde_json::to_vec(&json!({"items": [account("3100012345")]})).unwrap()
}

async fn code_of(response: reqwest::Response) -> String {
    assert_eq!(response.status(), 401);
    response.json::<Value>().await.unwrap()["code"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn an_unsigned_request_is_refused() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(app.url("/integration/v1/accounts"))
        .header("content-type", "application/json")
        .body(body())
        .send()
        .await
        .unwrap();
    assert_eq!(code_of(response).await, "MISSING_SIGNATURE");
    assert_eq!(app.count("accounts").await, 0);
}

#[tokio::test]
async fn a_signature_with_the_wrong_secret_is_refused() {
    let app = spawn_app().await;
    let timestamp = (app.clock_now_ms() / 1000).to_string();
    let forged = sign(b"not-the-shared-secret", &timestamp, &body());
    let response = app.post_feed_signed("accounts", body(), &timestamp, &forged).await;
    assert_eq!(code_of(response).await, "BAD_SIGNATURE");
    assert_eq!(app.count("accounts").await, 0);
}

#[tokio::test]
async fn a_tampered_body_is_refused() {
    let app = spawn_app().await;
    let timestamp = (app.clock_now_ms() / 1000).to_string();
    let signature = sign(FEED_SECRET, &timestamp, &body());
    let tampered = String::from_utf8(body()).unwrap().replace("3100012345", "3100099999").into_bytes();
    let response = app.post_feed_signed("accounts", tampered, &timestamp, &signature).await;
    assert_eq!(code_of(response).await, "BAD_SIGNATURE");
    assert_eq!(app.count("accounts").await, 0);
}

#[tokio::test]
async fn a_timestamp_outside_five_minutes_is_refused() {
    let app = spawn_app().await;
    for offset in [-301, 301] {
        let timestamp = (app.clock_now_ms() / 1000 + offset).to_string();
        let signature = sign(FEED_SECRET, &timestamp, &body());
        let response = app.post_feed_signed("accounts", body(), &timestamp, &signature).await;
        assert_eq!(code_of(response).await, "STALE_TIMESTAMP");
    }
    assert_eq!(app.count("accounts").await, 0);
}

#[tokio::test]
async fn a_replayed_request_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    let timestamp = (app.clock_now_ms() / 1000).to_string();
    let signature = sign(FEED_SECRET, &timestamp, &body());
    let first = app.post_feed_signed("accounts", body(), &timestamp, &signature).await;
    assert_eq!(first.status(), 200);
    let updated_at = app.count("accounts").await;
    let replay = app.post_feed_signed("accounts", body(), &timestamp, &signature).await;
    assert_eq!(code_of(replay).await, "REPLAYED_REQUEST");
    assert_eq!(app.count("accounts").await, updated_at);
    assert_eq!(app.count("feed_requests").await, 1);
}
