//! The captured output of runs (`GET log/ID`), kept where the storage
//! keeps it: files under the storage directory next to a SQLite database,
//! chunks in the database on PostgreSQL (so any node can answer later).
//! One interface, [`RunLogs`], for writing, reading and removing; nothing
//! above it knows which one it talks to. SQL stays in `events`.
//!
//! Layout: `cap.rs` the per-run cap both share; `file.rs` the log file;
//! `chunks.rs` the chunk writer that batches every run's chunks.

pub mod cap;
pub mod chunks;
pub mod file;

use std::sync::Arc;

use futures_util::future::BoxFuture;
use futures_util::FutureExt;

use crate::config::Config;
use crate::events::{Readers, StoreError};
use crate::ids::{RunId, UserId};
use chunks::{ChunkLog, ChunkWriter};
use file::LogFile;

/// Why a log could not be read or removed.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("log file error: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Where this server keeps run logs.
#[derive(Clone)]
pub enum RunLogs {
    /// `<storage>/<user>/scripts/logs/<run>.log`.
    Files(Arc<Config>),
    /// The `run_log_chunks` table, written through one batching writer.
    Database(ChunkWriter),
}

impl RunLogs {
    /// Files next to a SQLite database; chunks in a PostgreSQL one (the
    /// chunk writer starts here, so call inside the server's runtime).
    pub fn for_readers(readers: &Readers, config: &Arc<Config>) -> RunLogs {
        match readers {
            Readers::Sqlite(_) => RunLogs::Files(config.clone()),
            Readers::Postgres(readers) => {
                RunLogs::Database(ChunkWriter::start(readers.pool.clone()))
            }
        }
    }

    /// A log for a run that is starting, capped at `cap` bytes in all;
    /// with `after`, a later attempt's (`-R`): the log so far (`after`
    /// bytes) is kept and this attempt's output written after it.
    pub fn create(&self, user: UserId, run: RunId, cap: u64, after: Option<u64>) -> RunLog {
        let offset = after.unwrap_or(0);
        let cap = cap.saturating_sub(offset);
        match self {
            RunLogs::Files(config) => RunLog::File(LogFile::new(
                config.log_path(user, run),
                cap,
                after.is_some(),
            )),
            RunLogs::Database(writer) => RunLog::Chunks(writer.log(run, cap, offset)),
        }
    }

    /// How many bytes of `run`'s log are stored (an earlier attempt's).
    pub async fn length(&self, user: UserId, run: RunId) -> Result<u64, LogError> {
        match self {
            RunLogs::Files(config) => match tokio::fs::metadata(config.log_path(user, run)).await {
                Ok(meta) => Ok(meta.len()),
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(0),
                Err(err) => Err(err.into()),
            },
            RunLogs::Database(writer) => Ok(writer.length(run).await?),
        }
    }

    /// The log of `run` from byte `offset` on (empty when it printed nothing).
    pub async fn read(&self, user: UserId, run: RunId, offset: u64) -> Result<Vec<u8>, LogError> {
        match self {
            RunLogs::Files(config) => {
                Ok(file::read_from(&config.log_path(user, run), offset).await?)
            }
            RunLogs::Database(writer) => Ok(writer.read(run, offset).await?),
        }
    }

    /// Removes the logs of these runs; answers how many there were.
    pub async fn remove(&self, runs: &[(UserId, RunId)]) -> Result<usize, LogError> {
        match self {
            RunLogs::Files(config) => {
                let mut removed = 0;
                for (user, run) in runs {
                    removed += usize::from(file::remove(&config.log_path(*user, *run)).await?);
                }
                Ok(removed)
            }
            RunLogs::Database(writer) => Ok(writer.remove(runs).await?),
        }
    }
}

/// The log of one running run.
pub enum RunLog {
    File(LogFile),
    Chunks(ChunkLog),
}

impl RunLog {
    /// Adds one line (a newline is added) unless the cap is reached.
    pub fn write_line(&mut self, line: &[u8]) {
        match self {
            RunLog::File(log) => log.write_line(line),
            RunLog::Chunks(log) => log.write_line(line),
        }
    }

    /// Passes what is buffered on (a run's timer calls it every 100 ms).
    pub fn flush(&mut self) {
        match self {
            RunLog::File(log) => log.flush(),
            RunLog::Chunks(log) => log.flush(),
        }
    }

    /// The last flush: resolves once everything is stored, with why output
    /// was lost if it was (the run's record says so).
    pub fn finish(&mut self) -> BoxFuture<'static, Option<String>> {
        match self {
            RunLog::File(log) => {
                log.flush();
                futures_util::future::ready(log.error()).boxed()
            }
            RunLog::Chunks(log) => log.finish(),
        }
    }
}
