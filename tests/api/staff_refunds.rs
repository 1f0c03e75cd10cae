//! Refunds asked by staff (`POST /staff/v1/orders/{order_no}/refunds`) through the real server, the refund job, the
//! simulated WeChat Pay and Alipay, and WeChat Pay's refund notify: the bills owe again what was given back, the
//! marketing system learns it, a refund never exceeds what was paid (even under concurrent requests), notifies are
//! verified and applied once, and only admins refund — every attempt in the audit log.

use crate::helpers::TestApp;
use crate::payment_support::*;
use crate::staff_support::StaffSession;
use ebill::domain::staff::Role;
use ebill::jobs::queue;
use ebill::jobs::JobError;
use ebill::payments::refunds::{self, REFUND_QUEUE};
use ebill::platform::alipay::{AlipayClient, TradeRefund};
use ebill::platform::crypto::rsa_keys::RsaVerifyingKey;
use ebill::platform::wechatpay::{
    resource_nonce, sign_notification, signature_nonce, NotificationToSend, PlatformKeys, PlatformSigner,
    RefundRequest, SignedNotification, WechatPayClient,
};
use ebill::sandbox::keys::{SANDBOX_WECHATPAY_MCHID, SANDBOX_WECHATPAY_PUBLIC_KEY_ID};
use serde_json::{json, Value};
use sqlx::Row;
use std::time::Duration;

const BILL_TOTAL: i64 = 13923;
/// September's late fee on 2026-10-20 (22 days at 1‰ a day).
const LATE_FEE: i64 = 306;
/// Both bills with September's late fee.
const BOTH_BILLS: i64 = 2 * BILL_TOTAL + LATE_FEE;

fn order_number(order: &Value) -> String {
    order["order_no"].as_str().expect("an order number").to_owned()
}

fn refunds_path(order_no: &str) -> String {
    format!("/staff/v1/orders/{order_no}/refunds")
}

/// Opens an order for the account's unpaid bills and pays it on the platform's sandbox, notify included.
async fn paid_order(app: &TestApp, session: &crate::helpers::Session, platform: &str) -> String {
    let order = open_all(app, session).await;
    let paid = sandbox_pay(app, platform, &order_number(&order), true, None).await;
    assert!(paid["notify_status"] == 204 || paid["notify_body"] == "success", "{paid}");
    assert_eq!(order_state(app, &order_number(&order)).await, "paid");
    order_number(&order)
}

async fn ask_refund(
    app: &TestApp,
    staff: &StaffSession,
    order_no: &str,
    amount_fen: i64,
    reason: &str,
) -> (u16, Value) {
    app.staff_post(staff, &refunds_path(order_no), &json!({ "amount_fen": amount_fen, "reason": reason })).await
}

/// Runs every due refund job once, as the refund worker would.
async fn run_refund_jobs(app: &TestApp) -> Vec<Result<(), JobError>> {
    let now = app.clock_now_ms();
    let jobs =
        queue::claim(&app.state.db, REFUND_QUEUE, "test-refunds", 100, Duration::from_secs(60), now).await.unwrap();
    let mut outcomes = Vec::new();
    for job in jobs {
        let outcome = refunds::process(&app.state, job.clone()).await;
        if outcome.is_ok() {
            queue::complete(&app.state.db, &job.lease, now).await.unwrap();
        }
        outcomes.push(outcome);
    }
    outcomes
}

async fn refund_state(app: &TestApp, out_refund_no: &str) -> String {
    sqlx::query("SELECT state FROM refunds WHERE out_refund_no = $1")
        .bind(out_refund_no)
        .fetch_one(app.state.db.pool())
        .await
        .unwrap()
        .get("state")
}

