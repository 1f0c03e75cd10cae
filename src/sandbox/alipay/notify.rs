//! The simulated Alipay's trade notifies, and the test and demo helpers that pay a trade and send them (not part of
//! the real platform):
//! - `POST pay {trade_no | out_trade_no, notify?: bool = true, amount_fen?}`: the buyer pays a waiting trade; the
//!   notify goes to the trade's `notify_url` before the answer `{trade_no, out_trade_no, notify_status,
//!   notify_body, notify_error}`. `amount_fen` puts another `total_amount` in the notify (amount-mismatch tests).
//! - `POST notify-again {out_trade_no}`: the same notify again with a new `notify_id`, as Alipay retries.
//!
//! Every notify sent, with our answer, goes to the sandbox's notify log.
//!
//! A notify is a form-urlencoded UTF-8 POST signed RSA2 with the simulated Alipay's key over the notify sign string
//! (every parameter but `sign` and `sign_type`, empty ones dropped, sorted, raw values).

use super::trades::{Buyer, Stage, Trade, TradeKey, TradeRefusal};
use crate::domain::calendar::beijing_date;
use crate::domain::money::Fen;
use crate::error::ApiError;
use crate::platform::alipay::{alipay_timestamp, AlipayBuyer, MAX_AMOUNT_FEN};
use crate::platform::crypto::alipay_sign::notify_sign_content;
use crate::platform::crypto::rsa_keys::RsaSigningKey;
use crate::platform::crypto::rsa_sign::SignError;
use crate::sandbox::keys::SANDBOX_ALIPAY_SELLER_ID;
use crate::sandbox::notify_log::{NotifyKind, NotifyPlatform, NotifySubject, OurAnswer};
use crate::sandbox::platforms::SandboxPlatforms;
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use rand::Rng;
use reqwest::header::CONTENT_TYPE;
use serde::Deserialize;
use serde_json::json;
use std::time::Duration;

/// How long the sandbox waits for the notify's answer (Alipay gives up after a few seconds too).
const NOTIFY_TIMEOUT: Duration = Duration::from_secs(10);
/// The part of the answer kept for the caller; ours is `success`.
const MAX_REPLY_BYTES: usize = 16 * 1024;
const NOTIFY_CONTENT_TYPE: &str = "application/x-www-form-urlencoded; charset=utf-8";

/// Everything a trade notify says.
#[derive(Debug, Clone)]
pub struct TradeNotify<'a> {
    pub app_id: &'a str,
    pub seller_id: &'a str,
    pub trade_no: &'a str,
    pub out_trade_no: &'a str,
    pub buyer: AlipayBuyer<'a>,
    /// `TRADE_SUCCESS` for a payment.
    pub trade_status: &'a str,
    /// `total_amount`, `receipt_amount`, `buyer_pay_amount`, `invoice_amount` and the fund bill's amount.
    pub amount_fen: i64,
    pub subject: &'a str,
    pub gmt_create_ms: i64,
    pub gmt_payment_ms: i64,
    pub notify_time_ms: i64,
    pub notify_id: &'a str,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotifyBuildError {
    #[error("a notify time is out of range")]
    TimeOutOfRange,
    #[error(transparent)]
    Sign(#[from] SignError),
}

