//! What customer service sees of accounts, users, orders and messages: the JSON shapes of the lookups and the masking
//! of personal data in them (holder name, address, phones, platform ids), which only a reveal lifts. Ids are strings
//! (JavaScript numbers cannot hold 64-bit ids), money is integer fen, instants are epoch milliseconds.

use crate::db::bindings::{AccountBinding, BindingSummary};
use crate::db::messages::MessageRecord;
use crate::db::notifies::StoredNotify;
use crate::db::orders::{OrderSummary, StoredOrder, WritebackState};
use crate::db::payments::{Incident, PaymentRecord};
use crate::db::refunds::RefundRecord;
use crate::db::users::UserRecord;
use crate::domain::masking::{mask_address, mask_name, mask_phone, mask_platform_id};
use serde::Serialize;
use utoipa::ToSchema;

/// Whether personal data is shown masked (the default) or as stored (a reveal, by an operator, with a reason).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disclosure {
    Masked,
    Revealed,
}

impl Disclosure {
    pub fn is_masked(self) -> bool {
        self == Disclosure::Masked
    }

    fn apply(self, text: &str, mask: fn(&str) -> String) -> String {
        match self {
            Disclosure::Masked => mask(text),
            Disclosure::Revealed => text.to_owned(),
        }
    }

    pub fn name(self, name: &str) -> String {
        self.apply(name, mask_name)
    }

    pub fn address(self, address: &str) -> String {
        self.apply(address, mask_address)
    }

    pub fn phone(self, phone: &str) -> String {
        self.apply(phone, mask_phone)
    }

    pub fn platform_id(self, id: &str) -> String {
        self.apply(id, mask_platform_id)
    }

