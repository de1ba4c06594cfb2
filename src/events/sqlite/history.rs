//! The history query on SQLite (see [`crate::events::history`]); the
//! statement and its rows are shared with PostgreSQL (`events::row::run`).

use sqlx::{Sqlite, SqlitePool};

use crate::events::error::StoreError;
use crate::events::history::{HistoryPage, HistoryQuery};
use crate::events::row::{run, SQLITE};

/// One page of history, newest first; reads one row past the page to tell
/// whether another page follows.
pub async fn history(pool: &SqlitePool, q: &HistoryQuery) -> Result<HistoryPage, StoreError> {
    let rows = run::history_sql::<Sqlite>(SQLITE, q)
        .build()
        .fetch_all(pool)
        .await?;
    run::history_page(&rows, q, SQLITE.record)
}
