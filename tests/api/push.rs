//! Pushed messages through the real server and the simulated platforms: new bills to every bound user on both
//! platforms, credits, preferences, reminders on a controlled clock with quiet hours, retries, token refreshes,
//! concurrent workers and lease expiry, and the SMS fallback.

use crate::helpers::bill;
use crate::payment_support::{beijing_noon, count_where, household, Household, ACCOUNT};
use ebill::domain::message::MessageKind;
use ebill::push::delivery::{deliver_batch, DeliveryReport, Senders};
use ebill::push::{announce, reminders};
use reqwest::Method;
use serde_json::{json, Value};

fn template(app: &crate::helpers::TestApp, kind: MessageKind, platform: &str) -> String {
    app.state.settings.messages.template_for(kind, platform, true).expect("a sandbox template").template_id
}

/// alice (WeChat) and bob (Alipay) accept one message of `kind`: in the mini-program (our record) and on the phone
/// (the simulated platform's).
async fn accept(household: &Household, kind: MessageKind) {
    let app = &household.app;
    for (session, platform, user) in [(&household.wechat, "wechat", "alice"), (&household.alipay, "alipay", "bob")] {
        let id = template(app, kind, platform);
        let body = json!({ "templates": [{ "template_id": id, "status": "accept" }] });
        let response = app.authed(Method::POST, "/api/v1/subscriptions", &session.access_token, Some(&body)).await;
        assert_eq!(response.status(), 200);
        let granted = app
            .post_json(&format!("/sandbox/{platform}/subscriptions"), &json!({ "user": user, "template_ids": [id] }))
            .await;
        assert_eq!(granted.status(), 200, "the sandbox records the acceptance");
    }
}

async fn inbox(app: &crate::helpers::TestApp, channel: &str) -> Vec<Value> {
    let answer: Value = app.get(&format!("/sandbox/inbox?channel={channel}&limit=500")).await.json().await.unwrap();
    answer["messages"].as_array().cloned().unwrap_or_default()
}

async fn deliver(app: &crate::helpers::TestApp) -> DeliveryReport {
    deliver_batch(&app.state, &Senders::new(&app.state), "test").await.unwrap()
}

async fn message_states(app: &crate::helpers::TestApp) -> Vec<(String, String, String)> {
    use sqlx::Row;
    sqlx::query("SELECT kind, channel, state FROM messages ORDER BY id")
        .fetch_all(app.state.db.pool())
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get("kind"), row.get("channel"), row.get("state")))
        .collect()
}

#[tokio::test]
async fn a_new_bill_reaches_every_bound_user_who_accepted_on_both_platforms() {
    let household = household().await;
    let app = &household.app;
    // The household's first bills arrived before anyone accepted: nothing could be sent.
    announce::announce_all(&app.state).await.unwrap();
    assert_eq!(count_where(app, "messages", "1 = 1").await, 0);

    accept(&household, MessageKind::NewBill).await;
    let mut november = bill(ACCOUNT, "2026-11", 1);
    november["due_date"] = json!("2026-12-10");
    app.feed_ok("bills", vec![november.clone()]).await;
    assert_eq!(announce::announce_all(&app.state).await.unwrap(), 1);
    let report = deliver(app).await;
    assert_eq!(report.sent, 2, "{report:?}");
    let wechat = inbox(app, "wechat").await;
    let alipay = inbox(app, "alipay").await;
    assert_eq!((wechat.len(), alipay.len()), (1, 1));
    assert_eq!(wechat[0]["template_id"], json!(template(app, MessageKind::NewBill, "wechat")));
    assert!(wechat[0]["page"].as_str().unwrap().starts_with("pages/bill/detail?id="));
    let values: Vec<String> =
        wechat[0]["data"].as_object().unwrap().values().map(|v| v["value"].as_str().unwrap().to_owned()).collect();
    assert!(values.iter().any(|v| v == "139.23元"), "{values:?}");
    assert!(values.iter().all(|v| v.chars().count() <= 32), "{values:?}");

    // A revision with the same amount is not announced again; one with another amount is (to whoever has a credit).
    november["revision"] = json!(2);
    november["issue_date"] = json!("2026-11-29");
    app.feed_ok("bills", vec![november.clone()]).await;
    assert_eq!(announce::announce_all(&app.state).await.unwrap(), 0);
    accept(&household, MessageKind::NewBill).await;
    november["revision"] = json!(3);
    november["total_fen"] = json!(14000);
    november["other_charges"] = json!([{ "name": "代征电费附加", "amount_fen": 77 }]);
    app.feed_ok("bills", vec![november]).await;
    assert_eq!(announce::announce_all(&app.state).await.unwrap(), 1);
    assert_eq!(deliver(app).await.sent, 2);
    assert_eq!(inbox(app, "wechat").await.len(), 2);
}