    fn optional_platform_id(self, id: Option<&str>) -> Option<String> {
        id.map(|id| self.platform_id(id))
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AccountView {
    pub account_no: String,
    /// Masked unless revealed: 张*.
    pub holder_name: String,
    /// Masked after the district unless revealed.
    pub address: String,
    /// Masked unless revealed: 138****1234.
    pub phone: String,
    /// `residential` | `non_residential`.
    pub account_type: String,
    pub supply_unit: String,
    /// Money paid twice and kept on the account.
    pub credit_fen: i64,
}

/// Someone bound to the account.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountBindingView {
    pub id: String,
    pub user_id: String,
    /// `wechat` | `alipay`.
    pub platform: String,
    /// The user's openid or Alipay id; masked unless revealed.
    pub subject: String,
    pub label: String,
    pub is_default: bool,
    pub bound_at: i64,
    pub last_login_at: i64,
}

impl AccountBindingView {
    pub fn of(found: &AccountBinding, disclosure: Disclosure) -> AccountBindingView {
        AccountBindingView {
            id: found.binding.id.to_string(),
            user_id: found.binding.user_id.to_string(),
            platform: found.platform.clone(),
            subject: disclosure.platform_id(&found.subject),
            label: found.binding.label.clone(),
            is_default: found.binding.is_default,
            bound_at: found.binding.created_at,
            last_login_at: found.last_login_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BillRow {
    pub id: String,
    /// `YYYY-MM`.
    pub period: String,
    pub total_fen: i64,
    pub paid_fen: i64,
    /// `unpaid` | `partially_paid` | `paid` (overdue is read off `due_date`).
    pub status: String,
    /// `YYYY-MM-DD`, Beijing.
    pub due_date: String,
}

/// ORDER_SUMMARY: an order in a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderSummaryView {
    pub order_no: String,
    pub platform: String,
    pub amount_fen: i64,
    /// pending | paid | closed | expired | failed | flagged.
    pub state: String,
    pub created_at: i64,
    pub paid_at: Option<i64>,
    /// Refunds the platform confirmed.
    pub refunded_fen: i64,
}

impl From<OrderSummary> for OrderSummaryView {
    fn from(order: OrderSummary) -> OrderSummaryView {
        OrderSummaryView {
            order_no: order.order_no,
            platform: order.platform,
            amount_fen: order.amount_fen,
            state: order.state,
            created_at: order.created_at,
            paid_at: order.paid_at,
            refunded_fen: order.refunded_fen,
        }
    }
}

/// MESSAGE: a pushed message with its delivery.
#[derive(Debug, Serialize, ToSchema)]
pub struct MessageView {
    pub id: String,
    /// new_bill | due_soon | due_today | overdue | payment_received | refund_done.
    pub kind: String,
    /// The reminder step, or the kind.
    pub stage: String,
    /// wechat | alipay | sms.
    pub channel: String,
    /// openid, Alipay id or phone number; masked unless revealed.
    pub recipient: String,
    /// pending | leased | sent | failed | skipped.
    pub state: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    /// The platform's answer (errcode/errmsg, msgid).
    pub platform_reply: Option<String>,
    pub created_at: i64,
    pub sent_at: Option<i64>,
}

impl MessageView {
    pub fn of(message: MessageRecord, disclosure: Disclosure) -> MessageView {
        let recipient = if message.channel == "sms" {
            disclosure.phone(&message.recipient)
        } else {
            disclosure.platform_id(&message.recipient)
        };
        MessageView {
            id: message.id.to_string(),
            kind: message.kind,
            stage: message.stage,
            channel: message.channel,
            recipient,
            state: message.state,
            attempts: message.attempts,
            last_error: message.last_error,
            platform_reply: message.platform_reply,
            created_at: message.created_at,
            sent_at: message.sent_at,
        }
    }
}

/// `GET /staff/v1/accounts/{account_no}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountPage {
    pub account: AccountView,
    pub masked: bool,
    pub bindings: Vec<AccountBindingView>,
    /// The latest 12, newest first.
    pub bills: Vec<BillRow>,
    /// The latest 20, newest first.
    pub orders: Vec<OrderSummaryView>,
    /// The latest 20, newest first.
    pub messages: Vec<MessageView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    pub id: String,
    pub platform: String,
    /// WeChat openid, or Alipay user_id / open_id; masked unless revealed.
    pub subject: String,
    pub unionid: Option<String>,
    pub alipay_user_id: Option<String>,
    pub alipay_open_id: Option<String>,
    /// The phone the platform verified, if any; masked unless revealed.
    pub phone: Option<String>,
    pub created_at: i64,
    pub last_login_at: i64,
}

impl UserView {
    pub fn of(user: &UserRecord, disclosure: Disclosure) -> UserView {
        UserView {
            id: user.id.to_string(),
            platform: user.platform.as_str().to_owned(),
            subject: disclosure.platform_id(&user.subject),
            unionid: disclosure.optional_platform_id(user.unionid.as_deref()),
            alipay_user_id: disclosure.optional_platform_id(user.alipay_user_id.as_deref()),
            alipay_open_id: disclosure.optional_platform_id(user.alipay_open_id.as_deref()),
            phone: user.phone.as_deref().map(|phone| disclosure.phone(phone)),
            created_at: user.created_at,
            last_login_at: user.last_login_at,
        }
    }
}

/// An account the user holds.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserBindingView {
    pub id: String,
    pub account_no: String,
    pub label: String,
    pub is_default: bool,
    pub bound_at: i64,
}

impl From<BindingSummary> for UserBindingView {
    fn from(summary: BindingSummary) -> UserBindingView {
        let binding = summary.binding;
        UserBindingView {
            id: binding.id.to_string(),
            account_no: binding.account_no,
            label: binding.label,
            is_default: binding.is_default,
            bound_at: binding.created_at,
        }
    }
}

/// `GET /staff/v1/users/{user_id}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserPage {
    pub user: UserView,
    pub masked: bool,
    pub bindings: Vec<UserBindingView>,
    /// The latest 20 the user placed, newest first.
    pub orders: Vec<OrderSummaryView>,
    /// The latest 20 sent to the user, newest first.
    pub messages: Vec<MessageView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrderView {
    pub order_no: String,
    pub account_no: String,
    pub user_id: String,
    pub platform: String,
    /// The payer's openid or Alipay id; masked unless revealed.
    pub payer: String,
    pub amount_fen: i64,
    /// pending | paid | closed | expired | failed | flagged.
    pub state: String,
    /// Why staff must look at it (amount_mismatch).
    pub flag: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
    pub paid_at: Option<i64>,
    /// Refunds the platform confirmed.
    pub refunded_fen: i64,
}

impl OrderView {
    pub fn of(order: &StoredOrder, refunded_fen: i64, disclosure: Disclosure) -> OrderView {
        OrderView {
            order_no: order.order_no.clone(),
            account_no: order.account_no.clone(),
            user_id: order.user_id.to_string(),
            platform: order.platform.as_str().to_owned(),
            payer: disclosure.platform_id(&order.payer),
            amount_fen: order.amount.value(),
            state: order.state.as_str().to_owned(),
            flag: order.flag.clone(),
            created_at: order.created_at,
            expires_at: order.expires_at,
            paid_at: order.paid_at,
            refunded_fen,
        }
    }
}

/// A bill the order pays, as asked when the order was opened.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderBillView {
    pub bill_id: String,
    pub period: String,
    pub principal_fen: i64,
    pub late_fee_fen: i64,
}

