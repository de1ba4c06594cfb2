//! The sign-in sessions on record that have not ended, on PostgreSQL: a
//! starting node's own (and those recorded before sessions named their
//! node), and the rescuer's read of lost nodes' sessions, inside its
//! transaction so that it sees the nodes it has just marked lost.

use sqlx::postgres::PgRow;

use super::nodes::Rescue;
use super::query::{stored_from_row, EVENT_COLUMNS};
use super::reads::pg;
use super::Readers;
use crate::events::error::StoreError;
use crate::events::session::OpenSession;

/// Sessions started and not ended; `{}` is the extra condition on the
/// started event `e`.
fn open_sql(condition: &str) -> String {
    format!(
        "SELECT {EVENT_COLUMNS} FROM events e
         WHERE e.kind = 'SessionStarted' AND ({condition})
           AND NOT EXISTS (SELECT 1 FROM events x
                           WHERE x.kind = 'SessionEnded'
                             AND x.data->>'session' = e.data->>'session')
         ORDER BY e.seq"
    )
}

fn open_of(rows: &[PgRow]) -> Result<Vec<OpenSession>, StoreError> {
    rows.iter()
        .map(|row| stored_from_row(row).map(OpenSession::from_started))
        .filter_map(Result::transpose)
        .collect()
}

impl Readers {
    /// The open sessions `node` held, and those that name no node.
    pub async fn open_sessions_of(&self, node: &str) -> Result<Vec<OpenSession>, StoreError> {
        let sql = open_sql("e.data->>'node' = $1 OR e.data->>'node' IS NULL");
        let rows = sqlx::query(&sql)
            .bind(node)
            .fetch_all(&self.pool)
            .await
            .map_err(pg)?;
        open_of(&rows)
    }
}

impl Rescue {
    /// The open sessions held by nodes marked lost (by this pass or an
    /// earlier one): nobody holds them any more. Read in a savepoint, so
    /// that a failure leaves the rescue's transaction usable.
    pub async fn sessions_of_lost_nodes(&mut self) -> Result<Vec<OpenSession>, StoreError> {
        let sql = open_sql("e.data->>'node' IN (SELECT name FROM nodes WHERE lost)");
        sqlx::query("SAVEPOINT lost_sessions")
            .execute(&mut *self.tx)
            .await
            .map_err(pg)?;
        let read = sqlx::query(&sql).fetch_all(&mut *self.tx).await;
        let end = match read {
            Ok(_) => "RELEASE SAVEPOINT lost_sessions",
            Err(_) => "ROLLBACK TO SAVEPOINT lost_sessions",
        };
        sqlx::query(end).execute(&mut *self.tx).await.map_err(pg)?;
        open_of(&read.map_err(pg)?)
    }
}