/// The parameters of a trade notify, `sign` included, in the order Alipay writes them; signed with `alipay_key`
/// (the simulated Alipay's private key).
pub fn build_trade_notify(
    notify: &TradeNotify<'_>,
    alipay_key: &RsaSigningKey,
) -> Result<Vec<(String, String)>, NotifyBuildError> {
    let time = |ms: i64| alipay_timestamp(ms).ok_or(NotifyBuildError::TimeOutOfRange);
    let amount = Fen::new(notify.amount_fen).to_yuan_string();
    let (buyer_key, buyer) = match notify.buyer {
        AlipayBuyer::UserId(id) => ("buyer_id", id),
        AlipayBuyer::OpenId(id) => ("buyer_open_id", id),
    };
    let fund_bill_list = json!([{ "amount": amount, "fundChannel": "ALIPAYACCOUNT" }]).to_string();
    let mut params: Vec<(String, String)> = [
        ("notify_time", time(notify.notify_time_ms)?),
        ("notify_type", "trade_status_sync".into()),
        ("notify_id", notify.notify_id.into()),
        ("app_id", notify.app_id.into()),
        ("charset", "utf-8".into()),
        ("version", "1.0".into()),
        ("sign_type", "RSA2".into()),
        ("trade_no", notify.trade_no.into()),
        ("out_trade_no", notify.out_trade_no.into()),
        (buyer_key, buyer.into()),
        ("seller_id", notify.seller_id.into()),
        ("trade_status", notify.trade_status.into()),
        ("total_amount", amount.clone()),
        ("receipt_amount", amount.clone()),
        ("invoice_amount", amount.clone()),
        ("buyer_pay_amount", amount),
        ("point_amount", "0.00".into()),
        ("gmt_create", time(notify.gmt_create_ms)?),
        ("gmt_payment", time(notify.gmt_payment_ms)?),
        ("fund_bill_list", fund_bill_list),
        ("subject", notify.subject.into()),
        ("auth_app_id", notify.app_id.into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let sign = alipay_key.sign_sha256_base64(notify_sign_content(params.iter().map(|(k, v)| (k, v))).as_bytes())?;
    // After `sign_type`, where Alipay puts it.
    params.insert(7, ("sign".to_owned(), sign));
    Ok(params)
}

/// A fresh `notify_id`: 34 digits, starting with the Beijing date like Alipay's.
fn new_notify_id(now_ms: i64) -> String {
    let mut rng = rand::thread_rng();
    let tail: String = (0..21).map(|_| char::from(b'0' + rng.gen_range(0..10u8))).collect();
    format!("{}00222{tail}", beijing_date(now_ms).format("%Y%m%d"))
}

/// The notify of a paid trade, sent at `now_ms`.
fn notify_params(sandbox: &SandboxPlatforms, trade: &Trade, now_ms: i64) -> Result<Vec<(String, String)>, ApiError> {
    let Stage::Paid { paid_ms, notify_amount_fen } = trade.stage else {
        return Err(ApiError::bad_request("TRADE_NOT_PAID", "the trade is not paid: there is nothing to notify"));
    };
    let buyer = match &trade.terms.buyer {
        Buyer::UserId(id) => AlipayBuyer::UserId(id),
        Buyer::OpenId(id) => AlipayBuyer::OpenId(id),
    };
    let notify_id = new_notify_id(now_ms);
    let notify = TradeNotify {
        app_id: &sandbox.keys.alipay_app_id,
        seller_id: SANDBOX_ALIPAY_SELLER_ID,
        trade_no: &trade.trade_no,
        out_trade_no: &trade.out_trade_no,
        buyer,
        trade_status: "TRADE_SUCCESS",
        amount_fen: notify_amount_fen,
        subject: &trade.terms.subject,
        gmt_create_ms: trade.created_ms,
        gmt_payment_ms: paid_ms,
        notify_time_ms: now_ms,
        notify_id: &notify_id,
    };
    build_trade_notify(&notify, &sandbox.keys.alipay_platform_key).map_err(ApiError::internal)
}

/// A paid trade's notify, as the notify log tells it.
fn payment_subject(trade: &Trade) -> NotifySubject {
    let amount_fen = match trade.stage {
        Stage::Paid { notify_amount_fen, .. } => notify_amount_fen,
        Stage::WaitBuyerPay | Stage::Closed => 0,
    };
    NotifySubject {
        platform: NotifyPlatform::Alipay,
        kind: NotifyKind::Payment,
        out_trade_no: trade.out_trade_no.clone(),
        transaction_id: trade.trade_no.clone(),
        amount_fen,
    }
}

/// How the notify's POST went.
#[derive(Default)]
struct Delivery {
    status: Option<u16>,
    body: Option<String>,
    error: Option<String>,
}

/// POSTs the notify to `url` as Alipay does and reads the answer.
async fn deliver(http: &reqwest::Client, url: &str, params: &[(String, String)]) -> Delivery {
    // The content type is set before `.form()`, which keeps one already present.
    let request = http.post(url).header(CONTENT_TYPE, NOTIFY_CONTENT_TYPE).form(params).timeout(NOTIFY_TIMEOUT);
    let mut response = match request.send().await {
        Ok(response) => response,
        Err(error) => return Delivery { error: Some(error.without_url().to_string()), ..Delivery::default() },
    };
    let status = Some(response.status().as_u16());
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = MAX_REPLY_BYTES.saturating_sub(body.len());
                body.extend_from_slice(&chunk[..chunk.len().min(room)]);
            }
            Ok(None) => break,
            Err(error) => return Delivery { status, error: Some(error.without_url().to_string()), body: None },
        }
    }
    Delivery { status, body: Some(String::from_utf8_lossy(&body).into_owned()), error: None }
}

