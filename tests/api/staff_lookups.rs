//! Customer service's lookups: the search box with its four kinds of key, the account, user and order pages masked by
//! default, the reveal (operators, with a reason), and the audit entry every look leaves.

use crate::helpers::TestApp;
use crate::payment_support::{household, open_all, sandbox_pay, Household, ACCOUNT};
use ebill::domain::staff::Role;
use reqwest::Method;
use serde_json::{json, Value};
use sqlx::Row;

/// A user's platform ids as stored: (subject, alipay_user_id).
async fn platform_ids(app: &TestApp, user_id: &str) -> (String, Option<String>) {
    let row = sqlx::query("SELECT subject, alipay_user_id FROM users WHERE id = $1")
        .bind(user_id.parse::<i64>().unwrap())
        .fetch_one(app.state.db.pool())
        .await
        .unwrap();
    (row.get("subject"), row.get("alipay_user_id"))
}

fn masked_like(id: &str) -> String {
    let chars: Vec<char> = id.chars().collect();
    format!("{}****{}", chars[..4].iter().collect::<String>(), chars[chars.len() - 4..].iter().collect::<String>())
}

fn keys(answer: &Value, kind: &str) -> Vec<String> {
    answer["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["kind"] == kind)
        .map(|r| r["key"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn an_account_page_is_masked_and_its_viewing_audited() {
    let Household { app, wechat, alipay, .. } = household().await;
    let viewer = app.staff(Role::Viewer).await;
    let (status, page) = app.staff_get(&viewer, &format!("/staff/v1/accounts/{ACCOUNT}")).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["masked"], true);
    let account = &page["account"];
    assert_eq!(account["account_no"], ACCOUNT);
    assert_eq!(account["holder_name"], "张*");
    assert_eq!(account["phone"], "138****1234");
    assert_eq!(account["address"], "上海市浦东新****");
    assert_eq!(account["credit_fen"], 0);

    let bindings = page["bindings"].as_array().unwrap();
    assert_eq!(bindings.len(), 2);
    let alice = bindings.iter().find(|b| b["user_id"] == json!(wechat.user_id)).expect("alice's binding");
    let (openid, _) = platform_ids(&app, &wechat.user_id).await;
    assert_eq!(alice["platform"], "wechat");
    assert_eq!(alice["subject"], json!(masked_like(&openid)));
    assert_ne!(alice["subject"], json!(openid));
    assert!(alice["id"].is_string() && alice["bound_at"].is_i64() && alice["last_login_at"].is_i64());
    assert!(bindings.iter().any(|b| b["user_id"] == json!(alipay.user_id) && b["platform"] == "alipay"));

    let periods: Vec<&str> = page["bills"].as_array().unwrap().iter().map(|b| b["period"].as_str().unwrap()).collect();
    assert_eq!(periods, ["2026-10", "2026-09"]);
    assert_eq!(page["bills"][0]["status"], "unpaid");
    assert_eq!(page["bills"][0]["total_fen"], 13923);
    assert_eq!(page["orders"], json!([]));
    assert_eq!(page["messages"], json!([]));

    let entries = app.audit_entries("view_account").await;
    assert_eq!(entries.len(), 1);
    let entry = &entries[0];
    assert_eq!((entry.staff_name.as_str(), entry.record_kind.as_str()), ("viewer", "account"));
    assert_eq!((entry.record_id.as_str(), entry.outcome.as_str()), (ACCOUNT, "ok"));
}

#[tokio::test]
async fn a_lookup_that_finds_nothing_is_404_and_audited_too() {
    let Household { app, .. } = household().await;
    let viewer = app.staff(Role::Viewer).await;
    for (path, action) in [
        ("/staff/v1/accounts/3100000000", "view_account"),
        ("/staff/v1/accounts/not-a-number", "view_account"),
        ("/staff/v1/users/12345", "view_user"),
        ("/staff/v1/users/alice", "view_user"),
        ("/staff/v1/orders/EB1", "view_order"),
        ("/staff/v1/orders/nonsense", "view_order"),
    ] {
        let (status, body) = app.staff_get(&viewer, path).await;
        assert_eq!((status, body["code"].as_str()), (404, Some("NOT_FOUND")), "{path}: {body}");
        let record_id = path.rsplit('/').next().unwrap();
        let entries = app.audit_entries(action).await;
        assert!(
            entries.iter().any(|e| e.record_id == record_id && e.outcome == "failed"),
            "{path} was audited: {entries:?}"
        );
    }
}

#[tokio::test]
async fn a_user_page_lists_every_binding_with_ids_masked() {
    let Household { app, alipay, .. } = household().await;
    app.feed_ok("accounts", vec![crate::helpers::account("3100077777")]).await;
    assert_eq!(app.bind(&alipay, "3100077777", "张三", "1234").await.status(), 201);
    let viewer = app.staff(Role::Viewer).await;
    let (status, page) = app.staff_get(&viewer, &format!("/staff/v1/users/{}", alipay.user_id)).await;
    assert_eq!(status, 200, "{page}");
    let (subject, alipay_user_id) = platform_ids(&app, &alipay.user_id).await;
    let alipay_user_id = alipay_user_id.expect("an Alipay user id");
    assert_eq!(page["masked"], true);
    assert_eq!(page["user"]["id"], json!(alipay.user_id));
    assert_eq!(page["user"]["platform"], "alipay");
    assert_eq!(page["user"]["subject"], json!(masked_like(&subject)));
    assert_eq!(page["user"]["alipay_user_id"], json!(masked_like(&alipay_user_id)));
    assert_eq!(page["user"]["phone"], Value::Null);
    let accounts: Vec<&str> =
        page["bindings"].as_array().unwrap().iter().map(|b| b["account_no"].as_str().unwrap()).collect();
    assert_eq!(accounts, [ACCOUNT, "3100077777"]);
    assert_eq!(app.audit_entries("view_user").await[0].record_id, alipay.user_id);
}

#[tokio::test]
async fn only_operators_reveal_and_only_with_a_reason_that_is_audited() {
    let Household { app, wechat, .. } = household().await;
    let viewer = app.staff(Role::Viewer).await;
    let operator = app.staff(Role::Operator).await;
    let ask = json!({ "kind": "account", "key": ACCOUNT, "reason": "户主来电核对身份" });

    let (status, body) = app.staff_post(&viewer, "/staff/v1/reveal", &ask).await;
    assert_eq!((status, body["code"].as_str()), (403, Some("FORBIDDEN")));
    let denied = app.audit_entries("reveal_account").await;
    assert_eq!(denied.len(), 1);
    assert_eq!((denied[0].outcome.as_str(), denied[0].staff_name.as_str()), ("denied", "viewer"));

    for missing in
        [json!({ "kind": "account", "key": ACCOUNT }), json!({ "kind": "account", "key": ACCOUNT, "reason": " ok " })]
    {
        let (status, body) = app.staff_post(&operator, "/staff/v1/reveal", &missing).await;
        assert_eq!((status, body["code"].as_str()), (400, Some("INVALID_REASON")), "{body}");
    }
    let (status, body) = app.staff_post(&operator, "/staff/v1/reveal", &json!({ "kind": "bill", "key": "1" })).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("INVALID_KIND")));

    let (status, page) = app.staff_post(&operator, "/staff/v1/reveal", &ask).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["masked"], false);
    assert_eq!(page["account"]["holder_name"], "张三");
    assert_eq!(page["account"]["phone"], "13812341234");
    assert_eq!(page["account"]["address"], "上海市浦东新区世纪大道100号");
    let (openid, _) = platform_ids(&app, &wechat.user_id).await;
    assert!(page["bindings"].as_array().unwrap().iter().any(|b| b["subject"] == json!(openid)));

    let revealed: Vec<_> =
        app.audit_entries("reveal_account").await.into_iter().filter(|e| e.outcome == "ok").collect();
    assert_eq!(revealed.len(), 1);
    assert_eq!(revealed[0].reason.as_deref(), Some("户主来电核对身份"));
    assert_eq!((revealed[0].staff_name.as_str(), revealed[0].record_id.as_str()), ("operator", ACCOUNT));

    // A user and an order are revealed the same way.
    let ask = json!({ "kind": "user", "key": wechat.user_id, "reason": "用户来电核对" });
    let (status, page) = app.staff_post(&operator, "/staff/v1/reveal", &ask).await;
    assert_eq!((status, &page["user"]["subject"]), (200, &json!(openid)));
    assert_eq!(app.audit_entries("reveal_user").await.len(), 1);
}

