//! Run logs in PostgreSQL: each run buffers its output and hands it on as
//! a chunk at most every 100 ms (the run's flush timer); one writer task
//! stores the chunks of every run, all that arrived while it was busy in
//! one statement, so many chatty runs cost few round trips. Chunks of one
//! run are stored in order (one task, one queue), each with the byte
//! offset it starts at, so `GET log` can read from any offset.
//!
//! While the database is unreachable the writer keeps the chunks and
//! retries; what the cap lets in is bounded per run. A chunk refused for
//! any other reason is lost and the run's record says so (`log_error`).

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use sqlx::PgPool;
use tokio::sync::{mpsc, oneshot};

use super::cap::{Cap, Take, TRUNCATED};
use crate::events::postgres::chunks::{self as sql, NewChunk};
use crate::events::StoreError;
use crate::ids::{RunId, UserId};

/// Chunks stored in one statement at most.
const MAX_BATCH: usize = 512;
/// Longest wait between two tries while the database is unreachable.
const RETRY_MAX: Duration = Duration::from_secs(1);

/// One piece of a run's log on its way to the database.
struct Chunk {
    run: RunId,
    offset: u64,
    data: Vec<u8>,
    /// The run's first lost output, shared with its [`ChunkLog`].
    error: Arc<OnceLock<String>>,
    /// Told once this chunk (and so every earlier one of the run) is stored.
    stored: Option<oneshot::Sender<()>>,
}

/// The handle of the one chunk writer: makes run logs, reads and removes.
#[derive(Clone)]
pub struct ChunkWriter {
    pool: PgPool,
    chunks: mpsc::UnboundedSender<Chunk>,
}

impl ChunkWriter {
    /// Starts the writer task on `pool` (inside a tokio runtime).
    pub fn start(pool: PgPool) -> Self {
        let (chunks, queue) = mpsc::unbounded_channel();
        tokio::spawn(write_loop(pool.clone(), queue));
        ChunkWriter { pool, chunks }
    }

    /// The log of a run that is starting, written from byte `offset` on
    /// (after an earlier attempt's output).
    pub fn log(&self, run: RunId, cap: u64, offset: u64) -> ChunkLog {
        ChunkLog {
            run,
            chunks: self.chunks.clone(),
            cap: Cap::new(cap),
            buffer: Vec::new(),
            offset,
            error: Arc::default(),
        }
    }

    /// How many bytes of `run`'s log are stored.
    pub async fn length(&self, run: RunId) -> Result<u64, StoreError> {
        sql::length(&self.pool, run).await
    }

    /// The stored log of `run` from byte `offset` on.
    pub async fn read(&self, run: RunId, offset: u64) -> Result<Vec<u8>, StoreError> {
        sql::read(&self.pool, run, offset).await
    }

    /// Deletes the chunks of these runs; answers how many runs had some.
    pub async fn remove(&self, runs: &[(UserId, RunId)]) -> Result<usize, StoreError> {
        let ids: Vec<RunId> = runs.iter().map(|(_, run)| *run).collect();
        sql::delete(&self.pool, &ids).await
    }
}

/// A running run's log: output collects here between flushes.
pub struct ChunkLog {
    run: RunId,
    chunks: mpsc::UnboundedSender<Chunk>,
    cap: Cap,
    buffer: Vec<u8>,
    /// Bytes of this log already handed to the writer.
    offset: u64,
    error: Arc<OnceLock<String>>,
}

impl ChunkLog {
    /// Adds one line (a newline is added) unless the cap is reached.
    pub fn write_line(&mut self, line: &[u8]) {
        match self.cap.take(line) {
            Take::Line(line) => {
                self.buffer.extend_from_slice(line);
                self.buffer.push(b'\n');
            }
            Take::Truncated => self.buffer.extend_from_slice(TRUNCATED),
            Take::Nothing => {}
        }
    }

    /// Hands what is buffered to the writer as one chunk.
    pub fn flush(&mut self) {
        self.send(None);
    }

    fn send(&mut self, stored: Option<oneshot::Sender<()>>) {
        if self.buffer.is_empty() && stored.is_none() {
            return;
        }
        let data = std::mem::take(&mut self.buffer);
        let offset = self.offset;
        self.offset += data.len() as u64;
        let chunk = Chunk {
            run: self.run,
            offset,
            data,
            error: self.error.clone(),
            stored,
        };
        if self.chunks.send(chunk).is_err() {
            let _ = self.error.set("the log writer has stopped".to_owned());
        }
    }

    /// The last chunk: resolves once all of this log is stored, with why
    /// output was lost if it was.
    pub fn finish(&mut self) -> BoxFuture<'static, Option<String>> {
        let (tx, rx) = oneshot::channel();
        self.send(Some(tx));
        let error = self.error.clone();
        async move {
            if rx.await.is_err() {
                let _ = error.set("the log writer has stopped".to_owned());
            }
            error.get().cloned()
        }
        .boxed()
    }
}

/// Stores chunks in arrival order, a batch per statement, until every
/// sender is gone.
async fn write_loop(pool: PgPool, mut queue: mpsc::UnboundedReceiver<Chunk>) {
    while let Some(first) = queue.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(chunk) => batch.push(chunk),
                Err(_) => break,
            }
        }
        if let Err(err) = store(&pool, &batch).await {
            tracing::warn!(error.cause_chain = ?err, chunks = batch.len(), "cannot store run log chunks");
            for chunk in &batch {
                let _ = chunk.error.set(format!("storing the log failed: {err}"));
            }
        }
        for chunk in batch {
            if let Some(stored) = chunk.stored {
                let _ = stored.send(());
            }
        }
    }
}

/// Inserts one batch, retrying for as long as the database is unreachable
/// (it is being restarted): the chunks wait here, in order.
async fn store(pool: &PgPool, batch: &[Chunk]) -> Result<(), StoreError> {
    let rows: Vec<NewChunk<'_>> = batch
        .iter()
        .filter(|chunk| !chunk.data.is_empty())
        .map(|chunk| NewChunk {
            run: chunk.run,
            offset: chunk.offset,
            data: &chunk.data,
        })
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    let mut wait = Duration::from_millis(50);
    loop {
        match sql::insert(pool, &rows).await {
            Err(err) if err.is_unavailable() => {
                tracing::debug!(error = %err, "database unavailable; keeping run log chunks");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(RETRY_MAX);
            }
            result => return result,
        }
    }
}