#[tokio::test]
async fn a_credit_is_used_once_and_43101_clears_them() {
    let household = household().await;
    let app = &household.app;
    accept(&household, MessageKind::NewBill).await;
    let wechat_template = template(app, MessageKind::NewBill, "wechat");
    // Two new bills, one credit each: one message each.
    app.feed_ok("bills", vec![bill(ACCOUNT, "2026-11", 1), bill(ACCOUNT, "2026-12", 1)]).await;
    announce::announce_all(&app.state).await.unwrap();
    assert_eq!(count_where(app, "messages", "channel = 'wechat'").await, 1);
    assert_eq!(count_where(app, "subscriptions", "credits = 0").await, 2);
    assert_eq!(deliver(app).await.sent, 2);

    // We believe alice has a credit, but the platform has none (she accepted on another phone, say): 43101.
    let body = json!({ "templates": [{ "template_id": wechat_template, "status": "accept" }] });
    app.authed(Method::POST, "/api/v1/subscriptions", &household.wechat.access_token, Some(&body)).await;
    app.feed_ok("bills", vec![bill(ACCOUNT, "2027-01", 1)]).await;
    announce::announce_all(&app.state).await.unwrap();
    let report = deliver(app).await;
    assert_eq!(report.failed, 1, "{report:?}");
    assert_eq!(count_where(app, "messages", "state = 'failed' AND last_error LIKE '%43101%'").await, 1);
    assert_eq!(count_where(app, "subscriptions", "credits > 0").await, 0, "43101 cleared the credits");
}

#[tokio::test]
async fn a_kind_turned_off_is_not_sent() {
    let household = household().await;
    let app = &household.app;
    accept(&household, MessageKind::NewBill).await;
    let body = json!({ "kinds": { "new_bill": false } });
    let response = app.authed(Method::PUT, "/api/v1/preferences", &household.wechat.access_token, Some(&body)).await;
    assert_eq!(response.status(), 200);
    let preferences: Value = response.json().await.unwrap();
    assert_eq!(preferences["kinds"]["new_bill"], false);
    assert_eq!(preferences["kinds"]["overdue"], true);
    let bad = json!({ "kinds": { "spam": false } });
    let response = app.authed(Method::PUT, "/api/v1/preferences", &household.wechat.access_token, Some(&bad)).await;
    assert_eq!(response.status(), 400);
    let unknown = json!({ "templates": [{ "template_id": "nope", "status": "accept" }] });
    let response =
        app.authed(Method::POST, "/api/v1/subscriptions", &household.wechat.access_token, Some(&unknown)).await;
    assert_eq!(response.status(), 400);

    app.feed_ok("bills", vec![bill(ACCOUNT, "2026-11", 1)]).await;
    announce::announce_all(&app.state).await.unwrap();
    assert_eq!(message_states(app).await, vec![("new_bill".into(), "alipay".into(), "pending".into())]);
}

