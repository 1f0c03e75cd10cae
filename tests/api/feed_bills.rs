use crate::helpers::{account, bill, spawn_app, TestApp};
use serde_json::{json, Value};

async fn app_with_account() -> TestApp {
    let app = spawn_app().await;
    app.feed_ok("accounts", vec![account("3100012345")]).await;
    app
}

async fn feed_bills(app: &TestApp, items: Vec<Value>) -> Value {
    let response = app.post_feed("bills", &json!({ "items": items })).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

fn outcome(report: &Value, index: usize) -> (String, String) {
    let result = &report["results"][index];
    (result["result"].as_str().unwrap().to_string(), result["code"].as_str().unwrap_or("").to_string())
}

async fn stored_revision(app: &TestApp) -> i64 {
    use sqlx::Row;
    sqlx::query("SELECT revision FROM bills WHERE account_no = '3100012345' AND period = '2026-10'")
        .fetch_one(app.state.db.pool())
        .await
        .unwrap()
        .try_get("revision")
        .unwrap()
}

#[tokio::test]
async fn a_new_bill_is_created_with_its_lines() {
    let app = app_with_account().await;
    let report = feed_bills(&app, vec![bill("3100012345", "2026-10", 1)]).await;
    assert_eq!(outcome(&report, 0), ("created".into(), "".into()));
    assert_eq!(report["results"][0]["key"], "3100012345/2026-10");
    use sqlx::Row;
    let row = sqlx::query("SELECT total_fen, status, tier_lines FROM bills WHERE account_no = '3100012345'")
        .fetch_one(app.state.db.pool())
        .await
        .unwrap();
    assert_eq!(row.try_get::<i64, _>("total_fen").unwrap(), 13923);
    assert_eq!(row.try_get::<String, _>("status").unwrap(), "unpaid");
    let lines: Value = serde_json::from_str(&row.try_get::<String, _>("tier_lines").unwrap()).unwrap();
    assert_eq!(lines[0]["unit_price"], "0.4883", "unit prices keep their precision");
}

#[tokio::test]
async fn invalid_bills_are_rejected_with_reasons_and_spare_their_neighbours() {
    let app = app_with_account().await;
    let mut mismatch = bill("3100012345", "2026-08", 1);
    mismatch["total_fen"] = json!(13924);
    let mut readings = bill("3100012345", "2026-07", 1);
    readings["meter"]["end"] = json!(4600);
    let mut negative = bill("3100012345", "2026-06", 1);
    negative["paid_fen"] = json!(-1);
    let mut period = bill("3100012345", "2026-05", 1);
    period["period"] = json!("2026-13");
    let mut wrong_type = bill("3100012345", "2026-04", 1);
    wrong_type["total_fen"] = json!("13923");
    let report = feed_bills(
        &app,
        vec![
            bill("3100099999", "2026-10", 1),
            mismatch,
            readings,
            negative,
            period,
            wrong_type,
            bill("3100012345", "2026-10", 1),
        ],
    )
    .await;
    let codes: Vec<String> = (0..7).map(|i| outcome(&report, i).1).collect();
    assert_eq!(
        codes,
        [
            "UNKNOWN_ACCOUNT",
            "LINES_MISMATCH",
            "READINGS_MISMATCH",
            "NEGATIVE_AMOUNT",
            "INVALID_PERIOD",
            "INVALID_FIELD",
            ""
        ]
    );
    assert_eq!(outcome(&report, 6).0, "created");
    assert_eq!(app.count("bills").await, 1);
}

#[tokio::test]
async fn a_higher_revision_replaces_the_bill() {
    let app = app_with_account().await;
    feed_bills(&app, vec![bill("3100012345", "2026-10", 1)]).await;
    let mut revised = bill("3100012345", "2026-10", 2);
    revised["other_charges"] = json!([{"name": "上期调整", "amount_fen": 77}]);
    revised["total_fen"] = json!(13923 + 77);
    let report = feed_bills(&app, vec![revised]).await;
    assert_eq!(outcome(&report, 0).0, "updated");
    assert_eq!(stored_revision(&app).await, 2);
    assert_eq!(app.count("bills").await, 1);
}

#[tokio::test]
async fn resending_the_same_revision_is_unchanged() {
    let app = app_with_account().await;
    feed_bills(&app, vec![bill("3100012345", "2026-10", 1)]).await;
    app.clock.advance_ms(1_000); // a new request, signed a second later
    let report = feed_bills(&app, vec![bill("3100012345", "2026-10", 1)]).await;
    assert_eq!(outcome(&report, 0).0, "unchanged");
}

#[tokio::test]
async fn the_same_revision_with_other_content_is_a_conflict() {
    let app = app_with_account().await;
    feed_bills(&app, vec![bill("3100012345", "2026-10", 2)]).await;
    let mut changed = bill("3100012345", "2026-10", 2);
    changed["due_date"] = json!("2026-10-30");
    let report = feed_bills(&app, vec![changed, bill("3100012345", "2026-10", 1)]).await;
    assert_eq!(outcome(&report, 0), ("rejected".into(), "REVISION_CONFLICT".into()));
    assert_eq!(outcome(&report, 1), ("rejected".into(), "STALE_REVISION".into()));
    assert_eq!(stored_revision(&app).await, 2);
}

#[tokio::test]
async fn a_paid_bill_cannot_be_revised() {
    let app = app_with_account().await;
    let mut paid = bill("3100012345", "2026-10", 1);
    paid["paid_fen"] = json!(13923);
    feed_bills(&app, vec![paid]).await;
    let report = feed_bills(&app, vec![bill("3100012345", "2026-10", 2)]).await;
    assert_eq!(outcome(&report, 0), ("rejected".into(), "BILL_ALREADY_PAID".into()));
    assert_eq!(stored_revision(&app).await, 1);
}

#[tokio::test]
async fn concurrent_batches_of_the_same_bills_create_each_once() {
    let app = app_with_account().await;
    let items: Vec<Value> = (1..=9).map(|m| bill("3100012345", &format!("2026-0{m}"), 1)).collect();
    // Distinct bodies (an ignored field differs), so that each request carries a signature of its own.
    let bodies: Vec<Value> = (0..6).map(|n| json!({ "items": items, "sequence": n })).collect();
    let requests = bodies.iter().map(|body| app.post_feed("bills", body));
    let mut tally: std::collections::HashMap<String, usize> = Default::default();
    for response in futures_util::future::join_all(requests).await {
        assert_eq!(response.status(), 200);
        let report: Value = response.json().await.unwrap();
        for result in report["results"].as_array().unwrap() {
            *tally.entry(result["result"].as_str().unwrap().to_string()).or_default() += 1;
        }
    }
    assert_eq!(tally.get("created"), Some(&9), "{tally:?}");
    assert_eq!(tally.get("unchanged"), Some(&45), "{tally:?}");
    assert_eq!(app.count("bills").await, 9);
}
