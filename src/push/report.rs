//! `ebill push status`: the messages by state, kind and channel, and the day's counts of messages sent and SMS
//! avoided.

use crate::db::messages as repo;
use crate::db::Database;
use sqlx::Row;
use std::io::Write;

pub async fn write_status(db: &Database, out: &mut impl Write) -> anyhow::Result<()> {
    let counts = repo::counts(db.pool()).await?;
    writeln!(out, "{:<10} {:<18} {:<8} {:>10}", "state", "kind", "channel", "messages")?;
    for (state, kind, channel, n) in &counts {
        writeln!(out, "{state:<10} {kind:<18} {channel:<8} {n:>10}")?;
    }
    if counts.is_empty() {
        writeln!(out, "(no messages)")?;
    }
    let rows = sqlx::query(
        "SELECT day, channel, CAST(SUM(sent) AS BIGINT) AS sent, CAST(SUM(sms_avoided) AS BIGINT) AS avoided \
         FROM message_counts GROUP BY day, channel ORDER BY day DESC, channel LIMIT 30",
    )
    .fetch_all(db.pool())
    .await?;
    if !rows.is_empty() {
        writeln!(out, "\n{:<12} {:<8} {:>10} {:>12}", "day", "channel", "sent", "sms avoided")?;
    }
    for row in rows {
        let (day, channel): (String, String) = (row.try_get("day")?, row.try_get("channel")?);
        let (sent, avoided): (i64, i64) = (row.try_get("sent")?, row.try_get("avoided")?);
        writeln!(out, "{day:<12} {channel:<8} {sent:>10} {avoided:>12}")?;
    }
    Ok(())
}
