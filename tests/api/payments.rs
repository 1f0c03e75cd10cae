//! Paying bills through the real server against the simulated WeChat Pay and Alipay: opening orders, the platforms'
//! notifies, exactly-once settlement, the cases real money brings, polling and the write-back.

use crate::payment_support::*;
use ebill::config::DuplicatePaymentPolicy;
use ebill::payments::polling::poll_once;
use ebill::payments::refunds;
use reqwest::Method;
use serde_json::{json, Value};

const BILL_TOTAL: i64 = 13923;

fn order_no(order: &Value) -> String {
    order["order_no"].as_str().expect("an order number").to_owned()
}

#[tokio::test]
async fn a_wechat_user_pays_all_unpaid_bills_and_the_marketing_system_learns_of_it() {
    let Household { app, wechat, bill_ids, .. } = household().await;
    let order = open_all(&app, &wechat).await;
    assert_eq!(order["state"], "pending");
    assert_eq!(order["platform"], "wechat");
    let bills = order["bills"].as_array().unwrap();
    assert_eq!(bills.len(), 2);
    // September is 22 days late at 1‰ a day: 13923 × 0.022 = 306.3 → 306 fen.
    let september = bills.iter().find(|b| b["bill_id"] == json!(bill_ids[0])).unwrap();
    assert_eq!(september["late_fee_fen"], 306);
    assert_eq!(order["amount_fen"], 2 * BILL_TOTAL + 306);
    let pay = &order["pay"]["wechat"];
    assert_eq!(pay["signType"], "RSA");
    assert!(pay["package"].as_str().unwrap().starts_with("prepay_id="));
    assert_eq!(pay["timeStamp"].as_str().unwrap().len(), 10);

    let paid = sandbox_pay(&app, "wechatpay", &order_no(&order), true, None).await;
    assert_eq!(paid["notify_status"], 204, "{paid}");
    assert_eq!(order_state(&app, &order_no(&order)).await, "paid");
    assert_eq!(bill_states(&app).await, vec![("paid".into(), BILL_TOTAL), ("paid".into(), BILL_TOTAL)]);

    let (status, shown) = show_order(&app, &wechat, &order_no(&order)).await;
    assert_eq!(status, 200);
    assert_eq!(shown["state"], "paid");
    assert_eq!(shown["payments"][0]["outcome"], "settled");
    assert_eq!(shown["payments"][0]["transaction_id"], paid["transaction_id"]);

    assert_eq!(deliver_writebacks(&app).await, 1);
    let events = booked_events(&app).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["order_no"], json!(order_no(&order)));
    assert_eq!(events[0]["amount_fen"], 2 * BILL_TOTAL + 306);
    assert_eq!(events[0]["bills"].as_array().unwrap().len(), 2);

    // The bill detail lists the order and the payment that touched it.
    let path = format!("/api/v1/bills/{}", bill_ids[0]);
    let detail: Value = app.authed(Method::GET, &path, &wechat.access_token, None).await.json().await.unwrap();
    assert_eq!(detail["status"], "paid");
    assert_eq!(detail["orders"][0]["order_no"], json!(order_no(&order)));
    assert_eq!(detail["orders"][0]["payments"][0]["outcome"], "settled");
}

#[tokio::test]
async fn an_alipay_user_pays_one_bill() {
    let Household { app, alipay, bill_ids, .. } = household().await;
    let body = json!({ "account_no": ACCOUNT, "bill_ids": [bill_ids[1]] });
    let (status, order) = open_order(&app, &alipay, &body).await;
    assert_eq!(status, 201, "{order}");
    assert_eq!(order["platform"], "alipay");
    assert_eq!(order["amount_fen"], BILL_TOTAL);
    assert!(order["pay"]["alipay"]["tradeNO"].as_str().is_some_and(|t| !t.is_empty()));
    let paid = sandbox_pay(&app, "alipay", &order_no(&order), true, None).await;
    assert_eq!(paid["notify_body"], "success", "{paid}");
    assert_eq!(order_state(&app, &order_no(&order)).await, "paid");
    assert_eq!(bill_states(&app).await, vec![("unpaid".into(), 0), ("paid".into(), BILL_TOTAL)]);
    assert_eq!(count_where(&app, "jobs", "queue = 'writeback'").await, 1);
}

