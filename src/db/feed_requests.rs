//! Feed request signatures already served: the replay guard of the marketing-system feed.

use sqlx::AnyConnection;

/// Records a request's signature inside the batch's transaction. False when it was seen before (a replay).
/// Signatures older than `forget_before_ms` can no longer pass the timestamp check, so they are pruned here.
pub async fn record(
    conn: &mut AnyConnection,
    signature: &str,
    now_ms: i64,
    forget_before_ms: i64,
) -> Result<bool, sqlx::Error> {
    sqlx::query("DELETE FROM feed_requests WHERE received_at < $1").bind(forget_before_ms).execute(&mut *conn).await?;
    let inserted = sqlx::query(
        "INSERT INTO feed_requests (signature, received_at) VALUES ($1, $2) ON CONFLICT (signature) DO NOTHING",
    )
    .bind(signature.to_string())
    .bind(now_ms)
    .execute(&mut *conn)
    .await?;
    Ok(inserted.rows_affected() == 1)
}