/// Where the write-back of a payment to the marketing system stands.
#[derive(Debug, Serialize, ToSchema)]
pub struct WritebackView {
    /// pending | leased | done | failed.
    pub state: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub updated_at: i64,
}

impl From<WritebackState> for WritebackView {
    fn from(job: WritebackState) -> WritebackView {
        WritebackView {
            state: job.state,
            attempts: job.attempts,
            last_error: job.last_error,
            updated_at: job.updated_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentView {
    pub id: String,
    /// WeChat transaction_id, Alipay trade_no.
    pub transaction_id: String,
    pub amount_fen: i64,
    /// What settled bills.
    pub applied_fen: i64,
    /// Paid for bills already settled: credited or refunded.
    pub surplus_fen: i64,
    /// settled | duplicate | amount_mismatch.
    pub outcome: String,
    /// notify | query.
    pub source: String,
    pub paid_at: i64,
    pub received_at: i64,
    /// The amount less every refund that has not failed.
    pub refundable_fen: i64,
    /// Null when no write-back was queued (a duplicate or mismatched payment settles no bill).
    pub writeback: Option<WritebackView>,
}

impl PaymentView {
    pub fn of(payment: &PaymentRecord, refundable_fen: i64, writeback: Option<WritebackState>) -> PaymentView {
        PaymentView {
            id: payment.id.to_string(),
            transaction_id: payment.transaction_id.clone(),
            amount_fen: payment.amount.value(),
            applied_fen: payment.applied.value(),
            surplus_fen: payment.surplus.value(),
            outcome: payment.outcome.clone(),
            source: payment.source.clone(),
            paid_at: payment.paid_at,
            received_at: payment.received_at,
            refundable_fen,
            writeback: writeback.map(WritebackView::from),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RefundView {
    pub id: String,
    pub out_refund_no: String,
    pub payment_id: String,
    pub amount_fen: i64,
    pub reason: String,
    /// pending | processing | succeeded | failed.
    pub state: String,
    /// surplus | staff.
    pub kind: String,
    /// `system` or the member of staff.
    pub requested_by: String,
    pub platform_refund_id: Option<String>,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl From<&RefundRecord> for RefundView {
    fn from(refund: &RefundRecord) -> RefundView {
        RefundView {
            id: refund.id.to_string(),
            out_refund_no: refund.out_refund_no.clone(),
            payment_id: refund.payment_id.to_string(),
            amount_fen: refund.amount.value(),
            reason: refund.reason.clone(),
            state: refund.state.clone(),
            kind: refund.kind.as_str().to_owned(),
            requested_by: refund.requested_by.clone(),
            platform_refund_id: refund.platform_refund_id.clone(),
            last_error: refund.last_error.clone(),
            created_at: refund.created_at,
            updated_at: refund.updated_at,
        }
    }
}

/// A verified notify from a payment platform, as received.
#[derive(Debug, Serialize, ToSchema)]
pub struct NotifyView {
    pub platform: String,
    /// payment | refund.
    pub kind: String,
    pub out_refund_no: Option<String>,
    pub transaction_id: Option<String>,
    /// The platform's own word: SUCCESS, TRADE_SUCCESS, ...
    pub reported_state: String,
    pub amount_fen: Option<i64>,
    /// What we made of it.
    pub outcome: String,
    pub received_at: i64,
}

impl From<StoredNotify> for NotifyView {
    fn from(stored: StoredNotify) -> NotifyView {
        let notify = stored.notify;
        NotifyView {
            platform: notify.platform,
            kind: notify.kind,
            out_refund_no: notify.out_refund_no,
            transaction_id: notify.transaction_id,
            reported_state: notify.reported_state,
            amount_fen: notify.amount_fen,
            outcome: notify.outcome,
            received_at: stored.received_at,
        }
    }
}

/// `GET /staff/v1/orders/{order_no}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderPage {
    pub order: OrderView,
    pub masked: bool,
    pub bills: Vec<OrderBillView>,
    pub payments: Vec<PaymentView>,
    pub refunds: Vec<RefundView>,
    /// The latest 50, oldest first.
    pub notifies: Vec<NotifyView>,
    /// What the payments of this order made staff look at (amount mismatches, duplicate payments, failed or
    /// unconfirmed refunds), oldest first.
    pub incidents: Vec<IncidentView>,
}

/// A payment incident, as `ebill payments status` lists them.
#[derive(Debug, Serialize, ToSchema)]
pub struct IncidentView {
    /// unknown_order | amount_mismatch | duplicate_payment | refund_failed | refund_unconfirmed |
    /// refund_succeeded_after_failure.
    pub kind: String,
    pub platform: String,
    /// The order number or refund number concerned.
    pub reference: String,
    /// Amounts and platform ids, as recorded (no personal data).
    pub detail: serde_json::Value,
    pub occurrences: i64,
    pub first_seen_at: i64,
    pub last_seen_at: i64,
    pub resolved_at: Option<i64>,
}

impl From<Incident> for IncidentView {
    fn from(incident: Incident) -> IncidentView {
        IncidentView {
            kind: incident.kind,
            platform: incident.platform,
            reference: incident.reference,
            detail: serde_json::from_str(&incident.detail).unwrap_or(serde_json::Value::String(incident.detail)),
            occurrences: incident.occurrences,
            first_seen_at: incident.first_seen_at,
            last_seen_at: incident.last_seen_at,
            resolved_at: incident.resolved_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_sms_recipient_is_masked_as_a_phone_and_others_as_platform_ids() {
        let message = |channel: &str, recipient: &str| MessageRecord {
            id: 1,
            kind: "new_bill".into(),
            stage: "new_bill".into(),
            channel: channel.into(),
            user_id: None,
            account_no: "3100012345".into(),
            recipient: recipient.into(),
            state: "sent".into(),
            attempts: 1,
            last_error: None,
            platform_reply: None,
            created_at: 0,
            sent_at: None,
        };
        let sms = MessageView::of(message("sms", "13812341234"), Disclosure::Masked);
        assert_eq!(sms.recipient, "138****1234");
        let wechat = MessageView::of(message("wechat", "o6_bmjrPTlm6_2sgVt7hMZOPfL2M"), Disclosure::Masked);
        assert_eq!(wechat.recipient, "o6_b****fL2M");
        let revealed = MessageView::of(message("wechat", "o6_bmjrPTlm6_2sgVt7hMZOPfL2M"), Disclosure::Revealed);
        assert_eq!(revealed.recipient, "o6_bmjrPTlm6_2sgVt7hMZOPfL2M");
    }
}