#[tokio::test]
async fn an_openid_only_alipay_app_pays_as_buyer_open_id() {
    let Household { app, .. } = household().await;
    let carol = app.login_alipay("carol", true).await;
    assert_eq!(app.bind(&carol, ACCOUNT, "张三", "1234").await.status(), 201);
    let order = open_all(&app, &carol).await;
    let paid = sandbox_pay(&app, "alipay", &order_no(&order), true, None).await;
    assert_eq!(paid["notify_body"], "success", "{paid}");
    assert_eq!(order_state(&app, &order_no(&order)).await, "paid");
}

#[tokio::test]
async fn asking_again_hands_out_the_open_order_and_a_change_closes_it_first() {
    let Household { app, wechat, alipay, bill_ids } = household().await;
    let first = open_all(&app, &wechat).await;
    let (status, again) = open_order(&app, &wechat, &json!({ "account_no": ACCOUNT })).await;
    assert_eq!(status, 200);
    assert_eq!(again["order_no"], first["order_no"]);
    assert_eq!(again["reused"], true);

    // Another family member on Alipay asks for one of the bills while alice may be paying: not yet.
    let one_bill = json!({ "account_no": ACCOUNT, "bill_ids": [bill_ids[0]] });
    let (status, refused) = open_order(&app, &alipay, &one_bill).await;
    assert_eq!((status, refused["code"].clone()), (409, json!("ORDER_IN_PROGRESS")));
    // Five minutes later the WeChat order is closed on WeChat Pay first.
    app.clock.advance_ms(5 * 60 * 1000);
    let (status, other) = open_order(&app, &alipay, &one_bill).await;
    assert_eq!(status, 201, "{other}");
    assert_eq!(order_state(&app, &order_no(&first)).await, "closed");
    let response = app.post_json("/sandbox/wechatpay/pay", &json!({ "out_trade_no": order_no(&first) })).await;
    assert_eq!(response.status(), 400, "a closed WeChat order cannot be paid");
    assert_eq!(count_where(&app, "open_bill_orders", "1 = 1").await, 1);

    // A day later the late fee has grown: the same request is a change, and makes a new order.
    app.clock.advance_ms(86_400 * 1000);
    let alipay = app.login_alipay("bob", false).await;
    let (status, later) = open_order(&app, &alipay, &json!({ "account_no": ACCOUNT, "bill_ids": [bill_ids[0]] })).await;
    assert_eq!(status, 201);
    assert_ne!(later["order_no"], other["order_no"]);
    assert!(later["amount_fen"].as_i64() > other["amount_fen"].as_i64());
}

#[tokio::test]
async fn bad_payment_requests_are_refused_clearly() {
    let Household { app, wechat, .. } = household().await;
    let cases = [
        (json!({ "account_no": "3100099999" }), 404, None),
        (json!({ "account_no": "not-an-account" }), 404, None),
        (json!({ "account_no": ACCOUNT, "bill_ids": ["x"] }), 400, Some("INVALID_BILL_IDS")),
        (json!({ "account_no": ACCOUNT, "bill_ids": [] }), 400, Some("INVALID_BILL_IDS")),
        (json!({ "account_no": ACCOUNT, "bill_ids": ["1", "1"] }), 400, Some("INVALID_BILL_IDS")),
        (json!({ "account_no": ACCOUNT, "bill_ids": ["123"] }), 404, None),
        (json!({ "account_no": ACCOUNT, "amount_fen": 1 }), 400, Some("MALFORMED_JSON")),
        (json!({ "account_no": 3100012345_i64 }), 400, Some("MALFORMED_JSON")),
    ];
    for (body, status, code) in cases {
        let (got, answer) = open_order(&app, &wechat, &body).await;
        assert_eq!(got, status, "{body} → {answer}");
        if let Some(code) = code {
            assert_eq!(answer["code"], code, "{body}");
        }
    }
    // Another account's bill through this account: 404, like a bill that does not exist.
    let other_bill: i64 = sqlx::query_scalar("SELECT id FROM bills WHERE account_no = '3100099999'")
        .fetch_one(app.state.db.pool())
        .await
        .unwrap();
    let (status, _) =
        open_order(&app, &wechat, &json!({ "account_no": ACCOUNT, "bill_ids": [other_bill.to_string()] })).await;
    assert_eq!(status, 404);
    // Without a token.
    let response = app.post_json("/api/v1/payments", &json!({ "account_no": ACCOUNT })).await;
    assert_eq!(response.status(), 401);
    assert_eq!(count_where(&app, "orders", "1 = 1").await, 0, "nothing is half-written");
}

