//! Settings of pushed messages (`[messages]`): quiet hours, the reminder schedule, rates and retries of delivery,
//! the SMS fallback, and the platform templates each kind of message is sent with.

use super::{ConfigError, Mode, Secret};
use crate::domain::message::{Channel, Field, MessageKind, QuietHours, TemplateSpec};
use chrono::NaiveTime;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::OnceLock;

/// `[messages]`. The template lookups take `sandbox` (`Settings::mode() == Mode::Sandbox`): with no templates
/// configured, the sandbox uses the built-in set and production sends nothing.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MessageSettings {
    /// Start of the quiet hours, `HH:MM` Beijing time: messages due then wait until `quiet_end`.
    pub quiet_start: String,
    /// End of the quiet hours, `HH:MM` Beijing time. Equal to `quiet_start`: no quiet hours.
    pub quiet_end: String,
    /// Days relative to the due date on which reminders go out (−3: three days before; 0: on it; 7: a week after),
    /// each within −60..=90, no day twice. Empty: no reminders.
    pub reminder_days: Vec<i64>,
    /// Messages per second sent to each platform by one instance; 0: no limit.
    pub rate_limit_wechat_per_sec: u32,
    pub rate_limit_alipay_per_sec: u32,
    pub rate_limit_sms_per_sec: u32,
    /// Sends attempted (transient failures retried with backoff) before a message is left failed.
    pub max_attempts: i64,
    /// Messages sent concurrently by one instance.
    pub workers: usize,
    /// The mini-program version WeChat messages open: developer, trial or formal.
    pub miniprogram_state: String,
    /// The language of WeChat's message view: zh_CN, en_US, zh_HK or zh_TW.
    pub lang: String,
    /// The SMS gateway's endpoint (HTTPS in production). In sandbox mode it defaults to this instance's simulated
    /// gateway, `/sandbox/sms/send`.
    pub sms_gateway_url: Option<String>,
    /// File with the HMAC-SHA256 secret SMS requests are signed with.
    pub sms_hmac_secret_file: Option<PathBuf>,
    /// Due and overdue reminders go by SMS when no mini-program user of the account can receive them.
    pub sms_fallback: bool,
    /// The templates of each kind, per platform. Empty: in sandbox mode the built-in sandbox set
    /// ([`MessageSettings::sandbox_templates`]); in production no message is configured and none is sent.
    pub templates: Vec<TemplateSetting>,
}

/// One platform template as written in the settings (`[[messages.templates]]`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateSetting {
    pub kind: MessageKind,
    /// `wechat` or `alipay`.
    pub platform: String,
    pub template_id: String,
    /// The page the message opens, with `{bill_id}` and `{account_no}` placeholders.
    pub page: String,
    /// A long-term template (a standing permission) rather than a one-time one.
    #[serde(default)]
    pub long_term: bool,
    /// Template key (`thing1`, `keyword1`) → field name (`amount_due`, `text:...`; see `domain::message::Field`).
    pub fields: BTreeMap<String, String>,
}

