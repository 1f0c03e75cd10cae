//! The simulated refund calls: a refund of a paid order is accepted as `PROCESSING`, succeeds a moment later, and
//! is then notified (`REFUND.SUCCESS`) to the refund's `notify_url`, retried briefly as the platform would.

use super::book::{notification_id, AskedRefund, RefundRecord, Refusal};
use super::notify::{deliver, Event};
use super::orders::{answer, is_notify_url, is_out_trade_no, parse_body, refusal_reply, required};
use super::reply::Reply;
use crate::error::ApiError;
use crate::sandbox::keys::SANDBOX_WECHATPAY_MCHID;
use crate::sandbox::notify_log::{NotifyKind, NotifyPlatform, NotifySubject};
use crate::sandbox::platforms::{lock, SandboxPlatforms};
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

/// How long a refund stays `PROCESSING`.
const SETTLES_AFTER: Duration = Duration::from_millis(200);
/// The refund notification is sent this many times at most, this far apart, until answered 2xx.
const NOTIFY_ATTEMPTS: usize = 3;
const NOTIFY_RETRY_PAUSE: Duration = Duration::from_secs(1);

#[derive(Deserialize)]
struct RefundBody {
    transaction_id: Option<String>,
    out_trade_no: Option<String>,
    out_refund_no: Option<String>,
    reason: Option<String>,
    notify_url: Option<String>,
    amount: Option<RefundAmountBody>,
}

#[derive(Deserialize)]
struct RefundAmountBody {
    refund: Option<i64>,
    total: Option<i64>,
    currency: Option<String>,
}

/// `out_refund_no`: 1–64 of `[0-9A-Za-z_-|*@]`.
fn is_out_refund_no(text: &str) -> bool {
    (1..=64).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-|*@".contains(&b))
}

/// The refund asked for. The order is named by `out_trade_no`, or by `transaction_id` (looked up with
/// `order_of_transaction`).
fn read_refund(body: &[u8], order_of_transaction: impl Fn(&str) -> Option<String>) -> Result<AskedRefund, Reply> {
    let body: RefundBody = parse_body(body)?;
    let out_refund_no = required(body.out_refund_no, "out_refund_no")?;
    if !is_out_refund_no(&out_refund_no) {
        return Err(Reply::param_error("out_refund_no应为1-64位数字、大小写字母或_-|*@"));
    }
    let out_trade_no = match (body.out_trade_no.filter(|no| !no.is_empty()), body.transaction_id) {
        (Some(no), _) if is_out_trade_no(&no) => no,
        (Some(_), _) => return Err(Reply::param_error("out_trade_no格式错误")),
        (None, Some(id)) if !id.is_empty() => order_of_transaction(&id)
            .ok_or_else(|| Reply::error(StatusCode::NOT_FOUND, "RESOURCE_NOT_EXISTS", "订单不存在"))?,
        (None, _) => return Err(Reply::param_error("transaction_id和out_trade_no必须二选一")),
    };
    if body.reason.as_ref().is_some_and(|reason| reason.chars().count() > 80) {
        return Err(Reply::param_error("reason长度超过80个字符"));
    }
    let notify_url = body.notify_url.filter(|url| !url.is_empty());
    if notify_url.as_ref().is_some_and(|url| !is_notify_url(url)) {
        return Err(Reply::param_error("notify_url应为http(s)开头、不带参数的完整URL"));
    }
    let amount = body.amount.ok_or_else(|| Reply::param_error("缺少参数amount"))?;
    let (Some(refund_fen), Some(total_fen)) = (amount.refund, amount.total) else {
        return Err(Reply::param_error("缺少参数amount.refund或amount.total"));
    };
    if refund_fen <= 0 || total_fen <= 0 {
        return Err(Reply::param_error("amount.refund和amount.total应大于0"));
    }
    if amount.currency.is_some_and(|currency| currency != "CNY") {
        return Err(Reply::param_error("amount.currency仅支持CNY"));
    }
    Ok(AskedRefund { out_trade_no, out_refund_no, refund_fen, total_fen, notify_url })
}

