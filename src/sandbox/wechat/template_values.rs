//! The limits WeChat puts on subscribe-message values, by the type the key's prefix names (PROTOCOLS.md, "Subscribe
//! messages"; `thing1`, `amount2`, `character_string3`, ...). A value outside its type's limits is what makes WeChat
//! answer `47003` "argument invalid! data.<key>.value invalid".
//!
//! | type | accepted (sandbox reading of WeChat's rules) |
//! | --- | --- |
//! | `thing` | 1–20 characters |
//! | `number` | 1–32 digits, one decimal point allowed |
//! | `letter` | 1–32 ASCII letters |
//! | `symbol` | 1–5 ASCII symbols |
//! | `character_string` | 1–32 ASCII letters, digits and symbols |
//! | `amount` | an optional currency sign (`¥ ￥ $ € £`), 1–10 digits with at most 2 decimals, optionally `元` |
//! | `date` | `2019年10月1日`, optionally ` 15:01[:05]`; two joined by `~` for a period |
//! | `time` | `15:01[:05]` (24-hour), optionally after a `date`; two joined by `~` for a period |
//! | `phrase` | 1–5 Chinese characters |
//! | `name` | 1–10 Chinese characters (`·` allowed), or 1–20 letters and spaces |
//! | `phone_number` | 1–17 digits, `+ - ( )` and spaces |
//! | `car_number` | 1–8 letters, digits and Chinese characters |
//!
//! Any other key (an unknown type, `const`, a key without its number) is refused: the sandbox does not know the
//! template's keys, but real templates only have these.

use chrono::NaiveDate;
use serde_json::Value;

/// Checks `data` (`{"thing1": {"value": ".."}, ...}`); the `errmsg` of a `47003` when it is refused.
pub(super) fn check_data(data: Option<&Value>) -> Result<(), String> {
    let Some(Value::Object(data)) = data else {
        return Err("argument invalid! data invalid".into());
    };
    if data.is_empty() {
        return Err("argument invalid! data is empty".into());
    }
    for (key, item) in data {
        let value = match item.get("value") {
            Some(Value::String(value)) => value.as_str(),
            _ => return Err(format!("argument invalid! data.{key}.value invalid")),
        };
        if value.is_empty() {
            return Err(format!("argument invalid! data.{key}.value is empty"));
        }
        if !value_fits(key, value) {
            return Err(format!("argument invalid! data.{key}.value invalid"));
        }
    }
    Ok(())
}

/// Whether `value` fits the type `key` names.
pub(super) fn value_fits(key: &str, value: &str) -> bool {
    let kind = key.trim_end_matches(|c: char| c.is_ascii_digit());
    if kind.len() == key.len() {
        return false;
    }
    let chars = value.chars().count();
    match kind {
        "thing" => (1..=20).contains(&chars),
        "number" => (1..=32).contains(&chars) && is_number(value),
        "letter" => (1..=32).contains(&chars) && value.chars().all(|c| c.is_ascii_alphabetic()),
        "symbol" => (1..=5).contains(&chars) && value.chars().all(|c| c.is_ascii_punctuation()),
        "character_string" => (1..=32).contains(&chars) && value.chars().all(|c| c.is_ascii_graphic()),
        "amount" => is_amount(value),
        "date" => period(value, is_date_value),
        "time" => period(value, is_time_value),
        "phrase" => (1..=5).contains(&chars) && value.chars().all(is_chinese),
        "name" => is_name(value, chars),
        "phone_number" => (1..=17).contains(&chars) && value.chars().all(|c| c.is_ascii_digit() || "+-() ".contains(c)),
        "car_number" => (1..=8).contains(&chars) && value.chars().all(|c| c.is_ascii_alphanumeric() || is_chinese(c)),
        _ => false,
    }
}

fn is_chinese(c: char) -> bool {
    matches!(c, '\u{4e00}'..='\u{9fff}' | '\u{3400}'..='\u{4dbf}')
}

