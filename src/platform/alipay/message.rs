//! Subscribe (template) messages through the gateway (PROTOCOLS.md, Alipay "Messages"):
//! `alipay.open.app.mini.templatemessage.send`, signed like every call. One call per message, never retried here: a
//! lost answer may hide a delivered message, and the delivery queue decides whether to send again.
//!
//! How failures come back: [`AlipayError::is_transient`] for `20000` and transport failures;
//! [`AlipayError::is_subscription_refused`] when the user holds no subscription (never accepted, one-time acceptance
//! used up, or cancelled), permanent; any other business failure is permanent too.

use super::{AlipayClient, AlipayError};
use serde_json::{Map, Value};

pub const TEMPLATE_MESSAGE_SEND_METHOD: &str = "alipay.open.app.mini.templatemessage.send";
/// How much of Alipay's answer a receipt keeps.
pub const MAX_REPLY_CHARS: usize = 500;
/// The sub_code of "this user holds no subscription to the template", as our sandbox answers it. Alipay's own code
/// for it is not confirmed by its documentation, so any sub_code naming a subscription counts as well.
pub const NOT_SUBSCRIBED_SUB_CODE: &str = "USER_NOT_SUBSCRIBED";

/// One template message. The recipient is `to_user_id` (the `2088…` user id) when known; apps created after 2023
/// only know `to_open_id`. `data` maps keywords to values, e.g. `{"keyword1": {"value": ".."}}`; it travels as a JSON
/// string inside `biz_content`.
#[derive(Debug, Clone, Copy)]
pub struct AlipayTemplateMessage<'a> {
    pub to_user_id: Option<&'a str>,
    pub to_open_id: Option<&'a str>,
    pub user_template_id: &'a str,
    /// The mini-program page the message opens, e.g. `pages/bill/detail?id=..`.
    pub page: Option<&'a str>,
    pub data: &'a Value,
}

impl AlipayTemplateMessage<'_> {
    /// `biz_content`: one recipient (`to_user_id` first), the template, the page and `data` as a JSON string.
    fn biz_content(&self) -> Result<Value, AlipayError> {
        let mut biz = Map::new();
        let non_empty = |id: Option<&str>| id.filter(|id| !id.is_empty()).map(str::to_owned);
        match (non_empty(self.to_user_id), non_empty(self.to_open_id)) {
            (Some(user_id), _) => biz.insert("to_user_id".into(), Value::String(user_id)),
            // PROTOCOLS.md: whether the method takes `to_open_id` for OpenID apps is not confirmed by Alipay's
            // documentation; it is the field name the OpenID migration uses elsewhere (`buyer_open_id`), and the
            // only way to address a user whose user_id we never learn.
            (None, Some(open_id)) => biz.insert("to_open_id".into(), Value::String(open_id)),
            (None, None) => return Err(AlipayError::InvalidRequest("the message has no recipient".into())),
        };
        if self.user_template_id.is_empty() {
            return Err(AlipayError::InvalidRequest("the message has no user_template_id".into()));
        }
        biz.insert("user_template_id".into(), Value::from(self.user_template_id));
        if let Some(page) = self.page.filter(|page| !page.is_empty()) {
            biz.insert("page".into(), Value::from(page));
        }
        biz.insert("data".into(), Value::String(self.data.to_string()));
        Ok(Value::Object(biz))
    }
}

/// What Alipay answered a delivered message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlipaySendReceipt {
    /// The verified response node (`{"code":"10000","msg":"Success"}`), at most [`MAX_REPLY_CHARS`] characters.
    pub reply: String,
}

impl AlipayClient {
    /// Sends one template message, once (see the module documentation for the errors).
    pub async fn send_template_message(
        &self,
        message: &AlipayTemplateMessage<'_>,
    ) -> Result<AlipaySendReceipt, AlipayError> {
        let node = self.call(TEMPLATE_MESSAGE_SEND_METHOD, Some(message.biz_content()?), &[]).await?;
        let reply = node.to_string();
        let reply = match reply.char_indices().nth(MAX_REPLY_CHARS) {
            Some((cut, _)) => reply[..cut].to_owned(),
            None => reply,
        };
        Ok(AlipaySendReceipt { reply })
    }
}

impl AlipayError {
    /// The user holds no subscription to the template (never accepted, used up or cancelled): do not retry, and
    /// forget the credits held for it.
    pub fn is_subscription_refused(&self) -> bool {
        match self {
            AlipayError::Business { sub_code, .. } => {
                sub_code == NOT_SUBSCRIBED_SUB_CODE || sub_code.to_ascii_uppercase().contains("SUBSCRI")
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn message(data: &Value) -> AlipayTemplateMessage<'_> {
        AlipayTemplateMessage {
            to_user_id: Some("2088102146225135"),
            to_open_id: None,
            user_template_id: "TM20240201000001",
            page: Some("pages/bill/detail?id=7012"),
            data,
        }
    }

    #[test]
    fn data_travels_as_a_json_string() {
        let data = json!({"keyword1": {"value": "电费账单"}});
        let biz = message(&data).biz_content().expect("builds");
        assert_eq!(
            biz,
            json!({
                "to_user_id": "2088102146225135",
                "user_template_id": "TM20240201000001",
                "page": "pages/bill/detail?id=7012",
                "data": r#"{"keyword1":{"value":"电费账单"}}"#,
            })
        );
    }

    #[test]
    fn the_user_id_is_preferred_and_the_open_id_used_without_one() {
        let data = json!({});
        let both = AlipayTemplateMessage { to_open_id: Some("0abc"), ..message(&data) }.biz_content().expect("builds");
        assert_eq!(both["to_user_id"], "2088102146225135");
        assert!(both.get("to_open_id").is_none());
        let open_id = AlipayTemplateMessage { to_user_id: Some(""), to_open_id: Some("0abc"), ..message(&data) };
        let biz = open_id.biz_content().expect("builds");
        assert_eq!(biz["to_open_id"], "0abc");
        assert!(biz.get("to_user_id").is_none());
    }

    #[test]
    fn a_message_without_recipient_or_template_is_not_sent() {
        let data = json!({});
        let nobody = AlipayTemplateMessage { to_user_id: None, to_open_id: None, ..message(&data) };
        assert!(matches!(nobody.biz_content(), Err(AlipayError::InvalidRequest(_))));
        let no_template = AlipayTemplateMessage { user_template_id: "", ..message(&data) };
        assert!(matches!(no_template.biz_content(), Err(AlipayError::InvalidRequest(_))));
    }

    #[test]
    fn the_send_can_run_on_any_worker_thread() {
        fn assert_send<T: Send>(_: &T) {}
        let client = super::super::gateway::tests::client();
        let data = json!({});
        let message = message(&data);
        assert_send(&client.send_template_message(&message));
    }

    #[test]
    fn a_missing_subscription_is_told_apart_from_other_refusals() {
        let failure = |sub_code: &str| {
            AlipayError::from_node(&json!({"code": "40004", "msg": "Business Failed", "sub_code": sub_code}))
        };
        assert!(failure(NOT_SUBSCRIBED_SUB_CODE).is_subscription_refused());
        assert!(failure("isv.user-unsubscribed").is_subscription_refused());
        assert!(!failure("USER_TEMPLATE_ILLEGAL").is_subscription_refused());
        assert!(!failure("USER_TEMPLATE_ILLEGAL").is_transient());
        let busy = AlipayError::from_node(&json!({"code": "20000", "sub_code": "isp.unknow-error"}));
        assert!(busy.is_transient());
        assert!(!busy.is_subscription_refused());
    }
}
