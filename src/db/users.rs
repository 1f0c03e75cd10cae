//! The users repository: customers as (platform, app, subject) identities.

use super::ids::next_id;
use crate::domain::user::Platform;
use sqlx::{AnyConnection, AnyPool, Row};

/// A platform login, as the platform named the user.
#[derive(Debug, Clone)]
pub struct PlatformLogin {
    pub platform: Platform,
    pub appid: String,
    /// WeChat openid; Alipay user_id, or open_id for OpenID-only apps.
    pub subject: String,
    pub unionid: Option<String>,
    pub alipay_user_id: Option<String>,
    pub alipay_open_id: Option<String>,
    /// WeChat's session_key of the last login; kept server-side only, never sent to the client.
    pub session_key: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: i64,
    pub platform: Platform,
    pub appid: String,
    pub subject: String,
    pub phone: Option<String>,
}

/// Creates the user on first login, or records the login (and a renewed session_key) of a known one.
pub async fn record_login(pool: &AnyPool, login: &PlatformLogin, now_ms: i64) -> Result<User, sqlx::Error> {
    let row = sqlx::query(
        "INSERT INTO users (id, platform, appid, subject, unionid, alipay_user_id, alipay_open_id, session_key, \
         created_at, last_login_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
         ON CONFLICT (platform, appid, subject) DO UPDATE SET \
         unionid = COALESCE(excluded.unionid, users.unionid), \
         alipay_user_id = COALESCE(excluded.alipay_user_id, users.alipay_user_id), \
         alipay_open_id = COALESCE(excluded.alipay_open_id, users.alipay_open_id), \
         session_key = COALESCE(excluded.session_key, users.session_key), \
         last_login_at = excluded.last_login_at \
         RETURNING id, platform, appid, subject, phone",
    )
    .bind(next_id(now_ms))
    .bind(login.platform.as_str())
    .bind(login.appid.clone())
    .bind(login.subject.clone())
    .bind(login.unionid.clone())
    .bind(login.alipay_user_id.clone())
    .bind(login.alipay_open_id.clone())
    .bind(login.session_key.clone())
    .bind(now_ms)
    .bind(now_ms)
    .fetch_one(pool)
    .await?;
    user_from_row(&row)
}

pub async fn find(pool: &AnyPool, id: i64) -> Result<Option<User>, sqlx::Error> {
    let row = sqlx::query("SELECT id, platform, appid, subject, phone FROM users WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await?;
    row.as_ref().map(user_from_row).transpose()
}

/// Stores a phone number the platform verified for the user.
pub async fn set_verified_phone(pool: &AnyPool, id: i64, phone: &str, now_ms: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE users SET phone = $1, phone_verified_at = $2 WHERE id = $3")
        .bind(phone.to_string())
        .bind(now_ms)
        .bind(id)
        .execute(pool)
        .await?;
    Ok(())
}

/// The platform of user `id`, inside a transaction.
pub async fn platform(conn: &mut AnyConnection, id: i64) -> Result<Option<Platform>, sqlx::Error> {
    let row = sqlx::query("SELECT platform FROM users WHERE id = $1").bind(id).fetch_optional(conn).await?;
    Ok(row.and_then(|r| r.try_get::<String, _>("platform").ok()).and_then(|p| Platform::parse(&p)))
}

/// Takes the user's row lock for the rest of the transaction, so that one user's bindings change one at a time.
pub async fn lock(conn: &mut AnyConnection, id: i64) -> Result<bool, sqlx::Error> {
    let result =
        sqlx::query("UPDATE users SET last_login_at = last_login_at WHERE id = $1").bind(id).execute(conn).await?;
    Ok(result.rows_affected() == 1)
}

fn user_from_row(row: &sqlx::any::AnyRow) -> Result<User, sqlx::Error> {
    let platform: String = row.try_get("platform")?;
    Ok(User {
        id: row.try_get("id")?,
        platform: Platform::parse(&platform)
            .ok_or_else(|| sqlx::Error::Decode(format!("unknown platform {platform:?}").into()))?,
        appid: row.try_get("appid")?,
        subject: row.try_get("subject")?,
        phone: row.try_get("phone")?,
    })
}

/// How a platform names a user as a payer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payer {
    pub platform: Platform,
    /// WeChat openid; Alipay user_id, or open_id when the app receives no user_id.
    pub id: String,
    /// True when `id` is an Alipay open_id (`buyer_open_id`), false for a user_id (`buyer_id`) or a WeChat openid.
    pub alipay_open_id: bool,
}