fn is_number(value: &str) -> bool {
    let mut parts = value.split('.');
    let whole = parts.next().unwrap_or_default();
    let fraction = parts.next();
    parts.next().is_none()
        && !whole.is_empty()
        && whole.bytes().all(|b| b.is_ascii_digit())
        && fraction.is_none_or(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()))
}

fn is_amount(value: &str) -> bool {
    let value = value.strip_suffix('元').unwrap_or(value);
    let value = value.strip_prefix(['¥', '￥', '$', '€', '£']).unwrap_or(value);
    let (whole, fraction) = match value.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (value, None),
    };
    let digits = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
    let fraction_len = fraction.map_or(0, str::len);
    !whole.is_empty()
        && digits(whole)
        && fraction.is_none_or(|f| (1..=2).contains(&f.len()) && digits(f))
        && whole.len() + fraction_len <= 10
}

fn is_name(value: &str, chars: usize) -> bool {
    let chinese = value.chars().all(|c| is_chinese(c) || c == '·');
    let latin = value.chars().all(|c| c.is_ascii_alphabetic() || c == ' ') && value.chars().any(|c| c != ' ');
    (chinese && (1..=10).contains(&chars)) || (latin && (1..=20).contains(&chars))
}

/// One value, or two joined by `~` (a period).
fn period(value: &str, one: fn(&str) -> bool) -> bool {
    match value.split_once('~') {
        Some((from, to)) => one(from.trim()) && one(to.trim()),
        None => one(value),
    }
}

/// `2019年10月1日`, optionally followed by a space and a time of day.
fn is_date_value(value: &str) -> bool {
    match chinese_date(value) {
        Some("") => true,
        Some(rest) => rest.strip_prefix(' ').is_some_and(is_clock),
        None => false,
    }
}

/// A time of day, optionally after a date and a space.
fn is_time_value(value: &str) -> bool {
    if is_clock(value) {
        return true;
    }
    chinese_date(value).and_then(|rest| rest.strip_prefix(' ')).is_some_and(is_clock)
}

/// Reads a `YYYY年M月D日` date (a real calendar day) at the start of `value`; returns what follows it.
fn chinese_date(value: &str) -> Option<&str> {
    let (year, rest) = value.split_once('年')?;
    let (month, rest) = rest.split_once('月')?;
    let (day, rest) = rest.split_once('日')?;
    let number = |text: &str, lengths: std::ops::RangeInclusive<usize>| -> Option<u32> {
        if lengths.contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit()) {
            text.parse().ok()
        } else {
            None
        }
    };
    let (year, month, day) = (number(year, 4..=4)?, number(month, 1..=2)?, number(day, 1..=2)?);
    NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)?;
    Some(rest)
}

