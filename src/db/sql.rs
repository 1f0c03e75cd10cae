//! Small helpers for building portable SQL with `$n` placeholders, which both SQLite and PostgreSQL accept, and for
//! sizing the statements that bulk writes and lookups generate.

use super::Backend;
use sqlx::AnyConnection;

/// `($1, $2, ...)` tuples for a multi-row `VALUES`: `rows` rows of `columns` placeholders each.
pub fn values_tuples(rows: usize, columns: usize) -> String {
    let mut sql = String::with_capacity(rows * columns * 5);
    for row in 0..rows {
        if row > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for column in 0..columns {
            if column > 0 {
                sql.push_str(", ");
            }
            sql.push('$');
            sql.push_str(&(row * columns + column + 1).to_string());
        }
        sql.push(')');
    }
    sql
}

/// `$first, $first+1, ...`: `count` placeholders for an `IN (...)` list.
pub fn placeholder_list(first: usize, count: usize) -> String {
    (first..first + count).map(|n| format!("${n}")).collect::<Vec<_>>().join(", ")
}

fn is_sqlite(conn: &AnyConnection) -> bool {
    conn.backend_name().eq_ignore_ascii_case("sqlite")
}

/// ` FOR UPDATE` on PostgreSQL, to lock the rows a transaction reads before it changes them; nothing on SQLite, where
/// a writing transaction (`BEGIN IMMEDIATE`) already holds the database's only write lock.
pub fn for_update(conn: &AnyConnection) -> &'static str {
    if is_sqlite(conn) {
        ""
    } else {
        " FOR UPDATE"
    }
}

/// ` FOR NO KEY UPDATE` on PostgreSQL, nothing on SQLite: locks rows whose keys the transaction will not change, so
/// that foreign-key checks of concurrent inserts referring to them (an order's lines naming a bill) do not wait.
pub fn for_no_key_update(conn: &AnyConnection) -> &'static str {
    if is_sqlite(conn) {
        ""
    } else {
        " FOR NO KEY UPDATE"
    }
}

/// Parameters per generated statement (multi-row `VALUES`, long `IN` lists).
///
/// SQLite finds a `$n` parameter by walking the list of the statement's named parameters, and sqlx asks it for every
/// parameter's name when it binds: binding costs grow with the square of the count (16,000 parameters made binding
/// take 70% of an import). A few hundred keep that cost small next to the statement's own. PostgreSQL binds in linear
/// time and prefers fewer round trips; both stay far below their limits (32,766 and 65,535 parameters).
fn params_per_statement(conn: &AnyConnection) -> usize {
    if is_sqlite(conn) {
        250
    } else {
        16_000
    }
}

/// Rows per multi-row statement of `columns` columns.
pub fn rows_per_statement(conn: &AnyConnection, columns: usize) -> usize {
    (params_per_statement(conn) / columns).max(1)
}

/// Keys per `IN (...)` lookup.
pub fn keys_per_lookup(conn: &AnyConnection) -> usize {
    if is_sqlite(conn) {
        250
    } else {
        1_000
    }
}

/// Whether to prepare a lookup by a long `IN (...)` list once and reuse it. On PostgreSQL a reused prepared statement
/// soon runs a generic plan, which it may have chosen while the tables were nearly empty (as in an import into a new
/// database, before any `ANALYZE`): sequential scans that slow down as the tables grow (with the bills lookup cached, a
/// 100,000-bill import fell from 32,000 to 4,000 rows/s). Planned afresh with the keys at hand, it uses the indexes.
/// SQLite has no generic plans and gains from its statement cache.
pub fn reuse_lookup_statements(conn: &AnyConnection) -> bool {
    is_sqlite(conn)
}

/// `id` among the rows `select` picks, picked once. On PostgreSQL an `IN (subquery)` may be evaluated again while the
/// `UPDATE` runs, and then a `LIMIT` lets it pick more rows than asked (verified: 3 claimed with a limit of 2); an
/// array built from the subquery is an init plan, evaluated once. There the picked rows are also locked, skipping
/// those another claimer holds. SQLite evaluates an uncorrelated `IN (subquery)` once.
pub fn claim_candidates(backend: Backend, select: &str) -> String {
    match backend {
        Backend::Postgres => format!("id = ANY(ARRAY({select} FOR UPDATE SKIP LOCKED))"),
        Backend::Sqlite => format!("id IN ({select})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tuples_number_placeholders_row_by_row() {
        assert_eq!(values_tuples(2, 3), "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(placeholder_list(3, 2), "$3, $4");
    }
}
