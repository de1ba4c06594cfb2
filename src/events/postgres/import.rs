//! Writes what `admin migrate-to` read from SQLite into an empty
//! PostgreSQL database, inside the caller's one transaction, so a failed
//! move leaves the target as empty as it found it.

use serde_json::Value;
use sqlx::PgConnection;

use crate::events::transfer::Table;
use crate::events::StoreError;

fn pg(err: sqlx::Error) -> StoreError {
    StoreError::from_pg(err, "migrated row")
}

/// Takes the tables for this transaction (no server may write meanwhile)
/// and answers how many rows they hold already (0: the target is empty).
pub async fn lock_and_count(conn: &mut PgConnection) -> Result<i64, StoreError> {
    sqlx::raw_sql(
        "LOCK TABLE events, users, guests, runs, run_stdin, run_log_chunks IN EXCLUSIVE MODE",
    )
    .execute(&mut *conn)
    .await
    .map_err(pg)?;
    sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM events) + (SELECT count(*) FROM users)
              + (SELECT count(*) FROM guests) + (SELECT count(*) FROM runs)
              + (SELECT count(*) FROM run_stdin) + (SELECT count(*) FROM run_log_chunks)",
    )
    .fetch_one(&mut *conn)
    .await
    .map_err(pg)
}

/// Inserts JSON rows (keyed by column name) into `table`. Event `seq`s
/// are kept as they were: clients resume `GET events` and monitors with them.
pub async fn insert(
    conn: &mut PgConnection,
    table: Table,
    rows: Vec<Value>,
) -> Result<u64, StoreError> {
    if rows.is_empty() {
        return Ok(0);
    }
    let name = table.name();
    let overriding = match table {
        Table::Events => "OVERRIDING SYSTEM VALUE",
        _ => "",
    };
    let sql = format!(
        "INSERT INTO {name} {overriding} SELECT * FROM jsonb_populate_recordset(NULL::{name}, $1)"
    );
    let done = sqlx::query(&sql)
        .bind(sqlx::types::Json(Value::Array(rows)))
        .execute(&mut *conn)
        .await
        .map_err(pg)?;
    Ok(done.rows_affected())
}

/// Sets the event sequence past the copied `seq`s, so new events follow them.
pub async fn continue_sequence(conn: &mut PgConnection) -> Result<(), StoreError> {
    sqlx::raw_sql(
        "SELECT setval(pg_get_serial_sequence('events', 'seq'), max(seq)) FROM events HAVING count(*) > 0",
    )
    .execute(&mut *conn)
    .await
    .map_err(pg)?;
    Ok(())
}

/// Stores a run's whole log as chunks starting at offset 0.
pub async fn log(conn: &mut PgConnection, run: &str, data: &[u8]) -> Result<(), StoreError> {
    const CHUNK: usize = 1 << 20;
    for (n, piece) in data.chunks(CHUNK).enumerate() {
        sqlx::query("INSERT INTO run_log_chunks (run_id, start_offset, data) VALUES ($1, $2, $3)")
            .bind(run)
            .bind((n * CHUNK) as i64)
            .bind(piece)
            .execute(&mut *conn)
            .await
            .map_err(pg)?;
    }
    Ok(())
}
