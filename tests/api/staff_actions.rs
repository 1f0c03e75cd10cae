//! Customer service's actions: force-unbind, resend a failed message, ask a platform about an order. Viewers may not;
//! operators may, with a reason; each change and its audit entry are written together.

use crate::helpers::{bill, test_settings, TestApp};
use crate::payment_support::{count_where, household, open_all, order_state, sandbox_pay, Household, ACCOUNT};
use ebill::domain::message::MessageKind;
use ebill::domain::staff::Role;
use ebill::push::announce;
use ebill::push::delivery::{deliver_batch, Senders};
use reqwest::Method;
use serde_json::{json, Value};

const REASON: &str = "用户来电要求处理";

/// The customer's own list of bindings.
async fn customer_bindings(app: &TestApp, token: &str) -> Vec<Value> {
    let response = app.authed(Method::GET, "/api/v1/bindings", token, None).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    body["bindings"].as_array().unwrap().clone()
}

#[tokio::test]
async fn a_viewer_may_not_act_and_each_attempt_is_audited_as_denied() {
    let Household { app, wechat, .. } = household().await;
    let order = open_all(&app, &wechat).await;
    let order_no = order["order_no"].as_str().unwrap().to_owned();
    let binding_id = customer_bindings(&app, &wechat.access_token).await[0]["id"].as_str().unwrap().to_owned();
    let viewer = app.staff(Role::Viewer).await;
    let reason = json!({ "reason": REASON });
    for (path, action, record_id) in [
        (format!("/staff/v1/bindings/{binding_id}/unbind"), "unbind", binding_id.clone()),
        ("/staff/v1/messages/42/resend".to_owned(), "resend_message", "42".to_owned()),
        (format!("/staff/v1/orders/{order_no}/query"), "query_order", order_no.clone()),
    ] {
        let (status, body) = app.staff_post(&viewer, &path, &reason).await;
        assert_eq!((status, body["code"].as_str()), (403, Some("FORBIDDEN")), "{path}");
        let entries = app.audit_entries(action).await;
        assert_eq!(entries.len(), 1, "{action}");
        assert_eq!((entries[0].outcome.as_str(), entries[0].record_id.as_str()), ("denied", record_id.as_str()));
    }
    assert_eq!(customer_bindings(&app, &wechat.access_token).await.len(), 1, "nothing was unbound");
    assert_eq!(order_state(&app, &order_no).await, "pending");
}

#[tokio::test]
async fn an_operator_force_unbinds_with_a_reason_leaving_the_customer_trail_and_the_audit_entry() {
    let Household { app, wechat, alipay, .. } = household().await;
    let binding_id = customer_bindings(&app, &wechat.access_token).await[0]["id"].as_str().unwrap().to_owned();
    let operator = app.staff(Role::Operator).await;
    let path = format!("/staff/v1/bindings/{binding_id}/unbind");

    for body in [json!({}), json!({ "reason": "no" })] {
        let (status, answer) = app.staff_post(&operator, &path, &body).await;
        assert_eq!((status, answer["code"].as_str()), (400, Some("INVALID_REASON")));
    }
    let (status, answer) = app.staff_post(&operator, &path, &json!({ "reason": REASON })).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["unbound"], json!({ "id": binding_id, "account_no": ACCOUNT, "user_id": wechat.user_id }));

    assert_eq!(customer_bindings(&app, &wechat.access_token).await, Vec::<Value>::new());
    assert_eq!(customer_bindings(&app, &alipay.access_token).await.len(), 1, "bob keeps his");
    let condition = format!("user_id = {} AND account_no = '{ACCOUNT}' AND event = 'unbound'", wechat.user_id);
    assert_eq!(count_where(&app, "binding_events", &condition).await, 1);

    let entries = app.audit_entries("unbind").await;
    assert_eq!(entries.len(), 1);
    let entry = &entries[0];
    assert_eq!((entry.record_kind.as_str(), entry.record_id.as_str()), ("binding", binding_id.as_str()));
    assert_eq!((entry.staff_name.as_str(), entry.outcome.as_str()), (operator.name.as_str(), "ok"));
    assert_eq!(entry.reason.as_deref(), Some(REASON));
    let detail: Value = serde_json::from_str(entry.detail.as_deref().unwrap()).unwrap();
    assert_eq!(detail, json!({ "account_no": ACCOUNT, "user_id": wechat.user_id }));

    // Gone now: 404, audited as failed; so is an id that is not a number.
    for missing in [binding_id.as_str(), "abc"] {
        let path = format!("/staff/v1/bindings/{missing}/unbind");
        let (status, answer) = app.staff_post(&operator, &path, &json!({ "reason": REASON })).await;
        assert_eq!((status, answer["code"].as_str()), (404, Some("NOT_FOUND")), "{missing}");
    }
    let failed = app.audit_entries("unbind").await.into_iter().filter(|e| e.outcome == "failed").count();
    assert_eq!(failed, 2);
}