#[tokio::test]
async fn reminders_follow_the_schedule_wait_out_quiet_hours_and_stop_when_paid() {
    let household = household().await;
    let app = &household.app;
    accept(&household, MessageKind::DueSoon).await;
    // The October bill is due 2026-11-10: three days before, at 22:00 Beijing time (quiet hours).
    app.clock.set(beijing_noon(2026, 11, 7) + 10 * 3600 * 1000);
    let report = reminders::run_due_steps(&app.state).await.unwrap();
    assert_eq!(report.messages, 2, "{report:?}");
    // Held until 08:00 the next morning.
    let next_morning = beijing_noon(2026, 11, 8) - 4 * 3600 * 1000;
    assert_eq!(count_where(app, "messages", &format!("run_at = {next_morning}")).await, 2);
    assert_eq!(deliver(app).await.claimed, 0);
    // The same step does not run twice.
    assert_eq!(reminders::run_due_steps(&app.state).await.unwrap().messages, 0);

    // Bob pays the October bill overnight; at 08:00 alice's reminder is dropped, not sent.
    sqlx::query("UPDATE bills SET status = 'paid', paid_fen = total_fen WHERE account_no = $1 AND period = '2026-10'")
        .bind(ACCOUNT)
        .execute(app.state.db.pool())
        .await
        .unwrap();
    app.clock.set(next_morning);
    let report = deliver(app).await;
    assert_eq!(report.skipped, 2, "{report:?}");
    assert!(inbox(app, "wechat").await.is_empty());
}

#[tokio::test]
async fn an_unreachable_account_gets_an_sms_with_its_e_bill_link() {
    let household = household().await;
    let app = &household.app;
    // Nobody accepted reminders: the overdue September bill (due 2026-09-28) is 15 days late on 2026-10-13.
    app.clock.set(beijing_noon(2026, 10, 13));
    let report = reminders::run_due_steps(&app.state).await.unwrap();
    assert_eq!((report.messages, report.sms), (0, 1), "{report:?}");
    assert_eq!(deliver(app).await.sent, 1);
    let sms = inbox(app, "sms").await;
    assert_eq!(sms.len(), 1);
    assert_eq!(sms[0]["recipient"], "13812341234");
    let text = sms[0]["text"].as_str().unwrap();
    assert!(text.contains(ACCOUNT) && text.contains("/e-bill/"), "{text}");
}

#[tokio::test]
async fn transient_failures_retry_with_backoff_and_a_refused_token_is_refreshed() {
    let household = household().await;
    let app = &household.app;
    accept(&household, MessageKind::NewBill).await;
    app.feed_ok("bills", vec![bill(ACCOUNT, "2026-11", 1)]).await;
    announce::announce_all(&app.state).await.unwrap();
    // WeChat is busy once (-1), and then refuses the access token once (40001).
    let failures = app.post_json("/sandbox/wechat/message-failures", &json!({ "count": 1, "errcode": -1 })).await;
    assert_eq!(failures.status(), 200);
    let report = deliver(app).await;
    assert_eq!((report.sent, report.retried), (1, 1), "{report:?}");
    assert_eq!(count_where(app, "messages", "state = 'pending' AND attempts = 1 AND last_error IS NOT NULL").await, 1);
    assert_eq!(deliver(app).await.claimed, 0, "not before its backoff");
    app.post_json("/sandbox/wechat/message-failures", &json!({ "count": 1, "errcode": 40001 })).await;
    app.clock.advance_ms(60 * 1000);
    let report = deliver(app).await;
    assert_eq!(report.sent, 1, "the token was refreshed and the send retried: {report:?}");
    assert_eq!(inbox(app, "wechat").await.len(), 1);
}

