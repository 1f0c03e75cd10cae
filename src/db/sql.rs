//! Small helpers for building portable SQL with `$n` placeholders, which both SQLite and PostgreSQL accept.

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

/// Rows per multi-row statement: SQLite allows 32,766 parameters and PostgreSQL 65,535; stay well below both.
pub fn rows_per_statement(columns: usize) -> usize {
    (16_000 / columns).max(1)
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
