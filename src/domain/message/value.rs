//! Template values: the type of a template key (from its name), what values that type accepts, and how a fact is
//! written into it. The limits are WeChat's (PROTOCOLS.md, "Subscribe messages"); Alipay's are not documented, so its
//! `keywordN` keys are cut at 20 characters like a WeChat `thing`.

use crate::domain::calendar::{beijing_datetime, BillingPeriod};
use crate::domain::money::Fen;
use chrono::{Datelike, Months, NaiveDate, Timelike};

/// What an absent fact (or one the key's type cannot show) is written as.
pub const ABSENT: &str = "-";

/// The type of a template key, read from its name without the trailing number: `thing1` → [`KeyType::Thing`],
/// `character_string2` → [`KeyType::CharacterString`], Alipay's `keyword3` → [`KeyType::Keyword`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyType {
    /// ≤ 20 characters of any kind.
    Thing,
    /// ≤ 32 digits, with at most one decimal point.
    Number,
    /// ≤ 32 letters, digits and symbols (ASCII).
    CharacterString,
    /// An optional currency sign, ≤ 10 digits with an optional decimal point, optionally ending with 元.
    Amount,
    /// `2019年10月1日`, optionally with a 24-hour time; two of them joined by `~` for a span.
    Date,
    /// A 24-hour time `15:01`, optionally after a date (`2019年10月1日 15:01`); two joined by `~` for a span.
    Time,
    /// ≤ 5 Chinese characters.
    Phrase,
    /// ≤ 10 characters when any is not ASCII (Chinese), else ≤ 20.
    Name,
    /// ≤ 17 digits, `+` and `-`.
    PhoneNumber,
    /// A licence plate, ≤ 8 characters.
    CarNumber,
    /// ≤ 32 ASCII letters.
    Letter,
    /// ≤ 5 ASCII symbols.
    Symbol,
    /// ≤ 5 characters of any kind.
    ShortThing,
    /// Alipay's `keywordN`: its limits are not documented, so ≤ 20 characters, like a `thing`.
    Keyword,
    /// A key type we do not know: treated as a `thing` (≤ 20 characters).
    Other,
}

impl KeyType {
    /// The type of the key `key` (`thing1`, `amount3`, `keyword2`...).
    pub fn of_key(key: &str) -> KeyType {
        match key.trim_end_matches(|c: char| c.is_ascii_digit()) {
            "thing" => KeyType::Thing,
            "number" => KeyType::Number,
            "character_string" => KeyType::CharacterString,
            "amount" => KeyType::Amount,
            "date" => KeyType::Date,
            "time" => KeyType::Time,
            "phrase" => KeyType::Phrase,
            "name" => KeyType::Name,
            "phone_number" => KeyType::PhoneNumber,
            "car_number" => KeyType::CarNumber,
            "letter" => KeyType::Letter,
            "symbol" => KeyType::Symbol,
            "short_thing" => KeyType::ShortThing,
            "keyword" => KeyType::Keyword,
            _ => KeyType::Other,
        }
    }

    /// Whether the platform accepts `value` for a key of this type (a value is never empty). The sandbox platforms
    /// answer 47003 when this is false; `render` never produces such a value from a present fact.
    pub fn fits(self, value: &str) -> bool {
        let chars = value.chars().count();
        if chars == 0 {
            return false;
        }
        match self {
            KeyType::Thing | KeyType::Keyword | KeyType::Other => chars <= 20,
            KeyType::ShortThing => chars <= 5,
            KeyType::CarNumber => chars <= 8,
            KeyType::Number => is_number(value, 32),
            KeyType::CharacterString => chars <= 32 && value.chars().all(is_ascii_printable),
            KeyType::Amount => is_amount(value),
            KeyType::Date => is_span(value, false),
            KeyType::Time => is_span(value, true),
            KeyType::Phrase => chars <= 5 && value.chars().all(is_chinese),
            KeyType::Name => chars <= if value.is_ascii() { 20 } else { 10 },
            KeyType::PhoneNumber => chars <= 17 && value.chars().all(|c| c.is_ascii_digit() || c == '+' || c == '-'),
            KeyType::Letter => chars <= 32 && value.chars().all(|c| c.is_ascii_alphabetic()),
            KeyType::Symbol => chars <= 5 && value.chars().all(|c| c.is_ascii_punctuation()),
        }
    }
}