/// User `id` as a payer on their platform.
pub async fn payer(pool: &AnyPool, id: i64) -> Result<Option<Payer>, sqlx::Error> {
    let row = sqlx::query("SELECT platform, subject, alipay_user_id, alipay_open_id FROM users WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await?;
    let Some(row) = row else { return Ok(None) };
    let platform: String = row.try_get("platform")?;
    let platform = Platform::parse(&platform)
        .ok_or_else(|| sqlx::Error::Decode(format!("unknown platform {platform:?}").into()))?;
    let subject: String = row.try_get("subject")?;
    let user_id: Option<String> = row.try_get("alipay_user_id")?;
    let open_id: Option<String> = row.try_get("alipay_open_id")?;
    Ok(Some(match (platform, user_id, open_id) {
        (Platform::Alipay, Some(user_id), _) => Payer { platform, id: user_id, alipay_open_id: false },
        (Platform::Alipay, None, Some(open_id)) => Payer { platform, id: open_id, alipay_open_id: true },
        _ => Payer { platform, id: subject, alipay_open_id: false },
    }))
}

/// A user as customer service sees it: every id the platforms gave, never the session key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub id: i64,
    pub platform: Platform,
    pub subject: String,
    pub unionid: Option<String>,
    pub alipay_user_id: Option<String>,
    pub alipay_open_id: Option<String>,
    /// Verified through the platform.
    pub phone: Option<String>,
    pub created_at: i64,
    pub last_login_at: i64,
}

const RECORD_COLUMNS: &str =
    "id, platform, subject, unionid, alipay_user_id, alipay_open_id, phone, created_at, last_login_at";

fn record_from_row(row: &sqlx::any::AnyRow) -> Result<UserRecord, sqlx::Error> {
    let platform: String = row.try_get("platform")?;
    Ok(UserRecord {
        id: row.try_get("id")?,
        platform: Platform::parse(&platform)
            .ok_or_else(|| sqlx::Error::Decode(format!("unknown platform {platform:?}").into()))?,
        subject: row.try_get("subject")?,
        unionid: row.try_get("unionid")?,
        alipay_user_id: row.try_get("alipay_user_id")?,
        alipay_open_id: row.try_get("alipay_open_id")?,
        phone: row.try_get("phone")?,
        created_at: row.try_get("created_at")?,
        last_login_at: row.try_get("last_login_at")?,
    })
}

pub async fn find_record(pool: &AnyPool, id: i64) -> Result<Option<UserRecord>, sqlx::Error> {
    let sql = format!("SELECT {RECORD_COLUMNS} FROM users WHERE id = $1");
    let row = sqlx::query(&sql).bind(id).fetch_optional(pool).await?;
    row.as_ref().map(record_from_row).transpose()
}

/// The users a platform names `platform_id` (openid, Alipay user_id or open_id, unionid), or whose own id it is,
/// oldest first, at most `limit`.
pub async fn find_by_platform_id(
    pool: &AnyPool,
    platform_id: &str,
    limit: i64,
) -> Result<Vec<UserRecord>, sqlx::Error> {
    // Our ids are positive 64-bit numbers; any other text matches no id.
    let own_id = platform_id.parse::<i64>().unwrap_or(-1);
    let sql = format!(
        "SELECT {RECORD_COLUMNS} FROM users WHERE subject = $1 OR alipay_user_id = $1 OR alipay_open_id = $1 \
         OR unionid = $1 OR id = $2 ORDER BY id LIMIT $3"
    );
    let rows = sqlx::query(&sql).bind(platform_id.to_string()).bind(own_id).bind(limit).fetch_all(pool).await?;
    rows.iter().map(record_from_row).collect()
}

/// The users who verified `phone` through their platform, oldest first, at most `limit`.
pub async fn with_verified_phone(pool: &AnyPool, phone: &str, limit: i64) -> Result<Vec<UserRecord>, sqlx::Error> {
    let sql = format!(
        "SELECT {RECORD_COLUMNS} FROM users WHERE phone = $1 AND phone_verified_at IS NOT NULL ORDER BY id LIMIT $2"
    );
    let rows = sqlx::query(&sql).bind(phone.to_string()).bind(limit).fetch_all(pool).await?;
    rows.iter().map(record_from_row).collect()
}