/// Waits (up to 10 s) for the refund to reach `state`, as WeChat Pay's notify makes it.
async fn wait_for_refund(app: &TestApp, out_refund_no: &str, state: &str) {
    for _ in 0..100 {
        if refund_state(app, out_refund_no).await == state {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the refund {out_refund_no} never became {state}: {}", refund_state(app, out_refund_no).await);
}

/// The `payment.refunded` events the simulated marketing system booked.
async fn booked_refunds(app: &TestApp) -> Vec<Value> {
    booked_events(app).await.into_iter().filter(|event| event["event_type"] == "payment.refunded").collect()
}

fn out_refund_no_of(answer: &Value) -> String {
    answer["refund"]["out_refund_no"].as_str().expect("an out_refund_no").to_owned()
}

/// A refund notification as WeChat Pay would send it for our refund, signed with the simulated platform's key.
fn refund_notification(app: &TestApp, refund: &Value, status: &str, transaction_id: &str) -> SignedNotification {
    let keys = &app.state.sandbox.as_ref().unwrap().keys;
    let apiv3 = &app.state.credentials.wechat_pay.as_ref().unwrap().apiv3_key;
    let amount = refund["amount_fen"].as_i64().unwrap();
    let resource = json!({
        "mchid": SANDBOX_WECHATPAY_MCHID,
        "out_trade_no": refund["order_no"],
        "transaction_id": transaction_id,
        "out_refund_no": refund["out_refund_no"],
        "refund_id": "50300002026102012345678901234",
        "refund_status": status,
        "success_time": "2026-10-20T12:05:00+08:00",
        "user_received_account": "支付用户零钱",
        "amount": { "total": BOTH_BILLS, "refund": amount, "payer_total": BOTH_BILLS, "payer_refund": amount },
    });
    let plaintext = resource.to_string();
    let notification = NotificationToSend {
        id: "EV-2026-refund-test",
        create_time: "2026-10-20T12:05:01+08:00",
        event_type: if status == "SUCCESS" { "REFUND.SUCCESS" } else { "REFUND.CLOSED" },
        summary: "退款成功",
        original_type: "refund",
        plaintext: plaintext.as_bytes(),
    };
    let signer = PlatformSigner { key: &keys.wechatpay_platform_key, serial: SANDBOX_WECHATPAY_PUBLIC_KEY_ID };
    sign_notification(signer, apiv3, &notification, now_secs(app), &signature_nonce(), &resource_nonce()).unwrap()
}

async fn post_refund_notify(app: &TestApp, body: &str, headers: &[(&str, String)]) -> u16 {
    let mut request = app.client.post(app.url("/notify/wechat/refund")).header("content-type", "application/json");
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    request.body(body.to_owned()).send().await.unwrap().status().as_u16()
}

async fn transaction_id_of(app: &TestApp, order_no: &str) -> String {
    sqlx::query("SELECT p.transaction_id FROM payments p JOIN orders o ON o.id = p.order_id WHERE o.order_no = $1")
        .bind(order_no)
        .fetch_one(app.state.db.pool())
        .await
        .unwrap()
        .get("transaction_id")
}

async fn writeback_jobs(app: &TestApp, event_prefix: &str) -> i64 {
    count_where(app, "jobs", &format!("queue = 'writeback' AND dedupe_key LIKE '{event_prefix}%'")).await
}

#[tokio::test]
async fn a_full_refund_on_wechat_pay_reopens_the_bills_and_is_written_back() {
    let Household { app, wechat, bill_ids, .. } = household().await;
    let order_no = paid_order(&app, &wechat, "wechatpay").await;
    // The payment's notice is read now, so that the refund's is the only one left.
    ebill::push::notices::queue_notices(&app.state).await.unwrap();
    let admin = app.staff(Role::Admin).await;

    let (status, answer) = ask_refund(&app, &admin, &order_no, BOTH_BILLS, "客户销户，全额退款").await;
    assert_eq!(status, 202, "{answer}");
    let refund = &answer["refund"];
    assert_eq!(refund["amount_fen"], BOTH_BILLS);
    assert_eq!((refund["state"].as_str(), refund["kind"].as_str()), (Some("pending"), Some("staff")));
    assert_eq!(refund["requested_by"], "admin");
    assert_eq!(refund["reason"], "客户销户，全额退款");
    assert!(refund["id"].is_string() && refund["payment_id"].is_string(), "{refund}");
    let out_refund_no = out_refund_no_of(&answer);
    assert_eq!(out_refund_no, format!("RF{}", refund["id"].as_str().unwrap()));
    // Nothing changes on the bills until the platform says the money went back.
    assert_eq!(bill_states(&app).await, vec![("paid".into(), BILL_TOTAL), ("paid".into(), BILL_TOTAL)]);

    // WeChat Pay answers "processing", then notifies the refund's success.
    let outcomes = run_refund_jobs(&app).await;
    assert!(matches!(outcomes.as_slice(), [Err(JobError::Retry(_))]), "{outcomes:?}");
    wait_for_refund(&app, &out_refund_no, "succeeded").await;
    assert_eq!(bill_states(&app).await, vec![("unpaid".into(), 0), ("unpaid".into(), 0)]);

    assert_eq!(deliver_writebacks(&app).await, 2, "the settlement and the refund");
    let events = booked_refunds(&app).await;
    assert_eq!(events.len(), 1);
    let event = &events[0];
    assert_eq!(event["event_id"], format!("refund-{}", refund["id"].as_str().unwrap()));
    assert_eq!((event["order_no"].as_str(), event["account_no"].as_str()), (Some(order_no.as_str()), Some(ACCOUNT)));
    assert_eq!((event["platform"].as_str(), event["amount_fen"].as_i64()), (Some("wechat"), Some(BOTH_BILLS)));
    assert_eq!(event["transaction_id"], json!(transaction_id_of(&app, &order_no).await));
    assert_eq!(event["out_refund_no"], json!(out_refund_no));
    assert!(event["platform_refund_id"].as_str().is_some_and(|id| !id.is_empty()), "{event}");
    assert_eq!(event["from_surplus_fen"], 0);
    assert_eq!(event["reason"], "客户销户，全额退款");
    assert_eq!(
        event["bills"],
        json!([
            { "bill_id": bill_ids[1], "period": "2026-10", "principal_fen": BILL_TOTAL, "late_fee_fen": 0 },
            { "bill_id": bill_ids[0], "period": "2026-09", "principal_fen": BILL_TOTAL, "late_fee_fen": LATE_FEE },
        ])
    );

    // The accepted refund's audit entry, with its reason and figures.
    let entries = app.audit_entries("refund").await;
    assert_eq!(entries.len(), 1);
    let entry = &entries[0];
    assert_eq!((entry.outcome.as_str(), entry.staff_name.as_str()), ("ok", "admin"));
    assert_eq!((entry.record_kind.as_str(), entry.record_id.as_str()), ("order", order_no.as_str()));
    assert_eq!(entry.reason.as_deref(), Some("客户销户，全额退款"));
    let detail: Value = serde_json::from_str(entry.detail.as_deref().unwrap()).unwrap();
    assert_eq!(
        (detail["out_refund_no"].as_str(), detail["amount_fen"].as_i64()),
        (Some(&*out_refund_no), Some(BOTH_BILLS))
    );
    assert_eq!(detail["payment_id"], refund["payment_id"]);

    // The refund notify is kept as received, and the payer's "refund done" notice is read.
    let notifies = ebill::db::notifies::for_order(app.state.db.pool(), &order_no, 10).await.unwrap();
    let kept: Vec<_> = notifies.iter().filter(|n| n.notify.kind == "refund").collect();
    assert_eq!(kept.len(), 1, "{notifies:?}");
    assert_eq!(kept[0].notify.out_refund_no.as_deref(), Some(out_refund_no.as_str()));
    assert_eq!(
        (kept[0].notify.reported_state.as_str(), kept[0].notify.outcome.as_str()),
        ("SUCCESS", "refund_succeeded")
    );
    assert_eq!(kept[0].notify.amount_fen, Some(BOTH_BILLS));
    assert!(notifies.iter().any(|n| n.notify.kind == "payment" && n.notify.outcome == "settled"), "{notifies:?}");
    assert_eq!(ebill::push::notices::queue_notices(&app.state).await.unwrap(), 1, "the refund's notice");

    // Nothing is left to refund.
    let (status, answer) = ask_refund(&app, &admin, &order_no, 1, "再退一分钱试试").await;
    assert_eq!((status, answer["code"].as_str()), (409, Some("REFUND_EXCEEDS_PAID")));
}

#[tokio::test]
async fn partial_refunds_on_alipay_take_back_the_latest_bill_first_up_to_what_was_paid() {
    let Household { app, alipay, bill_ids, .. } = household().await;
    let order_no = paid_order(&app, &alipay, "alipay").await;
    let admin = app.staff(Role::Admin).await;

    // More than was paid: refused, and the attempt audited.
    let (status, answer) = ask_refund(&app, &admin, &order_no, BOTH_BILLS + 1, "超额退款测试").await;
    assert_eq!((status, answer["code"].as_str()), (409, Some("REFUND_EXCEEDS_PAID")), "{answer}");
    assert!(answer["message"].as_str().unwrap().contains(&format!("{BOTH_BILLS} fen")), "{answer}");

    // 1306 fen: October, the latest bill, gives it back (Alipay refunds at once).
    let (status, first) = ask_refund(&app, &admin, &order_no, 1306, "部分退款：十月电费多缴").await;
    assert_eq!(status, 202, "{first}");
    let outcomes = run_refund_jobs(&app).await;
    assert!(matches!(outcomes.as_slice(), [Ok(())]), "{outcomes:?}");
    assert_eq!(refund_state(&app, &out_refund_no_of(&first)).await, "succeeded");
    assert_eq!(
        bill_states(&app).await,
        vec![("paid".into(), BILL_TOTAL), ("partially_paid".into(), BILL_TOTAL - 1306)]
    );

    // 14000 fen more: the rest of October, then September's late fee, then its principal.
    let (status, second) = ask_refund(&app, &admin, &order_no, 14000, "部分退款：九月滞纳金减免及多缴").await;
    assert_eq!(status, 202, "{second}");
    assert!(matches!(run_refund_jobs(&app).await.as_slice(), [Ok(())]));
    let september_back = 14000 - (BILL_TOTAL - 1306) - LATE_FEE;
    assert_eq!(
        bill_states(&app).await,
        vec![("partially_paid".into(), BILL_TOTAL - september_back), ("unpaid".into(), 0)]
    );

    // What is left is the rest of September's principal: one fen more is refused.
    let left = BOTH_BILLS - 1306 - 14000;
    assert_eq!(left, BILL_TOTAL - september_back);
    let (status, answer) = ask_refund(&app, &admin, &order_no, left + 1, "超额退款测试").await;
    assert_eq!((status, answer["code"].as_str()), (409, Some("REFUND_EXCEEDS_PAID")));
    assert!(answer["message"].as_str().unwrap().contains(&format!("{left} fen")), "{answer}");

    // What the order view shows: reserved (not failed) and succeeded, per payment.
    let payment_id: i64 = first["refund"]["payment_id"].as_str().unwrap().parse().unwrap();
    let totals = ebill::db::refunds::refund_totals(app.state.db.pool(), &[payment_id, 1]).await.unwrap();
    let refunded = ebill::domain::money::Fen::new(1306 + 14000);
    assert_eq!(totals.into_iter().collect::<Vec<_>>(), vec![(payment_id, (refunded, refunded))]);

    assert_eq!(deliver_writebacks(&app).await, 3);
    let events = booked_refunds(&app).await;
    assert_eq!(events.len(), 2);
    assert_eq!((events[0]["platform"].as_str(), events[0]["amount_fen"].as_i64()), (Some("alipay"), Some(1306)));
    assert_eq!(
        events[0]["bills"],
        json!([{ "bill_id": bill_ids[1], "period": "2026-10", "principal_fen": 1306, "late_fee_fen": 0 }])
    );
    assert_eq!(
        events[1]["bills"],
        json!([
            { "bill_id": bill_ids[1], "period": "2026-10", "principal_fen": BILL_TOTAL - 1306, "late_fee_fen": 0 },
            { "bill_id": bill_ids[0], "period": "2026-09", "principal_fen": september_back, "late_fee_fen": LATE_FEE },
        ])
    );
    let failed: Vec<_> = app.audit_entries("refund").await.into_iter().filter(|e| e.outcome == "failed").collect();
    assert_eq!(failed.len(), 2, "both refused attempts are audited");
    assert!(failed.iter().all(|e| e.detail.as_deref().is_some_and(|d| d.contains("REFUND_EXCEEDS_PAID"))));

    // The trade notify Alipay sends after a refund is kept as a refund notify, and settles nothing again.
    let trade_no = transaction_id_of(&app, &order_no).await;
    let total = ebill::domain::money::Fen::new(BOTH_BILLS).to_yuan_string();
    let mut params = alipay_notify(&app, &order_no, &trade_no, &total);
    params.push(("refund_fee".into(), "153.06".into()));
    params.push(("gmt_refund".into(), "2026-10-20 12:10:00.123".into()));
    params.push(("out_biz_no".into(), out_refund_no_of(&second)));
    resign_alipay(&app, &mut params);
    let (_, body) = post_alipay_notify(&app, &params).await;
    assert_eq!(body, "success");
    let notifies = ebill::db::notifies::for_order(app.state.db.pool(), &order_no, 10).await.unwrap();
    let kinds: Vec<_> = notifies
        .iter()
        .map(|n| (n.notify.platform.as_str(), n.notify.kind.as_str(), n.notify.outcome.as_str(), n.notify.amount_fen))
        .collect();
    assert_eq!(
        kinds,
        vec![("alipay", "payment", "settled", Some(BOTH_BILLS)), ("alipay", "refund", "already_recorded", Some(15306))]
    );
    assert_eq!(notifies[1].notify.out_refund_no, Some(out_refund_no_of(&second)));
    assert_eq!(notifies[1].notify.reported_state, "TRADE_SUCCESS");
    assert_eq!(count_where(&app, "payments", "1 = 1").await, 1);
}

#[tokio::test]
async fn a_waived_late_fee_on_wechat_pay_leaves_the_bill_paid_and_the_rest_can_follow() {
    let Household { app, wechat, bill_ids, .. } = household().await;
    let (status, order) = open_order(&app, &wechat, &json!({ "account_no": ACCOUNT, "bill_ids": [bill_ids[0]] })).await;
    assert_eq!(status, 201);
    sandbox_pay(&app, "wechatpay", &order_number(&order), true, None).await;
    let order_no = order_number(&order);
    let admin = app.staff(Role::Admin).await;

    let (status, waived) = ask_refund(&app, &admin, &order_no, LATE_FEE, "滞纳金减免（系统故障期间）").await;
    assert_eq!(status, 202, "{waived}");
    run_refund_jobs(&app).await;
    wait_for_refund(&app, &out_refund_no_of(&waived), "succeeded").await;
    assert_eq!(bill_states(&app).await[0], ("paid".into(), BILL_TOTAL), "the principal was not given back");

    // A second refund of the same WeChat payment: the simulated platform takes partial refunds up to what was paid.
    let (status, rest) = ask_refund(&app, &admin, &order_no, BILL_TOTAL, "客户申请退还本期电费").await;
    assert_eq!(status, 202, "{rest}");
    run_refund_jobs(&app).await;
    wait_for_refund(&app, &out_refund_no_of(&rest), "succeeded").await;
    assert_eq!(bill_states(&app).await[0], ("unpaid".into(), 0));

    deliver_writebacks(&app).await;
    let events = booked_refunds(&app).await;
    assert_eq!(events.len(), 2);
    assert_eq!(
        events[0]["bills"],
        json!([{ "bill_id": bill_ids[0], "period": "2026-09", "principal_fen": 0, "late_fee_fen": LATE_FEE }])
    );
    assert_eq!(
        events[1]["bills"],
        json!([{ "bill_id": bill_ids[0], "period": "2026-09", "principal_fen": BILL_TOTAL, "late_fee_fen": 0 }])
    );
}

#[tokio::test]
async fn concurrent_refunds_never_exceed_what_was_paid() {
    // Room for all eight requests' transactions at once, so that they race on the order's lock and not for the pool
    // (on a loaded machine a request waiting for a connection could otherwise time out).
    let Household { app, wechat, .. } = household_with(|s| s.database.max_connections = 12).await;
    let order_no = paid_order(&app, &wechat, "wechatpay").await;
    let admin = app.staff(Role::Admin).await;
    let forty_percent = BOTH_BILLS * 40 / 100;
    let asks = (0..8).map(|_| ask_refund(&app, &admin, &order_no, forty_percent, "并发退款测试"));
    let answers = futures_util::future::join_all(asks).await;
    let accepted = answers.iter().filter(|(status, _)| *status == 202).count();
    let refused = answers.iter().filter(|(status, answer)| *status == 409 && answer["code"] == "REFUND_EXCEEDS_PAID");
    assert_eq!((accepted, refused.count()), (2, 6), "{answers:?}");
    let reserved: i64 = sqlx::query_scalar("SELECT CAST(COALESCE(SUM(amount_fen), 0) AS BIGINT) FROM refunds")
        .fetch_one(app.state.db.pool())
        .await
        .unwrap();
    assert_eq!(reserved, 2 * forty_percent);
    assert!(reserved <= BOTH_BILLS);
    let payment_id: i64 = sqlx::query_scalar("SELECT id FROM payments").fetch_one(app.state.db.pool()).await.unwrap();
    let totals = ebill::db::refunds::refund_totals(app.state.db.pool(), &[payment_id]).await.unwrap();
    let reserved = ebill::domain::money::Fen::new(reserved);
    assert_eq!(totals.get(&payment_id), Some(&(reserved, ebill::domain::money::Fen::ZERO)), "none succeeded yet");
    assert_eq!(count_where(&app, "jobs", "queue = 'refund'").await, 2);
    assert_eq!(app.audit_entries("refund").await.iter().filter(|e| e.outcome == "ok").count(), 2);

    // What is left stays refundable, to the fen.
    let left = BOTH_BILLS - 2 * forty_percent;
    let (status, answer) = ask_refund(&app, &admin, &order_no, left + 1, "并发退款测试").await;
    assert_eq!(status, 409, "{answer}");
    let (status, answer) = ask_refund(&app, &admin, &order_no, left, "并发退款测试").await;
    assert_eq!(status, 202, "{answer}");
}

#[tokio::test]
async fn a_replayed_refund_notify_takes_the_refund_off_the_bills_once() {
    let Household { app, wechat, .. } = household().await;
    let order_no = paid_order(&app, &wechat, "wechatpay").await;
    let admin = app.staff(Role::Admin).await;
    let (_, answer) = ask_refund(&app, &admin, &order_no, 5000, "部分退款重放测试").await;
    let mut refund = answer["refund"].clone();
    refund["order_no"] = json!(order_no);
    let notification = refund_notification(&app, &refund, "SUCCESS", &transaction_id_of(&app, &order_no).await);
    let headers = headers_of(&notification);

    assert_eq!(post_refund_notify(&app, &notification.body, &headers).await, 204);
    let replays = (0..5).map(|_| post_refund_notify(&app, &notification.body, &headers));
    let statuses = futures_util::future::join_all(replays).await;
    assert!(statuses.iter().all(|status| *status == 204), "{statuses:?}");

    let out_refund_no = out_refund_no_of(&answer);
    assert_eq!(refund_state(&app, &out_refund_no).await, "succeeded");
    assert_eq!(
        bill_states(&app).await,
        vec![("paid".into(), BILL_TOTAL), ("partially_paid".into(), BILL_TOTAL - 5000)]
    );
    assert_eq!(writeback_jobs(&app, "refund-").await, 1);
    let kept = format!("kind = 'refund' AND out_refund_no = '{out_refund_no}'");
    assert_eq!(count_where(&app, "payment_notifies", &kept).await, 6, "each verified notify is kept");
    assert_eq!(count_where(&app, "payment_notifies", &format!("{kept} AND outcome = 'refund_succeeded'")).await, 1);

    // The job finds the refund ended and asks the platform nothing.
    assert!(matches!(run_refund_jobs(&app).await.as_slice(), [Ok(())]));
    assert_eq!(bill_states(&app).await[1], ("partially_paid".into(), BILL_TOTAL - 5000));
}

#[tokio::test]
async fn forged_refund_notifies_are_refused_and_change_nothing() {
    let Household { app, wechat, .. } = household().await;
    let order_no = paid_order(&app, &wechat, "wechatpay").await;
    let admin = app.staff(Role::Admin).await;
    let (_, answer) = ask_refund(&app, &admin, &order_no, BOTH_BILLS, "伪造通知测试").await;
    let mut refund = answer["refund"].clone();
    refund["order_no"] = json!(order_no);
    let good = refund_notification(&app, &refund, "SUCCESS", &transaction_id_of(&app, &order_no).await);
    let headers = headers_of(&good);
    let with = |name: &str, value: String| -> Vec<(&'static str, String)> {
        headers
            .iter()
            .map(|(n, v)| (*n, if n.eq_ignore_ascii_case(name) { value.clone() } else { v.clone() }))
            .collect()
    };
    let keys = &app.state.sandbox.as_ref().unwrap().keys;
    let message = format!("{}\n{}\n{}\n", good.headers.timestamp, good.headers.nonce, good.body);
    let merchant_signed = keys.wechatpay_merchant_key.sign_sha256_base64(message.as_bytes()).unwrap();
    let forged = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode([7u8; 256])
    };
    let cases = [
        ("forged signature", good.body.clone(), with("Wechatpay-Signature", forged)),
        ("signed with the merchant's own key", good.body.clone(), with("Wechatpay-Signature", merchant_signed)),
        ("unknown serial", good.body.clone(), with("Wechatpay-Serial", "PUB_KEY_ID_0000".into())),
        ("tampered body", good.body.replacen("\"id\":\"EV", "\"id\":\"XV", 1), headers.clone()),
        ("no headers", good.body.clone(), Vec::new()),
    ];
    for (what, body, headers) in cases {
        assert_eq!(post_refund_notify(&app, &body, &headers).await, 401, "{what}");
    }
    assert_eq!(refund_state(&app, &out_refund_no_of(&answer)).await, "pending");
    assert_eq!(bill_states(&app).await, vec![("paid".into(), BILL_TOTAL), ("paid".into(), BILL_TOTAL)]);
    assert_eq!(writeback_jobs(&app, "refund-").await, 0);
    assert_eq!(count_where(&app, "payment_notifies", "kind = 'refund'").await, 0, "only verified notifies are kept");
}

#[tokio::test]
async fn a_staff_refund_the_platform_closes_leaves_the_payment_on_its_bills_without_a_credit() {
    let Household { app, wechat, .. } = household().await;
    let order_no = paid_order(&app, &wechat, "wechatpay").await;
    let admin = app.staff(Role::Admin).await;
    let (_, answer) = ask_refund(&app, &admin, &order_no, 10000, "退款失败测试").await;
    let mut refund = answer["refund"].clone();
    refund["order_no"] = json!(order_no);
    let closed = refund_notification(&app, &refund, "CLOSED", &transaction_id_of(&app, &order_no).await);
    assert_eq!(post_refund_notify(&app, &closed.body, &headers_of(&closed)).await, 204);

    assert_eq!(refund_state(&app, &out_refund_no_of(&answer)).await, "failed");
    assert_eq!(bill_states(&app).await, vec![("paid".into(), BILL_TOTAL), ("paid".into(), BILL_TOTAL)]);
    assert_eq!(count_where(&app, "account_credits", "1 = 1").await, 0, "the money never left the payment");
    assert_eq!(count_where(&app, "payment_incidents", "kind = 'refund_failed'").await, 1);
    assert_eq!(writeback_jobs(&app, "refund-").await, 0);
    // The failed refund no longer holds its money: all of the payment can be refunded again.
    let (status, answer) = ask_refund(&app, &admin, &order_no, BOTH_BILLS, "重新发起全额退款").await;
    assert_eq!(status, 202, "{answer}");
}

#[tokio::test]
async fn a_second_payment_is_refunded_out_of_its_credit_when_named() {
    let Household { app, wechat, .. } = household().await;
    let order_no = paid_order(&app, &wechat, "wechatpay").await;
    // The same order paid a second time (another transaction): all of it is kept as a credit.
    let resource = transaction(&app, &order_no, "4200002026102000000000000099", BOTH_BILLS);
    let (status, _) = send_wechat(&app, &wechat_notification(&app, &resource, now_secs(&app))).await;
    assert_eq!(status, 204);
    assert_eq!(count_where(&app, "account_credits", &format!("amount_fen = {BOTH_BILLS} AND state = 'held'")).await, 1);
    let admin = app.staff(Role::Admin).await;

    let (status, answer) = ask_refund(&app, &admin, &order_no, 100, "重复缴费退款").await;
    assert_eq!((status, answer["code"].as_str()), (409, Some("PAYMENT_ID_REQUIRED")), "{answer}");
    let duplicate: i64 = sqlx::query_scalar("SELECT id FROM payments WHERE outcome = 'duplicate'")
        .fetch_one(app.state.db.pool())
        .await
        .unwrap();
    let body = json!({ "amount_fen": 10000, "reason": "重复缴费退款（部分）", "payment_id": duplicate.to_string() });
    let (status, answer) = app.staff_post(&admin, &refunds_path(&order_no), &body).await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["refund"]["payment_id"], json!(duplicate.to_string()));
    run_refund_jobs(&app).await;
    wait_for_refund(&app, &out_refund_no_of(&answer), "succeeded").await;
    // The credit gives it; the bills stay paid.
    let left = BOTH_BILLS - 10000;
    assert_eq!(count_where(&app, "account_credits", &format!("amount_fen = {left} AND state = 'held'")).await, 1);
    assert_eq!(bill_states(&app).await, vec![("paid".into(), BILL_TOTAL), ("paid".into(), BILL_TOTAL)]);

    let body = json!({ "amount_fen": left, "reason": "重复缴费退款（余额）", "payment_id": duplicate.to_string() });
    let (status, answer) = app.staff_post(&admin, &refunds_path(&order_no), &body).await;
    assert_eq!(status, 202, "{answer}");
    run_refund_jobs(&app).await;
    wait_for_refund(&app, &out_refund_no_of(&answer), "succeeded").await;
    assert_eq!(count_where(&app, "account_credits", "state = 'refunded'").await, 1);
    assert_eq!(count_where(&app, "account_credits", "state = 'held'").await, 0);

    deliver_writebacks(&app).await;
    let events = booked_refunds(&app).await;
    assert_eq!(events.len(), 2);
    assert!(events.iter().all(|e| e["bills"] == json!([]) && e["from_surplus_fen"] == e["amount_fen"]), "{events:?}");
}

