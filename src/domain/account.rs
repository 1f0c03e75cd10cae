//! Utility accounts (户号) as the marketing system describes them.

use super::feed::Rejection;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;

/// An electricity account number (户号): 8 to 20 ASCII digits.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct AccountNo(String);

impl AccountNo {
    pub fn parse(text: &str) -> Result<AccountNo, String> {
        let ok = (8..=20).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit());
        if ok {
            Ok(AccountNo(text.to_string()))
        } else {
            Err(format!("account number {:?} must be 8 to 20 digits", truncate(text, 32)))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AccountNo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for AccountNo {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        AccountNo::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// Residential and non-residential accounts pay different late-fee rates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountType {
    Residential,
    NonResidential,
}

impl AccountType {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountType::Residential => "residential",
            AccountType::NonResidential => "non_residential",
        }
    }

    pub fn parse(text: &str) -> Result<AccountType, String> {
        match text {
            "residential" => Ok(AccountType::Residential),
            "non_residential" => Ok(AccountType::NonResidential),
            other => Err(format!("account type {:?} must be residential or non_residential", truncate(other, 32))),
        }
    }
}

/// An account as fed by the marketing system, validated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Account {
    pub account_no: AccountNo,
    pub holder_name: String,
    pub address: String,
    /// The registered phone: an 11-digit mobile number, or a landline (digits and dashes).
    pub phone: String,
    pub account_type: AccountType,
    pub supply_unit: String,
}

impl Account {
    /// A digest of everything the account says, so a re-sent account can be recognised as unchanged.
    pub fn content_hash(&self) -> String {
        let canonical = serde_json::to_vec(self).unwrap_or_default();
        hex::encode(Sha256::digest(canonical))
    }
}

/// An account item as it arrives, before validation. Unknown fields are refused so typos do not pass silently.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountInput {
    pub account_no: String,
    pub holder_name: String,
    #[serde(default)]
    pub address: String,
    pub phone: String,
    pub account_type: String,
    #[serde(default)]
    pub supply_unit: String,
}

impl AccountInput {
    pub fn validate(self) -> Result<Account, Rejection> {
        let account_no =
            AccountNo::parse(self.account_no.trim()).map_err(|r| Rejection::new("INVALID_ACCOUNT_NO", r))?;
        let holder_name = text_field("holder_name", &self.holder_name, 1, 64)?;
        let address = text_field("address", &self.address, 0, 256)?;
        let supply_unit = text_field("supply_unit", &self.supply_unit, 0, 64)?;
        let phone = parse_phone(self.phone.trim()).map_err(|r| Rejection::new("INVALID_PHONE", r))?;
        let account_type =
            AccountType::parse(self.account_type.trim()).map_err(|r| Rejection::new("INVALID_ACCOUNT_TYPE", r))?;
        Ok(Account { account_no, holder_name, address, phone, account_type, supply_unit })
    }
}

fn parse_phone(text: &str) -> Result<String, String> {
    let mobile = text.len() == 11 && text.starts_with('1') && text.bytes().all(|b| b.is_ascii_digit());
    let digits = text.bytes().filter(u8::is_ascii_digit).count();
    let landline = (7..=20).contains(&text.len())
        && digits >= 7
        && text.bytes().all(|b| b.is_ascii_digit() || b == b'-')
        && !text.starts_with('-')
        && !text.ends_with('-');
    if mobile || landline {
        Ok(text.to_string())
    } else {
        Err(format!(
            "phone {:?} must be an 11-digit mobile number or a landline of digits and dashes",
            truncate(text, 24)
        ))
    }
}

fn text_field(name: &str, value: &str, min: usize, max: usize) -> Result<String, Rejection> {
    let value = value.trim();
    let chars = value.chars().count();
    if chars < min {
        return Err(Rejection::new("MISSING_FIELD", format!("{name} must not be empty")));
    }
    if chars > max {
        return Err(Rejection::new("FIELD_TOO_LONG", format!("{name} is longer than {max} characters")));
    }
    if value.chars().any(char::is_control) {
        return Err(Rejection::new("INVALID_FIELD", format!("{name} contains control characters")));
    }
    Ok(value.to_string())
}

/// The first `max` characters of `text`, for quoting input back in a message.
pub fn truncate(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> AccountInput {
        AccountInput {
            account_no: "3100012345".into(),
            holder_name: "张三".into(),
            address: "上海市浦东新区世纪大道1号".into(),
            phone: "13812341234".into(),
            account_type: "residential".into(),
            supply_unit: "浦东供电公司".into(),
        }
    }

    #[test]
    fn a_complete_account_validates() {
        let account = input().validate().unwrap();
        assert_eq!(account.account_no.as_str(), "3100012345");
        assert_eq!(account.account_type, AccountType::Residential);
    }

    #[test]
    fn account_numbers_are_digits_only() {
        for bad in ["31000", "31000123A5", "310001234567890123456", ""] {
            let rejection = AccountInput { account_no: bad.into(), ..input() }.validate().unwrap_err();
            assert_eq!(rejection.code, "INVALID_ACCOUNT_NO", "{bad}");
        }
    }

    #[test]
    fn phones_are_mobile_or_landline() {
        assert!(AccountInput { phone: "021-58881234".into(), ..input() }.validate().is_ok());
        let rejection = AccountInput { phone: "12345".into(), ..input() }.validate().unwrap_err();
        assert_eq!(rejection.code, "INVALID_PHONE");
    }

    #[test]
    fn holder_name_is_required() {
        let rejection = AccountInput { holder_name: "  ".into(), ..input() }.validate().unwrap_err();
        assert_eq!(rejection.code, "MISSING_FIELD");
    }
}
