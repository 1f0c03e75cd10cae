//! One face for the two payment platforms: open an order, hand the mini-program what it pays with, ask where an
//! order stands, close it. The channel follows the user's platform: WeChat users pay with WeChat Pay (JSAPI),
//! Alipay users with Alipay (JSAPI_PAY).

use crate::db::orders::StoredOrder;
use crate::domain::money::Fen;
use crate::domain::user::Platform;
use crate::platform::alipay::{AlipayBuyer, AlipayClient, AlipayError, CloseOutcome, TradeCreate, TradeStatus};
use crate::platform::wechatpay::{JsapiOrder, RequestPayment, TradeState, WechatPayClient, WechatPayError};
use crate::state::AppState;
use chrono::DateTime;

/// A platform client for one order's platform.
pub enum Channel {
    Wechat(WechatPayClient),
    Alipay(AlipayClient),
}

/// Why a platform call did not give an answer we can act on.
#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    #[error("payments through {0} are not configured")]
    NotConfigured(&'static str),
    /// Worth trying again later (timeout, busy platform).
    #[error("{0}")]
    Transient(String),
    /// The platform refused, or answered something we cannot trust or read.
    #[error("{0}")]
    Refused(String),
}

impl From<WechatPayError> for ChannelError {
    fn from(error: WechatPayError) -> ChannelError {
        if error.is_transient() {
            ChannelError::Transient(format!("WeChat Pay: {error}"))
        } else {
            ChannelError::Refused(format!("WeChat Pay: {error}"))
        }
    }
}

impl From<AlipayError> for ChannelError {
    fn from(error: AlipayError) -> ChannelError {
        if error.is_transient() {
            ChannelError::Transient(format!("Alipay: {error}"))
        } else {
            ChannelError::Refused(format!("Alipay: {error}"))
        }
    }
}

/// What the mini-program calls to pay.
#[derive(Debug, Clone)]
pub enum PayParams {
    /// `wx.requestPayment(...)`.
    Wechat(RequestPayment),
    /// `my.tradePay({tradeNO})`.
    Alipay { trade_no: String },
}

/// Where an order stands on its platform, from a verified answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TradeLookup {
    /// Paid: the platform's transaction, the amount it took (the order amount it recorded) and when.
    Paid { transaction_id: String, amount: Fen, paid_at_ms: i64 },
    /// Open and unpaid (or the payer is paying right now).
    Open,
    /// Closed unpaid, on the platform's side.
    Closed,
    /// The platform has no such order (never opened there, or the payer never started paying on Alipay).
    NotFound,
}

/// What closing gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closing {
    /// Closed (or there was nothing to close): it can no longer be paid.
    Closed,
    /// The platform refused because it is paid: query it and settle.
    AlreadyPaid,
}

impl Channel {
    /// The client for `platform`.
    pub fn for_platform(state: &AppState, platform: Platform) -> Result<Channel, ChannelError> {
        match platform {
            Platform::Wechat => {
                let creds = state.credentials.wechat_pay.as_ref().ok_or(ChannelError::NotConfigured("WeChat Pay"))?;
                Ok(Channel::Wechat(WechatPayClient::new(creds, state.http.clone(), state.clock.clone())))
            }
            Platform::Alipay => {
                let creds = state.credentials.alipay.as_ref().ok_or(ChannelError::NotConfigured("Alipay"))?;
                Ok(Channel::Alipay(AlipayClient::new(creds, state.http.clone()).with_clock(state.clock.clone())))
            }
        }
    }

    /// Opens `order` on the platform; answers the platform's reference (prepay_id or trade_no).
    pub async fn open(
        &self,
        order: &StoredOrder,
        description: &str,
        alipay_open_id: bool,
    ) -> Result<String, ChannelError> {
        match self {
            Channel::Wechat(client) => {
                let request = JsapiOrder {
                    description,
                    out_trade_no: &order.order_no,
                    time_expire_ms: order.expires_at,
                    attach: None,
                    amount_fen: order.amount.value(),
                    openid: &order.payer,
                };
                Ok(client.create_jsapi_order(&request).await?)
            }
            Channel::Alipay(client) => {
                let buyer =
                    if alipay_open_id { AlipayBuyer::OpenId(&order.payer) } else { AlipayBuyer::UserId(&order.payer) };
                let request = TradeCreate {
                    out_trade_no: &order.order_no,
                    amount_fen: order.amount.value(),
                    subject: description,
                    buyer,
                    time_expire_ms: order.expires_at,
                };
                Ok(client.trade_create(&request).await?)
            }
        }
    }