#[tokio::test]
async fn only_admins_refund_and_every_denial_is_audited() {
    let Household { app, wechat, .. } = household().await;
    let order_no = paid_order(&app, &wechat, "wechatpay").await;
    for role in [Role::Viewer, Role::Operator] {
        let staff = app.staff(role).await;
        let (status, answer) = ask_refund(&app, &staff, &order_no, 100, "我想退款").await;
        assert_eq!((status, answer["code"].as_str()), (403, Some("FORBIDDEN")), "{role:?}");
    }
    let denied = app.audit_entries("refund").await;
    assert_eq!(denied.len(), 2);
    assert!(denied.iter().all(|e| e.outcome == "denied" && e.record_id == order_no), "{denied:?}");
    let names: Vec<_> = denied.iter().map(|e| e.staff_name.as_str()).collect();
    assert!(names.contains(&"viewer") && names.contains(&"operator"), "{names:?}");
    assert_eq!(count_where(&app, "refunds", "1 = 1").await, 0);
    // Without a staff token at all.
    let response = app.post_json(&refunds_path(&order_no), &json!({ "amount_fen": 100, "reason": "无令牌退款" })).await;
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn bad_refund_requests_are_refused_clearly() {
    let Household { app, wechat, alipay, .. } = household().await;
    let order_no = paid_order(&app, &wechat, "wechatpay").await;
    let admin = app.staff(Role::Admin).await;
    let cases = [
        (json!({ "amount_fen": 0, "reason": "金额为零" }), 400, "INVALID_AMOUNT"),
        (json!({ "amount_fen": -5, "reason": "金额为负" }), 400, "INVALID_AMOUNT"),
        (json!({ "amount_fen": 1.5, "reason": "金额非整数" }), 400, "INVALID_AMOUNT"),
        (json!({ "amount_fen": "100", "reason": "金额是字符串" }), 400, "INVALID_AMOUNT"),
        (json!({ "amount_fen": 100, "reason": "短" }), 400, "INVALID_REASON"),
        (json!({ "amount_fen": 100, "reason": "理由充分", "payment_id": "x" }), 400, "INVALID_PAYMENT_ID"),
        (json!({ "amount_fen": 100, "reason": "理由充分", "payment_id": "123" }), 404, "UNKNOWN_PAYMENT"),
        (json!({ "amount_fen": 100 }), 400, "MALFORMED_JSON"),
    ];
    for (body, status, code) in cases {
        let (got, answer) = app.staff_post(&admin, &refunds_path(&order_no), &body).await;
        assert_eq!((got, answer["code"].as_str()), (status, Some(code)), "{body}");
    }
    let body = json!({ "amount_fen": 100, "reason": "理由充分" });
    let (status, _) = app.staff_post(&admin, &refunds_path("EB4242424242"), &body).await;
    assert_eq!(status, 404);
    let (status, _) = app.staff_post(&admin, &refunds_path("not-an-order"), &body).await;
    assert_eq!(status, 404);
    // An order still waiting for its money.
    app.feed_ok("bills", vec![crate::helpers::bill(ACCOUNT, "2026-11", 1)]).await;
    let pending = open_all(&app, &alipay).await;
    let (status, answer) = app.staff_post(&admin, &refunds_path(&order_number(&pending)), &body).await;
    assert_eq!((status, answer["code"].as_str()), (409, Some("NOT_PAID")));
    assert_eq!(count_where(&app, "refunds", "1 = 1").await, 0, "nothing is half-written");
    assert_eq!(count_where(&app, "jobs", "queue = 'refund'").await, 0);
}

/// The application's state with WeChat Pay's keys replaced by `keys` when given (what we hold when an answer does
/// not verify), and refund notifications sent where they are lost (so that only the refund job learns how the refund
/// ended).
fn with_wechat_platform_keys(app: &TestApp, keys: Option<PlatformKeys>) -> ebill::state::AppState {
    let mut state = app.state.clone();
    let mut credentials = (*state.credentials).clone();
    let wechat_pay = credentials.wechat_pay.as_mut().expect("the sandbox merchant");
    if let Some(keys) = keys {
        wechat_pay.platform_keys = std::sync::Arc::new(keys);
    }
    wechat_pay.refund_notify_url = app.url("/notify/lost");
    state.credentials = std::sync::Arc::new(credentials);
    state
}

/// The refund queue's one due job, claimed.
async fn claim_refund_job(app: &TestApp) -> queue::ClaimedJob {
    let now = app.clock_now_ms();
    let mut jobs =
        queue::claim(&app.state.db, REFUND_QUEUE, "test-refunds", 10, Duration::from_secs(60), now).await.unwrap();
    assert_eq!(jobs.len(), 1);
    jobs.remove(0)
}

async fn incident_detail(app: &TestApp, kind: &str, reference: &str) -> Value {
    let detail: String = sqlx::query("SELECT detail FROM payment_incidents WHERE kind = $1 AND reference = $2")
        .bind(kind)
        .bind(reference)
        .fetch_one(app.state.db.pool())
        .await
        .unwrap()
        .get("detail");
    serde_json::from_str(&detail).unwrap()
}

#[tokio::test]
async fn a_wechat_refund_answer_we_cannot_verify_keeps_the_refund_reserved_and_is_asked_again() {
    let Household { app, wechat, .. } = household().await;
    let order_no = paid_order(&app, &wechat, "wechatpay").await;
    let admin = app.staff(Role::Admin).await;
    let (status, answer) = ask_refund(&app, &admin, &order_no, 5000, "验签失败退款测试").await;
    assert_eq!(status, 202, "{answer}");
    let out_refund_no = out_refund_no_of(&answer);
    let job = claim_refund_job(&app).await;

    // WeChat Pay takes the refund, but its answer is signed with a key other than the one we hold, or under a serial
    // we do not know yet (its keys rotated): the refund may well have been made, so it is neither failed nor released.
    let mut other_key = PlatformKeys::new();
    let other = RsaVerifyingKey::from_text(include_str!("../fixtures/test_rsa_public.pem")).unwrap();
    other_key.insert_public_key(SANDBOX_WECHATPAY_PUBLIC_KEY_ID, other).unwrap();
    let cases = [("a bad signature", other_key), ("an unknown serial", PlatformKeys::new())];
    let mut bad_state = None;
    for (what, keys) in cases {
        let state = with_wechat_platform_keys(&app, Some(keys));
        let outcome = refunds::process(&state, job.clone()).await;
        assert!(
            matches!(&outcome, Err(JobError::Retry(error)) if error.contains("unconfirmed")),
            "{what}: {outcome:?}"
        );
        assert_eq!(refund_state(&app, &out_refund_no).await, "pending", "{what}");
        bad_state = Some(state);
    }
    let last_error: Option<String> = sqlx::query("SELECT last_error FROM refunds WHERE out_refund_no = $1")
        .bind(&out_refund_no)
        .fetch_one(app.state.db.pool())
        .await
        .unwrap()
        .get("last_error");
    assert!(last_error.is_some_and(|e| e.contains("WeChat Pay")), "the reason is kept for staff");
    assert_eq!(count_where(&app, "payment_incidents", "1 = 1").await, 0);
    assert_eq!(count_where(&app, "account_credits", "1 = 1").await, 0);
    // Still reserved: no more than the rest can be refunded.
    let (status, refused) = ask_refund(&app, &admin, &order_no, BOTH_BILLS - 5000 + 1, "再次退款测试").await;
    assert_eq!((status, refused["code"].as_str()), (409, Some("REFUND_EXCEEDS_PAID")), "{refused}");

    // The job's last attempt fails the same way: the job fails, the refund stays reserved and staff are told.
    let mut last = job.clone();
    last.attempts = last.max_attempts;
    let outcome = refunds::process(bad_state.as_ref().unwrap(), last).await;
    assert!(matches!(outcome, Err(JobError::Retry(_))), "{outcome:?}");
    assert_eq!(refund_state(&app, &out_refund_no).await, "pending");
    let detail = incident_detail(&app, "refund_unconfirmed", &out_refund_no).await;
    assert_eq!((detail["amount_fen"].as_i64(), detail["state"].as_str()), (Some(5000), Some("pending")), "{detail}");
    assert_eq!(count_where(&app, "payment_incidents", "kind = 'refund_failed'").await, 0);

    // With WeChat Pay's key back, the same out_refund_no finds the refund it made: it succeeds, once.
    let good_state = with_wechat_platform_keys(&app, None);
    let mut outcomes = Vec::new();
    for _ in 0..50 {
        outcomes.push(refunds::process(&good_state, job.clone()).await);
        if refund_state(&app, &out_refund_no).await == "succeeded" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(refund_state(&app, &out_refund_no).await, "succeeded", "{outcomes:?}");
    assert_eq!(
        bill_states(&app).await,
        vec![("paid".into(), BILL_TOTAL), ("partially_paid".into(), BILL_TOTAL - 5000)]
    );
    assert_eq!(writeback_jobs(&app, "refund-").await, 1);
}

#[tokio::test]
async fn a_verified_refusal_by_wechat_pay_still_fails_the_refund() {
    let Household { app, wechat, .. } = household().await;
    let order_no = paid_order(&app, &wechat, "wechatpay").await;
    let admin = app.staff(Role::Admin).await;
    let (status, answer) = ask_refund(&app, &admin, &order_no, 5000, "平台拒绝退款测试").await;
    assert_eq!(status, 202, "{answer}");
    // All of the order was refunded on WeChat Pay behind our back: it refuses ours (signed 400 INVALID_REQUEST).
    let creds = app.state.credentials.wechat_pay.clone().unwrap();
    let client = WechatPayClient::new(&creds, reqwest::Client::new(), app.state.clock.clone());
    let request = RefundRequest {
        out_trade_no: &order_no,
        out_refund_no: "RFELSEWHERE1",
        reason: "",
        refund_fen: BOTH_BILLS,
        total_fen: BOTH_BILLS,
    };
    client.refund(&request).await.expect("refunded on the platform");

    let outcomes = run_refund_jobs(&app).await;
    assert!(
        matches!(outcomes.as_slice(), [Err(JobError::Permanent(error))] if error.contains("INVALID_REQUEST")),
        "{outcomes:?}"
    );
    assert_eq!(refund_state(&app, &out_refund_no_of(&answer)).await, "failed");
    assert_eq!(count_where(&app, "payment_incidents", "kind = 'refund_failed'").await, 1);
    assert_eq!(count_where(&app, "payment_incidents", "kind <> 'refund_failed'").await, 0);
    assert_eq!(bill_states(&app).await, vec![("paid".into(), BILL_TOTAL), ("paid".into(), BILL_TOTAL)]);
}

#[tokio::test]
async fn a_success_notified_after_a_staff_refund_failed_is_reported_not_ignored() {
    let Household { app, wechat, .. } = household().await;
    let order_no = paid_order(&app, &wechat, "wechatpay").await;
    let admin = app.staff(Role::Admin).await;
    let (_, answer) = ask_refund(&app, &admin, &order_no, 10000, "失败后成功测试").await;
    let mut refund = answer["refund"].clone();
    refund["order_no"] = json!(order_no);
    let transaction_id = transaction_id_of(&app, &order_no).await;
    let closed = refund_notification(&app, &refund, "CLOSED", &transaction_id);
    assert_eq!(post_refund_notify(&app, &closed.body, &headers_of(&closed)).await, 204);
    let out_refund_no = out_refund_no_of(&answer);
    assert_eq!(refund_state(&app, &out_refund_no).await, "failed");
    // Its amount was released, and refunded again.
    let (status, again) = ask_refund(&app, &admin, &order_no, BOTH_BILLS, "重新发起全额退款").await;
    assert_eq!(status, 202, "{again}");

    let success = refund_notification(&app, &refund, "SUCCESS", &transaction_id);
    assert_eq!(post_refund_notify(&app, &success.body, &headers_of(&success)).await, 204);
    assert_eq!(refund_state(&app, &out_refund_no).await, "failed", "nothing is re-applied automatically");
    assert_eq!(bill_states(&app).await, vec![("paid".into(), BILL_TOTAL), ("paid".into(), BILL_TOTAL)]);
    assert_eq!(writeback_jobs(&app, "refund-").await, 0);
    let detail = incident_detail(&app, "refund_succeeded_after_failure", &out_refund_no).await;
    assert_eq!((detail["kind"].as_str(), detail["amount_fen"].as_i64()), (Some("staff"), Some(10000)), "{detail}");
    assert_eq!(detail["payment_amount_fen"], BOTH_BILLS);
    assert_eq!(detail["other_refunds_reserved_fen"], BOTH_BILLS);
    assert_eq!(detail["money_given_twice"], true, "the released amount was refunded again: {detail}");
    assert_eq!(detail["kept_as_credit"], false);
    assert!(detail["failed_with"].as_str().is_some_and(|e| e.contains("Closed")), "{detail}");
    let kept = format!("kind = 'refund' AND out_refund_no = '{out_refund_no}' AND outcome = 'succeeded_after_failure'");
    assert_eq!(count_where(&app, "payment_notifies", &kept).await, 1);
    // A replay counts the same incident again.
    assert_eq!(post_refund_notify(&app, &success.body, &headers_of(&success)).await, 204);
    assert_eq!(count_where(&app, "payment_incidents", "kind = 'refund_succeeded_after_failure'").await, 1);
}

#[tokio::test]
async fn a_success_notified_after_a_surplus_refund_became_a_credit_says_the_money_was_given_twice() {
    let Household { app, wechat, .. } =
        household_with(|s| s.payments.duplicate_payments = ebill::config::DuplicatePaymentPolicy::Refund).await;
    let order_no = paid_order(&app, &wechat, "wechatpay").await;
    let resource = transaction(&app, &order_no, "4200002026102000000000000099", BOTH_BILLS);
    let (status, _) = send_wechat(&app, &wechat_notification(&app, &resource, now_secs(&app))).await;
    assert_eq!(status, 204);
    let out_refund_no: String = sqlx::query("SELECT out_refund_no FROM refunds WHERE kind = 'surplus'")
        .fetch_one(app.state.db.pool())
        .await
        .unwrap()
        .get("out_refund_no");
    let refund = json!({ "order_no": order_no, "out_refund_no": out_refund_no, "amount_fen": BOTH_BILLS });
    let closed = refund_notification(&app, &refund, "CLOSED", "4200002026102000000000000099");
    assert_eq!(post_refund_notify(&app, &closed.body, &headers_of(&closed)).await, 204);
    assert_eq!(refund_state(&app, &out_refund_no).await, "failed");
    let held = format!("amount_fen = {BOTH_BILLS} AND state = 'held'");
    assert_eq!(count_where(&app, "account_credits", &held).await, 1, "kept as a credit");

    let success = refund_notification(&app, &refund, "SUCCESS", "4200002026102000000000000099");
    assert_eq!(post_refund_notify(&app, &success.body, &headers_of(&success)).await, 204);
    assert_eq!(refund_state(&app, &out_refund_no).await, "failed");
    assert_eq!(count_where(&app, "account_credits", &held).await, 1, "nothing is taken back automatically");
    let detail = incident_detail(&app, "refund_succeeded_after_failure", &out_refund_no).await;
    assert_eq!((detail["kind"].as_str(), detail["amount_fen"].as_i64()), (Some("surplus"), Some(BOTH_BILLS)));
    assert_eq!((detail["kept_as_credit"].as_bool(), detail["money_given_twice"].as_bool()), (Some(true), Some(true)));
    assert!(detail["consequence"].as_str().is_some_and(|c| c.contains("given twice")), "{detail}");
}

#[tokio::test]
async fn an_alipay_refund_answered_without_fund_change_is_confirmed_by_the_refund_query() {
    let Household { app, alipay, .. } = household().await;
    let order_no = paid_order(&app, &alipay, "alipay").await;
    let admin = app.staff(Role::Admin).await;
    let (status, answer) = ask_refund(&app, &admin, &order_no, 1306, "支付宝退款查询测试").await;
    assert_eq!(status, 202, "{answer}");
    let out_refund_no = out_refund_no_of(&answer);
    // The refund reached Alipay before (a lost answer): our send is answered `fund_change` N, which proves nothing.
    let creds = app.state.credentials.alipay.clone().unwrap();
    let client = AlipayClient::new(&creds, reqwest::Client::new()).with_clock(app.state.clock.clone());
    let earlier = TradeRefund { out_trade_no: &order_no, refund_fen: 1306, out_request_no: &out_refund_no, reason: "" };
    assert!(client.trade_refund(&earlier).await.unwrap().fund_change);

    let job = claim_refund_job(&app).await;
    let outcome = refunds::process(&app.state, job.clone()).await;
    assert!(matches!(outcome, Err(JobError::Retry(_))), "{outcome:?}");
    assert_eq!(refund_state(&app, &out_refund_no).await, "processing");
    assert_eq!(bill_states(&app).await, vec![("paid".into(), BILL_TOTAL), ("paid".into(), BILL_TOTAL)]);
    // The next attempt asks alipay.trade.fastpay.refund.query: REFUND_SUCCESS.
    assert_eq!(refunds::process(&app.state, job.clone()).await, Ok(()));
    assert_eq!(refund_state(&app, &out_refund_no).await, "succeeded");
    assert_eq!(
        bill_states(&app).await,
        vec![("paid".into(), BILL_TOTAL), ("partially_paid".into(), BILL_TOTAL - 1306)]
    );
    assert_eq!(writeback_jobs(&app, "refund-").await, 1);
}

#[tokio::test]
async fn an_alipay_refund_the_query_does_not_find_is_sent_again_with_the_same_request_number() {
    let Household { app, alipay, .. } = household().await;
    let order_no = paid_order(&app, &alipay, "alipay").await;
    let admin = app.staff(Role::Admin).await;
    let (_, answer) = ask_refund(&app, &admin, &order_no, 2000, "支付宝重新退款测试").await;
    let out_refund_no = out_refund_no_of(&answer);
    // As if an earlier attempt had been answered `fund_change` N without Alipay doing the refund.
    sqlx::query("UPDATE refunds SET state = 'processing' WHERE out_refund_no = $1")
        .bind(&out_refund_no)
        .execute(app.state.db.pool())
        .await
        .unwrap();
    let job = claim_refund_job(&app).await;
    let outcome = refunds::process(&app.state, job.clone()).await;
    assert!(matches!(outcome, Err(JobError::Retry(_))), "{outcome:?}");
    assert_eq!(refund_state(&app, &out_refund_no).await, "pending", "not found: to be sent again");
    assert_eq!(refunds::process(&app.state, job.clone()).await, Ok(()));
    assert_eq!(refund_state(&app, &out_refund_no).await, "succeeded");
}

#[tokio::test]
async fn a_wechat_refusal_of_a_refund_it_made_under_the_same_number_does_not_fail_it() {
    let Household { app, wechat, .. } = household().await;
    let order_no = paid_order(&app, &wechat, "wechatpay").await;
    let admin = app.staff(Role::Admin).await;
    let (_, answer) = ask_refund(&app, &admin, &order_no, 5000, "参数变化退款测试").await;
    let out_refund_no = out_refund_no_of(&answer);
    let job = claim_refund_job(&app).await;
    // Sent with a notify URL since changed; its answer is lost (the refund is pending again for us).
    let outcome = refunds::process(&with_wechat_platform_keys(&app, None), job.clone()).await;
    assert!(matches!(outcome, Err(JobError::Retry(_))), "{outcome:?}");
    sqlx::query("UPDATE refunds SET state = 'pending' WHERE out_refund_no = $1")
        .bind(&out_refund_no)
        .execute(app.state.db.pool())
        .await
        .unwrap();
    // Sent again with today's notify URL: WeChat Pay refuses the differing repeat (INVALID_REQUEST), but its refund
    // query knows the refund: it is followed, never failed.
    let outcome = refunds::process(&app.state, job.clone()).await;
    assert!(!matches!(outcome, Err(JobError::Permanent(_))), "{outcome:?}");
    assert_ne!(refund_state(&app, &out_refund_no).await, "failed");
    for _ in 0..50 {
        if refund_state(&app, &out_refund_no).await == "succeeded" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        let _ = refunds::process(&app.state, job.clone()).await;
    }
    assert_eq!(refund_state(&app, &out_refund_no).await, "succeeded");
    assert_eq!(count_where(&app, "payment_incidents", "1 = 1").await, 0);
}
