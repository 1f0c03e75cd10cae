//! The audit log: every lookup and action of staff, every login attempt. Append-only: this repository only inserts
//! and reads, and the database refuses updates and deletes of its rows (see [`install_guard`]).

use super::ids::next_id;
use super::Backend;
use sqlx::{AnyConnection, AnyPool, Row};

/// One entry about to be appended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// `None` for a login attempt under a name no staff member has.
    pub staff_id: Option<i64>,
    pub staff_name: String,
    pub action: String,
    pub record_kind: String,
    pub record_id: String,
    pub reason: Option<String>,
    /// `ok`, `denied` (the role may not), or `failed` (refused for another reason).
    pub outcome: String,
    pub ip: String,
    pub user_agent: String,
    /// JSON: amounts, numbers, what changed; never unmasked personal data.
    pub detail: Option<serde_json::Value>,
}

pub const OUTCOME_OK: &str = "ok";
pub const OUTCOME_DENIED: &str = "denied";
pub const OUTCOME_FAILED: &str = "failed";

impl AuditEntry {
    /// An entry for what `ebill` did on the command line of this machine, as the operating-system user `who`.
    pub fn command_line(who: &str, action: &str, record_kind: &str, record_id: &str) -> AuditEntry {
        AuditEntry {
            staff_id: None,
            staff_name: format!("cli:{who}"),
            action: action.to_owned(),
            record_kind: record_kind.to_owned(),
            record_id: record_id.to_owned(),
            reason: None,
            outcome: OUTCOME_OK.to_owned(),
            ip: "local".to_owned(),
            user_agent: "ebill command line".to_owned(),
            detail: None,
        }
    }

    pub fn reason(mut self, reason: &str) -> AuditEntry {
        self.reason = Some(reason.to_owned());
        self
    }

    pub fn detail(mut self, detail: serde_json::Value) -> AuditEntry {
        self.detail = Some(detail);
        self
    }

    pub fn outcome(mut self, outcome: &str) -> AuditEntry {
        self.outcome = outcome.to_owned();
        self
    }
}

/// An entry as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEntry {
    pub id: i64,
    pub at: i64,
    pub staff_name: String,
    pub action: String,
    pub record_kind: String,
    pub record_id: String,
    pub reason: Option<String>,
    pub outcome: String,
    pub ip: String,
    pub user_agent: String,
    pub detail: Option<String>,
}

/// Appends `entry`, on the connection (or inside the transaction) of the action it records.
pub async fn append(conn: &mut AnyConnection, entry: &AuditEntry, now_ms: i64) -> Result<i64, sqlx::Error> {
    let id = next_id(now_ms);
    sqlx::query(
        "INSERT INTO audit_log (id, at, staff_id, staff_name, action, record_kind, record_id, reason, outcome, ip, \
         user_agent, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(id)
    .bind(now_ms)
    .bind(entry.staff_id)
    .bind(entry.staff_name.clone())
    .bind(entry.action.clone())
    .bind(entry.record_kind.clone())
    .bind(entry.record_id.clone())
    .bind(entry.reason.clone())
    .bind(entry.outcome.clone())
    .bind(entry.ip.clone())
    .bind(entry.user_agent.clone())
    .bind(entry.detail.as_ref().map(|d| d.to_string()))
    .execute(&mut *conn)
    .await?;
    Ok(id)
}

/// What an admin searches the log by; every field narrows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub staff_name: Option<String>,
    pub action: Option<String>,
    pub record_kind: Option<String>,
    pub record_id: Option<String>,
    /// From this instant (inclusive) ...
    pub from_ms: Option<i64>,
    /// ... to this one (exclusive).
    pub to_ms: Option<i64>,
    /// Entries older than this id (the previous page's last), newest first.
    pub before_id: Option<i64>,
}

/// Up to `limit` entries matching `filter`, newest first.
pub async fn search(pool: &AnyPool, filter: &AuditFilter, limit: i64) -> Result<Vec<StoredEntry>, sqlx::Error> {
    let mut conditions = Vec::new();
    let mut texts = Vec::new();
    let mut numbers = Vec::new();
    for (column, value) in [
        ("staff_name", &filter.staff_name),
        ("action", &filter.action),
        ("record_kind", &filter.record_kind),
        ("record_id", &filter.record_id),
    ] {
        if let Some(value) = value {
            texts.push(value.clone());
            conditions.push(format!("{column} = $T{}", texts.len()));
        }
    }
    for (condition, value) in [("at >= ", filter.from_ms), ("at < ", filter.to_ms), ("id < ", filter.before_id)] {
        if let Some(value) = value {
            numbers.push(value);
            conditions.push(format!("{condition}$N{}", numbers.len()));
        }
    }
    // Text parameters first, then numbers, then the limit: renumber the markers into $1, $2, ...
    let mut clause = if conditions.is_empty() { String::new() } else { format!(" WHERE {}", conditions.join(" AND ")) };
    for n in (1..=numbers.len()).rev() {
        clause = clause.replace(&format!("$N{n}"), &format!("${}", texts.len() + n));
    }
    for n in (1..=texts.len()).rev() {
        clause = clause.replace(&format!("$T{n}"), &format!("${n}"));
    }
    let sql = format!(
        "SELECT id, at, staff_name, action, record_kind, record_id, reason, outcome, ip, user_agent, detail \
         FROM audit_log{clause} ORDER BY id DESC LIMIT ${}",
        texts.len() + numbers.len() + 1
    );
    let mut query = sqlx::query(&sql);
    for text in texts {
        query = query.bind(text);
    }
    for number in numbers {
        query = query.bind(number);
    }
    let rows = query.bind(limit).fetch_all(pool).await?;
    rows.iter().map(entry_from_row).collect()
}

fn entry_from_row(row: &sqlx::any::AnyRow) -> Result<StoredEntry, sqlx::Error> {
    Ok(StoredEntry {
        id: row.try_get("id")?,
        at: row.try_get("at")?,
        staff_name: row.try_get("staff_name")?,
        action: row.try_get("action")?,
        record_kind: row.try_get("record_kind")?,
        record_id: row.try_get("record_id")?,
        reason: row.try_get("reason")?,
        outcome: row.try_get("outcome")?,
        ip: row.try_get("ip")?,
        user_agent: row.try_get("user_agent")?,
        detail: row.try_get("detail")?,
    })
}

/// Makes the database itself refuse `UPDATE` and `DELETE` on the audit log, so that not even a mistaken statement of
/// ours (or a hand-typed one) rewrites history. Triggers are dialect-specific, hence here rather than in a migration;
/// both branches are idempotent and run after every migration.
pub async fn install_guard(pool: &AnyPool, backend: Backend) -> Result<(), sqlx::Error> {
    let mut conn = pool.acquire().await?;
    if backend == Backend::Postgres {
        // Instances starting together would race on CREATE OR REPLACE FUNCTION: only the first installs.
        let installed = sqlx::query("SELECT COUNT(*) AS n FROM pg_trigger WHERE tgname = 'audit_log_append_only'")
            .fetch_one(&mut *conn)
            .await?
            .try_get::<i64, _>("n")?;
        if installed > 0 {
            return Ok(());
        }
    }
    let statements: &[&str] = match backend {
        Backend::Sqlite => &[
            "CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log \
             BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END",
            "CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log \
             BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END",
        ],
        Backend::Postgres => &[
            "CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$",
            "CREATE OR REPLACE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log \
             FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()",
        ],
    };
    for statement in statements {
        sqlx::raw_sql(statement).execute(&mut *conn).await?;
    }
    Ok(())
}
