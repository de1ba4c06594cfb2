//! Giving freed pages back to the file system (SQLite's incremental
//! vacuum): a step per housekeeping chore, and `scriptd admin vacuum`.

use rusqlite::Connection;

use crate::events::chore::Vacuumed;
use crate::events::error::StoreError;

/// SQLite's `auto_vacuum` modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutoVacuum {
    None,
    Full,
    Incremental,
}

/// The database's `auto_vacuum` mode.
pub fn auto_vacuum(conn: &Connection) -> Result<AutoVacuum, StoreError> {
    let mode: i64 = conn.query_row("PRAGMA auto_vacuum", [], |row| row.get(0))?;
    Ok(match mode {
        1 => AutoVacuum::Full,
        2 => AutoVacuum::Incremental,
        _ => AutoVacuum::None,
    })
}

/// One incremental vacuum step of at most `pages` pages (its own short
/// transaction).
pub fn vacuum_step(conn: &Connection, pages: u32) -> Result<Vacuumed, StoreError> {
    if auto_vacuum(conn)? != AutoVacuum::Incremental {
        return Ok(Vacuumed::default());
    }
    let before = pages_of(conn)?.1;
    // incremental_vacuum(0) would empty the whole free list in one go.
    conn.execute_batch(&format!("PRAGMA incremental_vacuum({})", pages.max(1)))?;
    let after = pages_of(conn)?.1;
    Ok(Vacuumed { before, after })
}

/// Switches an existing database to incremental vacuum. Changing from
/// `none` takes a full VACUUM, which rewrites the file and holds the write
/// lock throughout: offline only (`scriptd admin vacuum`).
pub fn enable_incremental_vacuum(conn: &Connection) -> Result<(), StoreError> {
    // The checkpoint moves the rewritten pages into the file and truncates it.
    conn.execute_batch(
        "PRAGMA auto_vacuum = INCREMENTAL; VACUUM; PRAGMA wal_checkpoint(TRUNCATE);",
    )?;
    Ok(())
}

/// The database's size in pages and its free pages.
pub fn pages_of(conn: &Connection) -> Result<(u64, u64), StoreError> {
    let count: i64 = conn.query_row("PRAGMA page_count", [], |row| row.get(0))?;
    let free: i64 = conn.query_row("PRAGMA freelist_count", [], |row| row.get(0))?;
    Ok((count.max(0) as u64, free.max(0) as u64))
}