/// alice (WeChat) accepted the new-bill message in the mini-program but not on the platform, which refuses it
/// (43101: failed); bob (Alipay) accepted on both and gets his. Answers the account page's messages.
async fn a_failed_and_a_sent_message(household: &Household) -> Vec<Value> {
    let app = &household.app;
    // The household's first bills came before anyone accepted anything: announced to nobody.
    announce::announce_all(&app.state).await.unwrap();
    for (session, platform, user, granted) in
        [(&household.wechat, "wechat", "alice", false), (&household.alipay, "alipay", "bob", true)]
    {
        let template = app.state.settings.messages.template_for(MessageKind::NewBill, platform, true).unwrap();
        let body = json!({ "templates": [{ "template_id": template.template_id, "status": "accept" }] });
        let response = app.authed(Method::POST, "/api/v1/subscriptions", &session.access_token, Some(&body)).await;
        assert_eq!(response.status(), 200);
        if granted {
            let grant = json!({ "user": user, "template_ids": [template.template_id] });
            assert_eq!(app.post_json(&format!("/sandbox/{platform}/subscriptions"), &grant).await.status(), 200);
        }
    }
    let mut november = bill(ACCOUNT, "2026-11", 1);
    november["due_date"] = json!("2026-12-10");
    app.feed_ok("bills", vec![november]).await;
    assert_eq!(announce::announce_all(&app.state).await.unwrap(), 1);
    let report = deliver_batch(&app.state, &Senders::new(&app.state), "test").await.unwrap();
    assert_eq!((report.sent, report.failed), (1, 1), "{report:?}");
    let viewer = app.staff_named("looker", Role::Viewer).await;
    let (_, page) = app.staff_get(&viewer, &format!("/staff/v1/accounts/{ACCOUNT}")).await;
    page["messages"].as_array().unwrap().clone()
}

#[tokio::test]
async fn an_operator_resends_a_failed_message_once_and_never_a_sent_one() {
    let household = household().await;
    let messages = a_failed_and_a_sent_message(&household).await;
    let app = &household.app;
    let failed = messages.iter().find(|m| m["state"] == "failed").expect("alice's failed message");
    let sent = messages.iter().find(|m| m["state"] == "sent").expect("bob's message");
    assert_eq!(failed["channel"], "wechat");
    assert!(failed["last_error"].as_str().unwrap().contains("43101"), "{failed}");
    assert_eq!(failed["attempts"], 1);
    assert!(failed["recipient"].as_str().unwrap().contains("****"), "masked: {failed}");
    assert!(sent["sent_at"].is_i64() && sent["platform_reply"].is_string(), "{sent}");
    let failed_id = failed["id"].as_str().unwrap();

    let operator = app.staff(Role::Operator).await;
    let path = format!("/staff/v1/messages/{failed_id}/resend");
    let (status, answer) = app.staff_post(&operator, &path, &json!({ "reason": REASON })).await;
    assert_eq!(status, 200, "{answer}");
    let message = &answer["message"];
    assert_eq!((message["id"].as_str(), message["state"].as_str()), (Some(failed_id), Some("pending")));
    assert_eq!(message["attempts"], 0);
    let due = format!("id = {failed_id} AND state = 'pending' AND run_at <= {}", app.clock_now_ms());
    assert_eq!(count_where(app, "messages", &due).await, 1, "due for delivery now");

    // Pending now, so a second resend is refused; so is a sent message; an unknown one is 404.
    let (status, answer) = app.staff_post(&operator, &path, &json!({ "reason": REASON })).await;
    assert_eq!((status, answer["code"].as_str()), (409, Some("NOT_FAILED")));
    let sent_path = format!("/staff/v1/messages/{}/resend", sent["id"].as_str().unwrap());
    let (status, answer) = app.staff_post(&operator, &sent_path, &json!({ "reason": REASON })).await;
    assert_eq!((status, answer["code"].as_str()), (409, Some("NOT_FAILED")));
    let (status, _) = app.staff_post(&operator, "/staff/v1/messages/1/resend", &json!({ "reason": REASON })).await;
    assert_eq!(status, 404);

    let entries = app.audit_entries("resend_message").await;
    let ok: Vec<_> = entries.iter().filter(|e| e.outcome == "ok").collect();
    assert_eq!(ok.len(), 1);
    assert_eq!((ok[0].record_id.as_str(), ok[0].reason.as_deref()), (failed_id, Some(REASON)));
    assert!(ok[0].detail.as_deref().unwrap().contains(ACCOUNT));
    assert_eq!(entries.iter().filter(|e| e.outcome == "failed").count(), 3);
}

