use crate::helpers::spawn_app;
use serde_json::Value;

#[tokio::test]
async fn healthz_answers_ok() {
    let app = spawn_app().await;
    let response = app.get("/healthz").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<Value>().await.unwrap()["status"], "ok");
}

#[tokio::test]
async fn readyz_reports_database_and_cache() {
    let app = spawn_app().await;
    let response = app.get("/readyz").await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["database"], "ok");
    assert_eq!(body["cache"], "ok");
}

#[tokio::test]
async fn readyz_is_503_when_the_database_is_gone() {
    let app = spawn_app().await;
    app.state.db.close().await;
    let response = app.get("/readyz").await;
    assert_eq!(response.status(), 503);
    assert_eq!(response.json::<Value>().await.unwrap()["status"], "not_ready");
}

#[tokio::test]
async fn metrics_count_requests_by_route_pattern() {
    let app = spawn_app().await;
    app.get("/healthz").await;
    app.get("/healthz").await;
    let response = app.get("/metrics").await;
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
    let text = response.text().await.unwrap();
    assert!(text.contains(r#"ebill_http_requests_total{route="/healthz",method="GET",status="200"} 2"#), "{text}");
    assert!(text.contains("ebill_http_request_duration_seconds_bucket{route=\"/healthz\""));
    assert!(text.contains("ebill_db_pool_connections{state=\"idle\"}"));
}

#[tokio::test]
async fn every_response_carries_a_request_id_and_echoes_a_given_one() {
    let app = spawn_app().await;
    let made_up = app.get("/healthz").await;
    assert_eq!(made_up.headers()["x-request-id"].len(), 16);
    let given = app.client.get(app.url("/healthz")).header("x-request-id", "abc-123").send().await.unwrap();
    assert_eq!(given.headers()["x-request-id"], "abc-123");
}

#[tokio::test]
async fn openapi_document_describes_every_route() {
    let app = spawn_app().await;
    let doc: Value = app.get("/openapi.json").await.json().await.unwrap();
    let paths = doc["paths"].as_object().unwrap();
    for path in
        ["/", "/healthz", "/readyz", "/metrics", "/openapi.json", "/integration/v1/accounts", "/integration/v1/bills"]
    {
        assert!(paths.contains_key(path), "{path} is missing from the OpenAPI document");
    }
    assert!(doc["components"]["securitySchemes"]["feed_hmac"].is_object());
    for path in [
        "/staff/v1/login",
        "/staff/v1/search",
        "/staff/v1/accounts/{account_no}",
        "/staff/v1/orders/{order_no}/refunds",
        "/staff/v1/bindings/{id}/unbind",
        "/staff/v1/audit.csv",
        "/staff/v1/staff/{name}",
    ] {
        assert!(paths.contains_key(path), "{path} is missing from the OpenAPI document");
    }
    assert!(doc["components"]["securitySchemes"]["staff_token"].is_object());
}

#[tokio::test]
async fn front_page_says_mode_and_version() {
    let app = spawn_app().await;
    let response = app.get("/").await;
    assert_eq!(response.status(), 200);
    assert!(response.headers().contains_key("content-security-policy"));
    let html = response.text().await.unwrap();
    assert!(html.contains("sandbox"));
    assert!(html.contains(env!("CARGO_PKG_VERSION")));
    assert!(html.contains("/openapi.json"));
    let css = app.get("/static/ebill.css").await;
    assert_eq!(css.status(), 200);
    assert_eq!(app.get("/static/nope.css").await.status(), 404);
}
