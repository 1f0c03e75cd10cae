//! The messages repository: every pushed message is a row that is both the delivery queue (claimed under leases
//! like jobs, so several workers and instances never send the same message twice) and its record afterwards
//! (state, attempts, last error, the platform's reply). Subscriptions (credits per template), preferences and the
//! daily counts per channel live here too.

use super::sql::{claim_candidates, placeholder_list, rows_per_statement, values_tuples};
use super::{Backend, Database};
use sqlx::{AnyConnection, AnyPool, Row};

/// A message to queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    pub id: i64,
    pub kind: String,
    pub stage: String,
    pub channel: String,
    pub user_id: Option<i64>,
    pub account_no: String,
    pub bill_id: Option<i64>,
    pub recipient: String,
    pub template_id: String,
    pub payload: String,
    pub dedupe_key: String,
    pub max_attempts: i64,
    pub run_at: i64,
}

const INSERT_COLUMNS: usize = 18;

/// Queues messages on `conn` (the caller's transaction); a dedupe key already used is skipped. Answers the ids of
/// the messages queued.
pub async fn insert_many(
    conn: &mut AnyConnection,
    messages: &[NewMessage],
    now_ms: i64,
) -> Result<Vec<i64>, sqlx::Error> {
    let mut inserted = Vec::new();
    for chunk in messages.chunks(rows_per_statement(conn, INSERT_COLUMNS)) {
        let sql = format!(
            "INSERT INTO messages (id, kind, stage, channel, user_id, account_no, bill_id, recipient, template_id, \
             payload, dedupe_key, state, attempts, max_attempts, run_at, created_at, updated_at, sent_at) \
             VALUES {} ON CONFLICT (dedupe_key) DO NOTHING RETURNING id",
            values_tuples(chunk.len(), INSERT_COLUMNS)
        );
        let mut query = sqlx::query(&sql);
        for message in chunk {
            query = query
                .bind(message.id)
                .bind(message.kind.clone())
                .bind(message.stage.clone())
                .bind(message.channel.clone())
                .bind(message.user_id)
                .bind(message.account_no.clone())
                .bind(message.bill_id)
                .bind(message.recipient.clone())
                .bind(message.template_id.clone())
                .bind(message.payload.clone())
                .bind(message.dedupe_key.clone())
                .bind("pending")
                .bind(0_i64)
                .bind(message.max_attempts)
                .bind(message.run_at)
                .bind(now_ms)
                .bind(now_ms)
                .bind(None::<i64>);
        }
        for row in query.fetch_all(&mut *conn).await? {
            inserted.push(row.try_get("id")?);
        }
    }
    Ok(inserted)
}

/// A message as a worker holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedMessage {
    pub id: i64,
    pub kind: String,
    pub stage: String,
    pub channel: String,
    pub user_id: Option<i64>,
    pub account_no: String,
    pub bill_id: Option<i64>,
    pub recipient: String,
    pub template_id: String,
    pub payload: String,
    /// Attempts including this one.
    pub attempts: i64,
    pub max_attempts: i64,
    /// The claim's lease name: only its holder may record the outcome.
    pub lease_owner: String,
}

/// What became of one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Sent {
        reply: String,
    },
    /// Transient: try again at `run_at` (or fail for good after the last attempt).
    Retry {
        error: String,
        reply: Option<String>,
        run_at: i64,
    },
    /// Permanent: never sent.
    Failed {
        error: String,
        reply: Option<String>,
    },
    /// Not sent on purpose (no credit, turned off, paid meanwhile).
    Skipped {
        reason: String,
    },
}

const LEASE_EXPIRED: &str = "lease expired: the worker stopped or stalled";