#[tokio::test]
async fn a_paid_account_has_nothing_to_pay_and_others_cannot_see_its_orders() {
    let Household { app, wechat, .. } = household().await;
    let order = open_all(&app, &wechat).await;
    sandbox_pay(&app, "wechatpay", &order_no(&order), true, None).await;
    let (status, answer) = open_order(&app, &wechat, &json!({ "account_no": ACCOUNT })).await;
    assert_eq!((status, answer["code"].clone()), (409, json!("NOTHING_TO_PAY")));
    let stranger = app.login_wechat("mallory").await;
    let (status, _) = show_order(&app, &stranger, &order_no(&order)).await;
    assert_eq!(status, 404);
    let (status, _) = show_order(&app, &stranger, "EB1").await;
    assert_eq!(status, 404);
    let (status, _) = show_order(&app, &stranger, "../etc").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn fifty_concurrent_identical_notifies_settle_once() {
    let Household { app, wechat, .. } = household().await;
    let order = open_all(&app, &wechat).await;
    let amount = order["amount_fen"].as_i64().unwrap();
    let resource = transaction(&app, &order_no(&order), "4200002026102012345678901234", amount);
    let notification = wechat_notification(&app, &resource, now_secs(&app));
    let sends = (0..50).map(|_| send_wechat(&app, &notification));
    let answers = futures_util::future::join_all(sends).await;
    assert!(answers.iter().all(|(status, _)| *status == 204), "{answers:?}");
    assert_eq!(count_where(&app, "payments", "1 = 1").await, 1);
    assert_eq!(count_where(&app, "jobs", "queue = 'writeback'").await, 1);
    assert_eq!(bill_states(&app).await, vec![("paid".into(), BILL_TOTAL), ("paid".into(), BILL_TOTAL)]);
    assert_eq!(count_where(&app, "account_credits", "1 = 1").await, 0);
    // Each verified notify is kept once: the settling one in the settlement's transaction, the replays on their own.
    assert_eq!(count_where(&app, "payment_notifies", "outcome = 'settled'").await, 1);
    assert_eq!(count_where(&app, "payment_notifies", "outcome = 'already_recorded'").await, 49);
}

#[tokio::test]
async fn fifty_concurrent_identical_alipay_notifies_settle_once() {
    let Household { app, alipay, .. } = household().await;
    let order = open_all(&app, &alipay).await;
    let total = ebill::domain::money::Fen::new(order["amount_fen"].as_i64().unwrap()).to_yuan_string();
    let params = alipay_notify(&app, &order_no(&order), "2026102022001400001234567890", &total);
    let answers = futures_util::future::join_all((0..50).map(|_| post_alipay_notify(&app, &params))).await;
    assert!(answers.iter().all(|(_, body)| body == "success"), "{answers:?}");
    assert_eq!(count_where(&app, "payments", "1 = 1").await, 1);
    assert_eq!(count_where(&app, "jobs", "queue = 'writeback'").await, 1);
    assert_eq!(count_where(&app, "payment_notifies", "outcome = 'settled'").await, 1);
    assert_eq!(count_where(&app, "payment_notifies", "outcome = 'already_recorded'").await, 49);
}

#[tokio::test]
async fn a_second_payment_for_settled_bills_is_kept_as_a_credit() {
    let Household { app, wechat, alipay, bill_ids } = household().await;
    // The WeChat order is replaced by an Alipay one, but WeChat Pay took the money before the close landed.
    let first = open_all(&app, &wechat).await;
    app.clock.advance_ms(5 * 60 * 1000);
    let (_, second) = open_order(&app, &alipay, &json!({ "account_no": ACCOUNT, "bill_ids": [bill_ids[0]] })).await;
    let amount = first["amount_fen"].as_i64().unwrap();
    let resource = transaction(&app, &order_no(&first), "4200002026102000000000000001", amount);
    let (status, _) = send_wechat(&app, &wechat_notification(&app, &resource, now_secs(&app))).await;
    assert_eq!(status, 204, "money for a closed order settles");
    assert_eq!(order_state(&app, &order_no(&first)).await, "paid");
    // The Alipay order holding the bill is freed and due to be closed at once.
    assert_eq!(count_where(&app, "open_bill_orders", "1 = 1").await, 0);
    let due = format!("order_no = '{}' AND next_poll_at <= {}", order_no(&second), app.clock_now_ms());
    assert_eq!(count_where(&app, "orders", &due).await, 1);
    // Then the Alipay order is paid too: its bill was settled already, so all of it is surplus.
    let paid = sandbox_pay(&app, "alipay", &order_no(&second), true, None).await;
    assert_eq!(paid["notify_body"], "success");
    let surplus = second["amount_fen"].as_i64().unwrap();
    assert_eq!(count_where(&app, "payments", "outcome = 'duplicate'").await, 0);
    assert_eq!(count_where(&app, "payments", &format!("surplus_fen = {surplus}")).await, 1);
    assert_eq!(count_where(&app, "account_credits", &format!("amount_fen = {surplus} AND state = 'held'")).await, 1);
    assert_eq!(count_where(&app, "payment_incidents", "kind = 'duplicate_payment'").await, 1);
    assert_eq!(bill_states(&app).await, vec![("paid".into(), BILL_TOTAL), ("paid".into(), BILL_TOTAL)]);
    assert_eq!(deliver_writebacks(&app).await, 2, "both payments are written back");
    let events = booked_events(&app).await;
    assert_eq!(events[1]["surplus_fen"], surplus);
    assert_eq!(events[1]["surplus_handling"], "credit");
}

#[tokio::test]
async fn a_second_payment_is_refunded_when_so_configured() {
    let Household { app, wechat, .. } =
        household_with(|s| s.payments.duplicate_payments = DuplicatePaymentPolicy::Refund).await;
    let order = open_all(&app, &wechat).await;
    let amount = order["amount_fen"].as_i64().unwrap();
    sandbox_pay(&app, "wechatpay", &order_no(&order), true, None).await;
    // A second WeChat transaction for the same order (paid twice).
    let resource = transaction(&app, &order_no(&order), "4200002026102000000000000099", amount);
    let (status, _) = send_wechat(&app, &wechat_notification(&app, &resource, now_secs(&app))).await;
    assert_eq!(status, 204);
    assert_eq!(count_where(&app, "payments", "outcome = 'duplicate'").await, 1);
    assert_eq!(count_where(&app, "account_credits", "1 = 1").await, 0);
    assert_eq!(count_where(&app, "refunds", &format!("amount_fen = {amount} AND state = 'pending'")).await, 1);
    // The refund job asks WeChat Pay, which answers "processing" and then notifies the refund's success.
    let jobs = ebill::jobs::queue::claim(
        &app.state.db,
        refunds::REFUND_QUEUE,
        "test",
        10,
        std::time::Duration::from_secs(60),
        app.clock_now_ms(),
    )
    .await
    .unwrap();
    assert_eq!(jobs.len(), 1);
    let outcome = refunds::process(&app.state, jobs[0].clone()).await;
    assert!(outcome.is_err(), "processing is retried until the platform says done");
    let mut succeeded = false;
    for _ in 0..50 {
        if count_where(&app, "refunds", "state = 'succeeded'").await == 1 {
            succeeded = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(succeeded, "the refund notification marks the refund succeeded");
}

#[tokio::test]
async fn a_payment_for_an_expired_order_still_settles() {
    let Household { app, wechat, .. } = household().await;
    let order = open_all(&app, &wechat).await;
    app.clock.advance_ms((31 * 60) * 1000);
    let report = poll_once(&app.state).await.unwrap();
    assert_eq!(report.ended, 1, "{report:?}");
    assert_eq!(order_state(&app, &order_no(&order)).await, "expired");
    assert_eq!(count_where(&app, "open_bill_orders", "1 = 1").await, 0);
    let amount = order["amount_fen"].as_i64().unwrap();
    let resource = transaction(&app, &order_no(&order), "4200002026102000000000000777", amount);
    let (status, _) = send_wechat(&app, &wechat_notification(&app, &resource, now_secs(&app))).await;
    assert_eq!(status, 204);
    assert_eq!(order_state(&app, &order_no(&order)).await, "paid");
    assert_eq!(bill_states(&app).await, vec![("paid".into(), BILL_TOTAL), ("paid".into(), BILL_TOTAL)]);
}

#[tokio::test]
async fn a_payment_for_an_unknown_order_is_refused_and_recorded() {
    let Household { app, .. } = household().await;
    let resource = transaction(&app, "EB4242424242", "4200002026102000000000000555", 100);
    let (status, answer) = send_wechat(&app, &wechat_notification(&app, &resource, now_secs(&app))).await;
    assert_eq!((status, answer["code"].clone()), (404, json!("FAIL")));
    assert_eq!(
        count_where(&app, "payment_incidents", "kind = 'unknown_order' AND reference = 'EB4242424242'").await,
        1
    );
    assert_eq!(count_where(&app, "payments", "1 = 1").await, 0);
    let params = alipay_notify(&app, "EB4343434343", "2026102022001400009999999999", "1.00");
    let (_, body) = post_alipay_notify(&app, &params).await;
    assert_eq!(body, "fail");
    assert_eq!(count_where(&app, "payment_incidents", "kind = 'unknown_order'").await, 2);
    // Operators see them with `ebill payments status`.
    let mut printed = Vec::new();
    ebill::payments::report::write_status(&app.state.db, &mut printed).await.unwrap();
    let printed = String::from_utf8(printed).unwrap();
    assert!(printed.contains("open incidents: 2"), "{printed}");
    assert!(printed.contains("unknown_order") && printed.contains("EB4242424242"), "{printed}");
}

#[tokio::test]
async fn a_wrong_amount_flags_the_order_and_pays_no_bill() {
    let Household { app, wechat, alipay, .. } = household().await;
    let order = open_all(&app, &wechat).await;
    let paid = sandbox_pay(&app, "wechatpay", &order_no(&order), true, Some(1)).await;
    assert_eq!(paid["notify_status"], 204, "acknowledged: a retry would not fix it");
    assert_eq!(order_state(&app, &order_no(&order)).await, "flagged");
    assert_eq!(bill_states(&app).await, vec![("unpaid".into(), 0), ("unpaid".into(), 0)]);
    assert_eq!(count_where(&app, "payment_incidents", "kind = 'amount_mismatch'").await, 1);
    // The marketing system learns the money arrived, applied to no bill, held for review.
    assert_eq!(deliver_writebacks(&app).await, 1);
    let events = booked_events(&app).await;
    assert_eq!((events[0]["amount_fen"].clone(), events[0]["surplus_handling"].clone()), (json!(1), json!("review")));
    assert!(events[0]["bills"].as_array().unwrap().is_empty());
    // The same on Alipay.
    let order = open_all(&app, &alipay).await;
    let paid = sandbox_pay(&app, "alipay", &order_no(&order), true, Some(100)).await;
    assert_eq!(paid["notify_body"], "success");
    assert_eq!(order_state(&app, &order_no(&order)).await, "flagged");
    assert_eq!(bill_states(&app).await, vec![("unpaid".into(), 0), ("unpaid".into(), 0)]);
}

#[tokio::test]
async fn the_polling_job_settles_an_order_whose_notify_never_came() {
    let Household { app, wechat, alipay, bill_ids } = household().await;
    let wechat_order = open_all(&app, &wechat).await;
    sandbox_pay(&app, "wechatpay", &order_no(&wechat_order), false, None).await;
    assert_eq!(order_state(&app, &order_no(&wechat_order)).await, "pending");
    // Too early: the notify may still come.
    assert_eq!(poll_once(&app.state).await.unwrap().checked, 0);
    app.clock.advance_ms(61 * 1000);
    let report = poll_once(&app.state).await.unwrap();
    assert_eq!(report.settled, 1, "{report:?}");
    assert_eq!(order_state(&app, &order_no(&wechat_order)).await, "paid");
    assert_eq!(count_where(&app, "payments", "source = 'query'").await, 1);

    // GET /payments/{order_no} asks the platform about a pending order at once.
    app.feed_ok("bills", vec![crate::helpers::bill(ACCOUNT, "2026-11", 1)]).await;
    let alipay_order = open_all(&app, &alipay).await;
    assert_eq!(alipay_order["bills"].as_array().unwrap().len(), 1);
    sandbox_pay(&app, "alipay", &order_no(&alipay_order), false, None).await;
    let (status, shown) = show_order(&app, &alipay, &order_no(&alipay_order)).await;
    assert_eq!(status, 200);
    assert_eq!(shown["state"], "paid");
    assert!(!bill_ids.is_empty());
}

#[tokio::test]
async fn forged_and_misdirected_wechat_notifies_change_nothing() {
    let Household { app, wechat, .. } = household().await;
    let order = open_all(&app, &wechat).await;
    let amount = order["amount_fen"].as_i64().unwrap();
    let resource = transaction(&app, &order_no(&order), "4200002026102000000000000321", amount);
    let good = wechat_notification(&app, &resource, now_secs(&app));
    let headers = headers_of(&good);
    let with = |name: &str, value: String| -> Vec<(&'static str, String)> {
        headers
            .iter()
            .map(|(n, v)| if n.eq_ignore_ascii_case(name) { (*n, value.clone()) } else { (*n, v.clone()) })
            .collect()
    };

    // A signature made with another key (the merchant's own) under the platform key's serial.
    let keys = &app.state.sandbox.as_ref().unwrap().keys;
    let message = format!("{}\n{}\n{}\n", good.headers.timestamp, good.headers.nonce, good.body);
    let wrong_key = keys.wechatpay_merchant_key.sign_sha256_base64(message.as_bytes()).unwrap();
    let stale = wechat_notification(&app, &resource, now_secs(&app) - 301);
    let mut other_app = resource.clone();
    other_app["appid"] = json!("wx0000000000000000");
    let mut other_merchant = resource.clone();
    other_merchant["mchid"] = json!("1900000001");
    let cases: Vec<(&str, String, Headers)> = vec![
        ("forged signature", good.body.clone(), with("Wechatpay-Signature", base64_of(&[7u8; 256]))),
        ("wrong key", good.body.clone(), with("Wechatpay-Signature", wrong_key)),
        ("unknown serial", good.body.clone(), with("Wechatpay-Serial", "PUB_KEY_ID_0000".into())),
        ("SIGNTEST probe", good.body.clone(), with("Wechatpay-Signature", "WECHATPAY/SIGNTEST/abc".into())),
        ("tampered body", good.body.replacen("\"id\":\"EV", "\"id\":\"XV", 1), headers.clone()),
        ("no headers", good.body.clone(), Vec::new()),
        ("stale timestamp", stale.body.clone(), headers_of(&stale)),
    ];
    for (what, body, headers) in cases {
        let (status, answer) = post_wechat_notify(&app, &body, &headers).await;
        assert!((400..500).contains(&status), "{what}: {status}");
        assert_eq!(answer["code"], "FAIL", "{what}");
    }
    for (what, resource) in [("another appid", other_app), ("another mchid", other_merchant)] {
        let (status, _) = send_wechat(&app, &wechat_notification(&app, &resource, now_secs(&app))).await;
        assert_eq!(status, 400, "{what}");
    }
    assert_eq!(order_state(&app, &order_no(&order)).await, "pending");
    assert_eq!(count_where(&app, "payments", "1 = 1").await, 0);
    assert_eq!(bill_states(&app).await, vec![("unpaid".into(), 0), ("unpaid".into(), 0)]);

    // The genuine one, afterwards, settles.
    let (status, _) = send_wechat(&app, &good).await;
    assert_eq!(status, 204);
    assert_eq!(order_state(&app, &order_no(&order)).await, "paid");
}

type Headers = Vec<(&'static str, String)>;

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[tokio::test]
async fn forged_and_misdirected_alipay_notifies_change_nothing() {
    let Household { app, alipay, .. } = household().await;
    let order = open_all(&app, &alipay).await;
    let total = ebill::domain::money::Fen::new(order["amount_fen"].as_i64().unwrap()).to_yuan_string();
    let good = alipay_notify(&app, &order_no(&order), "2026102022001400000000000001", &total);
    let replace = |key: &str, value: &str, resign: bool| {
        let mut params: Vec<(String, String)> =
            good.iter().map(|(k, v)| (k.clone(), if k == key { value.to_owned() } else { v.clone() })).collect();
        if resign {
            resign_alipay(&app, &mut params);
        }
        params
    };
    let mut app_signed = good.clone();
    app_signed.retain(|(k, _)| k != "sign");
    let content = ebill::platform::crypto::alipay_sign::notify_sign_content(
        app_signed.iter().map(|(k, v)| (k.as_str(), v.as_str())),
    );
    let app_key = &app.state.sandbox.as_ref().unwrap().keys.alipay_app_key;
    app_signed.push(("sign".into(), app_key.sign_sha256_base64(content.as_bytes()).unwrap()));
    let cases = vec![
        ("tampered amount", replace("total_amount", "0.01", false)),
        ("forged sign", replace("sign", &base64_of(&[9u8; 256]), false)),
        ("signed with the app's own key", app_signed),
        ("another app", replace("app_id", "2021000000009999", true)),
        ("another seller", replace("seller_id", "2088000000000001", true)),
    ];
    for (what, params) in cases {
        let (_, body) = post_alipay_notify(&app, &params).await;
        assert_eq!(body, "fail", "{what}");
    }
    // A signed notify of a trade still waiting is acknowledged and changes nothing.
    let (_, body) = post_alipay_notify(&app, &replace("trade_status", "WAIT_BUYER_PAY", true)).await;
    assert_eq!(body, "success");
    assert_eq!(order_state(&app, &order_no(&order)).await, "pending");
    assert_eq!(count_where(&app, "payments", "1 = 1").await, 0);
    let (_, body) = post_alipay_notify(&app, &good).await;
    assert_eq!(body, "success");
    assert_eq!(order_state(&app, &order_no(&order)).await, "paid");
}

#[tokio::test]
async fn write_back_is_retried_after_the_receiver_fails() {
    let Household { app, wechat, .. } = household().await;
    let order = open_all(&app, &wechat).await;
    sandbox_pay(&app, "wechatpay", &order_no(&order), true, None).await;
    let failures = app.post_json("/sandbox/marketing/failures", &json!({ "count": 1 })).await;
    assert_eq!(failures.status(), 200);
    let (shutdown, receiver) = tokio::sync::watch::channel(false);
    let worker = tokio::spawn(ebill::jobs::writeback::run(app.state.clone(), receiver));
    let mut booked = Vec::new();
    for _ in 0..100 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        // Move the clock past any backoff so the retry is due.
        app.clock.advance_ms(120 * 1000);
        booked = booked_events(&app).await;
        if !booked.is_empty() {
            break;
        }
    }
    shutdown.send(true).unwrap();
    worker.await.unwrap();
    assert_eq!(booked.len(), 1, "delivered after the failure");
    let attempts: i64 = sqlx::query_scalar("SELECT attempts FROM jobs WHERE queue = 'writeback'")
        .fetch_one(app.state.db.pool())
        .await
        .unwrap();
    assert_eq!(attempts, 2);
}

#[tokio::test]
async fn an_order_that_never_reached_the_platform_ends_when_it_expires() {
    use ebill::db::orders::{self, StoredOrder};
    use ebill::domain::money::Fen;
    use ebill::domain::order::{OrderLine, OrderState};
    use ebill::domain::user::Platform;
    let Household { app, bill_ids, .. } = household().await;
    let user_id: i64 = sqlx::query_scalar("SELECT id FROM users WHERE platform = 'wechat'")
        .fetch_one(app.state.db.pool())
        .await
        .unwrap();
    // As if the process died between writing the order and WeChat Pay's answer.
    let now = app.clock_now_ms();
    let id = ebill::db::ids::next_id(now);
    let order = StoredOrder {
        id,
        order_no: ebill::domain::order::order_no(id),
        user_id,
        account_no: ACCOUNT.into(),
        platform: Platform::Wechat,
        payer: "o-lost".into(),
        amount: Fen::new(BILL_TOTAL),
        fingerprint: "lost".into(),
        state: OrderState::Pending,
        platform_ref: None,
        expires_at: now + 60_000,
        paid_at: None,
        flag: None,
        next_poll_at: now + 60_000,
        created_at: now,
        updated_at: now,
    };
    let line =
        OrderLine { bill_id: bill_ids[1].parse().unwrap(), principal: Fen::new(BILL_TOTAL), late_fee: Fen::ZERO };
    let mut tx = app.state.db.begin_write().await.unwrap();
    orders::insert(&mut tx, &order, &[line]).await.unwrap();
    tx.commit().await.unwrap();
    app.clock.advance_ms(61_000);
    let report = poll_once(&app.state).await.unwrap();
    assert_eq!(report.ended, 1, "{report:?}");
    assert_eq!(order_state(&app, &order.order_no).await, "expired");
    assert_eq!(count_where(&app, "open_bill_orders", "1 = 1").await, 0, "its bill is free again");
}

#[test]
fn polling_backs_off_with_age_and_never_passes_the_expiry() {
    use ebill::db::orders::StoredOrder;
    use ebill::domain::money::Fen;
    use ebill::domain::order::OrderState;
    use ebill::domain::user::Platform;
    use ebill::payments::polling::next_poll_at;
    let order = StoredOrder {
        id: 1,
        order_no: "EB1".into(),
        user_id: 1,
        account_no: ACCOUNT.into(),
        platform: Platform::Wechat,
        payer: "o".into(),
        amount: Fen::new(1),
        fingerprint: String::new(),
        state: OrderState::Pending,
        platform_ref: None,
        expires_at: 30 * 60_000,
        paid_at: None,
        flag: None,
        next_poll_at: 0,
        created_at: 0,
        updated_at: 0,
    };
    assert_eq!(next_poll_at(&order, 60_000, false, 60), 120_000, "young: every minute");
    assert_eq!(next_poll_at(&order, 20 * 60_000, false, 60), 25 * 60_000, "older: a quarter of its age");
    assert_eq!(next_poll_at(&order, 28 * 60_000, false, 60), 30 * 60_000, "never past the expiry");
    assert_eq!(next_poll_at(&order, 40 * 60_000, true, 60), 60 * 60_000, "failures wait longer");
}
