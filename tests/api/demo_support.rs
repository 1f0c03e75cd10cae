//! What the browser demo stands on: the simulated marketing system issuing a bill through our feed, the log of the
//! payment notifies the simulated platforms sent us, and the demo's pages.

use crate::helpers::{account, bill, spawn_app};
use crate::payment_support::*;
use reqwest::header::{CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use serde_json::{json, Value};
use sqlx::Row;

fn order_no(order: &Value) -> String {
    order["order_no"].as_str().expect("an order number").to_owned()
}

#[tokio::test]
async fn the_marketing_system_issues_the_accounts_next_bill_through_our_feed() {
    let app = spawn_app().await;
    app.clock.set(beijing_noon(2026, 11, 5));
    app.feed_ok("accounts", vec![account(ACCOUNT)]).await;
    app.feed_ok("bills", vec![bill(ACCOUNT, "2026-10", 1)]).await;

    let response = app.post_json("/sandbox/marketing/issue-bill", &json!({ "account_no": ACCOUNT })).await;
    assert_eq!(response.status(), 200);
    let issued: Value = response.json().await.unwrap();
    assert_eq!(issued["feed_status"], 200, "{issued}");
    assert_eq!(issued["feed_reply"]["summary"]["created"], 1, "{issued}");
    let sent = &issued["bill"];
    assert_eq!(sent["period"], "2026-11");
    assert_eq!((sent["issue_date"].as_str(), sent["due_date"].as_str()), (Some("2026-11-05"), Some("2026-11-25")));
    assert_eq!(sent["meter"]["start"], 4652, "the meter goes on from October's end reading");
    assert!(!sent["tier_lines"].as_array().unwrap().is_empty(), "a residential account is billed by tiers");

    let row = sqlx::query(
        "SELECT revision, reading_start, usage_kwh, total_fen, paid_fen, status FROM bills \
         WHERE account_no = $1 AND period = '2026-11'",
    )
    .bind(ACCOUNT)
    .fetch_one(app.state.db.pool())
    .await
    .expect("the new bill is stored");
    assert_eq!(row.get::<i64, _>("revision"), 1);
    assert_eq!(row.get::<i64, _>("reading_start"), 4652);
    assert_eq!(row.get::<i64, _>("usage_kwh"), sent["usage_kwh"].as_i64().unwrap());
    assert_eq!(row.get::<i64, _>("total_fen"), sent["total_fen"].as_i64().unwrap());
    assert!(row.get::<i64, _>("total_fen") > 0);
    assert_eq!((row.get::<i64, _>("paid_fen"), row.get::<String, _>("status")), (0, "unpaid".to_string()));
}

#[tokio::test]
async fn issuing_a_bill_for_an_unknown_account_answers_404() {
    let app = spawn_app().await;
    let response = app.post_json("/sandbox/marketing/issue-bill", &json!({ "account_no": "3100099999" })).await;
    assert_eq!(response.status(), 404);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["code"], "UNKNOWN_ACCOUNT");
    assert_eq!(app.count("bills").await, 0);
}

#[tokio::test]
async fn the_notify_log_records_each_payment_notify_and_our_reply() {
    let Household { app, wechat, alipay, bill_ids } = household().await;
    let (status, wechat_order) =
        open_order(&app, &wechat, &json!({ "account_no": ACCOUNT, "bill_ids": [bill_ids[0]] })).await;
    assert_eq!(status, 201, "{wechat_order}");
    let wechat_paid = sandbox_pay(&app, "wechatpay", &order_no(&wechat_order), true, None).await;
    let (status, alipay_order) =
        open_order(&app, &alipay, &json!({ "account_no": ACCOUNT, "bill_ids": [bill_ids[1]] })).await;
    assert_eq!(status, 201, "{alipay_order}");
    let alipay_paid = sandbox_pay(&app, "alipay", &order_no(&alipay_order), true, None).await;

    let listed: Value = app.get("/sandbox/notifies").await.json().await.unwrap();
    let notifies = listed["notifies"].as_array().unwrap();
    assert_eq!(notifies.len(), 2, "{listed}");
    let (newest, oldest) = (&notifies[0], &notifies[1]);
    assert_eq!(newest["platform"], "alipay");
    assert_eq!(newest["kind"], "payment");
    assert_eq!(newest["out_trade_no"], json!(order_no(&alipay_order)));
    assert_eq!(newest["transaction_id"], alipay_paid["trade_no"]);
    assert_eq!(newest["amount_fen"], alipay_order["amount_fen"]);
    assert_eq!(
        (&newest["our_status"], &newest["our_reply"], &newest["error"]),
        (&json!(200), &json!("success"), &Value::Null)
    );
    assert_eq!(oldest["platform"], "wechatpay");
    assert_eq!(oldest["kind"], "payment");
    assert_eq!(oldest["out_trade_no"], json!(order_no(&wechat_order)));
    assert_eq!(oldest["transaction_id"], wechat_paid["transaction_id"]);
    assert_eq!(oldest["amount_fen"], wechat_order["amount_fen"]);
    assert_eq!(oldest["our_status"], wechat_paid["notify_status"]);
    assert_eq!(oldest["our_reply"], wechat_paid["notify_body"]);
    assert_eq!(oldest["sent_at_ms"], app.clock_now_ms());
    assert!(newest["id"].as_u64() > oldest["id"].as_u64());

    // A retry is logged as another notify; the list narrows to one order and to a limit.
    let again = json!({ "out_trade_no": order_no(&wechat_order) });
    assert_eq!(app.post_json("/sandbox/wechatpay/notify-again", &again).await.status(), 200);
    let path = format!("/sandbox/notifies?out_trade_no={}&limit=", order_no(&wechat_order));
    let of_wechat: Value = app.get(&path).await.json().await.unwrap();
    let of_wechat = of_wechat["notifies"].as_array().unwrap();
    assert_eq!(of_wechat.len(), 2);
    assert!(of_wechat.iter().all(|n| n["transaction_id"] == wechat_paid["transaction_id"]));
    let newest_one: Value = app.get("/sandbox/notifies?out_trade_no=&limit=1").await.json().await.unwrap();
    assert_eq!(newest_one["notifies"].as_array().unwrap().len(), 1);
    assert_eq!(newest_one["notifies"][0]["id"], of_wechat[0]["id"]);
    assert_eq!(app.get("/sandbox/notifies?limit=0").await.status(), 400);
}

#[tokio::test]
async fn the_demo_page_is_served_with_a_strict_content_security_policy() {
    let app = spawn_app().await;
    let page = app.get("/demo/").await;
    assert_eq!(page.status(), 200);
    assert!(page.headers()[CONTENT_TYPE].to_str().unwrap().starts_with("text/html"));
    let policy = page.headers()[CONTENT_SECURITY_POLICY].to_str().unwrap().to_owned();
    for directive in
        ["default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self'", "connect-src 'self'"]
    {
        assert!(policy.contains(directive), "{policy} lacks {directive}");
    }
    for (file, content_type) in [("demo.js", "text/javascript"), ("demo.css", "text/css")] {
        let asset = app.get(&format!("/demo/{file}")).await;
        assert_eq!(asset.status(), 200);
        assert!(asset.headers()[CONTENT_TYPE].to_str().unwrap().starts_with(content_type));
    }
    assert_eq!(app.get("/demo/missing.js").await.status(), 404);
}