async fn notify_and_answer(
    state: &AppState,
    sandbox: &SandboxPlatforms,
    trade: &Trade,
    notify: bool,
) -> Result<HttpResponse, ApiError> {
    let delivery = if notify {
        let sent_at_ms = state.now_ms();
        let params = notify_params(sandbox, trade, sent_at_ms)?;
        let delivery = deliver(&state.http, &trade.notify_url, &params).await;
        let answer =
            OurAnswer { status: delivery.status, reply: delivery.body.as_deref(), error: delivery.error.as_deref() };
        sandbox.notify_log.record(payment_subject(trade), sent_at_ms, answer);
        tracing::info!(out_trade_no = %trade.out_trade_no, status = ?delivery.status, "sandbox Alipay notify sent");
        delivery
    } else {
        Delivery::default()
    };
    Ok(HttpResponse::Ok().json(json!({
        "trade_no": trade.trade_no,
        "out_trade_no": trade.out_trade_no,
        "notify_status": delivery.status,
        "notify_body": delivery.body,
        "notify_error": delivery.error,
    })))
}

fn refusal_error(refusal: TradeRefusal) -> ApiError {
    match refusal {
        TradeRefusal::NotExist => ApiError::bad_request("UNKNOWN_TRADE", "the simulated Alipay knows no such trade"),
        TradeRefusal::HasClose => {
            ApiError::bad_request("TRADE_CLOSED", "the trade is closed: it can no longer be paid")
        }
        TradeRefusal::AlreadyPaid | TradeRefusal::HasSuccess => {
            ApiError::bad_request("TRADE_ALREADY_PAID", "the trade is already paid")
        }
        other => ApiError::bad_request("TRADE_REFUSED", format!("the trade cannot be paid: {other:?}")),
    }
}

fn default_notify() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PayRequest {
    trade_no: Option<String>,
    out_trade_no: Option<String>,
    #[serde(default = "default_notify")]
    notify: bool,
    amount_fen: Option<i64>,
}

