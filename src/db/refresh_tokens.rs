//! The refresh-token repository: hashes only, grouped in rotation families.

use sqlx::{AnyConnection, Row};

#[derive(Debug, Clone)]
pub struct StoredRefreshToken {
    pub user_id: i64,
    pub family_id: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

pub async fn insert(
    conn: &mut AnyConnection,
    token_hash: &str,
    user_id: i64,
    family_id: i64,
    expires_at: i64,
    now_ms: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO refresh_tokens (token_hash, user_id, family_id, expires_at, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(token_hash.to_string())
    .bind(user_id)
    .bind(family_id)
    .bind(expires_at)
    .bind(now_ms)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn find(conn: &mut AnyConnection, token_hash: &str) -> Result<Option<StoredRefreshToken>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT user_id, family_id, expires_at, used_at, revoked_at FROM refresh_tokens WHERE token_hash = $1",
    )
    .bind(token_hash.to_string())
    .fetch_optional(conn)
    .await?;
    row.map(|row| {
        Ok(StoredRefreshToken {
            user_id: row.try_get("user_id")?,
            family_id: row.try_get("family_id")?,
            expires_at: row.try_get("expires_at")?,
            used_at: row.try_get("used_at")?,
            revoked_at: row.try_get("revoked_at")?,
        })
    })
    .transpose()
}

/// Marks a token rotated; false when it was used or revoked meanwhile (a concurrent use: treat as reuse).
pub async fn mark_used(conn: &mut AnyConnection, token_hash: &str, now_ms: i64) -> Result<bool, sqlx::Error> {
    let result = sqlx::query(
        "UPDATE refresh_tokens SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL AND revoked_at IS NULL",
    )
    .bind(now_ms)
    .bind(token_hash.to_string())
    .execute(conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Revokes every token of a family.
pub async fn revoke_family(conn: &mut AnyConnection, family_id: i64, now_ms: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE refresh_tokens SET revoked_at = $1 WHERE family_id = $2 AND revoked_at IS NULL")
        .bind(now_ms)
        .bind(family_id)
        .execute(conn)
        .await?;
    Ok(())
}
