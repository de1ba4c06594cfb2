//! `scriptd admin prune`: retention of finished runs. Removes the events
//! and log files of runs that finished before a date; their `runs` rows
//! (the history, with its audit columns) stay unless `all`. Unfinished
//! runs and account events are never touched (see `events::prune`).

use std::fmt;

use crate::config::Config;
use crate::events::store::{self, Database};
use crate::events::{prune, StoreError};
use crate::lock::{self, LockError};

/// Why a prune failed.
#[derive(Debug, thiserror::Error)]
pub enum RetentionError {
    #[error(
        "invalid date {0:?}: use RFC 3339 (2030-01-02T03:04:05Z), YYYY-MM-DD (UTC), UNIX seconds or a relative time (-30d)"
    )]
    Date(String),
    #[error("no scriptd storage in {}: it has no scriptd.db — check --storage / SCRIPTD_STORAGE", .0.display())]
    NoStorage(std::path::PathBuf),
    #[error(transparent)]
    Lock(#[from] LockError),
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
}

impl fmt::Display for PruneReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "pruned {} finished runs: {} events, {} log files and {} runs rows removed",
            self.runs, self.events, self.logs, self.rows
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

/// Prunes an open database and the log files under `config.storage`. The
/// caller holds the storage lock (or, in tests, accepts a live server).
/// Log files go after the commit: a crash in between leaves only files
/// that no event or status refers to any more.
pub async fn prune(
    db: &mut Database,
    config: &Config,
    before: f64,
    all: bool,
) -> Result<PruneReport, RetentionError> {
    let pruned = prune::prune(&mut db.writer, before, all)?;
    let mut logs = 0;
    for (user, run) in &pruned.runs {
        match tokio::fs::remove_file(config.log_path(*user, *run)).await {
            Ok(()) => logs += 1,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => return Err(err.into()),
        }
    }
    Ok(PruneReport {
        runs: pruned.runs.len(),
        events: pruned.events,
        logs,
        rows: pruned.rows,
    })
}

/// `admin prune` on a storage directory: refused while a server uses it.
pub async fn prune_storage(
    config: &Config,
    before: &str,
    all: bool,
) -> Result<PruneReport, RetentionError> {
    let before = parse_date(before)?;
    if !config.database_path().is_file() {
        return Err(RetentionError::NoStorage(config.storage.clone()));
    }
    let _lock = lock::lock(&config.storage)?;
    let mut db = store::open(&config.database_path()).await?;
    prune(&mut db, config, before, all).await
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