/// `POST /sandbox/alipay/pay`.
pub(super) async fn pay(state: web::Data<AppState>, request: web::Json<PayRequest>) -> Result<HttpResponse, ApiError> {
    let sandbox = SandboxPlatforms::of(&state)?;
    let request = request.into_inner();
    let key = match (request.trade_no, request.out_trade_no) {
        (Some(trade_no), None) => TradeKey::TradeNo(trade_no),
        (None, Some(out_trade_no)) => TradeKey::OutTradeNo(out_trade_no),
        _ => {
            return Err(ApiError::bad_request(
                "INVALID_TRADE_REFERENCE",
                "give exactly one of trade_no and out_trade_no",
            ))
        }
    };
    if request.amount_fen.is_some_and(|fen| !(1..=MAX_AMOUNT_FEN).contains(&fen)) {
        return Err(ApiError::bad_request("INVALID_AMOUNT", "amount_fen must be 1 to 10000000000"));
    }
    let trade = sandbox.alipay.trades.pay(&key, request.amount_fen, state.now_ms()).map_err(refusal_error)?;
    notify_and_answer(&state, sandbox, &trade, request.notify).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NotifyAgainRequest {
    out_trade_no: String,
}

/// `POST /sandbox/alipay/notify-again`.
pub(super) async fn notify_again(
    state: web::Data<AppState>,
    request: web::Json<NotifyAgainRequest>,
) -> Result<HttpResponse, ApiError> {
    let sandbox = SandboxPlatforms::of(&state)?;
    let key = TradeKey::OutTradeNo(request.into_inner().out_trade_no);
    let trade = sandbox.alipay.trades.get(&key, state.now_ms()).map_err(refusal_error)?;
    notify_and_answer(&state, sandbox, &trade, true).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::crypto::alipay_sign::verify_notify;
    use crate::platform::crypto::rsa_keys::test_keys::{PKCS8_PEM, PUBLIC_PEM};
    use crate::platform::crypto::rsa_keys::RsaVerifyingKey;

    /// 2024-01-31T16:00:00Z, 2024-02-01 00:00:00 in Beijing.
    const NOW_MS: i64 = 1_706_716_800_000;

    fn notify(buyer: AlipayBuyer<'static>) -> TradeNotify<'static> {
        TradeNotify {
            app_id: "2021000000000001",
            seller_id: SANDBOX_ALIPAY_SELLER_ID,
            trade_no: "2026120422001000000000000001",
            out_trade_no: "EB1",
            buyer,
            trade_status: "TRADE_SUCCESS",
            amount_fen: 1_234,
            subject: "电费 = 2024年1月 & more",
            gmt_create_ms: NOW_MS - 60_000,
            gmt_payment_ms: NOW_MS - 1_000,
            notify_time_ms: NOW_MS,
            notify_id: "2024020100222000000000000000000001",
        }
    }

    fn built(notify: &TradeNotify<'_>) -> Vec<(String, String)> {
        build_trade_notify(notify, &RsaSigningKey::from_text(PKCS8_PEM).unwrap()).unwrap()
    }

    fn value<'a>(params: &'a [(String, String)], key: &str) -> Option<&'a str> {
        params.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    #[test]
    fn a_notify_carries_alipays_fields_in_beijing_time() {
        let params = built(&notify(AlipayBuyer::UserId("2088102104794936")));
        assert_eq!(value(&params, "notify_time"), Some("2024-02-01 00:00:00"));
        assert_eq!(value(&params, "gmt_payment"), Some("2024-01-31 23:59:59"));
        assert_eq!(value(&params, "total_amount"), Some("12.34"));
        assert_eq!(value(&params, "fund_bill_list"), Some(r#"[{"amount":"12.34","fundChannel":"ALIPAYACCOUNT"}]"#));
        assert_eq!(value(&params, "buyer_id"), Some("2088102104794936"));
        assert_eq!(value(&params, "buyer_open_id"), None);
        assert_eq!(value(&params, "sign_type"), Some("RSA2"));
        assert_eq!(params[7].0, "sign");
    }

    #[test]
    fn a_notify_verifies_with_the_notify_sign_string_only() {
        let params = built(&notify(AlipayBuyer::OpenId("0abc")));
        let public = RsaVerifyingKey::from_text(PUBLIC_PEM).unwrap();
        assert_eq!(verify_notify(params.clone(), &public), Ok(()));
        let sign = value(&params, "sign").unwrap();
        let with_sign_type = crate::platform::crypto::alipay_sign::request_sign_content(params.clone());
        assert!(public.verify_sha256_base64(with_sign_type.as_bytes(), sign).is_err());
        let mut tampered = params;
        tampered.iter_mut().find(|(k, _)| k == "total_amount").unwrap().1 = "0.01".into();
        assert!(verify_notify(tampered, &public).is_err());
    }

    #[test]
    fn notify_ids_are_34_digits_starting_with_the_beijing_date() {
        let id = new_notify_id(NOW_MS);
        assert_eq!(id.len(), 34);
        assert!(id.starts_with("2024020100222") && id.bytes().all(|b| b.is_ascii_digit()));
        assert_ne!(id, new_notify_id(NOW_MS));
    }
}