#[tokio::test]
async fn two_workers_drain_one_queue_without_a_duplicate_and_an_expired_lease_is_taken_over() {
    let household = household().await;
    let app = &household.app;
    announce::announce_all(&app.state).await.unwrap();
    let long_term = template(app, MessageKind::NewBill, "wechat");
    app.post_json("/sandbox/wechat/long-term-templates", &json!({ "template_ids": [long_term] })).await;
    app.post_json(
        "/sandbox/alipay/long-term-templates",
        &json!({ "template_ids": [template(app, MessageKind::NewBill, "alipay")] }),
    )
    .await;
    // Sixty bills for the account: 120 messages, every user holding a standing permission.
    for (platform, session) in [("wechat", &household.wechat), ("alipay", &household.alipay)] {
        let id = template(app, MessageKind::NewBill, platform);
        sqlx::query("INSERT INTO subscriptions (user_id, template_id, credits, long_term, status, updated_at) VALUES ($1, $2, 0, 1, 'accept', 0)")
            .bind(session.user_id.parse::<i64>().unwrap())
            .bind(id)
            .execute(app.state.db.pool())
            .await
            .unwrap();
    }
    let bills: Vec<Value> =
        (0..60).map(|i| bill(ACCOUNT, &format!("{:04}-{:02}", 2030 + i / 12, i % 12 + 1), 1)).collect();
    app.feed_ok("bills", bills).await;
    announce::announce_all(&app.state).await.unwrap();
    assert_eq!(count_where(app, "messages", "1 = 1").await, 120);

    // A worker claims a batch and dies without sending.
    let lost =
        ebill::db::messages::claim(&app.state.db, "dead-worker", 10, app.clock_now_ms() + 60_000, app.clock_now_ms())
            .await
            .unwrap();
    assert_eq!(lost.len(), 10);
    // Two workers drain the rest at once.
    let senders = Senders::new(&app.state);
    let drain = |name: &'static str| {
        let (state, senders) = (&app.state, &senders);
        async move {
            let mut sent = 0;
            loop {
                let report = deliver_batch(state, senders, name).await.unwrap();
                sent += report.sent;
                if report.claimed == 0 {
                    return sent;
                }
            }
        }
    };
    let (a, b) = tokio::join!(drain("worker-a"), drain("worker-b"));
    assert_eq!(a + b, 110);
    // The dead worker's lease runs out; its messages are taken over.
    app.clock.advance_ms(61_000);
    assert_eq!(drain("worker-c").await, 10);
    let answer: Value = app.get("/sandbox/inbox?limit=1").await.json().await.unwrap();
    assert_eq!(answer["total"]["wechat"].as_u64().unwrap() + answer["total"]["alipay"].as_u64().unwrap(), 120);
    assert_eq!(count_where(app, "messages", "state = 'sent'").await, 120);

    let mut printed = Vec::new();
    ebill::push::report::write_status(&app.state.db, &mut printed).await.unwrap();
    let printed = String::from_utf8(printed).unwrap();
    assert!(printed.contains("sent") && printed.contains("new_bill"), "{printed}");
}

#[tokio::test]
async fn no_sms_goes_to_a_landline_or_to_a_household_that_turned_reminders_off() {
    let household = household().await;
    let app = &household.app;
    for session in [&household.wechat, &household.alipay] {
        let body = json!({ "kinds": { "overdue": false } });
        let response = app.authed(Method::PUT, "/api/v1/preferences", &session.access_token, Some(&body)).await;
        assert_eq!(response.status(), 200);
    }
    let mut shop = crate::helpers::account("3100077777");
    shop["phone"] = json!("021-62881234");
    app.feed_ok("accounts", vec![shop]).await;
    app.feed_ok("bills", vec![bill("3100077777", "2026-09", 1)]).await;
    // Both September bills are 15 days late: one household opted out, the shop has a landline.
    app.clock.set(beijing_noon(2026, 10, 13));
    let report = reminders::run_due_steps(&app.state).await.unwrap();
    assert_eq!((report.bills, report.messages, report.sms), (2, 0, 0), "{report:?}");
}
