//! Customer-service staff: their roles and what each may do, the reasons their actions carry, and the lockout after
//! repeated failed logins.

use serde::Serialize;

/// What a member of staff may do: a viewer looks up; an operator also reveals personal data, unbinds, resends
/// messages and asks a platform about an order; an admin also refunds, manages staff and reads the audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Viewer,
    Operator,
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Viewer, Role::Operator, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|role| role.as_str() == text)
    }

    pub fn allows(self, permission: Permission) -> bool {
        self >= permission.least_role()
    }

    /// The permissions of this role, in the order of [`Permission::ALL`].
    pub fn permissions(self) -> Vec<Permission> {
        Permission::ALL.into_iter().filter(|p| self.allows(*p)).collect()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    Lookup,
    Reveal,
    Unbind,
    Resend,
    QueryOrder,
    Refund,
    ManageStaff,
    ReadAudit,
}

impl Permission {
    pub const ALL: [Permission; 8] = [
        Permission::Lookup,
        Permission::Reveal,
        Permission::Unbind,
        Permission::Resend,
        Permission::QueryOrder,
        Permission::Refund,
        Permission::ManageStaff,
        Permission::ReadAudit,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Permission::Lookup => "lookup",
            Permission::Reveal => "reveal",
            Permission::Unbind => "unbind",
            Permission::Resend => "resend",
            Permission::QueryOrder => "query_order",
            Permission::Refund => "refund",
            Permission::ManageStaff => "manage_staff",
            Permission::ReadAudit => "read_audit",
        }
    }

    fn least_role(self) -> Role {
        match self {
            Permission::Lookup => Role::Viewer,
            Permission::Reveal | Permission::Unbind | Permission::Resend | Permission::QueryOrder => Role::Operator,
            Permission::Refund | Permission::ManageStaff | Permission::ReadAudit => Role::Admin,
        }
    }
}

/// Why a member of staff reveals personal data or acts: 4 to 500 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason(String);

pub const MIN_REASON_CHARS: usize = 4;
pub const MAX_REASON_CHARS: usize = 500;

impl Reason {
    pub fn parse(text: &str) -> Result<Reason, String> {
        let text = text.trim();
        let chars = text.chars().count();
        if chars < MIN_REASON_CHARS {
            return Err(format!("give a reason of at least {MIN_REASON_CHARS} characters"));
        }
        if chars > MAX_REASON_CHARS {
            return Err(format!("the reason is longer than {MAX_REASON_CHARS} characters"));
        }
        if text.chars().any(|c| c.is_control() && c != '\n') {
            return Err("the reason contains control characters".into());
        }
        Ok(Reason(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A staff login name: 2 to 32 characters of ASCII letters, digits, `.`, `_` and `-`, starting with a letter.
pub fn valid_staff_name(name: &str) -> bool {
    (2..=32).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// When repeated failed logins lock an account (after `max_failures` in a row), and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutPolicy {
    pub max_failures: i64,
    pub lock_ms: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_role_has_its_permissions_and_those_below() {
        assert_eq!(Role::Viewer.permissions(), vec![Permission::Lookup]);
        assert!(Role::Operator.allows(Permission::Unbind));
        assert!(Role::Operator.allows(Permission::Reveal));
        assert!(!Role::Operator.allows(Permission::Refund));
        assert!(!Role::Operator.allows(Permission::ReadAudit));
        assert_eq!(Role::Admin.permissions().len(), Permission::ALL.len());
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("root"), None);
    }

    #[test]
    fn reasons_are_bounded() {
        assert!(Reason::parse("  ok ").is_err());
        assert_eq!(Reason::parse(" 用户来电要求 ").unwrap().as_str(), "用户来电要求");
        assert!(Reason::parse(&"长".repeat(MAX_REASON_CHARS)).is_ok());
        assert!(Reason::parse(&"长".repeat(MAX_REASON_CHARS + 1)).is_err());
        assert!(Reason::parse("bad\u{0}reason").is_err());
    }

    #[test]
    fn staff_names_are_plain() {
        assert!(valid_staff_name("li.na-2"));
        assert!(!valid_staff_name("2li"));
        assert!(!valid_staff_name("a"));
        assert!(!valid_staff_name("li na"));
        assert!(!valid_staff_name("李娜"));
    }
}
