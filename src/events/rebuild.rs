//! `scriptd admin rebuild`: recomputes the runs read model from the event
//! log alone, in one transaction.

use std::path::Path;

use sqlx::{Connection, Row};

use super::error::StoreError;
use super::projection;
use super::types::{Event, NewEvent};
use super::upcast::upcast;
use crate::ids::UserId;

/// Rebuilds `runs` in the database at `path`; returns a one-line report.
pub async fn rebuild_at(path: &Path) -> Result<String, StoreError> {
    let mut db = super::store::open(path).await?;
    let count = rebuild(&mut db.writer).await?;
    Ok(format!(
        "rebuilt the runs read model from {count} run events"
    ))
}

/// Replaces every `runs` row by folding the run events again. Stdin of
/// queued runs lives only in its side table, which is left as it is.
pub async fn rebuild(conn: &mut sqlx::SqliteConnection) -> Result<usize, StoreError> {
    let mut tx = conn.begin().await?;
    // Rows whose events `admin prune` removed have nothing to refold from;
    // they stay as they are.
    sqlx::query("DELETE FROM runs WHERE id IN (SELECT stream FROM events)")
        .execute(&mut *tx)
        .await?;
    let rows = sqlx::query("SELECT user_id, kind, version, data FROM events WHERE stream NOT LIKE 'user:%' ORDER BY seq")
        .fetch_all(&mut *tx)
        .await?;
    for row in &rows {
        let data: String = row.try_get("data")?;
        let event: Event = serde_json::from_str(&upcast(
            row.try_get("kind")?,
            row.try_get("version")?,
            &data,
        ))?;
        let new = NewEvent {
            user: UserId(row.try_get("user_id")?),
            event,
            stdin: None,
        };
        projection::apply(&mut tx, &new).await?;
    }
    tx.commit().await?;
    Ok(rows.len())
}
