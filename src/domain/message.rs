//! Pushed messages, before any I/O: the kinds of message, the facts one can show, templates as configured (which key
//! shows which fact), the values written within each key type's limits, the SMS text, the reminder schedule and the
//! quiet hours. WeChat subscribe messages and Alipay template messages share one data shape:
//! `{"thing1": {"value": ".."}}` (WeChat) or `{"keyword1": {"value": ".."}}` (Alipay).

mod schedule;
mod value;

pub use schedule::{due_dates_for, steps_due_on, QuietHours, ReminderStep};
pub use value::{KeyType, ABSENT};

use crate::domain::money::Fen;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::fmt;
use value::{chinese_date, chinese_date_time, cut_with_ellipsis, format_value, human, yuan, Value};

/// What a message is about. The names are those of `preferences.kind` and `messages.kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    NewBill,
    DueSoon,
    DueToday,
    Overdue,
    PaymentReceived,
    RefundDone,
}

impl MessageKind {
    pub const ALL: [MessageKind; 6] = [
        MessageKind::NewBill,
        MessageKind::DueSoon,
        MessageKind::DueToday,
        MessageKind::Overdue,
        MessageKind::PaymentReceived,
        MessageKind::RefundDone,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MessageKind::NewBill => "new_bill",
            MessageKind::DueSoon => "due_soon",
            MessageKind::DueToday => "due_today",
            MessageKind::Overdue => "overdue",
            MessageKind::PaymentReceived => "payment_received",
            MessageKind::RefundDone => "refund_done",
        }
    }

    pub fn parse(text: &str) -> Option<MessageKind> {
        MessageKind::ALL.into_iter().find(|kind| kind.as_str() == text)
    }

    /// Due-soon, due-today and overdue reminders: the kinds that fall back to SMS.
    pub fn is_reminder(self) -> bool {
        matches!(self, MessageKind::DueSoon | MessageKind::DueToday | MessageKind::Overdue)
    }
}

impl fmt::Display for MessageKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a message goes. The names are those of `messages.channel`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Wechat,
    Alipay,
    Sms,
}

impl Channel {
    pub const ALL: [Channel; 3] = [Channel::Wechat, Channel::Alipay, Channel::Sms];

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Wechat => "wechat",
            Channel::Alipay => "alipay",
            Channel::Sms => "sms",
        }
    }

    pub fn parse(text: &str) -> Option<Channel> {
        Channel::ALL.into_iter().find(|channel| channel.as_str() == text)
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The facts a message can show. Each kind fills what it knows; a template key mapped to an absent fact shows
/// [`ABSENT`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageFacts {
    pub account_no: String,
    /// The name the user gave the account ("家里"); absent: the account number is shown instead.
    pub account_label: Option<String>,
    /// The holder's name, masked (张*).
    pub holder_masked: Option<String>,
    /// The billing period, `2026-10`.
    pub period: Option<String>,
    pub amount_due: Option<Fen>,
    pub amount_billed: Option<Fen>,
    pub usage_kwh: Option<i64>,
    pub due_date: Option<NaiveDate>,
    /// Days past the due date (Beijing dates): positive overdue, 0 due today.
    pub days_overdue: Option<i64>,
    pub late_fee: Option<Fen>,
    pub paid_amount: Option<Fen>,
    /// When the payment was made, epoch milliseconds.
    pub paid_at_ms: Option<i64>,
    pub refund_amount: Option<Fen>,
    /// The supply company or office (国网上海市电力公司浦东供电公司).
    pub supply_unit: Option<String>,
}

/// Which fact a template key shows, as written in the settings (`"amount_due"`, `"text:点击查看电费明细"`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Field {
    AccountNo,
    /// The account's label, else its number.
    AccountLabel,
    /// The holder's masked name.
    Holder,
    /// `2026年10月`.
    Period,
    AmountDue,
    AmountBilled,
    /// `280度`.
    UsageKwh,
    DueDate,
    /// `已逾期3天`.
    DaysOverdue,
    LateFee,
    PaidAmount,
    PaidAt,
    RefundAmount,
    SupplyUnit,
    /// A fixed text, written `text:...`.
    Text(String),
}