#[tokio::test]
async fn querying_an_order_paid_without_a_notify_settles_it_once() {
    let Household { app, wechat, .. } = household().await;
    let order = open_all(&app, &wechat).await;
    let order_no = order["order_no"].as_str().unwrap().to_owned();
    sandbox_pay(&app, "wechatpay", &order_no, false, None).await;
    assert_eq!(order_state(&app, &order_no).await, "pending");
    let operator = app.staff(Role::Operator).await;
    let path = format!("/staff/v1/orders/{order_no}/query");

    let (status, answer) = app.staff_post(&operator, &path, &json!({ "reason": REASON })).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["platform_state"], "paid");
    assert_eq!((answer["settled"].as_bool(), answer["settlement"].as_str()), (Some(true), Some("settled")));
    assert_eq!(
        (answer["order"]["order_no"].as_str(), answer["order"]["state"].as_str()),
        (Some(&*order_no), Some("paid"))
    );
    assert!(answer["order"]["payer"].as_str().unwrap().contains("****"));
    assert_eq!(count_where(&app, "bills", &format!("account_no = '{ACCOUNT}' AND status = 'paid'")).await, 2);

    let (status, again) = app.staff_post(&operator, &path, &json!({ "reason": REASON })).await;
    assert_eq!(status, 200);
    assert_eq!((again["settled"].as_bool(), again["settlement"].as_str()), (Some(false), Some("already_recorded")));
    assert_eq!(count_where(&app, "payments", "source = 'query'").await, 1, "settled once");
    assert_eq!(count_where(&app, "jobs", "queue = 'writeback'").await, 1, "one write-back");

    let entries = app.audit_entries("query_order").await;
    assert_eq!(entries.len(), 2);
    assert!(entries.iter().all(|e| e.reason.as_deref() == Some(REASON) && e.record_id == order_no));
    assert!(entries[1].detail.as_deref().unwrap().contains(r#""settlement":"settled""#), "{:?}", entries[1]);

    let (status, answer) = app.staff_post(&operator, "/staff/v1/orders/EB1/query", &json!({ "reason": REASON })).await;
    assert_eq!((status, answer["code"].as_str()), (404, Some("NOT_FOUND")));
}

#[tokio::test]
async fn an_unreachable_platform_answers_503_and_changes_nothing() {
    let Household { app, wechat, .. } = household().await;
    let order = open_all(&app, &wechat).await;
    let order_no = order["order_no"].as_str().unwrap().to_owned();
    sandbox_pay(&app, "wechatpay", &order_no, false, None).await;
    // A second instance on the same database whose WeChat Pay cannot be reached.
    let mut settings = test_settings(app.data_dir.path()).await;
    settings.database_url = app.state.settings.database_url.clone();
    settings.wechat_pay.api_base_url = Some("http://127.0.0.1:9".into());
    settings.wechat_pay.timeout_secs = 1;
    let second = ebill::Application::build_with_clock(settings, app.clock.clone()).await.unwrap();
    let cut_off = TestApp {
        address: format!("http://127.0.0.1:{}", second.port()),
        client: reqwest::Client::new(),
        state: second.state().clone(),
        clock: app.clock.clone(),
        data_dir: tempfile::tempdir().unwrap(),
    };
    tokio::spawn(second.run_until_stopped());
    let operator = cut_off.staff(Role::Operator).await;
    let path = format!("/staff/v1/orders/{order_no}/query");
    let (status, answer) = cut_off.staff_post(&operator, &path, &json!({ "reason": REASON })).await;
    assert_eq!((status, answer["code"].as_str()), (503, Some("PLATFORM_UNAVAILABLE")), "{answer}");
    assert_eq!(order_state(&app, &order_no).await, "pending");
    let entries = app.audit_entries("query_order").await;
    assert_eq!((entries.len(), entries[0].outcome.as_str()), (1, "failed"));
}