/// Claims up to `max` due messages for `owner`, leased until `leased_until`; expired leases become claimable again
/// (or failed, after their last attempt).
pub async fn claim(
    db: &Database,
    owner: &str,
    max: i64,
    leased_until: i64,
    now_ms: i64,
) -> Result<Vec<ClaimedMessage>, sqlx::Error> {
    let lease_owner = format!("{owner}#{:016x}", rand::random::<u64>());
    let mut tx = db.begin_write().await?;
    let expire = format!(
        "UPDATE messages SET state = CASE WHEN attempts >= max_attempts THEN 'failed' ELSE 'pending' END, \
         lease_owner = NULL, leased_until = NULL, last_error = $1, updated_at = $2 \
         WHERE {} AND state = 'leased' AND leased_until < $2",
        claim_candidates(db.backend(), "SELECT id FROM messages WHERE state = 'leased' AND leased_until < $2")
    );
    sqlx::query(&expire).bind(LEASE_EXPIRED).bind(now_ms).execute(&mut *tx).await?;
    // The outer condition only re-checks the state (the picked rows are locked on PostgreSQL, and SQLite's write
    // transaction holds the database): repeating `run_at <= $3` there made PostgreSQL walk every pending entry of
    // `messages_due` for each claim.
    let claim = format!(
        "UPDATE messages SET state = 'leased', lease_owner = $1, leased_until = $2, attempts = attempts + 1, \
         updated_at = $3 WHERE {} AND state = 'pending' \
         RETURNING id, kind, stage, channel, user_id, account_no, bill_id, recipient, template_id, payload, \
         attempts, max_attempts",
        claim_candidates(
            db.backend(),
            "SELECT id FROM messages WHERE state = 'pending' AND run_at <= $3 ORDER BY run_at, id LIMIT $4"
        )
    );
    let rows = sqlx::query(&claim)
        .bind(lease_owner.clone())
        .bind(leased_until)
        .bind(now_ms)
        .bind(max.max(0))
        .fetch_all(&mut *tx)
        .await?;
    tx.commit().await?;
    let mut claimed = rows
        .iter()
        .map(|row| {
            Ok(ClaimedMessage {
                id: row.try_get("id")?,
                kind: row.try_get("kind")?,
                stage: row.try_get("stage")?,
                channel: row.try_get("channel")?,
                user_id: row.try_get("user_id")?,
                account_no: row.try_get("account_no")?,
                bill_id: row.try_get("bill_id")?,
                recipient: row.try_get("recipient")?,
                template_id: row.try_get("template_id")?,
                payload: row.try_get("payload")?,
                attempts: row.try_get("attempts")?,
                max_attempts: row.try_get("max_attempts")?,
                lease_owner: lease_owner.clone(),
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    claimed.sort_by_key(|message| message.id);
    Ok(claimed)
}

fn cut(text: &str) -> String {
    text.chars().take(500).collect()
}

/// Records the outcomes of a batch in one transaction. Each applies only while its lease is still held (a worker
/// that lost its lease records nothing); a sent message counts in `message_counts` for its Beijing day.
pub async fn record_outcomes(
    db: &Database,
    outcomes: &[(&ClaimedMessage, Outcome)],
    day: &str,
    now_ms: i64,
) -> Result<u64, sqlx::Error> {
    let mut tx = db.begin_write().await?;
    let mut applied = 0;
    let mut sent: std::collections::BTreeMap<(&str, &str), i64> = std::collections::BTreeMap::new();
    let held = "id = $1 AND state = 'leased' AND lease_owner = $2 AND attempts = $3";
    for (message, outcome) in outcomes {
        let (state, error, reply, run_at, sent_at) = match outcome {
            Outcome::Sent { reply } => ("sent", None, Some(cut(reply)), None, Some(now_ms)),
            Outcome::Retry { error, reply, run_at } => {
                let state = if message.attempts >= message.max_attempts { "failed" } else { "pending" };
                (state, Some(cut(error)), reply.as_deref().map(cut), Some(*run_at), None)
            }
            Outcome::Failed { error, reply } => ("failed", Some(cut(error)), reply.as_deref().map(cut), None, None),
            Outcome::Skipped { reason } => ("skipped", Some(cut(reason)), None, None, None),
        };
        let update = format!(
            "UPDATE messages SET state = $4, last_error = COALESCE($5, last_error), \
             platform_reply = COALESCE($6, platform_reply), run_at = COALESCE($7, run_at), sent_at = $8, \
             lease_owner = NULL, leased_until = NULL, updated_at = $9 WHERE {held}"
        );
        let result = sqlx::query(&update)
            .bind(message.id)
            .bind(message.lease_owner.clone())
            .bind(message.attempts)
            .bind(state)
            .bind(error)
            .bind(reply)
            .bind(run_at)
            .bind(sent_at)
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
        applied += result.rows_affected();
        if result.rows_affected() == 1 && matches!(outcome, Outcome::Sent { .. }) {
            *sent.entry((message.channel.as_str(), message.kind.as_str())).or_default() += 1;
        }
    }
    for ((channel, kind), count) in sent {
        count_sent(&mut tx, day, channel, kind, count, 0).await?;
    }
    tx.commit().await?;
    Ok(applied)
}

/// Adds to the day's counts of messages sent and SMS avoided.
pub async fn count_sent(
    conn: &mut AnyConnection,
    day: &str,
    channel: &str,
    kind: &str,
    sent: i64,
    sms_avoided: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO message_counts (day, channel, kind, sent, sms_avoided) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (day, channel, kind) DO UPDATE SET sent = message_counts.sent + excluded.sent, \
         sms_avoided = message_counts.sms_avoided + excluded.sms_avoided",
    )
    .bind(day.to_string())
    .bind(channel.to_string())
    .bind(kind.to_string())
    .bind(sent)
    .bind(sms_avoided)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Messages by state, kind and channel.
pub async fn counts(pool: &AnyPool) -> Result<Vec<(String, String, String, i64)>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT state, kind, channel, COUNT(*) AS n FROM messages GROUP BY state, kind, channel \
         ORDER BY state, kind, channel",
    )
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| Ok((row.try_get("state")?, row.try_get("kind")?, row.try_get("channel")?, row.try_get("n")?)))
        .collect()
}

/// Which failed messages to put back: every condition given must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetryFilter {
    pub id: Option<i64>,
    pub kind: Option<String>,
    pub channel: Option<String>,
    /// A substring of the last error.
    pub error_contains: Option<String>,
}