impl Field {
    /// The names [`Field::parse`] accepts, besides `text:...`.
    pub const NAMES: [&'static str; 14] = [
        "account_no",
        "account_label",
        "holder",
        "period",
        "amount_due",
        "amount_billed",
        "usage_kwh",
        "due_date",
        "days_overdue",
        "late_fee",
        "paid_amount",
        "paid_at",
        "refund_amount",
        "supply_unit",
    ];

    /// Reads a field name from the settings; `text:` must be followed by some text.
    pub fn parse(text: &str) -> Option<Field> {
        if let Some(fixed) = text.strip_prefix("text:") {
            return (!fixed.trim().is_empty()).then(|| Field::Text(fixed.to_string()));
        }
        Some(match text {
            "account_no" => Field::AccountNo,
            "account_label" => Field::AccountLabel,
            "holder" => Field::Holder,
            "period" => Field::Period,
            "amount_due" => Field::AmountDue,
            "amount_billed" => Field::AmountBilled,
            "usage_kwh" => Field::UsageKwh,
            "due_date" => Field::DueDate,
            "days_overdue" => Field::DaysOverdue,
            "late_fee" => Field::LateFee,
            "paid_amount" => Field::PaidAmount,
            "paid_at" => Field::PaidAt,
            "refund_amount" => Field::RefundAmount,
            "supply_unit" => Field::SupplyUnit,
            _ => return None,
        })
    }

    fn value_in<'a>(&'a self, facts: &'a MessageFacts) -> Value<'a> {
        let text = |s: &'a Option<String>| s.as_deref().map_or(Value::Absent, Value::Text);
        let money = |f: Option<Fen>| f.map_or(Value::Absent, Value::Money);
        match self {
            Field::AccountNo => Value::Text(&facts.account_no),
            Field::AccountLabel => match facts.account_label.as_deref() {
                Some(label) if !label.trim().is_empty() => Value::Text(label),
                _ => Value::Text(&facts.account_no),
            },
            Field::Holder => text(&facts.holder_masked),
            Field::Period => facts.period.as_deref().map_or(Value::Absent, Value::Period),
            Field::AmountDue => money(facts.amount_due),
            Field::AmountBilled => money(facts.amount_billed),
            Field::UsageKwh => facts.usage_kwh.map_or(Value::Absent, Value::Kwh),
            Field::DueDate => facts.due_date.map_or(Value::Absent, Value::Day),
            Field::DaysOverdue => facts.days_overdue.map_or(Value::Absent, Value::DaysOverdue),
            Field::LateFee => money(facts.late_fee),
            Field::PaidAmount => money(facts.paid_amount),
            Field::PaidAt => facts.paid_at_ms.map_or(Value::Absent, Value::Instant),
            Field::RefundAmount => money(facts.refund_amount),
            Field::SupplyUnit => text(&facts.supply_unit),
            Field::Text(fixed) => Value::Text(fixed),
        }
    }
}

impl fmt::Display for Field {
    /// The name as written in the settings.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Field::AccountNo => "account_no",
            Field::AccountLabel => "account_label",
            Field::Holder => "holder",
            Field::Period => "period",
            Field::AmountDue => "amount_due",
            Field::AmountBilled => "amount_billed",
            Field::UsageKwh => "usage_kwh",
            Field::DueDate => "due_date",
            Field::DaysOverdue => "days_overdue",
            Field::LateFee => "late_fee",
            Field::PaidAmount => "paid_amount",
            Field::PaidAt => "paid_at",
            Field::RefundAmount => "refund_amount",
            Field::SupplyUnit => "supply_unit",
            Field::Text(fixed) => return write!(f, "text:{fixed}"),
        };
        f.write_str(name)
    }
}

/// A platform template as configured for one kind of message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateSpec {
    pub template_id: String,
    /// The mini-program page the message opens, with `{bill_id}` and `{account_no}` placeholders.
    pub page: String,
    /// A long-term (standing) template rather than one-time.
    pub long_term: bool,
    /// Template key (`thing1`, `keyword1`) → the fact it shows.
    pub fields: Vec<(String, Field)>,
}

/// A message ready for the platform: the page it opens and its `data`, `{"thing1": {"value": ".."}, ...}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RenderedMessage {
    pub page: String,
    pub data: serde_json::Value,
}