impl TemplateSetting {
    /// The template with its fields parsed; the error names what is wrong.
    pub fn to_spec(&self) -> Result<TemplateSpec, String> {
        let fields = self
            .fields
            .iter()
            .map(|(key, name)| match Field::parse(name) {
                Some(field) => Ok((key.clone(), field)),
                None => Err(format!(
                    "field {name:?} of key {key:?} is unknown; use text:... or one of {}",
                    Field::NAMES.join(", ")
                )),
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(TemplateSpec {
            template_id: self.template_id.clone(),
            page: self.page.clone(),
            long_term: self.long_term,
            fields,
        })
    }

    fn check(&self) -> Result<(), String> {
        if !matches!(Channel::parse(&self.platform), Some(Channel::Wechat | Channel::Alipay)) {
            return Err(format!("platform {:?} is not wechat or alipay", self.platform));
        }
        if self.template_id.is_empty()
            || self.template_id.len() > 128
            || !self.template_id.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(format!("template_id {:?} must be 1 to 128 visible ASCII characters", self.template_id));
        }
        let unplaced = self.page.replace("{bill_id}", "").replace("{account_no}", "");
        if self.page.trim().is_empty() || self.page.chars().any(char::is_whitespace) || unplaced.contains(['{', '}']) {
            return Err(format!(
                "page {:?} must be a page path without spaces, with no placeholders but {{bill_id}} and {{account_no}}",
                self.page
            ));
        }
        if self.fields.is_empty() {
            return Err("fields must name at least one template key".into());
        }
        if let Some(key) =
            self.fields.keys().find(|k| k.is_empty() || !k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
        {
            return Err(format!("template key {key:?} must be letters, digits and _ (thing1, keyword1)"));
        }
        self.to_spec().map(|_| ())
    }
}

impl Default for MessageSettings {
    fn default() -> Self {
        MessageSettings {
            quiet_start: "21:00".into(),
            quiet_end: "08:00".into(),
            reminder_days: vec![-3, 0, 3, 7, 15],
            rate_limit_wechat_per_sec: 0,
            rate_limit_alipay_per_sec: 0,
            rate_limit_sms_per_sec: 0,
            max_attempts: 8,
            workers: 16,
            miniprogram_state: "formal".into(),
            lang: "zh_CN".into(),
            sms_gateway_url: None,
            sms_hmac_secret_file: None,
            sms_fallback: true,
            templates: Vec::new(),
        }
    }
}

impl MessageSettings {
    /// Earliest and latest reminder days accepted, relative to the due date.
    pub const REMINDER_DAYS: std::ops::RangeInclusive<i64> = -60..=90;
    pub const MAX_ATTEMPTS: i64 = 100;
    pub const MAX_WORKERS: usize = 1024;
    const LANGS: [&'static str; 4] = ["zh_CN", "en_US", "zh_HK", "zh_TW"];
    const MINIPROGRAM_STATES: [&'static str; 3] = ["developer", "trial", "formal"];

    /// The quiet hours. Call after `Settings::check`, which refuses unreadable times.
    pub fn quiet_hours(&self) -> QuietHours {
        match (parse_clock(&self.quiet_start), parse_clock(&self.quiet_end)) {
            (Some(start), Some(end)) => QuietHours::new(start, end),
            _ => QuietHours::none(),
        }
    }

    /// The rate limit of `channel`, messages per second; `None`: no limit.
    pub fn rate_limit(&self, channel: Channel) -> Option<u32> {
        let limit = match channel {
            Channel::Wechat => self.rate_limit_wechat_per_sec,
            Channel::Alipay => self.rate_limit_alipay_per_sec,
            Channel::Sms => self.rate_limit_sms_per_sec,
        };
        (limit > 0).then_some(limit)
    }

    /// Whether due and overdue reminders fall back to SMS: asked for, and a gateway to send them to (in sandbox
    /// mode the simulated one).
    pub fn sms_fallback_enabled(&self, sandbox: bool) -> bool {
        self.sms_fallback && (sandbox || self.sms_gateway_url.is_some())
    }

    /// The SMS gateway's signing secret, read from `sms_hmac_secret_file`.
    pub fn sms_hmac_secret(&self) -> Result<Option<Secret>, ConfigError> {
        match &self.sms_hmac_secret_file {
            Some(path) => Secret::from_file("SMS gateway HMAC secret", path).map(Some),
            None => Ok(None),
        }
    }

    /// The templates in force: those configured; when none are, the built-in sandbox set in sandbox mode and none
    /// in production (sandbox template ids mean nothing to the real platforms).
    pub fn effective_templates(&self, sandbox: bool) -> &[TemplateSetting] {
        static SANDBOX_TEMPLATES: OnceLock<Vec<TemplateSetting>> = OnceLock::new();
        if self.templates.is_empty() && sandbox {
            SANDBOX_TEMPLATES.get_or_init(MessageSettings::sandbox_templates)
        } else {
            &self.templates
        }
    }

    /// The template for `kind` on `platform` (`wechat` or `alipay`), with its fields parsed; `None` when that kind is
    /// not sent on that platform.
    pub fn template_for(&self, kind: MessageKind, platform: &str, sandbox: bool) -> Option<TemplateSpec> {
        self.effective_templates(sandbox)
            .iter()
            .find(|t| t.kind == kind && t.platform == platform)
            .and_then(|t| t.to_spec().ok())
    }

    /// Whether `template_id` on `platform` is a long-term template (a standing permission, no credit used).
    pub fn is_long_term(&self, platform: &str, template_id: &str, sandbox: bool) -> bool {
        self.effective_templates(sandbox)
            .iter()
            .any(|t| t.platform == platform && t.template_id == template_id && t.long_term)
    }

    /// The sandbox's templates: every kind on both platforms, one-time, as the simulated platforms know them.
    pub fn sandbox_templates() -> Vec<TemplateSetting> {
        const BILL: &str = "pages/bill/detail?id={bill_id}";
        const PAYMENTS: &str = "pages/payments/detail?account={account_no}";
        use MessageKind::*;
        // (kind, template id, page, template key → field name)
        type Entry = (MessageKind, &'static str, &'static str, &'static [(&'static str, &'static str)]);
        let wechat: [Entry; 6] = [
            (
                NewBill,
                "aGLizhqGcxLSZZRATjKkxPqTs_juePRgsTm-WaYez9k",
                BILL,
                &[
                    ("thing1", "account_label"),
                    ("character_string2", "account_no"),
                    ("amount3", "amount_due"),
                    ("date4", "due_date"),
                    ("thing5", "text:点击查看电费明细"),
                ],
            ),
            (
                DueSoon,
                "ejwYDwYpK8_7szSwjIn19NI8bXwdTtAPMXDebXguHm4",
                BILL,
                &[
                    ("thing1", "account_label"),
                    ("amount2", "amount_due"),
                    ("date3", "due_date"),
                    ("thing4", "text:电费即将到期，请及时缴纳"),
                ],
            ),
            (
                DueToday,
                "fsPA2jm1_HgWI64-WitfY_eN8BN7MtujYooP2PvrhZw",
                BILL,
                &[
                    ("thing1", "account_label"),
                    ("amount2", "amount_due"),
                    ("date3", "due_date"),
                    ("thing4", "text:电费今日到期，请及时缴纳"),
                ],
            ),
            (
                Overdue,
                "A_fv-sxP-rYb7MjkvTuy_Ewc8aBrO35FWvqYfqarxv8",
                BILL,
                &[
                    ("thing1", "account_label"),
                    ("amount2", "amount_due"),
                    ("thing3", "days_overdue"),
                    ("amount4", "late_fee"),
                    ("thing5", "text:请尽快缴纳，以免违约金增加"),
                ],
            ),
            (
                PaymentReceived,
                "oufXwSnSPR7pwOd6cZcfndHQjDp66pccTtfmlESJKcc",
                PAYMENTS,
                &[
                    ("thing1", "account_label"),
                    ("amount2", "paid_amount"),
                    ("time3", "paid_at"),
                    ("character_string4", "account_no"),
                    ("thing5", "text:缴费成功，感谢您的支持"),
                ],
            ),
            (
                RefundDone,
                "5TjIIbINaj7gKb5Pr-yfEWAVNqgpiwNdxrvBQU1GqbI",
                PAYMENTS,
                &[
                    ("thing1", "account_label"),
                    ("amount2", "refund_amount"),
                    ("character_string3", "account_no"),
                    ("thing4", "text:退款已原路退回，请注意查收"),
                ],
            ),
        ];
        let alipay: [Entry; 6] = [
            (
                NewBill,
                "AT0001FCAFC43FA3FC441D352A304958",
                BILL,
                &[
                    ("keyword1", "account_label"),
                    ("keyword2", "period"),
                    ("keyword3", "amount_due"),
                    ("keyword4", "due_date"),
                    ("keyword5", "text:点击查看电费明细"),
                ],
            ),
            (
                DueSoon,
                "AT0001A8CEFADF8283BBDF2D6FAF473A",
                BILL,
                &[
                    ("keyword1", "account_label"),
                    ("keyword2", "amount_due"),
                    ("keyword3", "due_date"),
                    ("keyword4", "text:电费即将到期，请及时缴纳"),
                ],
            ),
            (
                DueToday,
                "AT000114C4195D4E0942675DEC6064F0",
                BILL,
                &[
                    ("keyword1", "account_label"),
                    ("keyword2", "amount_due"),
                    ("keyword3", "due_date"),
                    ("keyword4", "text:电费今日到期，请及时缴纳"),
                ],
            ),
            (
                Overdue,
                "AT00011E7FAFD4F98F6E4D6C480D01DA",
                BILL,
                &[
                    ("keyword1", "account_label"),
                    ("keyword2", "amount_due"),
                    ("keyword3", "days_overdue"),
                    ("keyword4", "late_fee"),
                ],
            ),
            (
                PaymentReceived,
                "AT0001996954CC9F3BA6677AE117F91C",
                PAYMENTS,
                &[("keyword1", "account_label"), ("keyword2", "paid_amount"), ("keyword3", "paid_at")],
            ),
            (
                RefundDone,
                "AT00012C057BF801A47D5734F7676F3F",
                PAYMENTS,
                &[
                    ("keyword1", "account_label"),
                    ("keyword2", "refund_amount"),
                    ("keyword3", "text:退款已原路退回，请注意查收"),
                ],
            ),
        ];
        let platforms = [(Channel::Wechat, &wechat), (Channel::Alipay, &alipay)];
        platforms
            .into_iter()
            .flat_map(|(platform, templates)| {
                templates.iter().map(move |(kind, id, page, fields)| TemplateSetting {
                    kind: *kind,
                    platform: platform.as_str().to_string(),
                    template_id: id.to_string(),
                    page: page.to_string(),
                    long_term: false,
                    fields: fields.iter().map(|(k, f)| (k.to_string(), f.to_string())).collect(),
                })
            })
            .collect()
    }

    pub(super) fn check(&self, mode: Mode) -> Result<(), ConfigError> {
        let invalid = |message: String| Err(ConfigError::Invalid(format!("messages.{message}")));
        for (name, value) in [("quiet_start", &self.quiet_start), ("quiet_end", &self.quiet_end)] {
            if parse_clock(value).is_none() {
                return invalid(format!("{name} {value:?} is not a time of day HH:MM (Beijing)"));
            }
        }
        let mut days = HashSet::new();
        for day in &self.reminder_days {
            if !Self::REMINDER_DAYS.contains(day) || !days.insert(*day) {
                return invalid(format!(
                    "reminder_days must be distinct days between {} and {} of the due date; {day} is not",
                    Self::REMINDER_DAYS.start(),
                    Self::REMINDER_DAYS.end()
                ));
            }
        }
        if !(1..=Self::MAX_ATTEMPTS).contains(&self.max_attempts) {
            return invalid(format!("max_attempts must be between 1 and {}", Self::MAX_ATTEMPTS));
        }
        if !(1..=Self::MAX_WORKERS).contains(&self.workers) {
            return invalid(format!("workers must be between 1 and {}", Self::MAX_WORKERS));
        }
        if !Self::MINIPROGRAM_STATES.contains(&self.miniprogram_state.as_str()) {
            return invalid(format!("miniprogram_state must be one of {}", Self::MINIPROGRAM_STATES.join(", ")));
        }
        if !Self::LANGS.contains(&self.lang.as_str()) {
            return invalid(format!("lang must be one of {}", Self::LANGS.join(", ")));
        }
        if let Some(url) = &self.sms_gateway_url {
            if !(url.starts_with("https://") || (mode == Mode::Sandbox && url.starts_with("http://"))) {
                return invalid("sms_gateway_url must be an https:// address".into());
            }
        }
        if mode == Mode::Production && self.sms_gateway_url.is_some() != self.sms_hmac_secret_file.is_some() {
            return invalid("sms_gateway_url and sms_hmac_secret_file go together".into());
        }
        let mut seen = HashSet::new();
        let mut long_term: HashMap<(&str, &str), bool> = HashMap::new();
        for (index, template) in self.templates.iter().enumerate() {
            let name = format!("templates[{index}] ({} on {})", template.kind, template.platform);
            if let Err(message) = template.check() {
                return invalid(format!("{name}: {message}"));
            }
            if !seen.insert((template.kind, template.platform.as_str())) {
                return invalid(format!("{name}: a kind has at most one template per platform"));
            }
            let key = (template.platform.as_str(), template.template_id.as_str());
            if *long_term.entry(key).or_insert(template.long_term) != template.long_term {
                return invalid(format!("{name}: template {} is long-term in one entry and not in another", key.1));
            }
        }
        Ok(())
    }
}

/// `HH:MM`, 24-hour.
fn parse_clock(text: &str) -> Option<NaiveTime> {
    (text.len() == 5).then(|| NaiveTime::parse_from_str(text, "%H:%M").ok()).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::message::{render, MessageFacts};
    use crate::domain::money::Fen;

    fn from_toml(text: &str) -> MessageSettings {
        toml::from_str(text).unwrap()
    }

    fn refused(text: &str, mode: Mode) -> String {
        from_toml(text).check(mode).unwrap_err().to_string()
    }

    const NEW_BILL: &str = "[[templates]]\nkind = \"new_bill\"\nplatform = \"wechat\"\ntemplate_id = \"T1\"\n\
                            page = \"pages/bill/detail?id={bill_id}\"\nfields = { thing1 = \"account_label\" }\n";

    #[test]
    fn defaults_are_the_documented_ones() {
        let settings = MessageSettings::default();
        settings.check(Mode::Sandbox).unwrap();
        settings.check(Mode::Production).unwrap();
        let quiet = settings.quiet_hours();
        assert_eq!(
            (quiet.start(), quiet.end()),
            (NaiveTime::from_hms_opt(21, 0, 0).unwrap(), NaiveTime::from_hms_opt(8, 0, 0).unwrap())
        );
        assert_eq!(settings.reminder_days, [-3, 0, 3, 7, 15]);
        assert_eq!(settings.max_attempts, 8);
        assert_eq!(settings.workers, 16);
        assert_eq!(settings.miniprogram_state, "formal");
        assert_eq!(settings.lang, "zh_CN");
        assert!(settings.sms_fallback);
        for channel in Channel::ALL {
            assert_eq!(settings.rate_limit(channel), None);
        }
    }

    #[test]
    fn the_sandbox_set_covers_every_kind_on_both_platforms() {
        let settings = MessageSettings::default();
        for platform in ["wechat", "alipay"] {
            for kind in MessageKind::ALL {
                let spec = settings.template_for(kind, platform, true).unwrap();
                assert!(!spec.long_term);
                if platform == "wechat" {
                    assert_eq!(spec.template_id.len(), 43, "{kind}");
                    assert!(spec.fields.iter().all(|(k, _)| !k.starts_with("keyword")));
                } else {
                    assert!(spec.template_id.starts_with("AT0001"), "{kind}");
                    assert!(spec.fields.iter().all(|(k, _)| k.starts_with("keyword")));
                }
                let expected_page = match kind {
                    MessageKind::PaymentReceived | MessageKind::RefundDone => {
                        "pages/payments/detail?account={account_no}"
                    }
                    _ => "pages/bill/detail?id={bill_id}",
                };
                assert_eq!(spec.page, expected_page);
            }
        }
        let all = MessageSettings::sandbox_templates();
        assert_eq!(all.len(), 12);
        let with_set = MessageSettings { templates: all, ..MessageSettings::default() };
        with_set.check(Mode::Sandbox).unwrap();
        with_set.check(Mode::Production).unwrap();
    }

    #[test]
    fn the_sandbox_new_bill_template_renders_within_limits() {
        let spec = MessageSettings::default().template_for(MessageKind::NewBill, "wechat", true).unwrap();
        let facts = MessageFacts {
            account_no: "3100012345".into(),
            amount_due: Some(Fen::new(13923)),
            due_date: chrono::NaiveDate::from_ymd_opt(2026, 11, 10),
            ..MessageFacts::default()
        };
        let message = render(&spec, &facts, Some(42));
        assert_eq!(message.page, "pages/bill/detail?id=42");
        assert_eq!(message.data["thing1"]["value"], "3100012345");
        assert_eq!(message.data["amount3"]["value"], "139.23元");
        assert_eq!(message.data["date4"]["value"], "2026年11月10日");
        assert_eq!(message.data["thing5"]["value"], "点击查看电费明细");
    }

    #[test]
    fn production_without_templates_sends_nothing() {
        let settings = MessageSettings::default();
        assert!(settings.effective_templates(false).is_empty());
        assert!(settings.template_for(MessageKind::NewBill, "wechat", false).is_none());
    }

    #[test]
    fn configured_templates_replace_the_sandbox_set() {
        let settings = from_toml(NEW_BILL);
        settings.check(Mode::Production).unwrap();
        for sandbox in [true, false] {
            assert_eq!(settings.effective_templates(sandbox).len(), 1);
            let spec = settings.template_for(MessageKind::NewBill, "wechat", sandbox).unwrap();
            assert_eq!(spec.template_id, "T1");
            assert_eq!(spec.fields, [("thing1".to_string(), Field::AccountLabel)]);
            assert!(settings.template_for(MessageKind::NewBill, "alipay", sandbox).is_none());
            assert!(settings.template_for(MessageKind::Overdue, "wechat", sandbox).is_none());
        }
    }

    #[test]
    fn long_term_templates_are_known_by_platform_and_id() {
        let settings = from_toml(&NEW_BILL.replace("fields", "long_term = true\nfields"));
        settings.check(Mode::Production).unwrap();
        assert!(settings.is_long_term("wechat", "T1", false));
        assert!(!settings.is_long_term("alipay", "T1", false));
        assert!(!settings.is_long_term("wechat", "T2", false));
        let sandbox_new_bill = "aGLizhqGcxLSZZRATjKkxPqTs_juePRgsTm-WaYez9k";
        assert!(!MessageSettings::default().is_long_term("wechat", sandbox_new_bill, true));
    }

    #[test]
    fn a_kind_has_at_most_one_template_per_platform() {
        let twice = format!("{NEW_BILL}{}", NEW_BILL.replace("T1", "T2"));
        assert!(refused(&twice, Mode::Sandbox).contains("at most one template per platform"));
        let both = format!("{NEW_BILL}{}", NEW_BILL.replace("wechat", "alipay"));
        from_toml(&both).check(Mode::Sandbox).unwrap();
    }

    #[test]
    fn one_template_cannot_be_both_long_term_and_one_time() {
        let mixed = format!(
            "{NEW_BILL}{}",
            NEW_BILL.replace("new_bill", "due_soon").replace("fields", "long_term = true\nfields")
        );
        assert!(refused(&mixed, Mode::Sandbox).contains("long-term"));
    }

    #[test]
    fn template_mistakes_are_refused() {
        let cases = [
            (NEW_BILL.replace("\"account_label\"", "\"acount_label\""), "is unknown"),
            (NEW_BILL.replace("\"account_label\"", "\"text:\""), "is unknown"),
            (NEW_BILL.replace("thing1 =", "\"\" ="), "template key"),
            (NEW_BILL.replace("thing1 =", "\"thing 1\" ="), "template key"),
            (NEW_BILL.replace("{ thing1 = \"account_label\" }", "{}"), "at least one"),
            (NEW_BILL.replace("\"pages/bill/detail?id={bill_id}\"", "\"\""), "page"),
            (NEW_BILL.replace("{bill_id}", "{bill}"), "placeholders"),
            (NEW_BILL.replace("\"T1\"", "\"\""), "template_id"),
            (NEW_BILL.replace("\"T1\"", "\"T 1\""), "template_id"),
            (NEW_BILL.replace("\"wechat\"", "\"sms\""), "platform"),
        ];
        for (text, expected) in cases {
            let error = refused(&text, Mode::Sandbox);
            assert!(error.starts_with("messages.templates[0]"), "{error}");
            assert!(error.contains(expected), "{expected}: {error}");
        }
        assert!(toml::from_str::<MessageSettings>(&NEW_BILL.replace("new_bill", "bill")).is_err());
        assert!(toml::from_str::<MessageSettings>(&format!("{NEW_BILL}color = \"red\"\n")).is_err());
    }

    #[test]
    fn quiet_hours_are_read_from_the_settings() {
        let settings = from_toml("quiet_start = \"22:30\"\nquiet_end = \"07:15\"\n");
        settings.check(Mode::Sandbox).unwrap();
        let quiet = settings.quiet_hours();
        assert_eq!(quiet.start(), NaiveTime::from_hms_opt(22, 30, 0).unwrap());
        assert_eq!(quiet.end(), NaiveTime::from_hms_opt(7, 15, 0).unwrap());
        let none = from_toml("quiet_start = \"00:00\"\nquiet_end = \"00:00\"\n");
        none.check(Mode::Sandbox).unwrap();
        assert!(none.quiet_hours().is_none());
    }

    #[test]
    fn unreadable_quiet_hours_are_refused() {
        for value in ["21", "9:00", "24:00", "21:60", "21:00:00", "nine"] {
            let error = refused(&format!("quiet_start = \"{value}\"\n"), Mode::Sandbox);
            assert!(error.contains("messages.quiet_start"), "{value}: {error}");
        }
        assert!(refused("quiet_end = \"8am\"\n", Mode::Sandbox).contains("messages.quiet_end"));
    }

    #[test]
    fn reminder_days_are_distinct_and_within_range() {
        from_toml("reminder_days = [-60, 90]\n").check(Mode::Sandbox).unwrap();
        from_toml("reminder_days = []\n").check(Mode::Sandbox).unwrap();
        for days in ["[-61]", "[91]", "[3, 3]"] {
            let error = refused(&format!("reminder_days = {days}\n"), Mode::Sandbox);
            assert!(error.contains("messages.reminder_days"), "{days}: {error}");
        }
    }

    #[test]
    fn limits_of_delivery_are_checked() {
        for (line, name) in [
            ("max_attempts = 0", "max_attempts"),
            ("max_attempts = 101", "max_attempts"),
            ("workers = 0", "workers"),
            ("lang = \"fr_FR\"", "lang"),
        ] {
            assert!(refused(&format!("{line}\n"), Mode::Sandbox).contains(name), "{line}");
        }
        assert!(refused("miniprogram_state = \"beta\"\n", Mode::Sandbox).contains("miniprogram_state"));
        let trial = from_toml("miniprogram_state = \"trial\"\nrate_limit_wechat_per_sec = 500\n");
        trial.check(Mode::Sandbox).unwrap();
        assert_eq!(trial.miniprogram_state, "trial");
        assert_eq!(trial.rate_limit(Channel::Wechat), Some(500));
        assert_eq!(trial.rate_limit(Channel::Alipay), None);
    }

    #[test]
    fn the_sms_gateway_is_https_in_production_with_its_secret() {
        let plain = "sms_gateway_url = \"http://127.0.0.1:9000/sms\"\n";
        from_toml(plain).check(Mode::Sandbox).unwrap();
        assert!(refused(plain, Mode::Production).contains("https://"));
        let https = "sms_gateway_url = \"https://sms.example.com/send\"\n";
        assert!(refused(https, Mode::Production).contains("go together"));
        let complete = format!("{https}sms_hmac_secret_file = \"certs/sms_hmac.key\"\n");
        from_toml(&complete).check(Mode::Production).unwrap();
        assert!(refused("sms_gateway_url = \"sms.example.com\"\n", Mode::Sandbox).contains("sms_gateway_url"));
    }

    #[test]
    fn sms_fallback_needs_a_gateway_in_production() {
        let settings = MessageSettings::default();
        assert!(settings.sms_fallback_enabled(true));
        assert!(!settings.sms_fallback_enabled(false));
        let with_gateway = from_toml("sms_gateway_url = \"https://sms.example.com/send\"\n");
        assert!(with_gateway.sms_fallback_enabled(false));
        let off = from_toml("sms_fallback = false\n");
        assert!(!off.sms_fallback_enabled(true));
    }

    #[test]
    fn the_example_file_documents_the_defaults() {
        let settings: crate::config::Settings = toml::from_str(include_str!("../../ebill.example.toml")).unwrap();
        let (example, defaults) = (&settings.messages, MessageSettings::default());
        assert_eq!((&example.quiet_start, &example.quiet_end), (&defaults.quiet_start, &defaults.quiet_end));
        assert_eq!(example.reminder_days, defaults.reminder_days);
        assert_eq!(example.max_attempts, defaults.max_attempts);
        assert_eq!(example.workers, defaults.workers);
        assert_eq!(example.miniprogram_state, defaults.miniprogram_state);
        assert_eq!(example.lang, defaults.lang);
        assert_eq!(example.sms_fallback, defaults.sms_fallback);
        assert!(example.templates.is_empty());
    }

    #[test]
    fn the_example_file_templates_are_valid_when_uncommented() {
        let example = include_str!("../../ebill.example.toml");
        let start = example.find("# [[messages.templates]]").unwrap();
        let uncommented: String = example[start..]
            .lines()
            .take_while(|line| line.starts_with('#'))
            .map(|line| format!("{}\n", line.trim_start_matches('#').trim_start()))
            .collect();
        let settings: crate::config::Settings = toml::from_str(&uncommented).unwrap();
        settings.messages.check(Mode::Production).unwrap();
        assert_eq!(settings.messages.templates.len(), 3);
        let overdue = settings.messages.template_for(MessageKind::Overdue, "alipay", false).unwrap();
        let sandbox = MessageSettings::default().template_for(MessageKind::Overdue, "alipay", true).unwrap();
        assert_eq!(overdue, sandbox);
    }

    #[test]
    fn the_sms_secret_is_read_from_its_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sms.key");
        std::fs::write(&path, "sms-secret\n").unwrap();
        let settings = MessageSettings { sms_hmac_secret_file: Some(path), ..MessageSettings::default() };
        assert_eq!(settings.sms_hmac_secret().unwrap().unwrap().expose(), b"sms-secret");
        assert!(MessageSettings::default().sms_hmac_secret().unwrap().is_none());
        let missing =
            MessageSettings { sms_hmac_secret_file: Some("/nonexistent/sms.key".into()), ..MessageSettings::default() };
        assert!(missing.sms_hmac_secret().unwrap_err().to_string().contains("SMS gateway HMAC secret"));
    }
}