/// What putting a failed message back does: pending, due at `$1`, with its attempts reset (its last error stays, for
/// the record, until the next attempt replaces it).
const BACK_IN_QUEUE: &str = "state = 'pending', attempts = 0, run_at = $1, updated_at = $1";

/// Puts failed messages matching `filter` back in the queue, due now, with their attempts reset.
pub async fn retry_failed(db: &Database, filter: &RetryFilter, now_ms: i64) -> Result<u64, sqlx::Error> {
    let mut sql = format!("UPDATE messages SET {BACK_IN_QUEUE} WHERE state = 'failed'");
    let mut binds: Vec<String> = Vec::new();
    let mut next = 2;
    if let Some(id) = filter.id {
        sql.push_str(&format!(" AND id = {id}"));
    }
    for (column, value) in [("kind", &filter.kind), ("channel", &filter.channel)] {
        if let Some(value) = value {
            sql.push_str(&format!(" AND {column} = ${next}"));
            binds.push(value.clone());
            next += 1;
        }
    }
    if let Some(needle) = &filter.error_contains {
        sql.push_str(&format!(" AND last_error LIKE ${next} ESCAPE '!'"));
        let escaped: String =
            needle.chars().flat_map(|c| if matches!(c, '%' | '_' | '!') { vec!['!', c] } else { vec![c] }).collect();
        binds.push(format!("%{escaped}%"));
    }
    let mut query = sqlx::query(&sql).bind(now_ms);
    for bind in binds {
        query = query.bind(bind);
    }
    Ok(query.execute(db.pool()).await?.rows_affected())
}

/// A user's standing with a template: one-time credits left, or a standing permission.
pub async fn subscription(
    conn: &mut AnyConnection,
    user_id: i64,
    template_id: &str,
) -> Result<Option<(i64, bool)>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT credits, long_term FROM subscriptions WHERE user_id = $1 AND template_id = $2 AND status = 'accept'",
    )
    .bind(user_id)
    .bind(template_id.to_string())
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|row| Ok((row.try_get("credits")?, row.try_get::<i64, _>("long_term")? == 1))).transpose()
}