/// A fact as the formatter sees it, before the key's type decides how it is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Value<'a> {
    Absent,
    /// Free text: an account number, a label, a name, a fixed text.
    Text(&'a str),
    /// A billing period as stored, `2026-10`.
    Period(&'a str),
    Money(Fen),
    Kwh(i64),
    /// A calendar date (Beijing).
    Day(NaiveDate),
    /// An instant, epoch milliseconds, shown in Beijing time.
    Instant(i64),
    /// Days past the due date: positive overdue, 0 due today, negative not yet due.
    DaysOverdue(i64),
}

/// Writes `value` for a key of type `key_type`, within that type's limits. A value the type cannot show becomes
/// [`ABSENT`], never an error: a template mapped to a fact its message lacks still goes out, and shows "-".
pub(super) fn format_value(key_type: KeyType, value: &Value<'_>) -> String {
    let shown = match key_type {
        KeyType::Thing | KeyType::Keyword | KeyType::Other => human(value).map(|s| cut_with_ellipsis(&s, 20)),
        KeyType::ShortThing => human(value).map(|s| cut_with_ellipsis(&s, 5)),
        KeyType::CarNumber => human(value).map(|s| cut(&s, 8)),
        KeyType::Name => human(value).map(|s| {
            let limit = if s.is_ascii() { 20 } else { 10 };
            cut(&s, limit)
        }),
        KeyType::Number => number(value),
        KeyType::CharacterString => code(value).map(|s| cut(&s, 32)),
        KeyType::Amount => amount(value),
        KeyType::Date => date(value),
        KeyType::Time => time(value),
        KeyType::Phrase => phrase(value),
        KeyType::PhoneNumber => text(value).map(|s| keep(&s, |c| c.is_ascii_digit() || c == '+' || c == '-', 17)),
        KeyType::Letter => text(value).map(|s| keep(&s, |c| c.is_ascii_alphabetic(), 32)),
        KeyType::Symbol => text(value).map(|s| keep(&s, |c| c.is_ascii_punctuation(), 5)),
    };
    match shown {
        Some(shown) if !shown.is_empty() => shown,
        _ => ABSENT.to_string(),
    }
}

/// The value as a person reads it, in Chinese: `139.23元`, `280度`, `2026年10月`, `已逾期3天`.
pub(super) fn human(value: &Value<'_>) -> Option<String> {
    match *value {
        Value::Absent => None,
        Value::Text(text) => Some(clean(text)),
        Value::Period(text) => Some(match BillingPeriod::parse(text.trim()) {
            Some(period) => format!("{}年{}月", period.year(), period.month()),
            None => clean(text),
        }),
        Value::Money(fen) => Some(yuan(fen)),
        Value::Kwh(kwh) => Some(format!("{kwh}度")),
        Value::Day(day) => Some(chinese_date(day)),
        Value::Instant(ms) => chinese_date_time(ms),
        Value::DaysOverdue(days) => Some(match days {
            0 => "今日到期".to_string(),
            d if d > 0 => format!("已逾期{d}天"),
            d => format!("{}天后到期", d.unsigned_abs()),
        }),
    }
}

/// An amount in yuan as shown everywhere: `139.23元`.
pub(super) fn yuan(fen: Fen) -> String {
    format!("{}元", fen.to_yuan_string())
}

/// `2019年10月1日`: no leading zeros, as the platforms' examples write it.
pub(super) fn chinese_date(day: NaiveDate) -> String {
    format!("{}年{}月{}日", day.year(), day.month(), day.day())
}

/// `2019年10月1日 15:01` in Beijing time; `None` when the instant is outside the calendar's range.
pub(super) fn chinese_date_time(epoch_ms: i64) -> Option<String> {
    let at = beijing_datetime(epoch_ms)?;
    Some(format!("{} {:02}:{:02}", chinese_date(at.date_naive()), at.hour(), at.minute()))
}

/// Only free text goes into keys that take no dates or amounts (phone numbers, letters, symbols).
fn text(value: &Value<'_>) -> Option<String> {
    match *value {
        Value::Text(text) => Some(clean(text)),
        _ => None,
    }
}

/// Digits and at most one decimal point; negative quantities cannot be written (no sign is allowed).
fn number(value: &Value<'_>) -> Option<String> {
    match *value {
        Value::Text(text) => {
            let mut point = false;
            let mut digits = 0;
            let mut out = String::new();
            for c in text.chars() {
                if c.is_ascii_digit() && digits < 32 {
                    digits += 1;
                    out.push(c);
                } else if c == '.' && !point && digits > 0 && digits < 32 {
                    point = true;
                    out.push(c);
                }
            }
            Some(out.trim_end_matches('.').to_string())
        }
        Value::Period(text) => BillingPeriod::parse(text.trim()).map(|p| format!("{:04}{:02}", p.year(), p.month())),
        Value::Money(fen) if !fen.is_negative() => Some(fen.to_yuan_string()),
        Value::Kwh(kwh) if kwh >= 0 => Some(kwh.to_string()),
        Value::DaysOverdue(days) => Some(days.max(0).to_string()),
        Value::Day(day) => Some(day.format("%Y%m%d").to_string()),
        _ => None,
    }
}

/// ASCII only (letters, digits, symbols): `2026-10`, `139.23`, `280kWh`, `2026-11-10 15:01`.
fn code(value: &Value<'_>) -> Option<String> {
    match *value {
        Value::Absent => None,
        Value::Text(text) => Some(keep(&clean(text), is_ascii_printable, usize::MAX).trim().to_string()),
        Value::Period(text) => Some(match BillingPeriod::parse(text.trim()) {
            Some(period) => period.to_string(),
            None => keep(&clean(text), is_ascii_printable, usize::MAX).trim().to_string(),
        }),
        Value::Money(fen) => Some(fen.to_yuan_string()),
        Value::Kwh(kwh) => Some(format!("{kwh}kWh")),
        Value::Day(day) => Some(day.format("%Y-%m-%d").to_string()),
        Value::Instant(ms) => beijing_datetime(ms).map(|at| at.format("%Y-%m-%d %H:%M").to_string()),
        Value::DaysOverdue(days) => Some(days.to_string()),
    }
}

/// `139.23元` for an amount that fits in 10 digits; a fixed text is read as yuan (`12.5`, `¥12.50`, `12.50元`).
fn amount(value: &Value<'_>) -> Option<String> {
    let fen = match *value {
        Value::Money(fen) => fen,
        Value::Text(text) => {
            let text = text.trim();
            let text = text.strip_prefix(['¥', '￥']).unwrap_or(text);
            Fen::parse_yuan(text.strip_suffix('元').unwrap_or(text))?
        }
        _ => return None,
    };
    let shown = yuan(fen);
    // Bills never approach 100 million yuan; a wrong figure would be worse than none.
    is_amount(&shown).then_some(shown)
}

fn date(value: &Value<'_>) -> Option<String> {
    match *value {
        Value::Day(day) => Some(chinese_date(day)),
        Value::Instant(ms) => beijing_datetime(ms).map(|at| chinese_date(at.date_naive())),
        Value::Period(text) => {
            let (first, last) = period_days(text)?;
            Some(format!("{}~{}", chinese_date(first), chinese_date(last)))
        }
        Value::Text(text) => Some(clean(text)).filter(|t| KeyType::Date.fits(t)),
        _ => None,
    }
}

fn time(value: &Value<'_>) -> Option<String> {
    match *value {
        Value::Instant(ms) => chinese_date_time(ms),
        // A date holding a time (a due date) lasts to its end: the bill may be paid all that day.
        Value::Day(day) => Some(format!("{} 23:59", chinese_date(day))),
        Value::Period(text) => {
            let (first, last) = period_days(text)?;
            Some(format!("{} 00:00~{} 23:59", chinese_date(first), chinese_date(last)))
        }
        Value::Text(text) => Some(clean(text)).filter(|t| KeyType::Time.fits(t)),
        _ => None,
    }
}

/// Chinese characters only, so figures cannot appear: an overdue bill is `已逾期`, not `已逾期3天`.
fn phrase(value: &Value<'_>) -> Option<String> {
    match *value {
        Value::Text(text) => Some(keep(text, is_chinese, 5)),
        Value::DaysOverdue(days) => Some(
            match days {
                0 => "今日到期",
                d if d > 0 => "已逾期",
                _ => "即将到期",
            }
            .to_string(),
        ),
        _ => None,
    }
}

/// The first and last day of a billing period written `2026-10`.
fn period_days(text: &str) -> Option<(NaiveDate, NaiveDate)> {
    let first = BillingPeriod::parse(text.trim())?.first_day();
    let last = first.checked_add_months(Months::new(1))?.pred_opt()?;
    Some((first, last))
}

/// Control characters (new lines, tabs) become spaces; surrounding space goes.
fn clean(text: &str) -> String {
    let spaced: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    spaced.trim().to_string()
}

/// At most `limit` characters, the last of them `…` when the text was longer. A cut never leaves a dangling
/// zero-width joiner or variation selector (half of an emoji sequence) before the `…`.
pub(super) fn cut_with_ellipsis(text: &str, limit: usize) -> String {
    if text.chars().count() <= limit {
        return text.to_string();
    }
    let mut kept: String = text.chars().take(limit.saturating_sub(1)).collect();
    while kept.ends_with(['\u{200d}', '\u{fe0f}', ' ']) {
        kept.pop();
    }
    kept.push('…');
    kept
}

/// At most `limit` characters, without a mark.
fn cut(text: &str, limit: usize) -> String {
    text.chars().take(limit).collect::<String>().trim_end().to_string()
}

/// The characters of `text` that `wanted` accepts, at most `limit` of them.
fn keep(text: &str, wanted: impl Fn(char) -> bool, limit: usize) -> String {
    text.chars().filter(|c| wanted(*c)).take(limit).collect()
}

fn is_ascii_printable(c: char) -> bool {
    (' '..='~').contains(&c)
}

/// CJK unified ideographs (with extension A) and 〇.
fn is_chinese(c: char) -> bool {
    matches!(c, '\u{4e00}'..='\u{9fff}' | '\u{3400}'..='\u{4dbf}' | '〇')
}

/// Digits with at most one decimal point inside, at most `max_digits` digits.
fn is_number(text: &str, max_digits: usize) -> bool {
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let fraction_ok = !text.contains('.') || !frac.is_empty();
    !whole.is_empty() && digits(whole) && digits(frac) && fraction_ok && whole.len() + frac.len() <= max_digits
}

/// An optional currency sign, ≤ 10 digits with an optional decimal point, an optional trailing 元.
fn is_amount(text: &str) -> bool {
    let text = text.strip_prefix(['¥', '￥', '$']).unwrap_or(text);
    let text = text.strip_suffix('元').unwrap_or(text);
    is_number(text, 10)
}

/// One moment, or two joined by `~`: a date with an optional time, or (`time_required`) a time with an optional date.
fn is_span(text: &str, time_required: bool) -> bool {
    let mut parts = text.split('~');
    let first = parts.next().is_some_and(|p| is_moment(p, time_required));
    let second = parts.next().is_none_or(|p| is_moment(p, time_required));
    first && second && parts.next().is_none()
}

fn is_moment(text: &str, time_required: bool) -> bool {
    let (day, clock) = match text.split_once(' ') {
        Some((day, clock)) => (Some(day), Some(clock)),
        None if text.contains('年') => (Some(text), None),
        None => (None, Some(text)),
    };
    let day_ok = day.is_none_or(is_chinese_date);
    let clock_ok = match clock {
        Some(clock) => is_clock(clock),
        None => !time_required,
    };
    // A date type needs its date; a time type needs its time.
    day_ok && clock_ok && (time_required || day.is_some())
}

/// `2019年10月1日` (month and day with or without a leading zero), a real calendar date.
fn is_chinese_date(text: &str) -> bool {
    let parse = || -> Option<NaiveDate> {
        let (year, rest) = text.split_once('年')?;
        let (month, rest) = rest.split_once('月')?;
        let day = rest.strip_suffix('日')?;
        let number = |s: &str, len: std::ops::RangeInclusive<usize>| {
            (len.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse::<u32>().ok()).flatten()
        };
        let year = i32::try_from(number(year, 4..=4)?).ok()?;
        NaiveDate::from_ymd_opt(year, number(month, 1..=2)?, number(day, 1..=2)?)
    };
    parse().is_some()
}

/// `15:01`, 24-hour.
fn is_clock(text: &str) -> bool {
    let Some((hour, minute)) = text.split_once(':') else {
        return false;
    };
    let two_digits = |s: &str, max: u32| {
        (1..=2).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit()) && s.parse::<u32>().is_ok_and(|v| v <= max)
    };
    two_digits(hour, 23) && minute.len() == 2 && two_digits(minute, 59)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{FixedOffset, TimeZone};

    fn fmt(key: &str, value: Value<'_>) -> String {
        format_value(KeyType::of_key(key), &value)
    }

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn beijing_ms(y: i32, m: u32, d: u32, h: u32, min: u32) -> i64 {
        FixedOffset::east_opt(8 * 3600).unwrap().with_ymd_and_hms(y, m, d, h, min, 0).unwrap().timestamp_millis()
    }

    #[test]
    fn key_types_come_from_the_name_without_its_number() {
        assert_eq!(KeyType::of_key("thing1"), KeyType::Thing);
        assert_eq!(KeyType::of_key("thing12"), KeyType::Thing);
        assert_eq!(KeyType::of_key("amount3"), KeyType::Amount);
        assert_eq!(KeyType::of_key("character_string2"), KeyType::CharacterString);
        assert_eq!(KeyType::of_key("number01"), KeyType::Number);
        assert_eq!(KeyType::of_key("date4"), KeyType::Date);
        assert_eq!(KeyType::of_key("time5"), KeyType::Time);
        assert_eq!(KeyType::of_key("phrase6"), KeyType::Phrase);
        assert_eq!(KeyType::of_key("name7"), KeyType::Name);
        assert_eq!(KeyType::of_key("phone_number8"), KeyType::PhoneNumber);
        assert_eq!(KeyType::of_key("car_number9"), KeyType::CarNumber);
        assert_eq!(KeyType::of_key("short_thing1"), KeyType::ShortThing);
        assert_eq!(KeyType::of_key("letter1"), KeyType::Letter);
        assert_eq!(KeyType::of_key("symbol1"), KeyType::Symbol);
        assert_eq!(KeyType::of_key("keyword1"), KeyType::Keyword);
        assert_eq!(KeyType::of_key("const2"), KeyType::Other);
        assert_eq!(KeyType::of_key("things1"), KeyType::Other);
    }

    #[test]
    fn a_thing_of_twenty_characters_stays_whole() {
        let twenty = "一二三四五六七八九十一二三四五六七八九十";
        assert_eq!(twenty.chars().count(), 20);
        assert_eq!(fmt("thing1", Value::Text(twenty)), twenty);
        assert!(KeyType::Thing.fits(twenty));
    }

    #[test]
    fn a_thing_of_twenty_one_characters_is_cut_to_twenty_with_an_ellipsis() {
        let shown = fmt("thing1", Value::Text("一二三四五六七八九十一二三四五六七八九十X"));
        assert_eq!(shown, "一二三四五六七八九十一二三四五六七八九…");
        assert_eq!(shown.chars().count(), 20);
        assert!(KeyType::Thing.fits(&shown));
        assert!(!KeyType::Thing.fits("一二三四五六七八九十一二三四五六七八九十X"));
    }

    #[test]
    fn emoji_and_multibyte_characters_count_one_each() {
        let twenty = "⚡".repeat(20);
        assert_eq!(fmt("thing1", Value::Text(&twenty)), twenty);
        let shown = fmt("thing1", Value::Text(&"😀".repeat(21)));
        assert_eq!(shown, format!("{}…", "😀".repeat(19)));
        assert_eq!(fmt("thing2", Value::Text(&"a".repeat(25))), format!("{}…", "a".repeat(19)));
    }

    #[test]
    fn a_cut_does_not_leave_half_an_emoji_sequence() {
        // 18 letters, then 👨‍👩 (man, zero-width joiner, woman): the cut falls right after the joiner.
        let text = format!("{}👨\u{200d}👩xx", "a".repeat(17));
        let shown = fmt("thing1", Value::Text(&text));
        assert_eq!(shown, format!("{}👨…", "a".repeat(17)));
    }

    #[test]
    fn control_characters_become_spaces() {
        assert_eq!(fmt("thing1", Value::Text("  上海\n浦东 \t")), "上海 浦东");
    }

    #[test]
    fn absent_facts_show_a_dash() {
        for key in ["thing1", "amount2", "date3", "time4", "number5", "character_string6", "phrase7", "keyword1"] {
            assert_eq!(fmt(key, Value::Absent), "-", "{key}");
        }
        assert_eq!(fmt("thing1", Value::Text("   ")), "-");
    }

    #[test]
    fn unknown_key_types_are_cut_like_things() {
        assert_eq!(fmt("const1", Value::Text(&"b".repeat(21))).chars().count(), 20);
        assert!(KeyType::Other.fits(&"b".repeat(20)));
        assert!(!KeyType::Other.fits(&"b".repeat(21)));
    }

    #[test]
    fn alipay_keywords_are_cut_at_twenty_characters() {
        assert_eq!(fmt("keyword1", Value::Text(&"电".repeat(20))), "电".repeat(20));
        assert_eq!(fmt("keyword1", Value::Text(&"电".repeat(21))), format!("{}…", "电".repeat(19)));
    }

    #[test]
    fn amounts_are_yuan_with_two_decimals() {
        assert_eq!(fmt("amount1", Value::Money(Fen::new(13923))), "139.23元");
        assert_eq!(fmt("amount1", Value::Money(Fen::new(5))), "0.05元");
        assert_eq!(fmt("amount1", Value::Money(Fen::ZERO)), "0.00元");
        assert!(KeyType::Amount.fits("139.23元"));
        assert!(KeyType::Amount.fits("¥139.23"));
        assert!(KeyType::Amount.fits("￥139"));
    }

    #[test]
    fn amounts_beyond_ten_digits_or_negative_are_not_written() {
        assert_eq!(fmt("amount1", Value::Money(Fen::new(9_999_999_999))), "99999999.99元");
        assert_eq!(fmt("amount1", Value::Money(Fen::new(10_000_000_000))), "-");
        assert_eq!(fmt("amount1", Value::Money(Fen::new(-100))), "-");
        assert!(!KeyType::Amount.fits("100000000.00元"));
        assert!(!KeyType::Amount.fits("-1.00元"));
        assert!(!KeyType::Amount.fits("元"));
    }

    #[test]
    fn amounts_in_other_keys() {
        assert_eq!(fmt("thing1", Value::Money(Fen::new(13923))), "139.23元");
        assert_eq!(fmt("number1", Value::Money(Fen::new(13923))), "139.23");
        assert_eq!(fmt("character_string1", Value::Money(Fen::new(13923))), "139.23");
        assert_eq!(fmt("number1", Value::Money(Fen::new(-1))), "-");
        assert_eq!(fmt("date1", Value::Money(Fen::new(1))), "-");
    }

    #[test]
    fn a_fixed_text_in_an_amount_key_is_read_as_yuan() {
        assert_eq!(fmt("amount1", Value::Text("12.5")), "12.50元");
        assert_eq!(fmt("amount1", Value::Text("¥3")), "3.00元");
        assert_eq!(fmt("amount1", Value::Text("8.00元")), "8.00元");
        assert_eq!(fmt("amount1", Value::Text("free")), "-");
    }

    #[test]
    fn dates_are_chinese_without_leading_zeros() {
        assert_eq!(fmt("date1", Value::Day(day(2019, 10, 1))), "2019年10月1日");
        assert_eq!(fmt("thing1", Value::Day(day(2026, 1, 5))), "2026年1月5日");
        assert_eq!(fmt("character_string1", Value::Day(day(2026, 1, 5))), "2026-01-05");
        assert_eq!(fmt("number1", Value::Day(day(2026, 1, 5))), "20260105");
        assert!(KeyType::Date.fits("2019年10月1日"));
        assert!(KeyType::Date.fits("2019年10月01日 15:01"));
        assert!(KeyType::Date.fits("2019年10月1日~2019年10月31日"));
        assert!(!KeyType::Date.fits("2019-10-01"));
        assert!(!KeyType::Date.fits("2019年2月30日"));
        assert!(!KeyType::Date.fits("15:01"));
    }

    #[test]
    fn instants_are_shown_in_beijing_time() {
        // 2026-11-03 23:30 UTC is already the 4th, 07:30, in Beijing.
        let ms = chrono::Utc.with_ymd_and_hms(2026, 11, 3, 23, 30, 0).unwrap().timestamp_millis();
        assert_eq!(fmt("date1", Value::Instant(ms)), "2026年11月4日");
        assert_eq!(fmt("time1", Value::Instant(ms)), "2026年11月4日 07:30");
        assert_eq!(fmt("thing1", Value::Instant(ms)), "2026年11月4日 07:30");
        assert_eq!(fmt("character_string1", Value::Instant(ms)), "2026-11-04 07:30");
        assert_eq!(fmt("time1", Value::Instant(beijing_ms(2019, 10, 1, 15, 1))), "2019年10月1日 15:01");
        assert_eq!(fmt("time1", Value::Instant(i64::MAX)), "-");
    }

    #[test]
    fn times_are_twenty_four_hour_and_a_date_lasts_to_its_end() {
        assert_eq!(fmt("time1", Value::Day(day(2026, 11, 10))), "2026年11月10日 23:59");
        assert!(KeyType::Time.fits("15:01"));
        assert!(KeyType::Time.fits("2019年10月1日 15:01"));
        assert!(KeyType::Time.fits("08:00~21:00"));
        assert!(!KeyType::Time.fits("2019年10月1日"));
        assert!(!KeyType::Time.fits("3:01 PM"));
        assert!(!KeyType::Time.fits("24:00"));
        assert!(!KeyType::Time.fits("15:1"));
    }

    #[test]
    fn periods_are_months_or_spans_of_days() {
        assert_eq!(fmt("thing1", Value::Period("2026-10")), "2026年10月");
        assert_eq!(fmt("character_string1", Value::Period("2026-10")), "2026-10");
        assert_eq!(fmt("number1", Value::Period("2026-10")), "202610");
        assert_eq!(fmt("date1", Value::Period("2026-02")), "2026年2月1日~2026年2月28日");
        assert_eq!(fmt("time1", Value::Period("2024-02")), "2024年2月1日 00:00~2024年2月29日 23:59");
        assert_eq!(fmt("thing1", Value::Period("Q4")), "Q4");
        assert_eq!(fmt("date1", Value::Period("Q4")), "-");
        assert!(KeyType::Date.fits(&fmt("date1", Value::Period("2026-12"))));
        assert!(KeyType::Time.fits(&fmt("time1", Value::Period("2026-12"))));
    }

    #[test]
    fn usage_is_in_du_for_people_and_bare_for_numbers() {
        assert_eq!(fmt("thing1", Value::Kwh(280)), "280度");
        assert_eq!(fmt("number1", Value::Kwh(280)), "280");
        assert_eq!(fmt("character_string1", Value::Kwh(280)), "280kWh");
        assert_eq!(fmt("number1", Value::Kwh(-3)), "-");
    }

    #[test]
    fn days_overdue_read_as_a_state() {
        assert_eq!(fmt("thing1", Value::DaysOverdue(3)), "已逾期3天");
        assert_eq!(fmt("thing1", Value::DaysOverdue(0)), "今日到期");
        assert_eq!(fmt("thing1", Value::DaysOverdue(-2)), "2天后到期");
        assert_eq!(fmt("number1", Value::DaysOverdue(3)), "3");
        assert_eq!(fmt("number1", Value::DaysOverdue(-3)), "0");
        assert_eq!(fmt("phrase1", Value::DaysOverdue(3)), "已逾期");
        assert_eq!(fmt("phrase1", Value::DaysOverdue(0)), "今日到期");
        assert_eq!(fmt("phrase1", Value::DaysOverdue(-1)), "即将到期");
    }

    #[test]
    fn numbers_keep_digits_and_one_point_up_to_thirty_two_digits() {
        assert_eq!(fmt("number1", Value::Text("3100012345")), "3100012345");
        assert_eq!(fmt("number1", Value::Text("A-31.00.5")), "31.005");
        assert_eq!(fmt("number1", Value::Text(&"9".repeat(40))), "9".repeat(32));
        assert_eq!(fmt("number1", Value::Text("户号")), "-");
        assert!(KeyType::Number.fits(&"9".repeat(32)));
        assert!(!KeyType::Number.fits(&"9".repeat(33)));
        assert!(KeyType::Number.fits(&format!("{}.{}", "1".repeat(16), "2".repeat(16))));
        assert!(!KeyType::Number.fits("1.2.3"));
        assert!(!KeyType::Number.fits("1."));
        assert!(!KeyType::Number.fits("-1"));
    }

    #[test]
    fn character_strings_are_ascii_up_to_thirty_two() {
        assert_eq!(fmt("character_string1", Value::Text("3100012345")), "3100012345");
        assert_eq!(fmt("character_string1", Value::Text("户号 SH-001")), "SH-001");
        assert_eq!(fmt("character_string1", Value::Text(&"x".repeat(33))), "x".repeat(32));
        assert_eq!(fmt("character_string1", Value::Text("我家")), "-");
        assert!(KeyType::CharacterString.fits(&"x".repeat(32)));
        assert!(!KeyType::CharacterString.fits(&"x".repeat(33)));
        assert!(!KeyType::CharacterString.fits("户号1"));
    }

    #[test]
    fn phrases_are_at_most_five_chinese_characters() {
        assert_eq!(fmt("phrase1", Value::Text("待缴费")), "待缴费");
        assert_eq!(fmt("phrase1", Value::Text("请尽快完成缴费")), "请尽快完成");
        assert_eq!(fmt("phrase1", Value::Text("已逾期3天")), "已逾期天");
        assert_eq!(fmt("phrase1", Value::Money(Fen::new(1))), "-");
        assert!(KeyType::Phrase.fits("请尽快完成"));
        assert!(!KeyType::Phrase.fits("请尽快完成缴"));
        assert!(!KeyType::Phrase.fits("逾期3天"));
    }

    #[test]
    fn names_are_ten_chinese_or_twenty_latin_characters() {
        assert_eq!(fmt("name1", Value::Text("张*")), "张*");
        assert_eq!(fmt("name1", Value::Text("国网上海市电力公司浦东供电公司")), "国网上海市电力公司浦");
        assert_eq!(fmt("name1", Value::Text("Alexandra Konstantinova")), "Alexandra Konstantin");
        assert!(KeyType::Name.fits("Alexandra Konstantin"));
        assert!(!KeyType::Name.fits("国网上海市电力公司浦东"));
    }

    #[test]
    fn phone_numbers_keep_digits_plus_and_dash_up_to_seventeen() {
        assert_eq!(fmt("phone_number1", Value::Text("95598")), "95598");
        assert_eq!(fmt("phone_number1", Value::Text("+86 (21) 6288-1234")), "+86216288-1234");
        assert_eq!(fmt("phone_number1", Value::Text(&"1".repeat(20))), "1".repeat(17));
        assert!(!KeyType::PhoneNumber.fits(&"1".repeat(18)));
        assert!(!KeyType::PhoneNumber.fits("021 6288"));
    }

    #[test]
    fn the_smaller_types_keep_their_limits() {
        assert_eq!(fmt("car_number1", Value::Text("沪A12345XYZ")), "沪A12345X");
        assert_eq!(fmt("short_thing1", Value::Text("电费账单提醒")), "电费账单…");
        assert_eq!(fmt("letter1", Value::Text("ab1c")), "abc");
        assert_eq!(fmt("symbol1", Value::Text("a!?#%&*")), "!?#%&");
        assert!(KeyType::CarNumber.fits("沪A12345X"));
        assert!(!KeyType::ShortThing.fits("电费账单提醒"));
        assert!(!KeyType::Letter.fits("ab1"));
        assert!(!KeyType::Symbol.fits("!!!!!!"));
    }

    #[test]
    fn empty_values_never_fit() {
        for kind in [KeyType::Thing, KeyType::Number, KeyType::Amount, KeyType::Date, KeyType::Time, KeyType::Phrase] {
            assert!(!kind.fits(""), "{kind:?}");
        }
    }
}
