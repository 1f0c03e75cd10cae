//! What operators and staff must see about payments until the staff console shows it: open incidents (unknown
//! orders, amount mismatches, duplicate payments, failed refunds), credits held on accounts, and the write-back and
//! refund queues. Printed by `ebill payments status`.

use super::refunds::REFUND_QUEUE;
use crate::db::payments as repo;
use crate::db::Database;
use crate::jobs::queue;
use crate::jobs::writeback::WRITEBACK_QUEUE;
use sqlx::Row;
use std::io::Write;

/// Incidents listed at most.
const MAX_INCIDENTS: i64 = 100;

/// Writes the payments status to `out`.
pub async fn write_status(db: &Database, out: &mut impl Write) -> anyhow::Result<()> {
    for name in [WRITEBACK_QUEUE, REFUND_QUEUE] {
        let counts = queue::counts(db, name).await?;
        writeln!(
            out,
            "{name:<10} pending {:>6}  running {:>4}  done {:>8}  failed {:>4}",
            counts.pending, counts.leased, counts.done, counts.failed
        )?;
    }
    let credits = sqlx::query(
        "SELECT COUNT(*) AS n, CAST(COALESCE(SUM(amount_fen), 0) AS BIGINT) AS fen FROM account_credits \
         WHERE state = 'held'",
    )
    .fetch_one(db.pool())
    .await?;
    let (count, fen): (i64, i64) = (credits.try_get("n")?, credits.try_get("fen")?);
    writeln!(out, "credits held on accounts: {count} ({fen} fen)")?;
    let incidents = repo::open_incidents(db.pool(), MAX_INCIDENTS).await?;
    writeln!(out, "open incidents: {}", incidents.len())?;
    for incident in incidents {
        let last_seen = chrono::DateTime::from_timestamp_millis(incident.last_seen_at)
            .map(|t| t.with_timezone(&crate::domain::calendar::beijing()).format("%Y-%m-%d %H:%M:%S").to_string())
            .unwrap_or_default();
        writeln!(
            out,
            "  {:<18} {:<7} {:<28} ×{:<4} last {last_seen}  {}",
            incident.kind, incident.platform, incident.reference, incident.occurrences, incident.detail
        )?;
    }
    Ok(())
}