/// Fills the template `spec` with `facts`. Every value is written within its key type's limits; an absent fact shows
/// [`ABSENT`]. In the page, `{bill_id}` and `{account_no}` are replaced; a query parameter whose placeholder has no
/// value (no bill) is left out, so the page opens without it rather than with an empty id.
pub fn render(spec: &TemplateSpec, facts: &MessageFacts, bill_id: Option<i64>) -> RenderedMessage {
    let data: serde_json::Map<String, serde_json::Value> = spec
        .fields
        .iter()
        .map(|(key, field)| {
            let value = format_value(KeyType::of_key(key), &field.value_in(facts));
            (key.clone(), serde_json::json!({ "value": value }))
        })
        .collect();
    RenderedMessage { page: fill_page(&spec.page, facts.account_no.trim(), bill_id), data: data.into() }
}

fn fill_page(page: &str, account_no: &str, bill_id: Option<i64>) -> String {
    let bill_id = bill_id.map(|id| id.to_string());
    let account_no = (!account_no.is_empty()).then(|| percent_encode(account_no));
    let fill = |part: &str| -> Option<String> {
        let mut filled = part.to_string();
        for (placeholder, value) in [("{bill_id}", &bill_id), ("{account_no}", &account_no)] {
            if filled.contains(placeholder) {
                filled = filled.replace(placeholder, value.as_deref()?);
            }
        }
        Some(filled)
    };
    let (path, query) = page.split_once('?').unwrap_or((page, ""));
    let path = fill(path).unwrap_or_else(|| path.replace("{bill_id}", "").replace("{account_no}", ""));
    let params: Vec<String> = query.split('&').filter(|p| !p.is_empty()).filter_map(fill).collect();
    if params.is_empty() {
        path
    } else {
        format!("{path}?{}", params.join("&"))
    }
}

/// Percent-encodes all but the unreserved characters of RFC 3986, for a value placed in a page's query.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The most characters of an SMS besides its link (one 140-character message with the signature).
pub const SMS_MAX_CHARS: usize = 140;

