//! Retention of finished runs: `scriptd admin prune` and, in `online`,
//! the running server's own pruning (`retention_days`). Removes the events
//! and log files of runs that finished before a date; their `runs` rows
//! (the history, with its audit columns) stay unless `all`. Schedules'
//! tick records made before the date go too, but never a schedule's
//! latest. Unfinished runs and account events are never touched (see
//! `events::prune`).
//!
//! Both work in short batches (one transaction each), so `admin prune`
//! runs next to a live server: the database serialises its batches with
//! the server's commits, which wait for at most one batch. Giving space
//! back (incremental vacuum) is SQLite's; PostgreSQL vacuums by itself.

pub mod online;

use std::fmt;
use std::path::Path;

use crate::config::Config;
use crate::events::prune::Pruned;
use crate::events::sqlite::vacuum;
use crate::events::store::{self, Database, Writer};
use crate::events::StoreError;
use crate::ids::{RunId, UserId};
use crate::lock::LockError;

/// Runs per batch of `admin prune`: next to a live server, its commits
/// wait for one batch (SQLite's write lock), so batches stay small.
const BATCH: usize = 64;
/// Pages per incremental-vacuum step (4 KiB each).
pub const VACUUM_PAGES: u32 = 256;

/// Why a prune failed.
#[derive(Debug, thiserror::Error)]
pub enum RetentionError {
    #[error(
        "invalid date {0:?}: use RFC 3339 (2030-01-02T03:04:05Z), YYYY-MM-DD (UTC), UNIX seconds or a relative time (-30d)"
    )]
    Date(String),
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error("no scriptd storage in {0}: it has no scriptd.db (with --database: no scriptd.lock) — check --storage / SCRIPTD_STORAGE (only `scriptd serve` creates a storage)")]
    NoDatabase(String),
    #[error("`admin vacuum` is for SQLite; on PostgreSQL the server vacuums by itself (autovacuum; VACUUM FULL with psql if ever needed)")]
    NotSqlite,
    #[error("storage error: {0}")]
    Store(#[from] StoreError),
    #[error("file error: {0}")]
    Io(#[from] std::io::Error),
}

/// What a prune removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PruneReport {
    pub runs: usize,
    pub events: u64,
    pub logs: usize,
    pub rows: u64,
    /// Database pages given back to the file system (incremental vacuum).
    pub pages_freed: u64,
}

impl PruneReport {
    /// Adds one batch (whose log files are already gone).
    fn absorb(&mut self, batch: &Pruned, logs: usize) {
        self.runs += batch.runs.len();
        self.events += batch.events;
        self.rows += batch.rows;
        // Files removed after the commit, or logs removed inside it.
        self.logs += logs + batch.logs as usize;
    }
}

impl fmt::Display for PruneReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "pruned {} finished runs: {} events, {} log files and {} runs rows removed; {} pages given back",
            self.runs, self.events, self.logs, self.rows, self.pages_freed
        )
    }
}

/// The UNIX time a `--before` value names: RFC 3339, a UTC date
/// `YYYY-MM-DD` (its midnight), or UNIX seconds.
pub fn parse_date(text: &str) -> Result<f64, RetentionError> {
    let text = text.trim();
    if let Ok(secs) = text.parse::<i64>() {
        return Ok(secs as f64);
    }
    if let Ok(time) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(time.timestamp() as f64 + f64::from(time.timestamp_subsec_micros()) / 1e6);
    }
    // Dates and relative times (`-30d`) as every other time option reads them.
    crate::client::when::parse_time(text, crate::clock::now_secs())
        .map(|secs| secs as f64)
        .map_err(|_| RetentionError::Date(text.to_owned()))
}

/// Deletes the log files of pruned runs; answers how many there were.
/// Called after the batch's commit: a crash in between leaves only files
/// that no event or status refers to any more.
pub async fn remove_logs(config: &Config, runs: &[(UserId, RunId)]) -> std::io::Result<usize> {
    let mut logs = 0;
    for (user, run) in runs {
        match tokio::fs::remove_file(config.log_path(*user, *run)).await {
            Ok(()) => logs += 1,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => return Err(err),
        }
    }
    Ok(logs)
}

/// Prunes through a connection of this process (`admin prune`, tests),
/// batch by batch, then gives the freed pages back. Safe while a server
/// runs on the same storage.
pub async fn prune(
    db: &mut Database,
    config: &Config,
    before: f64,
    all: bool,
) -> Result<PruneReport, RetentionError> {
    let mut report = PruneReport::default();
    loop {
        let batch = db.writer.prune_batch(before, all, BATCH).await?;
        let logs = remove_logs(config, &batch.runs).await?;
        report.absorb(&batch, logs);
        if !batch.more {
            break;
        }
    }
    if let Writer::Sqlite(writer) = &mut db.writer {
        report.pages_freed = give_back(writer.connection())?;
    }
    Ok(report)
}

/// Incremental vacuum steps until no free page is left; answers the pages freed.
fn give_back(conn: &mut rusqlite::Connection) -> Result<u64, StoreError> {
    let mut freed = 0;
    // Bounded; stops early when a step makes no progress.
    for _ in 0..100_000 {
        let step = vacuum::vacuum_step(conn, VACUUM_PAGES)?;
        freed += step.before.saturating_sub(step.after);
        if step.after == 0 || step.after >= step.before {
            break;
        }
    }
    Ok(freed)
}

/// `admin prune` on a storage directory, with or without a server on it.
pub async fn prune_storage(
    config: &Config,
    before: &str,
    all: bool,
) -> Result<PruneReport, RetentionError> {
    let before = parse_date(before)?;
    if !config.storage_exists() {
        return Err(RetentionError::NoDatabase(
            config.storage.display().to_string(),
        ));
    }
    let mut db = store::open(&config.database()).await?;
    prune(&mut db, config, before, all).await
}

/// `admin vacuum`: switches an existing database to incremental vacuum
/// (one full VACUUM; the server must be stopped) and reports the size.
pub async fn vacuum_storage(config: &Config) -> Result<String, RetentionError> {
    if config.on_postgres() {
        return Err(RetentionError::NotSqlite);
    }
    let _lock = crate::lock::lock(&config.storage)?;
    let path = config.database_path();
    if !path.exists() {
        return Err(RetentionError::NoDatabase(
            config.storage.display().to_string(),
        ));
    }
    let location = config.database();
    let (mut writer, _readers) = crate::events::sqlite::open(&path).await?;
    let conn = writer.connection();
    let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    let before = size(&path);
    let mode = vacuum::auto_vacuum(conn)?;
    vacuum::enable_incremental_vacuum(conn)?;
    Ok(format!(
        "vacuumed {} (auto_vacuum was {mode:?}, now Incremental): {before} -> {} bytes",
        location.describe(),
        size(&path)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_accept_rfc3339_plain_dates_and_unix_seconds() {
        for (text, want) in [
            ("1700000000", 1_700_000_000.0),
            ("2023-11-14T22:13:20Z", 1_700_000_000.0),
            ("2023-11-14T23:13:20+01:00", 1_700_000_000.0),
            ("1970-01-02", 86_400.0),
        ] {
            assert_eq!(parse_date(text).ok(), Some(want), "{text}");
        }
        for bad in ["", "yesterday", "2023-13-01", "12:00"] {
            assert!(parse_date(bad).is_err(), "{bad:?}");
        }
    }
}
