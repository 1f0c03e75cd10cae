//! The staff repository: customer-service accounts, their password hashes, failed logins and locks.

use crate::domain::staff::Role;
use sqlx::{AnyConnection, AnyPool, Row};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffMember {
    pub id: i64,
    pub name: String,
    pub role: Role,
    /// Argon2id, PHC string format. Never leaves the server.
    pub password_hash: String,
    pub failed_logins: i64,
    pub locked_until: Option<i64>,
    pub disabled: bool,
    /// Tokens issued before this instant (epoch ms, whole seconds) no longer work: set by a logout, a password reset
    /// or a disabling.
    pub sessions_valid_after: Option<i64>,
    pub last_login_at: Option<i64>,
    pub created_at: i64,
}

const COLUMNS: &str =
    "id, name, role, password_hash, failed_logins, locked_until, disabled, sessions_valid_after, last_login_at, created_at";

fn member_from_row(row: &sqlx::any::AnyRow) -> Result<StaffMember, sqlx::Error> {
    let role: String = row.try_get("role")?;
    Ok(StaffMember {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        role: Role::parse(&role).ok_or_else(|| sqlx::Error::Decode(format!("unknown staff role {role:?}").into()))?,
        password_hash: row.try_get("password_hash")?,
        failed_logins: row.try_get("failed_logins")?,
        locked_until: row.try_get("locked_until")?,
        disabled: row.try_get::<i64, _>("disabled")? != 0,
        sessions_valid_after: row.try_get("sessions_valid_after")?,
        last_login_at: row.try_get("last_login_at")?,
        created_at: row.try_get("created_at")?,
    })
}

/// Adds a member; `false` when the name is taken.
pub async fn insert(
    conn: &mut AnyConnection,
    id: i64,
    name: &str,
    role: Role,
    password_hash: &str,
    now_ms: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO staff (id, name, role, password_hash, failed_logins, locked_until, disabled, last_login_at, \
         created_at, updated_at) VALUES ($1, $2, $3, $4, 0, NULL, 0, NULL, $5, $5) ON CONFLICT (name) DO NOTHING",
    )
    .bind(id)
    .bind(name)
    .bind(role.as_str())
    .bind(password_hash)
    .bind(now_ms)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn find_by_name(pool: &AnyPool, name: &str) -> Result<Option<StaffMember>, sqlx::Error> {
    let row =
        sqlx::query(&format!("SELECT {COLUMNS} FROM staff WHERE name = $1")).bind(name).fetch_optional(pool).await?;
    row.as_ref().map(member_from_row).transpose()
}

pub async fn find(pool: &AnyPool, id: i64) -> Result<Option<StaffMember>, sqlx::Error> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM staff WHERE id = $1")).bind(id).fetch_optional(pool).await?;
    row.as_ref().map(member_from_row).transpose()
}

pub async fn list(pool: &AnyPool) -> Result<Vec<StaffMember>, sqlx::Error> {
    let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM staff ORDER BY name")).fetch_all(pool).await?;
    rows.iter().map(member_from_row).collect()
}

/// Counts a login attempt before its password is checked, so that concurrent guesses cannot all slip past the
/// lockout: the attempt may go on only while the member is not locked and fewer than `max_failures` attempts are
/// counted (the count is the failures since the last success, this attempt included). Answers the count, or `None`
/// when the attempt may not go on.
pub async fn claim_attempt(
    conn: &mut AnyConnection,
    id: i64,
    max_failures: i64,
    now_ms: i64,
) -> Result<Option<i64>, sqlx::Error> {
    let row = sqlx::query(
        "UPDATE staff SET failed_logins = failed_logins + 1, updated_at = $3 \
         WHERE id = $1 AND failed_logins < $2 AND (locked_until IS NULL OR locked_until <= $3) \
         RETURNING failed_logins",
    )
    .bind(id)
    .bind(max_failures)
    .bind(now_ms)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|row| row.try_get("failed_logins")).transpose()
}

/// Locks a member until `until`; the count of failures starts again after it.
pub async fn lock(conn: &mut AnyConnection, id: i64, until: i64, now_ms: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE staff SET failed_logins = 0, locked_until = $2, updated_at = $3 WHERE id = $1")
        .bind(id)
        .bind(until)
        .bind(now_ms)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Records a successful login: the failure count starts again.
pub async fn record_login(conn: &mut AnyConnection, id: i64, now_ms: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE staff SET failed_logins = 0, locked_until = NULL, last_login_at = $2, updated_at = $2 WHERE id = $1",
    )
    .bind(id)
    .bind(now_ms)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// What an admin may change of a member.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StaffChange {
    pub role: Option<Role>,
    pub disabled: Option<bool>,
    /// Lifts a lock and clears the failure count.
    pub unlock: bool,
    pub password_hash: Option<String>,
    /// Ends every session: tokens issued before this instant stop working.
    pub end_sessions_at: Option<i64>,
}

/// Applies `change`; `false` when no such member.
pub async fn update(conn: &mut AnyConnection, id: i64, change: &StaffChange, now_ms: i64) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE staff SET role = COALESCE($2, role), disabled = COALESCE($3, disabled), \
         failed_logins = CASE WHEN $4 = 1 THEN 0 ELSE failed_logins END, \
         locked_until = CASE WHEN $4 = 1 THEN NULL ELSE locked_until END, \
         password_hash = COALESCE($5, password_hash), \
         sessions_valid_after = COALESCE($7, sessions_valid_after), updated_at = $6 WHERE id = $1",
    )
    .bind(id)
    .bind(change.role.map(|r| r.as_str()))
    .bind(change.disabled.map(i64::from))
    .bind(i64::from(change.unlock))
    .bind(change.password_hash.clone())
    .bind(now_ms)
    .bind(change.end_sessions_at)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// How many active admins there are, their rows locked until the transaction ends: the last one cannot be demoted
/// or disabled, even by two admins demoting each other at once.
pub async fn active_admins(conn: &mut AnyConnection) -> Result<i64, sqlx::Error> {
    let lock = super::sql::for_update(conn);
    let sql = format!("SELECT id FROM staff WHERE role = 'admin' AND disabled = 0{lock}");
    let rows = sqlx::query(&sql).fetch_all(&mut *conn).await?;
    Ok(rows.len() as i64)
}