/// The SMS for `kind`: a short Chinese text with the account, the amount and the due date, ending with the e-bill
/// `link` when there is one, e.g. `【电费提醒】户号3100012345 2026年10月电费139.23元，将于2026年11月10日到期，请及时缴纳，
/// 详情：https://…`. Absent facts leave their clause out. The text besides the link is at most [`SMS_MAX_CHARS`].
pub fn sms_text(kind: MessageKind, facts: &MessageFacts, link: Option<&str>) -> String {
    const SIGNATURE: &str = "【电费提醒】";
    let account = human(&Value::Text(&facts.account_no)).unwrap_or_default();
    let period = facts.period.as_deref().and_then(|p| human(&Value::Period(p)));
    let due_amount = facts.amount_due.or(facts.amount_billed).map(yuan).unwrap_or_default();
    let subject = match &period {
        Some(period) => format!("户号{account} {period}电费{due_amount}"),
        None => format!("户号{account}电费{due_amount}"),
    };
    let due_date = facts.due_date.map(chinese_date);
    let mut clauses: Vec<String> = Vec::new();
    match kind {
        MessageKind::NewBill => {
            clauses.push(format!("{subject}已出账"));
            clauses.extend(facts.usage_kwh.map(|kwh| format!("用电{kwh}度")));
            clauses.extend(due_date.map(|d| format!("缴费截止日{d}")));
        }
        MessageKind::DueSoon => {
            clauses.push(subject);
            clauses.push(due_date.map_or_else(|| "即将到期".to_string(), |d| format!("将于{d}到期")));
            clauses.push("请及时缴纳".to_string());
        }
        MessageKind::DueToday => {
            clauses.push(subject);
            clauses.push(due_date.map_or_else(|| "今日到期".to_string(), |d| format!("于今日（{d}）到期")));
            clauses.push("请及时缴纳".to_string());
        }
        MessageKind::Overdue => {
            clauses.push(subject);
            clauses.push(match facts.days_overdue {
                Some(days) if days > 0 => format!("已逾期{days}天"),
                _ => "已逾期".to_string(),
            });
            if let Some(fee) = facts.late_fee.filter(|fee| fee.value() > 0) {
                clauses.push(format!("违约金{}", yuan(fee)));
            }
            clauses.push("请尽快缴纳".to_string());
        }
        MessageKind::PaymentReceived => {
            let paid = facts.paid_amount.map(yuan).unwrap_or_default();
            let at = facts.paid_at_ms.and_then(chinese_date_time).map(|at| format!("于{at}")).unwrap_or_default();
            clauses.push(format!("户号{account}{at}缴费{paid}已到账"));
            clauses.push("感谢您的支持".to_string());
        }
        MessageKind::RefundDone => {
            let refund = facts.refund_amount.map(yuan).unwrap_or_default();
            clauses.push(format!("户号{account}退款{refund}已原路退回"));
            clauses.push("请注意查收".to_string());
        }
    }
    let link = link.map(str::trim).filter(|l| !l.is_empty());
    let ending = if link.is_some() { "，详情：" } else { "。" };
    let room = SMS_MAX_CHARS - SIGNATURE.chars().count() - ending.chars().count();
    let body = cut_with_ellipsis(&clauses.join("，"), room);
    format!("{SIGNATURE}{body}{ending}{}", link.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{FixedOffset, TimeZone};

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn bill_facts() -> MessageFacts {
        MessageFacts {
            account_no: "3100012345".into(),
            account_label: Some("家里".into()),
            holder_masked: Some("张*".into()),
            period: Some("2026-10".into()),
            amount_due: Some(Fen::new(13923)),
            amount_billed: Some(Fen::new(13923)),
            usage_kwh: Some(280),
            due_date: Some(day(2026, 11, 10)),
            days_overdue: Some(3),
            late_fee: Some(Fen::new(140)),
            paid_amount: Some(Fen::new(13923)),
            paid_at_ms: Some(
                FixedOffset::east_opt(8 * 3600)
                    .unwrap()
                    .with_ymd_and_hms(2026, 11, 3, 15, 1, 0)
                    .unwrap()
                    .timestamp_millis(),
            ),
            refund_amount: Some(Fen::new(500)),
            supply_unit: Some("国网上海市电力公司浦东供电公司".into()),
        }
    }

    fn spec(page: &str, fields: &[(&str, &str)]) -> TemplateSpec {
        TemplateSpec {
            template_id: "Kj3uQ2b9VdXo5Ts8RnW1yLm4PzA7cHe0GfB6iJkN2Ux".into(),
            page: page.into(),
            long_term: false,
            fields: fields.iter().map(|(k, f)| (k.to_string(), Field::parse(f).unwrap())).collect(),
        }
    }

    fn value(message: &RenderedMessage, key: &str) -> String {
        message.data[key]["value"].as_str().unwrap().to_string()
    }

    #[test]
    fn kinds_have_stable_names() {
        let names: Vec<&str> = MessageKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(names, ["new_bill", "due_soon", "due_today", "overdue", "payment_received", "refund_done"]);
        for kind in MessageKind::ALL {
            assert_eq!(MessageKind::parse(kind.as_str()), Some(kind));
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
            assert_eq!(serde_json::from_value::<MessageKind>(kind.as_str().into()).unwrap(), kind);
        }
        assert_eq!(MessageKind::parse("NewBill"), None);
        assert!(MessageKind::Overdue.is_reminder());
        assert!(!MessageKind::NewBill.is_reminder());
    }

    #[test]
    fn channels_have_stable_names() {
        for (channel, name) in [(Channel::Wechat, "wechat"), (Channel::Alipay, "alipay"), (Channel::Sms, "sms")] {
            assert_eq!(channel.as_str(), name);
            assert_eq!(Channel::parse(name), Some(channel));
            assert_eq!(serde_json::to_value(channel).unwrap(), name);
        }
        assert_eq!(Channel::parse("email"), None);
    }

    #[test]
    fn fields_parse_and_print_as_written() {
        for name in Field::NAMES {
            assert_eq!(Field::parse(name).unwrap().to_string(), name);
        }
        assert_eq!(Field::parse("text:点击查看电费明细"), Some(Field::Text("点击查看电费明细".into())));
        assert_eq!(Field::parse("text:点击查看").unwrap().to_string(), "text:点击查看");
        assert_eq!(Field::parse("text:"), None);
        assert_eq!(Field::parse("text:  "), None);
        assert_eq!(Field::parse("amount"), None);
        assert_eq!(Field::parse("Amount_Due"), None);
    }

    #[test]
    fn a_new_bill_renders_each_key_by_its_type() {
        let spec = spec(
            "pages/bill/detail?id={bill_id}",
            &[
                ("thing1", "account_label"),
                ("character_string2", "account_no"),
                ("amount3", "amount_due"),
                ("date4", "due_date"),
                ("thing5", "text:点击查看电费明细"),
            ],
        );
        let message = render(&spec, &bill_facts(), Some(123));
        assert_eq!(message.page, "pages/bill/detail?id=123");
        assert_eq!(
            message.data,
            serde_json::json!({
                "thing1": {"value": "家里"},
                "character_string2": {"value": "3100012345"},
                "amount3": {"value": "139.23元"},
                "date4": {"value": "2026年11月10日"},
                "thing5": {"value": "点击查看电费明细"},
            })
        );
    }

    #[test]
    fn every_fact_renders_as_people_read_it() {
        let facts = bill_facts();
        let fields: Vec<(String, &str)> = Field::NAMES.iter().map(|name| (format!("thing_{name}"), *name)).collect();
        let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, f)| (k.as_str(), *f)).collect();
        // Keys without a known type are things.
        let message = render(&spec("pages/index", &pairs), &facts, None);
        let shown: Vec<String> = Field::NAMES.iter().map(|name| value(&message, &format!("thing_{name}"))).collect();
        assert_eq!(
            shown,
            [
                "3100012345",
                "家里",
                "张*",
                "2026年10月",
                "139.23元",
                "139.23元",
                "280度",
                "2026年11月10日",
                "已逾期3天",
                "1.40元",
                "139.23元",
                "2026年11月3日 15:01",
                "5.00元",
                "国网上海市电力公司浦东供电公司",
            ]
        );
    }

    #[test]
    fn a_missing_label_falls_back_to_the_account_number() {
        let spec = spec("pages/index", &[("thing1", "account_label")]);
        let mut facts = bill_facts();
        facts.account_label = None;
        assert_eq!(value(&render(&spec, &facts, None), "thing1"), "3100012345");
        facts.account_label = Some("  ".into());
        assert_eq!(value(&render(&spec, &facts, None), "thing1"), "3100012345");
    }

    #[test]
    fn absent_facts_show_a_dash_instead_of_failing() {
        let spec = spec(
            "pages/index",
            &[("thing1", "holder"), ("amount2", "late_fee"), ("time3", "paid_at"), ("keyword4", "supply_unit")],
        );
        let facts = MessageFacts { account_no: "3100012345".into(), ..MessageFacts::default() };
        let message = render(&spec, &facts, None);
        for key in ["thing1", "amount2", "time3", "keyword4"] {
            assert_eq!(value(&message, key), "-", "{key}");
        }
    }

    #[test]
    fn alipay_keywords_share_the_data_shape() {
        let spec = spec(
            "pages/bill/detail?id={bill_id}",
            &[
                ("keyword1", "supply_unit"),
                ("keyword2", "amount_due"),
                ("keyword3", "text:电费账单已出，请在到期前缴纳以免产生违约金"),
            ],
        );
        let message = render(&spec, &bill_facts(), Some(9));
        assert_eq!(value(&message, "keyword1"), "国网上海市电力公司浦东供电公司");
        assert_eq!(value(&message, "keyword2"), "139.23元");
        assert_eq!(value(&message, "keyword3"), "电费账单已出，请在到期前缴纳以免产生违…");
        assert_eq!(value(&message, "keyword3").chars().count(), 20);
    }

    #[test]
    fn rendered_values_from_present_facts_fit_their_keys() {
        let keys =
            ["thing1", "number2", "character_string3", "amount4", "date5", "time6", "phrase7", "name8", "keyword9"];
        let facts = bill_facts();
        for name in Field::NAMES {
            for key in keys {
                let message = render(&spec("p", &[(key, name)]), &facts, None);
                let shown = value(&message, key);
                if shown != ABSENT {
                    assert!(KeyType::of_key(key).fits(&shown), "{name} in {key}: {shown:?}");
                }
            }
        }
    }

    #[test]
    fn page_placeholders_are_filled_and_encoded() {
        let facts = MessageFacts { account_no: "31 00&1".into(), ..bill_facts() };
        let payments = spec("pages/payments/detail?account={account_no}", &[]);
        assert_eq!(render(&payments, &facts, None).page, "pages/payments/detail?account=31%2000%261");
        let both = spec("pages/bill/detail?id={bill_id}&account={account_no}&from=push", &[]);
        assert_eq!(render(&both, &bill_facts(), Some(77)).page, "pages/bill/detail?id=77&account=3100012345&from=push");
    }

    #[test]
    fn a_page_parameter_without_its_value_is_left_out() {
        let both = spec("pages/bill/detail?id={bill_id}&from=push", &[]);
        assert_eq!(render(&both, &bill_facts(), None).page, "pages/bill/detail?from=push");
        let only = spec("pages/bill/detail?id={bill_id}", &[]);
        assert_eq!(render(&only, &bill_facts(), None).page, "pages/bill/detail");
        let plain = spec("pages/index/index", &[]);
        assert_eq!(render(&plain, &bill_facts(), Some(1)).page, "pages/index/index");
    }

    #[test]
    fn rendered_messages_serialize_as_the_payload() {
        let message = render(&spec("pages/x?id={bill_id}", &[("thing1", "account_no")]), &bill_facts(), Some(5));
        assert_eq!(
            serde_json::to_value(&message).unwrap(),
            serde_json::json!({"page": "pages/x?id=5", "data": {"thing1": {"value": "3100012345"}}})
        );
    }

    #[test]
    fn the_due_soon_sms_names_account_amount_date_and_link() {
        let text = sms_text(MessageKind::DueSoon, &bill_facts(), Some("https://ebill.example.com/e/abc"));
        assert_eq!(
            text,
            "【电费提醒】户号3100012345 2026年10月电费139.23元，将于2026年11月10日到期，请及时缴纳，\
             详情：https://ebill.example.com/e/abc"
        );
    }

    #[test]
    fn the_due_today_and_overdue_sms_say_so() {
        let facts = bill_facts();
        assert_eq!(
            sms_text(MessageKind::DueToday, &facts, None),
            "【电费提醒】户号3100012345 2026年10月电费139.23元，于今日（2026年11月10日）到期，请及时缴纳。"
        );
        assert_eq!(
            sms_text(MessageKind::Overdue, &facts, Some("https://e.example/x")),
            "【电费提醒】户号3100012345 2026年10月电费139.23元，已逾期3天，违约金1.40元，请尽快缴纳，详情：https://e.example/x"
        );
        let no_fee = MessageFacts { late_fee: Some(Fen::ZERO), days_overdue: None, ..facts };
        assert_eq!(
            sms_text(MessageKind::Overdue, &no_fee, None),
            "【电费提醒】户号3100012345 2026年10月电费139.23元，已逾期，请尽快缴纳。"
        );
    }

    #[test]
    fn the_other_kinds_have_an_sms_too() {
        let facts = bill_facts();
        assert_eq!(
            sms_text(MessageKind::NewBill, &facts, None),
            "【电费提醒】户号3100012345 2026年10月电费139.23元已出账，用电280度，缴费截止日2026年11月10日。"
        );
        assert_eq!(
            sms_text(MessageKind::PaymentReceived, &facts, None),
            "【电费提醒】户号3100012345于2026年11月3日 15:01缴费139.23元已到账，感谢您的支持。"
        );
        assert_eq!(
            sms_text(MessageKind::RefundDone, &facts, None),
            "【电费提醒】户号3100012345退款5.00元已原路退回，请注意查收。"
        );
    }

    #[test]
    fn an_sms_leaves_out_what_it_does_not_know() {
        let facts = MessageFacts { account_no: "3100012345".into(), ..MessageFacts::default() };
        assert_eq!(
            sms_text(MessageKind::DueSoon, &facts, Some("  ")),
            "【电费提醒】户号3100012345电费，即将到期，请及时缴纳。"
        );
    }

    #[test]
    fn an_sms_stays_within_its_length_besides_the_link() {
        let link = "https://ebill.example.com/e/".to_string() + &"x".repeat(200);
        let facts = MessageFacts { account_no: "9".repeat(300), ..bill_facts() };
        for kind in MessageKind::ALL {
            let text = sms_text(kind, &facts, Some(&link));
            let besides_link = text.strip_suffix(link.as_str()).unwrap();
            assert_eq!(besides_link.chars().count(), SMS_MAX_CHARS, "{kind}");
            assert!(besides_link.ends_with("…，详情："), "{besides_link}");
            assert!(sms_text(kind, &bill_facts(), Some(&link)).chars().count() - link.chars().count() <= SMS_MAX_CHARS);
        }
    }
}
