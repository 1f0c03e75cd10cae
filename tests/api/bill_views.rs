use crate::helpers::{account, bill, spawn_app, Session, TestApp};
use chrono::{NaiveDate, TimeZone, Utc};
use reqwest::Method;
use serde_json::{json, Value};

/// Noon in Beijing on the given day, as epoch milliseconds.
fn beijing_noon(y: i32, m: u32, d: u32) -> i64 {
    let date = NaiveDate::from_ymd_opt(y, m, d).unwrap();
    Utc.from_utc_datetime(&date.and_hms_opt(4, 0, 0).unwrap()).timestamp_millis()
}

fn periods(from_year: i32, from_month: u32, count: u32) -> Vec<String> {
    (0..count)
        .map(|i| {
            let index = from_year * 12 + from_month as i32 - 1 + i as i32;
            format!("{:04}-{:02}", index / 12, index % 12 + 1)
        })
        .collect()
}

fn paid(mut bill: Value) -> Value {
    bill["paid_fen"] = bill["total_fen"].clone();
    bill
}

/// Two accounts bound to alice: 3100012345 (tiered, twelve monthly bills, the last one unpaid) and 3100023456 (one
/// time-of-use bill); 3100034567 belongs to someone else.
async fn setup() -> (TestApp, Session) {
    let app = spawn_app().await;
    app.clock.set(beijing_noon(2026, 11, 20));
    let mut shop = account("3100034567");
    shop["account_type"] = json!("non_residential");
    app.feed_ok("accounts", vec![account("3100012345"), account("3100023456"), shop]).await;
    let mut bills: Vec<Value> = periods(2025, 11, 11).iter().map(|p| paid(bill("3100012345", p, 1))).collect();
    bills.push(bill("3100012345", "2026-10", 1));
    let mut tou = bill("3100023456", "2026-10", 1);
    tou["tier_lines"] = json!([]);
    tou["tou_lines"] = json!([
        {"band": "peak", "kwh": 180, "unit_price": "0.6170", "amount_fen": 11106},
        {"band": "valley", "kwh": 100, "unit_price": "0.3070", "amount_fen": 3070}
    ]);
    tou["total_fen"] = json!(14176);
    bills.push(tou);
    bills.push(bill("3100034567", "2026-10", 1));
    app.feed_ok("bills", bills).await;
    let alice = app.login_wechat("alice").await;
    for account_no in ["3100012345", "3100023456"] {
        assert_eq!(app.bind(&alice, account_no, "张三", "1234").await.status(), 201);
    }
    (app, alice)
}