/// `H:MM` or `HH:MM`, optionally `:SS`, 24-hour.
fn is_clock(value: &str) -> bool {
    let parts: Vec<&str> = value.split(':').collect();
    if !(2..=3).contains(&parts.len()) {
        return false;
    }
    let field = |text: &str, lengths: std::ops::RangeInclusive<usize>, max: u32| {
        lengths.contains(&text.len())
            && text.bytes().all(|b| b.is_ascii_digit())
            && text.parse::<u32>().is_ok_and(|n| n <= max)
    };
    field(parts[0], 1..=2, 23) && field(parts[1], 2..=2, 59) && parts.get(2).is_none_or(|s| field(s, 2..=2, 59))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn thing_is_at_most_twenty_characters() {
        assert!(value_fits("thing1", "国网电费账单"));
        assert!(value_fits("thing1", &"电".repeat(20)));
        assert!(!value_fits("thing1", &"电".repeat(21)));
        assert!(!value_fits("thing1", ""));
    }

    #[test]
    fn numbers_letters_symbols_and_strings() {
        assert!(value_fits("number2", "12345678901234567890123456789012"));
        assert!(!value_fits("number2", "123456789012345678901234567890123"));
        assert!(value_fits("number2", "139.35"));
        assert!(!value_fits("number2", "1.2.3"));
        assert!(!value_fits("number2", "12a"));
        assert!(value_fits("letter3", "abcXYZ"));
        assert!(!value_fits("letter3", "abc1"));
        assert!(value_fits("symbol4", "%$#"));
        assert!(!value_fits("symbol4", "%%%%%%"));
        assert!(value_fits("character_string5", "3100012345-2026-05"));
        assert!(!value_fits("character_string5", &"9".repeat(33)));
        assert!(!value_fits("character_string5", "户号3100"));
    }

    #[test]
    fn amounts_take_a_sign_ten_digits_and_yuan() {
        for ok in ["¥139.35", "￥139.35", "139.35元", "¥1234567890", "20", "$0.5"] {
            assert!(value_fits("amount6", ok), "{ok}");
        }
        for bad in ["¥12345678901", "¥1.234", "¥", "139.35 元", "-5", "¥1,000.00", "元"] {
            assert!(!value_fits("amount6", bad), "{bad}");
        }
    }

    #[test]
    fn dates_are_written_in_chinese_and_may_carry_a_time() {
        for ok in ["2019年10月1日", "2026年05月31日", "2026年5月31日 15:01", "2026年5月1日~2026年5月31日"]
        {
            assert!(value_fits("date7", ok), "{ok}");
        }
        for bad in
            ["2019-10-01", "2019年13月1日", "2019年2月30日", "2019年10月1日15:01", "10月1日", "2019年10月1日 25:00"]
        {
            assert!(!value_fits("date7", bad), "{bad}");
        }
    }

    #[test]
    fn times_are_24_hour() {
        for ok in ["15:01", "9:05", "23:59:59", "2019年10月1日 15:01", "08:00~21:00"] {
            assert!(value_fits("time8", ok), "{ok}");
        }
        for bad in ["24:00", "3pm", "15:1", "15:01:60", "2019-10-01 15:01"] {
            assert!(!value_fits("time8", bad), "{bad}");
        }
    }

    #[test]
    fn phrases_names_phones_and_car_numbers() {
        assert!(value_fits("phrase9", "待缴费"));
        assert!(!value_fits("phrase9", "已经逾期未缴费"));
        assert!(!value_fits("phrase9", "due"));
        assert!(value_fits("name10", "张三"));
        assert!(value_fits("name10", "阿卜杜·热合曼"));
        assert!(value_fits("name10", "Zhang San"));
        assert!(!value_fits("name10", "张三Zhang"));
        assert!(!value_fits("name10", &"张".repeat(11)));
        assert!(value_fits("phone_number11", "+86 138-0013-8000"));
        assert!(!value_fits("phone_number11", "+86 138-0013-80001"));
        assert!(value_fits("car_number12", "粤A8Z8Z8"));
        assert!(!value_fits("car_number12", "粤A8Z8Z8Z8"));
    }

    #[test]
    fn unknown_types_and_keys_without_a_number_are_refused() {
        assert!(!value_fits("thing", "x"));
        assert!(!value_fits("keyword1", "x"));
        assert!(!value_fits("const1", "x"));
    }

    #[test]
    fn data_errors_name_the_key_as_wechat_does() {
        assert_eq!(check_data(Some(&json!({"thing1": {"value": "电费"}}))), Ok(()));
        assert_eq!(
            check_data(Some(&json!({"thing1": {"value": "电".repeat(21)}}))),
            Err("argument invalid! data.thing1.value invalid".into())
        );
        assert_eq!(
            check_data(Some(&json!({"thing1": {"value": ""}}))),
            Err("argument invalid! data.thing1.value is empty".into())
        );
        assert_eq!(
            check_data(Some(&json!({"amount2": {"value": 5}}))),
            Err("argument invalid! data.amount2.value invalid".into())
        );
        assert_eq!(check_data(Some(&json!({}))), Err("argument invalid! data is empty".into()));
        assert_eq!(check_data(None), Err("argument invalid! data invalid".into()));
        assert_eq!(check_data(Some(&json!("x"))), Err("argument invalid! data invalid".into()));
    }
}
