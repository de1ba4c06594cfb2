//! The history query on PostgreSQL (see [`crate::events::history`]): the
//! statement and its rows are shared with SQLite (`events::row::run`),
//! served by the same partial indexes (`migrations/postgres`).

use sqlx::Postgres;

use super::reads::pg;
use super::Readers;
use crate::events::error::StoreError;
use crate::events::history::{HistoryPage, HistoryQuery};
use crate::events::row::{run, POSTGRES};

impl Readers {
    /// One page of history, newest first; reads one row past the page to
    /// tell whether another page follows.
    pub async fn history(&self, q: &HistoryQuery) -> Result<HistoryPage, StoreError> {
        let rows = run::history_sql::<Postgres>(POSTGRES, q)
            .build()
            .fetch_all(&self.pool)
            .await
            .map_err(pg)?;
        run::history_page(&rows, q, POSTGRES.record)
    }
}