async fn get(app: &TestApp, session: &Session, path: &str) -> (u16, Value) {
    let response = app.authed(Method::GET, path, &session.access_token, None).await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn bill_id(app: &TestApp, session: &Session, account_no: &str, period: &str) -> String {
    let (_, page) = get(app, session, &format!("/api/v1/accounts/{account_no}/bills?limit=100")).await;
    let found = page["bills"].as_array().unwrap().iter().find(|b| b["period"] == period).expect("the bill is listed");
    found["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn bills_list_newest_first_in_pages() {
    let (app, alice) = setup().await;
    let base = "/api/v1/accounts/3100012345/bills";
    let (status, first) = get(&app, &alice, &format!("{base}?limit=5")).await;
    assert_eq!(status, 200);
    let first_periods: Vec<&str> =
        first["bills"].as_array().unwrap().iter().map(|b| b["period"].as_str().unwrap()).collect();
    assert_eq!(first_periods, ["2026-10", "2026-09", "2026-08", "2026-07", "2026-06"]);
    let cursor = first["next_cursor"].as_str().unwrap();
    let (_, second) = get(&app, &alice, &format!("{base}?limit=5&cursor={cursor}")).await;
    assert_eq!(second["bills"][0]["period"], "2026-05");
    let (_, third) =
        get(&app, &alice, &format!("{base}?limit=5&cursor={}", second["next_cursor"].as_str().unwrap())).await;
    assert_eq!(third["bills"].as_array().unwrap().len(), 2);
    assert!(third.get("next_cursor").is_none(), "the last page has no cursor");
    // A page that ends exactly at the last bill has no cursor either.
    let (_, exact) = get(&app, &alice, &format!("{base}?limit=12")).await;
    assert_eq!(exact["bills"].as_array().unwrap().len(), 12);
    assert!(exact.get("next_cursor").is_none());
}

#[tokio::test]
async fn bills_filter_by_status_and_year_and_refuse_bad_queries() {
    let (app, alice) = setup().await;
    let base = "/api/v1/accounts/3100012345/bills";
    let (_, unpaid) = get(&app, &alice, &format!("{base}?status=overdue")).await;
    assert_eq!(unpaid["bills"].as_array().unwrap().len(), 1);
    assert_eq!(unpaid["bills"][0]["status"], "overdue");
    let (_, year) = get(&app, &alice, &format!("{base}?year=2025&limit=100")).await;
    assert_eq!(year["bills"].as_array().unwrap().len(), 2);
    let (_, paid) = get(&app, &alice, &format!("{base}?status=paid&limit=100")).await;
    assert_eq!(paid["bills"].as_array().unwrap().len(), 11);
    for bad in ["status=late", "year=1999", "cursor=abc", "limit=0", "limit=101", "colour=red"] {
        let (status, body) = get(&app, &alice, &format!("{base}?{bad}")).await;
        assert_eq!((status, body["code"].as_str()), (400, Some("INVALID_QUERY")), "{bad}");
    }
}

#[tokio::test]
async fn a_tiered_bill_shows_every_line_with_the_tariffs_precision() {
    let (app, alice) = setup().await;
    app.clock.set(beijing_noon(2026, 10, 27));
    let id = bill_id(&app, &alice, "3100012345", "2026-10").await;
    let (status, detail) = get(&app, &alice, &format!("/api/v1/bills/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(detail["meter"], json!({"start": 4372, "end": 4652, "multiplier": 1}));
    assert_eq!(detail["tier_lines"][0], json!({"tier": 1, "kwh": 230, "unit_price": "0.4883", "amount_fen": 11231}));
    assert_eq!(detail["tier_lines"][1]["unit_price"], "0.5383");
    assert_eq!((detail["total_fen"].as_i64(), detail["amount_due_fen"].as_i64()), (Some(13923), Some(13923)));
    assert_eq!(detail["status"], "unpaid");
}

#[tokio::test]
async fn a_time_of_use_bill_shows_its_bands() {
    let (app, alice) = setup().await;
    let id = bill_id(&app, &alice, "3100023456", "2026-10").await;
    let (_, detail) = get(&app, &alice, &format!("/api/v1/bills/{id}")).await;
    assert_eq!(
        detail["tou_lines"][0],
        json!({"band": "peak", "kwh": 180, "unit_price": "0.6170", "amount_fen": 11106})
    );
    assert_eq!(detail["tou_lines"][1]["band"], "valley");
    assert_eq!(detail["tier_lines"], json!([]));
}

#[tokio::test]
async fn the_late_fee_runs_from_the_day_after_the_due_date() {
    let (app, alice) = setup().await;
    let id = bill_id(&app, &alice, "3100012345", "2026-10").await; // due 2026-10-28, 13923 fen, residential 1‰
    let fee_on = async |y, m, d| {
        app.clock.set(beijing_noon(y, m, d));
        let (_, detail) = get(&app, &alice, &format!("/api/v1/bills/{id}")).await;
        (detail["late_fee_fen"].as_i64().unwrap(), detail["amount_due_fen"].as_i64().unwrap(), detail["status"].clone())
    };
    assert_eq!(fee_on(2026, 10, 28).await, (0, 13923, json!("unpaid")), "the due date itself is free");
    assert_eq!(fee_on(2026, 10, 29).await, (14, 13937, json!("overdue")), "13.923 fen rounds to 14");
    assert_eq!(fee_on(2026, 11, 7).await, (139, 14062, json!("overdue")), "10 days: 139.23 fen");
}

#[tokio::test]
async fn the_account_summary_adds_up_arrears_and_fees() {
    let (app, alice) = setup().await;
    app.clock.set(beijing_noon(2026, 11, 7));
    let (status, summary) = get(&app, &alice, "/api/v1/accounts/3100012345/summary").await;
    assert_eq!(status, 200);
    assert_eq!(summary["unpaid_bills"], 1);
    assert_eq!(
        (summary["principal_fen"].as_i64(), summary["late_fee_fen"].as_i64(), summary["total_due_fen"].as_i64()),
        (Some(13923), Some(139), Some(14062))
    );
    assert_eq!(summary["next_due_date"], "2026-10-28");
    assert_eq!(summary["last_payment"]["period"], "2026-09");
}

#[tokio::test]
async fn usage_history_sets_each_month_beside_the_year_before() {
    let (app, alice) = setup().await;
    let mut year_before = paid(bill("3100012345", "2025-10", 1));
    year_before["meter"] = json!({"start": 4000, "end": 4100, "multiplier": 1});
    year_before["usage_kwh"] = json!(100);
    year_before["tier_lines"] = json!([{"tier": 1, "kwh": 100, "unit_price": "0.4883", "amount_fen": 4883}]);
    year_before["total_fen"] = json!(4883);
    year_before["paid_fen"] = json!(4883);
    app.feed_ok("bills", vec![year_before]).await;

    let (status, usage) = get(&app, &alice, "/api/v1/accounts/3100012345/usage?months=12").await;
    assert_eq!(status, 200);
    let months = usage["months"].as_array().unwrap();
    assert_eq!(months.len(), 12);
    assert_eq!((months[0]["period"].as_str(), months[11]["period"].as_str()), (Some("2025-11"), Some("2026-10")));
    assert_eq!(
        months[11],
        json!({"period": "2026-10", "kwh": 280, "amount_fen": 13923, "previous_year_kwh": 100, "previous_year_amount_fen": 4883})
    );
    assert_eq!(months[10]["previous_year_kwh"], Value::Null, "no bill for 2025-09");

    let (_, longer) = get(&app, &alice, "/api/v1/accounts/3100012345/usage?months=24").await;
    let longer = longer["months"].as_array().unwrap();
    assert_eq!(longer.len(), 24);
    assert_eq!(longer[0]["period"], "2024-11");
    assert_eq!(longer[11]["kwh"], 100, "2025-10 in its own place");
    assert_eq!(get(&app, &alice, "/api/v1/accounts/3100012345/usage?months=37").await.0, 400);
    assert_eq!(get(&app, &alice, "/api/v1/accounts/3100012345/usage?months=0").await.0, 400);
}

#[tokio::test]
async fn another_users_account_and_bills_answer_404_like_missing_ones() {
    let (app, alice) = setup().await;
    let bob = app.login_wechat("bob").await;
    assert_eq!(app.bind(&bob, "3100034567", "张三", "1234").await.status(), 201);
    let (_, bobs_bills) = get(&app, &bob, "/api/v1/accounts/3100034567/bills").await;
    let bobs_bill = bobs_bills["bills"][0]["id"].as_str().unwrap().to_string();
    let alices_bill = bill_id(&app, &alice, "3100012345", "2026-10").await;

    let mut answers = Vec::new();
    for path in [
        "/api/v1/accounts/3100034567/bills".to_string(),
        "/api/v1/accounts/3100034567/summary".to_string(),
        "/api/v1/accounts/3100034567/usage".to_string(),
        format!("/api/v1/bills/{bobs_bill}"),
        "/api/v1/accounts/3199999999/bills".to_string(),
        "/api/v1/bills/123456789".to_string(),
        "/api/v1/bills/not-an-id".to_string(),
    ] {
        answers.push(get(&app, &alice, &path).await);
    }
    assert!(answers.iter().all(|(status, _)| *status == 404), "{answers:?}");
    assert_eq!(get(&app, &bob, &format!("/api/v1/bills/{alices_bill}")).await.0, 404);
    let share = app.authed(Method::POST, &format!("/api/v1/bills/{alices_bill}/share"), &bob.access_token, None).await;
    assert_eq!(share.status(), 404);
}

#[tokio::test]
async fn an_e_bill_link_shows_the_bill_until_it_expires() {
    let (app, alice) = setup().await;
    app.clock.set(beijing_noon(2026, 11, 7));
    let id = bill_id(&app, &alice, "3100012345", "2026-10").await;
    let shared: Value = app
        .authed(Method::POST, &format!("/api/v1/bills/{id}/share"), &alice.access_token, None)
        .await
        .json()
        .await
        .unwrap();
    let url = shared["url"].as_str().unwrap();
    let path = &url[url.find("/e-bill/").unwrap()..];

    let page = app.client.get(app.url(path)).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.headers()["content-security-policy"].to_str().unwrap().contains("default-src 'none'"));
    let html = page.text().await.unwrap();
    for figure in
        ["3100012345", "2026-10", "2026-10-28", "0.4883", "0.5383", "¥139.23", "¥140.62", "¥1.39", "280", "张*"]
    {
        assert!(html.contains(figure), "the page shows {figure}");
    }
    assert!(html.contains("<svg class=\"usage-chart\""));
    assert!(!html.contains("13812341234") && !html.contains("世纪大道"), "no unmasked personal data");

    let tampered = path.replace(&id, &(id.parse::<i64>().unwrap() + 1).to_string());
    assert_eq!(app.client.get(app.url(&tampered)).send().await.unwrap().status(), 404);
    let bad_sig = format!("{}0", path);
    assert_eq!(app.client.get(app.url(&bad_sig)).send().await.unwrap().status(), 404);
    app.clock.advance_ms(7 * 86_400 * 1000 + 1000);
    let expired = app.client.get(app.url(path)).send().await.unwrap();
    assert_eq!(expired.status(), 410);
    assert!(!expired.text().await.unwrap().contains("0.4883"), "an expired link shows nothing of the bill");
}