/// A refund as the refund calls answer it.
fn refund_json(refund: &RefundRecord) -> Value {
    let asked = &refund.asked;
    let mut answer = json!({
        "refund_id": refund.refund_id,
        "out_refund_no": asked.out_refund_no,
        "transaction_id": refund.transaction_id,
        "out_trade_no": asked.out_trade_no,
        "channel": "ORIGINAL",
        "user_received_account": "支付用户零钱",
        "create_time": refund.create_time,
        "status": refund.status,
        "funds_account": "AVAILABLE",
        "amount": {
            "total": asked.total_fen, "refund": asked.refund_fen, "from": [],
            "payer_total": asked.total_fen, "payer_refund": asked.refund_fen,
            "settlement_total": asked.total_fen, "settlement_refund": asked.refund_fen,
            "discount_refund": 0, "currency": "CNY",
        },
        "promotion_detail": [],
    });
    if let Some(success_time) = &refund.success_time {
        answer["success_time"] = json!(success_time);
    }
    answer
}

/// The decrypted resource of a refund notification.
fn refund_resource(refund: &RefundRecord) -> Value {
    let asked = &refund.asked;
    let mut resource = json!({
        "mchid": SANDBOX_WECHATPAY_MCHID,
        "out_trade_no": asked.out_trade_no,
        "transaction_id": refund.transaction_id,
        "out_refund_no": asked.out_refund_no,
        "refund_id": refund.refund_id,
        "refund_status": refund.status,
        "user_received_account": "支付用户零钱",
        "amount": {
            "total": asked.total_fen, "refund": asked.refund_fen,
            "payer_total": asked.total_fen, "payer_refund": asked.refund_fen,
        },
    });
    if let Some(success_time) = &refund.success_time {
        resource["success_time"] = json!(success_time);
    }
    resource
}

/// `POST /sandbox/wechatpay/v3/refund/domestic/refunds`.
pub(super) async fn create(
    state: web::Data<AppState>,
    request: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let mut accepted = None;
    let response = answer(&state, &request, &body, |sandbox, now_ms| {
        let mut book = lock(&sandbox.wechatpay.book);
        let asked = read_refund(&body, |transaction_id| {
            book.orders
                .values()
                .find(|order| order.payment().is_some_and(|payment| payment.transaction_id == transaction_id))
                .map(|order| order.placed.out_trade_no.clone())
        })?;
        let (refund, new) = book.refund(asked, now_ms).map_err(|refusal| match refusal {
            Refusal::UnknownOrder => Reply::error(StatusCode::NOT_FOUND, "RESOURCE_NOT_EXISTS", "订单不存在"),
            other => refusal_reply(other),
        })?;
        if new {
            accepted = Some(refund.asked.out_refund_no.clone());
        }
        Ok(Reply::ok(&refund_json(&refund)))
    })?;
    if let Some(out_refund_no) = accepted {
        settle_later(state.clone(), SandboxPlatforms::of(&state)?.clone(), out_refund_no);
    }
    Ok(response)
}

/// `GET /sandbox/wechatpay/v3/refund/domestic/refunds/{out_refund_no}`.
pub(super) async fn query(
    state: web::Data<AppState>,
    request: HttpRequest,
    out_refund_no: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    answer(&state, &request, b"", |sandbox, _| {
        let book = lock(&sandbox.wechatpay.book);
        let refund = book
            .refunds
            .get(out_refund_no.as_str())
            .ok_or_else(|| Reply::error(StatusCode::NOT_FOUND, "RESOURCE_NOT_EXISTS", "退款单不存在"))?;
        Ok(Reply::ok(&refund_json(refund)))
    })
}