/// Records what a user answered for a template: `accept` adds one credit (or sets the standing permission),
/// `reject` and `ban` take every credit away.
pub async fn record_subscription(
    conn: &mut AnyConnection,
    user_id: i64,
    template_id: &str,
    status: &str,
    long_term: bool,
    now_ms: i64,
) -> Result<(), sqlx::Error> {
    let credit = i64::from(status == "accept" && !long_term);
    sqlx::query(
        "INSERT INTO subscriptions (user_id, template_id, credits, long_term, status, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (user_id, template_id) DO UPDATE SET \
         credits = CASE WHEN excluded.status = 'accept' THEN subscriptions.credits + excluded.credits ELSE 0 END, \
         long_term = excluded.long_term, status = excluded.status, updated_at = excluded.updated_at",
    )
    .bind(user_id)
    .bind(template_id.to_string())
    .bind(credit)
    .bind(i64::from(long_term && status == "accept"))
    .bind(status.to_string())
    .bind(now_ms)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The accepted subscriptions of `user_ids` to `template_id`: user → (credits left, standing permission).
pub async fn subscriptions_for(
    conn: &mut AnyConnection,
    template_id: &str,
    user_ids: &[i64],
) -> Result<std::collections::HashMap<i64, (i64, bool)>, sqlx::Error> {
    let mut found = std::collections::HashMap::new();
    for chunk in user_ids.chunks(500) {
        let sql = format!(
            "SELECT user_id, credits, long_term FROM subscriptions WHERE template_id = $1 AND status = 'accept' \
             AND user_id IN ({})",
            placeholder_list(2, chunk.len())
        );
        let mut query = sqlx::query(&sql).bind(template_id.to_string());
        for id in chunk {
            query = query.bind(*id);
        }
        for row in query.fetch_all(&mut *conn).await? {
            let long_term: i64 = row.try_get("long_term")?;
            found.insert(row.try_get("user_id")?, (row.try_get("credits")?, long_term == 1));
        }
    }
    Ok(found)
}

/// The users among `user_ids` who refused or banned `template_id` (a long-term template skips them).
pub async fn refused(conn: &mut AnyConnection, template_id: &str, user_ids: &[i64]) -> Result<Vec<i64>, sqlx::Error> {
    users_among(
        conn,
        "SELECT user_id FROM subscriptions WHERE template_id = $1 AND status <> 'accept'",
        template_id,
        user_ids,
    )
    .await
}

/// Uses one one-time credit of each of `user_ids` for `template_id` (standing permissions need none).
pub async fn use_credits(
    conn: &mut AnyConnection,
    template_id: &str,
    user_ids: &[i64],
    now_ms: i64,
) -> Result<(), sqlx::Error> {
    for chunk in user_ids.chunks(500) {
        let sql = format!(
            "UPDATE subscriptions SET credits = credits - 1, updated_at = $2 WHERE template_id = $1 \
             AND long_term = 0 AND credits > 0 AND user_id IN ({})",
            placeholder_list(3, chunk.len())
        );
        let mut query = sqlx::query(&sql).bind(template_id.to_string()).bind(now_ms);
        for id in chunk {
            query = query.bind(*id);
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// The users among `user_ids` who turned `kind` off.
pub async fn turned_off(conn: &mut AnyConnection, kind: &str, user_ids: &[i64]) -> Result<Vec<i64>, sqlx::Error> {
    users_among(conn, "SELECT user_id FROM preferences WHERE kind = $1 AND enabled = 0", kind, user_ids).await
}

/// The users among `user_ids` that `select` (which binds `key` as `$1` and answers `user_id`) finds, asked in
/// chunks of 500 ids.
async fn users_among(
    conn: &mut AnyConnection,
    select: &str,
    key: &str,
    user_ids: &[i64],
) -> Result<Vec<i64>, sqlx::Error> {
    let mut found = Vec::new();
    for chunk in user_ids.chunks(500) {
        let sql = format!("{select} AND user_id IN ({})", placeholder_list(2, chunk.len()));
        let mut query = sqlx::query(&sql).bind(key.to_string());
        for id in chunk {
            query = query.bind(*id);
        }
        for row in query.fetch_all(&mut *conn).await? {
            found.push(row.try_get("user_id")?);
        }
    }
    Ok(found)
}

/// After the platform refused for want of a subscription (WeChat 43101): no credit is left for that template.
pub async fn clear_credits(pool: &AnyPool, user_id: i64, template_id: &str, now_ms: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE subscriptions SET credits = 0, updated_at = $3 WHERE user_id = $1 AND template_id = $2")
        .bind(user_id)
        .bind(template_id.to_string())
        .bind(now_ms)
        .execute(pool)
        .await?;
    Ok(())
}

/// The kinds a user turned off.
pub async fn disabled_kinds(pool: &AnyPool, user_id: i64) -> Result<Vec<String>, sqlx::Error> {
    let rows = sqlx::query("SELECT kind FROM preferences WHERE user_id = $1 AND enabled = 0")
        .bind(user_id)
        .fetch_all(pool)
        .await?;
    rows.iter().map(|row| row.try_get("kind")).collect()
}

pub async fn set_preference(
    conn: &mut AnyConnection,
    user_id: i64,
    kind: &str,
    enabled: bool,
    now_ms: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO preferences (user_id, kind, enabled, updated_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (user_id, kind) DO UPDATE SET enabled = excluded.enabled, updated_at = excluded.updated_at",
    )
    .bind(user_id)
    .bind(kind.to_string())
    .bind(i64::from(enabled))
    .bind(now_ms)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A bill whose arrival (or changed amount) waits to be pushed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BillToAnnounce {
    pub bill_id: i64,
    pub account_no: String,
    pub period: String,
    pub due_date: String,
    pub total_fen: i64,
    pub paid_fen: i64,
    pub usage_kwh: i64,
}

/// Takes up to `limit` bills waiting to be announced, clearing their mark, on the caller's transaction (on
/// PostgreSQL concurrent takers skip each other's rows).
pub async fn take_bills_to_announce(conn: &mut AnyConnection, limit: i64) -> Result<Vec<BillToAnnounce>, sqlx::Error> {
    let backend = if super::sql::for_update(conn).is_empty() { Backend::Sqlite } else { Backend::Postgres };
    let sql = format!(
        "UPDATE bills SET notify_pending = 0 WHERE {} AND notify_pending = 1 \
         RETURNING id, account_no, period, due_date, total_fen, paid_fen, usage_kwh",
        claim_candidates(backend, "SELECT id FROM bills WHERE notify_pending = 1 ORDER BY id LIMIT $1")
    );
    let rows = sqlx::query(&sql).bind(limit).fetch_all(&mut *conn).await?;
    let mut bills: Vec<BillToAnnounce> = rows
        .iter()
        .map(|row| {
            Ok(BillToAnnounce {
                bill_id: row.try_get("id")?,
                account_no: row.try_get("account_no")?,
                period: row.try_get("period")?,
                due_date: row.try_get("due_date")?,
                total_fen: row.try_get("total_fen")?,
                paid_fen: row.try_get("paid_fen")?,
                usage_kwh: row.try_get("usage_kwh")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()?;
    bills.sort_by_key(|bill| bill.bill_id);
    Ok(bills)
}

/// A user who can be reached about an account: bound to it, with their platform identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reachable {
    pub user_id: i64,
    pub account_no: String,
    pub platform: String,
    /// WeChat openid; Alipay user_id or open_id.
    pub recipient: String,
    /// True when `recipient` is an Alipay open_id.
    pub alipay_open_id: bool,
    pub label: String,
}

/// The users bound to the accounts `account_nos`.
pub async fn bound_users(conn: &mut AnyConnection, account_nos: &[String]) -> Result<Vec<Reachable>, sqlx::Error> {
    let mut reachable = Vec::new();
    for chunk in account_nos.chunks(500) {
        let sql = format!(
            "SELECT g.user_id, g.account_no, g.label, u.platform, u.subject, u.alipay_user_id, u.alipay_open_id \
             FROM bindings g JOIN users u ON u.id = g.user_id WHERE g.account_no IN ({})",
            placeholder_list(1, chunk.len())
        );
        let mut query = sqlx::query(&sql);
        for account_no in chunk {
            query = query.bind(account_no.clone());
        }
        for row in query.fetch_all(&mut *conn).await? {
            let platform: String = row.try_get("platform")?;
            let subject: String = row.try_get("subject")?;
            let user_id: Option<String> = row.try_get("alipay_user_id")?;
            let open_id: Option<String> = row.try_get("alipay_open_id")?;
            let (recipient, alipay_open_id) = match (platform.as_str(), user_id, open_id) {
                ("alipay", Some(user_id), _) => (user_id, false),
                ("alipay", None, Some(open_id)) => (open_id, true),
                _ => (subject, false),
            };
            reachable.push(Reachable {
                user_id: row.try_get("user_id")?,
                account_no: row.try_get("account_no")?,
                platform,
                recipient,
                alipay_open_id,
                label: row.try_get("label")?,
            });
        }
    }
    Ok(reachable)
}

/// An unpaid bill due on a given day, with what a reminder shows and where an SMS would go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BillDue {
    pub bill: BillToAnnounce,
    pub phone: String,
    pub account_type: String,
}

/// Unpaid bills due on `due_date` (a Beijing date), after bill `after_id`, at most `limit`, by id.
pub async fn unpaid_due_on(
    conn: &mut AnyConnection,
    due_date: &str,
    after_id: i64,
    limit: i64,
) -> Result<Vec<BillDue>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT b.id, b.account_no, b.period, b.due_date, b.total_fen, b.paid_fen, b.usage_kwh, a.phone, \
         a.account_type FROM bills b JOIN accounts a ON a.account_no = b.account_no \
         WHERE b.due_date = $1 AND b.status <> 'paid' AND b.id > $2 ORDER BY b.id LIMIT $3",
    )
    .bind(due_date.to_string())
    .bind(after_id)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(BillDue {
                bill: BillToAnnounce {
                    bill_id: row.try_get("id")?,
                    account_no: row.try_get("account_no")?,
                    period: row.try_get("period")?,
                    due_date: row.try_get("due_date")?,
                    total_fen: row.try_get("total_fen")?,
                    paid_fen: row.try_get("paid_fen")?,
                    usage_kwh: row.try_get("usage_kwh")?,
                },
                phone: row.try_get("phone")?,
                account_type: row.try_get("account_type")?,
            })
        })
        .collect()
}

/// Whether the (day, stage) reminder pass is done.
pub async fn reminder_run_done(pool: &AnyPool, day: &str, stage: &str) -> Result<bool, sqlx::Error> {
    let row = sqlx::query("SELECT 1 AS one FROM reminder_runs WHERE day = $1 AND stage = $2")
        .bind(day.to_string())
        .bind(stage.to_string())
        .fetch_optional(pool)
        .await?;
    Ok(row.is_some())
}

pub async fn mark_reminder_run(pool: &AnyPool, day: &str, stage: &str, now_ms: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO reminder_runs (day, stage, done_at) VALUES ($1, $2, $3) ON CONFLICT (day, stage) DO NOTHING",
    )
    .bind(day.to_string())
    .bind(stage.to_string())
    .bind(now_ms)
    .execute(pool)
    .await?;
    Ok(())
}

/// Whether bill `id` is paid (a reminder for it is dropped).
pub async fn bill_is_paid(pool: &AnyPool, id: i64) -> Result<bool, sqlx::Error> {
    let row = sqlx::query("SELECT status FROM bills WHERE id = $1").bind(id).fetch_optional(pool).await?;
    Ok(row.map(|row| row.try_get::<String, _>("status")).transpose()?.is_none_or(|status| status == "paid"))
}

pub async fn cursor(conn: &mut AnyConnection, name: &str) -> Result<i64, sqlx::Error> {
    let row = sqlx::query("SELECT value FROM push_cursors WHERE name = $1")
        .bind(name.to_string())
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row.map(|row| row.try_get("value")).transpose()?.unwrap_or(0))
}

pub async fn set_cursor(conn: &mut AnyConnection, name: &str, value: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO push_cursors (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
    )
    .bind(name.to_string())
    .bind(value)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A confirmed payment (or a finished refund) to tell its payer about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoneyNotice {
    /// The payment id, or the refund's id.
    pub id: i64,
    /// For the cursor: the payment id, or the refund's updated_at.
    pub position: i64,
    pub user_id: i64,
    pub account_no: String,
    pub order_no: String,
    pub amount_fen: i64,
    pub at_ms: i64,
}

/// Payments recorded after payment `after_id` (settled or not), with the order's payer.
pub async fn payments_after(
    conn: &mut AnyConnection,
    after_id: i64,
    limit: i64,
) -> Result<Vec<MoneyNotice>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT p.id, o.user_id, o.account_no, o.order_no, p.amount_fen, p.paid_at FROM payments p \
         JOIN orders o ON o.id = p.order_id WHERE p.id > $1 ORDER BY p.id LIMIT $2",
    )
    .bind(after_id)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|row| {
            let id: i64 = row.try_get("id")?;
            Ok(MoneyNotice {
                id,
                position: id,
                user_id: row.try_get("user_id")?,
                account_no: row.try_get("account_no")?,
                order_no: row.try_get("order_no")?,
                amount_fen: row.try_get("amount_fen")?,
                at_ms: row.try_get("paid_at")?,
            })
        })
        .collect()
}