    /// What the mini-program pays with, for an order the platform opened as `platform_ref`.
    pub fn pay_params(&self, platform_ref: &str) -> Result<PayParams, ChannelError> {
        match self {
            Channel::Wechat(client) => Ok(PayParams::Wechat(client.request_payment(platform_ref)?)),
            Channel::Alipay(_) => Ok(PayParams::Alipay { trade_no: platform_ref.to_owned() }),
        }
    }

    /// Asks the platform where order `order_no` stands.
    pub async fn lookup(&self, order_no: &str) -> Result<TradeLookup, ChannelError> {
        match self {
            Channel::Wechat(client) => {
                let Some(transaction) = client.query_order(order_no).await? else {
                    return Ok(TradeLookup::NotFound);
                };
                if transaction.out_trade_no != order_no {
                    return Err(ChannelError::Refused("WeChat Pay answered about another order".into()));
                }
                Ok(match transaction.trade_state {
                    TradeState::Success | TradeState::Refund => TradeLookup::Paid {
                        transaction_id: transaction.transaction_id.ok_or_else(|| {
                            ChannelError::Refused("a paid WeChat order without transaction_id".into())
                        })?,
                        amount: Fen::new(transaction.amount.total),
                        paid_at_ms: transaction
                            .success_time
                            .as_deref()
                            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                            .map(|t| t.timestamp_millis())
                            .unwrap_or(0),
                    },
                    TradeState::Closed | TradeState::Revoked | TradeState::PayError => TradeLookup::Closed,
                    TradeState::NotPay | TradeState::UserPaying | TradeState::Unknown => TradeLookup::Open,
                })
            }
            Channel::Alipay(client) => {
                let Some(trade) = client.trade_query(order_no).await? else {
                    return Ok(TradeLookup::NotFound);
                };
                if trade.out_trade_no != order_no {
                    return Err(ChannelError::Refused("Alipay answered about another order".into()));
                }
                Ok(match trade.trade_status {
                    TradeStatus::TradeSuccess | TradeStatus::TradeFinished => TradeLookup::Paid {
                        transaction_id: trade.trade_no,
                        amount: Fen::new(trade.total_amount_fen),
                        paid_at_ms: trade.send_pay_date_ms.unwrap_or(0),
                    },
                    TradeStatus::TradeClosed => TradeLookup::Closed,
                    TradeStatus::WaitBuyerPay => TradeLookup::Open,
                })
            }
        }
    }

    /// Closes order `order_no` on the platform.
    pub async fn close(&self, order_no: &str) -> Result<Closing, ChannelError> {
        match self {
            Channel::Wechat(client) => match client.close_order(order_no).await {
                Ok(()) => Ok(Closing::Closed),
                Err(WechatPayError::OrderPaid) => Ok(Closing::AlreadyPaid),
                // Never opened there (the create's answer was lost before it reached WeChat Pay): nothing to close.
                Err(error) if error.platform_code() == Some("ORDER_NOT_EXIST") => Ok(Closing::Closed),
                Err(error) => Err(error.into()),
            },
            Channel::Alipay(client) => match client.trade_close(order_no).await? {
                CloseOutcome::Closed | CloseOutcome::NotExist => Ok(Closing::Closed),
                CloseOutcome::AlreadyPaid => Ok(Closing::AlreadyPaid),
            },
        }
    }
}

/// A paid time of 0 (the platform gave none) becomes the time we learnt of it.
pub fn paid_at_or(paid_at_ms: i64, now_ms: i64) -> i64 {
    if paid_at_ms > 0 {
        paid_at_ms
    } else {
        now_ms
    }
}
