//! Staff accounts: adding members (with a given or generated password) and checking a login, with the lockout after
//! repeated failures. The HTTP login and `ebill staff` both come through here.

use super::passwords::{self, PasswordError};
use crate::db::audit::{self, AuditEntry};
use crate::db::staff::{self as repo, StaffChange, StaffMember};
use crate::db::{ids::next_id, Database};
use crate::domain::staff::{valid_staff_name, LockoutPolicy, Role};

#[derive(Debug, thiserror::Error)]
pub enum StaffError {
    #[error("a staff name has 2 to 32 characters: ASCII letters, digits, '.', '_' or '-', starting with a letter")]
    BadName,
    #[error("a staff member named {0:?} already exists")]
    Taken(String),
    #[error("no staff member is named {0:?}")]
    Unknown(String),
    #[error("the last active admin cannot be demoted or disabled")]
    LastAdmin,
    #[error(transparent)]
    Password(#[from] PasswordError),
    #[error(transparent)]
    Busy(#[from] passwords::Busy),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

/// The Argon2id hash of `password`, or of a generated password (returned, to be shown once).
pub async fn new_password_hash(password: Option<&str>) -> Result<(String, Option<String>), StaffError> {
    let generated = password.is_none().then(passwords::generate);
    let password = password.or(generated.as_deref()).unwrap_or_default();
    let hash = passwords::hash_in_turn(password).await?;
    Ok((hash, generated))
}

/// Adds a member, with its audit entry in the same transaction. Without `password`, one is generated and returned
/// (to be shown once).
pub async fn add_staff(
    db: &Database,
    now_ms: i64,
    name: &str,
    role: Role,
    password: Option<&str>,
    audit: &AuditEntry,
) -> Result<(StaffMember, Option<String>), StaffError> {
    if !valid_staff_name(name) {
        return Err(StaffError::BadName);
    }
    let (hash, generated) = new_password_hash(password).await?;
    let mut tx = db.begin_write().await?;
    if !repo::insert(&mut tx, next_id(now_ms), name, role, &hash, now_ms).await? {
        return Err(StaffError::Taken(name.to_owned()));
    }
    audit::append(&mut tx, audit, now_ms).await?;
    tx.commit().await?;
    let member = repo::find_by_name(db.pool(), name).await?.ok_or_else(|| StaffError::Unknown(name.to_owned()))?;
    Ok((member, generated))
}

/// Changes a member's role, disabled flag, lock or password, with its audit entry in the same transaction. The last
/// active admin stays one.
pub async fn change_staff(
    db: &Database,
    now_ms: i64,
    name: &str,
    change: &StaffChange,
    audit: &AuditEntry,
) -> Result<StaffMember, StaffError> {
    let member = repo::find_by_name(db.pool(), name).await?.ok_or_else(|| StaffError::Unknown(name.to_owned()))?;
    let mut tx = db.begin_write().await?;
    let loses_admin = member.role == Role::Admin
        && !member.disabled
        && (change.role.is_some_and(|role| role != Role::Admin) || change.disabled == Some(true));
    if loses_admin && repo::active_admins(&mut tx).await? <= 1 {
        return Err(StaffError::LastAdmin);
    }
    repo::update(&mut tx, member.id, change, now_ms).await?;
    audit::append(&mut tx, audit, now_ms).await?;
    tx.commit().await?;
    repo::find(db.pool(), member.id).await?.ok_or_else(|| StaffError::Unknown(name.to_owned()))
}

/// How a login attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginOutcome {
    Accepted(StaffMember),
    /// Unknown name, wrong password, or a disabled member: all answered alike. `member` is set when the name exists.
    Refused {
        member: Option<StaffMember>,
        why: &'static str,
    },
    /// Locked until this instant (by this failure or an earlier one). Answered like a refusal too, so that a lock
    /// does not tell which names exist.
    Locked {
        member: StaffMember,
        until: i64,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error(transparent)]
    Busy(#[from] passwords::Busy),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

/// Checks `name` and `password`, locking the member after `policy.max_failures` failures in a row. The attempt is
/// counted before the password is checked (and the count cleared by a success), so that concurrent guesses cannot
/// all slip past the lock.
pub async fn attempt_login(
    db: &Database,
    now_ms: i64,
    name: &str,
    password: &str,
    policy: LockoutPolicy,
) -> Result<LoginOutcome, LoginError> {
    let Some(member) = repo::find_by_name(db.pool(), name).await? else {
        passwords::verify_nothing_in_turn(password).await?;
        return Ok(LoginOutcome::Refused { member: None, why: "unknown_name" });
    };
    let mut conn = db.pool().acquire().await?;
    let Some(failures) = repo::claim_attempt(&mut conn, member.id, policy.max_failures, now_ms).await? else {
        // Locked, or as many attempts under way as may fail before the lock: this one waits for the lock to end.
        let until = match member.locked_until.filter(|until| *until > now_ms) {
            Some(until) => until,
            None => {
                let until = lock_end(now_ms, policy);
                repo::lock(&mut conn, member.id, until, now_ms).await?;
                until
            }
        };
        return Ok(LoginOutcome::Locked { member, until });
    };
    let matches = passwords::verify_in_turn(password, &member.password_hash).await?;
    if member.disabled {
        return Ok(LoginOutcome::Refused { member: Some(member), why: "disabled" });
    }
    if matches {
        repo::record_login(&mut conn, member.id, now_ms).await?;
        return Ok(LoginOutcome::Accepted(member));
    }
    if failures >= policy.max_failures {
        let until = lock_end(now_ms, policy);
        repo::lock(&mut conn, member.id, until, now_ms).await?;
        return Ok(LoginOutcome::Locked { member, until });
    }
    Ok(LoginOutcome::Refused { member: Some(member), why: "wrong_password" })
}

fn lock_end(now_ms: i64, policy: LockoutPolicy) -> i64 {
    now_ms.saturating_add(policy.lock_ms)
}