/// Refunds that succeeded after `after_updated_at`, with the payer of their order.
pub async fn refunds_done_after(
    conn: &mut AnyConnection,
    after_updated_at: i64,
    limit: i64,
) -> Result<Vec<MoneyNotice>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT r.id, r.updated_at, o.user_id, o.account_no, o.order_no, r.amount_fen FROM refunds r \
         JOIN payments p ON p.id = r.payment_id JOIN orders o ON o.id = p.order_id \
         WHERE r.state = 'succeeded' AND r.updated_at > $1 ORDER BY r.updated_at, r.id LIMIT $2",
    )
    .bind(after_updated_at)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|row| {
            let updated_at: i64 = row.try_get("updated_at")?;
            Ok(MoneyNotice {
                id: row.try_get("id")?,
                position: updated_at,
                user_id: row.try_get("user_id")?,
                account_no: row.try_get("account_no")?,
                order_no: row.try_get("order_no")?,
                amount_fen: row.try_get("amount_fen")?,
                at_ms: updated_at,
            })
        })
        .collect()
}

/// One user's reachability, for a notice about money.
pub async fn reachable_user(
    conn: &mut AnyConnection,
    user_id: i64,
    account_no: &str,
) -> Result<Option<Reachable>, sqlx::Error> {
    Ok(bound_users(conn, &[account_no.to_string()]).await?.into_iter().find(|user| user.user_id == user_id))
}