#[tokio::test]
async fn the_search_box_finds_accounts_users_and_orders_by_each_kind_of_key() {
    let Household { app, wechat, alipay, .. } = household().await;
    // alice lets WeChat tell us her phone: the account's registered one.
    let code: Value = app
        .post_json("/sandbox/wechat/phone-codes", &json!({ "user": "alice", "phone": "13812341234" }))
        .await
        .json()
        .await
        .unwrap();
    let verified = app
        .authed(Method::POST, "/api/v1/me/phone", &wechat.access_token, Some(&json!({ "code": code["code"] })))
        .await;
    assert_eq!(verified.status(), 200);
    let order = open_all(&app, &wechat).await;
    let order_no = order["order_no"].as_str().unwrap().to_owned();
    let viewer = app.staff(Role::Viewer).await;
    let search = |q: String| {
        let viewer = &viewer;
        let app = &app;
        async move {
            let (status, answer) = app.staff_get(viewer, &format!("/staff/v1/search?q={q}")).await;
            assert_eq!(status, 200, "{q}: {answer}");
            answer
        }
    };

    let by_account = search(ACCOUNT.into()).await;
    assert_eq!(by_account["kind"], "account");
    assert_eq!(keys(&by_account, "account"), [ACCOUNT]);
    assert_eq!(by_account["results"][0]["subtitle"], "张* · 上海市浦东新****");

    let by_phone = search("13812341234".into()).await;
    assert_eq!(by_phone["kind"], "phone");
    assert_eq!(keys(&by_phone, "account"), [ACCOUNT, "3100099999"], "both accounts have this registered phone");
    assert_eq!(keys(&by_phone, "user"), [wechat.user_id.as_str()], "alice verified it");
    assert!(by_phone["results"].to_string().contains("138****1234"));
    assert!(!by_phone["results"].to_string().contains("13812341234"));

    let (openid, _) = platform_ids(&app, &wechat.user_id).await;
    let by_openid = search(openid.clone()).await;
    assert_eq!(by_openid["kind"], "user");
    assert_eq!(keys(&by_openid, "user"), [wechat.user_id.as_str()]);
    assert_eq!(by_openid["results"][0]["title"], json!(masked_like(&openid)));

    let (_, alipay_user_id) = platform_ids(&app, &alipay.user_id).await;
    let by_alipay_id = search(alipay_user_id.unwrap()).await;
    assert_eq!(by_alipay_id["kind"], "user", "2088... ids are digits, yet name no account");
    assert_eq!(keys(&by_alipay_id, "user"), [alipay.user_id.as_str()]);

    let by_user_id = search(alipay.user_id.clone()).await;
    assert_eq!(keys(&by_user_id, "user"), [alipay.user_id.as_str()]);

    let by_order = search(order_no.clone()).await;
    assert_eq!(by_order["kind"], "order");
    assert_eq!(keys(&by_order, "order"), [order_no.as_str()]);

    let nothing = search("o-nobody-has-this-id".into()).await;
    assert_eq!((nothing["kind"].as_str(), nothing["results"].as_array().unwrap().len()), (Some("user"), 0));

    for bad in ["", "%20%20", &"x".repeat(65)] {
        let (status, body) = app.staff_get(&viewer, &format!("/staff/v1/search?q={bad}")).await;
        assert_eq!((status, body["code"].as_str()), (400, Some("INVALID_SEARCH")), "{bad:?}");
    }

    let searches = app.audit_entries("search").await;
    assert_eq!(searches.len(), 7);
    let phone_entry = searches.iter().find(|e| e.record_kind == "phone").expect("the phone search");
    assert_eq!(phone_entry.record_id, "138****1234");
    assert_eq!(phone_entry.detail.as_deref(), Some(r#"{"results":3}"#));
    assert!(searches.iter().any(|e| e.record_kind == "order" && e.record_id == order_no));
    assert!(searches.iter().any(|e| e.record_kind == "account" && e.record_id == ACCOUNT));
}

#[tokio::test]
async fn an_order_page_shows_its_bills_payment_write_back_and_notify() {
    let Household { app, wechat, bill_ids, .. } = household().await;
    let order = open_all(&app, &wechat).await;
    let order_no = order["order_no"].as_str().unwrap().to_owned();
    sandbox_pay(&app, "wechatpay", &order_no, true, None).await;
    let viewer = app.staff(Role::Viewer).await;
    let (status, page) = app.staff_get(&viewer, &format!("/staff/v1/orders/{order_no}")).await;
    assert_eq!(status, 200, "{page}");
    let amount = order["amount_fen"].as_i64().unwrap();
    let shown = &page["order"];
    assert_eq!((shown["order_no"].as_str(), shown["state"].as_str()), (Some(order_no.as_str()), Some("paid")));
    assert_eq!((shown["account_no"].as_str(), shown["amount_fen"].as_i64()), (Some(ACCOUNT), Some(amount)));
    assert_eq!(shown["user_id"], json!(wechat.user_id));
    assert_eq!(shown["refunded_fen"], 0);
    let (openid, _) = platform_ids(&app, &wechat.user_id).await;
    assert_eq!(shown["payer"], json!(masked_like(&openid)));

    let bills: Vec<&str> = page["bills"].as_array().unwrap().iter().map(|b| b["bill_id"].as_str().unwrap()).collect();
    assert_eq!(bills, bill_ids.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(page["bills"][0]["period"], "2026-09");
    assert!(page["bills"][0]["late_fee_fen"].as_i64().unwrap() > 0, "September is late");

    let payments = page["payments"].as_array().unwrap();
    assert_eq!(payments.len(), 1);
    assert_eq!((payments[0]["outcome"].as_str(), payments[0]["source"].as_str()), (Some("settled"), Some("notify")));
    assert_eq!(payments[0]["refundable_fen"].as_i64(), Some(amount));
    assert_eq!(payments[0]["writeback"]["state"], "pending");
    assert_eq!(payments[0]["writeback"]["attempts"], 0);
    assert_eq!(page["refunds"], json!([]));
    let notifies = page["notifies"].as_array().unwrap();
    assert_eq!(notifies.len(), 1, "{notifies:?}");
    assert_eq!((notifies[0]["platform"].as_str(), notifies[0]["kind"].as_str()), (Some("wechat"), Some("payment")));
    assert_eq!(notifies[0]["amount_fen"].as_i64(), Some(amount));
    assert_eq!(notifies[0]["outcome"], "settled", "kept with the settlement's outcome");

    let (_, account_page) = app.staff_get(&viewer, &format!("/staff/v1/accounts/{ACCOUNT}")).await;
    let summary = &account_page["orders"][0];
    assert_eq!((summary["order_no"].as_str(), summary["state"].as_str()), (Some(order_no.as_str()), Some("paid")));
    assert_eq!(summary["refunded_fen"], 0);
    let entry = &app.audit_entries("view_order").await[0];
    assert_eq!(entry.detail.as_deref(), Some(r#"{"account_no":"3100012345"}"#));
}

#[tokio::test]
async fn a_customer_token_or_no_token_opens_no_staff_route() {
    let Household { app, wechat, .. } = household().await;
    for path in ["/staff/v1/search?q=3100012345", &format!("/staff/v1/accounts/{ACCOUNT}")] {
        let response = app.authed(Method::GET, path, &wechat.access_token, None).await;
        assert_eq!(response.status(), 401, "{path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["code"], "INVALID_TOKEN");
        assert_eq!(app.get(path).await.status(), 401, "{path}");
    }
    let reveal = json!({ "kind": "account", "key": ACCOUNT, "reason": "想看看" });
    let response = app.authed(Method::POST, "/staff/v1/reveal", &wechat.access_token, Some(&reveal)).await;
    assert_eq!(response.status(), 401);
    assert_eq!(app.count("audit_log").await, 0);
}

#[tokio::test]
async fn an_order_page_shows_the_incidents_about_it() {
    let Household { app, wechat, .. } = household().await;
    let order = open_all(&app, &wechat).await;
    let order_no = order["order_no"].as_str().unwrap().to_owned();
    // Paid 1 fen for the whole order: flagged, with an amount_mismatch incident for staff.
    sandbox_pay(&app, "wechatpay", &order_no, true, Some(1)).await;
    let viewer = app.staff(Role::Viewer).await;
    let (status, page) = app.staff_get(&viewer, &format!("/staff/v1/orders/{order_no}")).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["order"]["state"], "flagged");
    let incidents = page["incidents"].as_array().unwrap();
    assert_eq!(incidents.len(), 1, "{page}");
    assert_eq!(
        (incidents[0]["kind"].as_str(), incidents[0]["reference"].as_str()),
        (Some("amount_mismatch"), Some(&*order_no))
    );
    assert_eq!(incidents[0]["occurrences"], 1);
    assert_eq!(incidents[0]["detail"]["paid_fen"], 1, "{}", incidents[0]);
    assert_eq!(incidents[0]["detail"]["expected_fen"], order["amount_fen"], "{}", incidents[0]);
}
