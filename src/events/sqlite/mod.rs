//! The embedded backend: one SQLite database file in the storage
//! directory (WAL, `synchronous=FULL`). One rusqlite connection writes on
//! the store's own thread; reads go through a read-only sqlx pool or, for
//! the point reads of every request, a read-only connection per thread.

pub mod apply;
pub mod backup;
pub mod export;
pub mod history;
pub mod lookup;
pub mod outbox;
pub mod prune;
pub mod query;
pub mod rebuild;
pub mod record;
pub mod unfinished;
pub mod vacuum;
pub mod watch;
pub mod writer;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Connection, SqliteConnection, SqlitePool};

use super::error::StoreError;
pub use lookup::Lookup;
pub use writer::Writer;

/// The read side of a SQLite database: a pool for the longer reads and
/// the in-place point reads.
#[derive(Clone)]
pub struct Readers {
    pub pool: SqlitePool,
    pub lookup: Lookup,
}

fn options(path: &Path) -> SqliteConnectOptions {
    SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(false)
        .busy_timeout(Duration::from_secs(10))
}

/// Opens (creating if needed) and migrates the database at `path`.
pub async fn open(path: &Path) -> Result<(Writer, Readers), StoreError> {
    create_with_incremental_vacuum(path)?;
    let mut migrator = SqliteConnection::connect_with(&options(path)).await?;
    sqlx::migrate!("./migrations/sqlite")
        .run(&mut migrator)
        .await?;
    migrator.close().await?;
    let writer = Writer::open(path)?;
    let pool = SqlitePoolOptions::new()
        .max_connections(4)
        .min_connections(1)
        .connect_with(options(path).read_only(true))
        .await?;
    Ok((
        writer,
        Readers {
            pool,
            lookup: Lookup::new(path),
        },
    ))
}

/// A new database file starts in incremental auto-vacuum mode, so space
/// that retention frees goes back to the file system. The mode can only be
/// chosen before the file has its first page; an existing database keeps
/// its mode until `scriptd admin vacuum` converts it.
fn create_with_incremental_vacuum(path: &Path) -> Result<(), StoreError> {
    let empty = std::fs::metadata(path).map_or(true, |meta| meta.len() == 0);
    if empty {
        let conn = rusqlite::Connection::open(path)?;
        conn.execute_batch("PRAGMA auto_vacuum = INCREMENTAL;")?;
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get::<_, String>(0))?;
    }
    Ok(())
}

/// Checks that `path` is a readable scriptd database without creating it.
pub async fn probe(path: &Path) -> Result<(), StoreError> {
    let opts = SqliteConnectOptions::from_str("sqlite://")?
        .filename(path)
        .read_only(true);
    let mut conn = SqliteConnection::connect_with(&opts).await?;
    sqlx::query("SELECT count(*) FROM sqlite_master")
        .execute(&mut conn)
        .await?;
    Ok(())
}