/// A message as customer service sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRecord {
    pub id: i64,
    pub kind: String,
    pub stage: String,
    pub channel: String,
    pub user_id: Option<i64>,
    pub account_no: String,
    /// openid, Alipay user id / open id, or phone number.
    pub recipient: String,
    pub state: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub platform_reply: Option<String>,
    pub created_at: i64,
    pub sent_at: Option<i64>,
}

const RECORD_COLUMNS: &str = "id, kind, stage, channel, user_id, account_no, recipient, state, attempts, last_error, \
                              platform_reply, created_at, sent_at";

fn record_from_row(row: &sqlx::any::AnyRow) -> Result<MessageRecord, sqlx::Error> {
    Ok(MessageRecord {
        id: row.try_get("id")?,
        kind: row.try_get("kind")?,
        stage: row.try_get("stage")?,
        channel: row.try_get("channel")?,
        user_id: row.try_get("user_id")?,
        account_no: row.try_get("account_no")?,
        recipient: row.try_get("recipient")?,
        state: row.try_get("state")?,
        attempts: row.try_get("attempts")?,
        last_error: row.try_get("last_error")?,
        platform_reply: row.try_get("platform_reply")?,
        created_at: row.try_get("created_at")?,
        sent_at: row.try_get("sent_at")?,
    })
}