/// After a moment the refund succeeds; then its notification is sent.
fn settle_later(state: web::Data<AppState>, sandbox: Arc<SandboxPlatforms>, out_refund_no: String) {
    actix_web::rt::spawn(async move {
        tokio::time::sleep(SETTLES_AFTER).await;
        let completed = lock(&sandbox.wechatpay.book).complete_refund(&out_refund_no, state.now_ms());
        let Some(refund) = completed else { return };
        let Some(url) = refund.asked.notify_url.clone() else { return };
        let event = Event {
            id: notification_id(),
            create_time: refund.success_time.clone().unwrap_or_default(),
            event_type: "REFUND.SUCCESS",
            summary: "退款成功",
            original_type: "refund",
            plaintext: refund_resource(&refund).to_string(),
            subject: NotifySubject {
                platform: NotifyPlatform::Wechatpay,
                kind: NotifyKind::Refund,
                out_trade_no: refund.asked.out_trade_no.clone(),
                transaction_id: refund.transaction_id.clone(),
                amount_fen: refund.asked.refund_fen,
            },
        };
        for attempt in 1..=NOTIFY_ATTEMPTS {
            let delivery = deliver(&state, &sandbox, &url, &event).await;
            if delivery.accepted() {
                return;
            }
            tracing::info!(out_refund_no, attempt, ?delivery, "the sandbox's refund notification was not accepted");
            if attempt < NOTIFY_ATTEMPTS {
                tokio::time::sleep(NOTIFY_RETRY_PAUSE).await;
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::super::book::Book;
    use super::*;
    use crate::platform::wechatpay::{RefundResource, RefundStatus};

    fn body() -> Value {
        json!({
            "out_trade_no": "EB1001", "out_refund_no": "RF1001", "reason": "重复缴费",
            "notify_url": "http://127.0.0.1:8080/notify/wechat/refund",
            "amount": { "refund": 500, "total": 13923, "currency": "CNY" },
        })
    }

    fn code_for(change: impl FnOnce(&mut Value)) -> String {
        let mut body = body();
        change(&mut body);
        read_refund(body.to_string().as_bytes(), |_| None).map(|_| String::new()).unwrap_or_else(|r| r.code())
    }

    #[test]
    fn a_well_formed_refund_is_read() {
        let asked = read_refund(body().to_string().as_bytes(), |_| None).expect("reads");
        assert_eq!((asked.refund_fen, asked.total_fen, asked.out_trade_no.as_str()), (500, 13923, "EB1001"));
    }

    #[test]
    fn the_order_may_be_named_by_its_transaction_id() {
        let mut body = body();
        body.as_object_mut().expect("an object").remove("out_trade_no");
        body["transaction_id"] = json!("4200000000202402010000000001");
        let asked =
            read_refund(body.to_string().as_bytes(), |id| (id == "4200000000202402010000000001").then(|| "EB7".into()));
        assert_eq!(asked.expect("reads").out_trade_no, "EB7");
        assert_eq!(
            read_refund(body.to_string().as_bytes(), |_| None).expect_err("unknown").code(),
            "RESOURCE_NOT_EXISTS"
        );
    }

    #[test]
    fn each_field_rule_is_enforced() {
        assert_eq!(code_for(|b| b["out_refund_no"] = json!("R".repeat(65))), "PARAM_ERROR");
        assert_eq!(code_for(|b| b["out_refund_no"] = json!("RF 1")), "PARAM_ERROR");
        assert_eq!(code_for(|b| b["reason"] = json!("因".repeat(81))), "PARAM_ERROR");
        assert_eq!(code_for(|b| b["notify_url"] = json!("http://h/n?q")), "PARAM_ERROR");
        assert_eq!(code_for(|b| b["amount"]["refund"] = json!(0)), "PARAM_ERROR");
        assert_eq!(code_for(|b| b["amount"]["currency"] = json!("HKD")), "PARAM_ERROR");
        assert_eq!(code_for(|b| b["out_trade_no"] = json!("")), "PARAM_ERROR");
    }

    #[test]
    fn the_notified_resource_reads_as_our_refund_resource() {
        let mut book = Book::default();
        let order = super::super::book::PlacedOrder {
            appid: "wx1".into(),
            mchid: SANDBOX_WECHATPAY_MCHID.into(),
            description: "电费".into(),
            out_trade_no: "EB1001".into(),
            time_expire: None,
            attach: None,
            notify_url: "http://127.0.0.1/n".into(),
            total: 13923,
            openid: "o1".into(),
        };
        book.place(order, 1_706_716_800_000).expect("placed");
        book.pay("EB1001", None, 1_706_716_800_000).expect("paid");
        let asked = read_refund(body().to_string().as_bytes(), |_| None).expect("reads");
        book.refund(asked, 1_706_716_800_000).expect("accepted");
        let done = book.complete_refund("RF1001", 1_706_716_801_000).expect("completes");
        let resource: RefundResource = serde_json::from_value(refund_resource(&done)).expect("our notify reads it");
        assert_eq!(resource.refund_status, RefundStatus::Success);
        assert_eq!((resource.amount.refund, resource.amount.total), (500, 13923));
        assert_eq!(resource.success_time.as_deref(), Some("2024-02-01T00:00:01+08:00"));
        assert_eq!(refund_json(&done)["status"], "SUCCESS");
    }
}