/// The account's latest messages (to its bound users and by SMS), newest first, at most `limit`.
pub async fn for_account(pool: &AnyPool, account_no: &str, limit: i64) -> Result<Vec<MessageRecord>, sqlx::Error> {
    let sql = format!(
        "SELECT {RECORD_COLUMNS} FROM messages WHERE account_no = $1 ORDER BY created_at DESC, id DESC LIMIT $2"
    );
    let rows = sqlx::query(&sql).bind(account_no.to_string()).bind(limit).fetch_all(pool).await?;
    rows.iter().map(record_from_row).collect()
}

/// The user's latest messages, newest first, at most `limit`.
pub async fn for_user(pool: &AnyPool, user_id: i64, limit: i64) -> Result<Vec<MessageRecord>, sqlx::Error> {
    let sql =
        format!("SELECT {RECORD_COLUMNS} FROM messages WHERE user_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2");
    let rows = sqlx::query(&sql).bind(user_id).bind(limit).fetch_all(pool).await?;
    rows.iter().map(record_from_row).collect()
}

pub async fn find(conn: &mut AnyConnection, id: i64) -> Result<Option<MessageRecord>, sqlx::Error> {
    let sql = format!("SELECT {RECORD_COLUMNS} FROM messages WHERE id = $1");
    let row = sqlx::query(&sql).bind(id).fetch_optional(conn).await?;
    row.as_ref().map(record_from_row).transpose()
}

/// Puts message `id` back in the queue as [`retry_failed`] does, on the caller's transaction, if it is `failed`:
/// one conditional statement, so that two staff resending at once put it back once. `None` when it is not failed
/// (or does not exist).
pub async fn resend_failed(
    conn: &mut AnyConnection,
    id: i64,
    now_ms: i64,
) -> Result<Option<MessageRecord>, sqlx::Error> {
    let sql =
        format!("UPDATE messages SET {BACK_IN_QUEUE} WHERE id = $2 AND state = 'failed' RETURNING {RECORD_COLUMNS}");
    let row = sqlx::query(&sql).bind(now_ms).bind(id).fetch_optional(conn).await?;
    row.as_ref().map(record_from_row).transpose()
}
