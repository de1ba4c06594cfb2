//! The EventStore actor: the only writer of the database. Its commits run on
//! a thread of their own that owns the [`Writer`]; appends that arrive while
//! a commit is in flight are gathered into the next single transaction
//! (group commit), so durable throughput is not bounded by one fsync per
//! event. A caller is answered only once its events are durable.

use std::path::Path;
use std::str::FromStr;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use actix::prelude::*;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Connection, SqliteConnection, SqlitePool};
use tokio::sync::oneshot;

use super::chore::Chore;
use super::error::StoreError;
use super::lookup::Lookup;
use super::runlog;
use super::types::{NewEvent, StoredEvent};
pub use super::writer::{GroupResults, Writer};
use crate::metrics::Metrics;

/// Connections to the database: one writer, a pool of readers, and the
/// in-place point reads.
pub struct Database {
    pub writer: Writer,
    pub readers: SqlitePool,
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
pub async fn open(path: &Path) -> Result<Database, StoreError> {
    create_with_incremental_vacuum(path)?;
    let mut migrator = SqliteConnection::connect_with(&options(path)).await?;
    sqlx::migrate!("./migrations").run(&mut migrator).await?;
    migrator.close().await?;
    let writer = Writer::open(path)?;
    let readers = SqlitePoolOptions::new()
        .max_connections(4)
        .min_connections(1)
        .connect_with(options(path).read_only(true))
        .await?;
    Ok(Database {
        writer,
        readers,
        lookup: Lookup::new(path),
    })
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

/// Append these events atomically; answered once they are durable.
#[derive(Message, Debug)]
#[rtype(result = "Result<Vec<StoredEvent>, StoreError>")]
pub struct Append {
    pub events: Vec<NewEvent>,
}

/// Told to the subscriber after every commit, in log order.
#[derive(Message, Debug, Clone)]
#[rtype(result = "()")]
pub struct EventsCommitted {
    pub events: Arc<Vec<StoredEvent>>,
}

/// Set the one recipient of [`EventsCommitted`] (the monitor hub).
#[derive(Message)]
#[rtype(result = "()")]
pub struct SetSubscriber {
    pub subscriber: Recipient<EventsCommitted>,
}

type Waiter = oneshot::Sender<Result<Vec<StoredEvent>, StoreError>>;

/// Work for the writer thread, in arrival order.
enum Job {
    Append(Vec<NewEvent>, Waiter),
    Subscribe(Recipient<EventsCommitted>),
    /// Housekeeping, run alone after the appends that came before it.
    Chore(Chore),
}

/// Appends gathered into one transaction at most; a bigger backlog is
/// committed in several, so no caller waits behind an unbounded batch.
const MAX_BATCH: usize = 4096;

/// The single-writer actor. It only hands work to the writer thread, which
/// answers callers and tells the subscriber itself.
pub struct EventStore {
    jobs: mpsc::Sender<Job>,
}

impl EventStore {
    /// Starts the writer thread around `writer`. The thread ends, closing
    /// the connection, once the actor is gone and the last job is done.
    pub fn new(writer: Writer, metrics: Metrics) -> Self {
        let (jobs, queue) = mpsc::channel();
        let spawned = std::thread::Builder::new()
            .name("scriptd-writer".into())
            .spawn(move || write_loop(writer, queue, metrics));
        if let Err(err) = spawned {
            // Every append will then answer `Closed`; nothing is accepted.
            tracing::error!(error = %err, "cannot start the writer thread");
        }
        EventStore { jobs }
    }

    /// Queues a housekeeping job behind the appends already waiting.
    pub(super) fn chore(&self, chore: Chore) {
        let _ = self.jobs.send(Job::Chore(chore));
    }
}

/// Commits whatever has arrived, one transaction per round, until the
/// actor drops its sender.
fn write_loop(mut writer: Writer, queue: mpsc::Receiver<Job>, metrics: Metrics) {
    let mut subscriber: Option<Recipient<EventsCommitted>> = None;
    while let Some(first) = next_job(&mut writer, &queue, &metrics) {
        let mut groups = Vec::new();
        let mut waiters = Vec::new();
        let mut chore = None;
        let mut next = Some(first);
        while let Some(job) = next {
            match job {
                Job::Append(events, waiter) => {
                    groups.push(events);
                    waiters.push(waiter);
                }
                Job::Subscribe(recipient) => subscriber = Some(recipient),
                Job::Chore(job) => {
                    // Appends that arrive after it wait for it: one batch.
                    chore = Some(job);
                    break;
                }
            }
            next = if groups.len() < MAX_BATCH {
                queue.try_recv().ok()
            } else {
                None
            };
        }
        if !groups.is_empty() {
            let started = Instant::now();
            let result = writer.commit(&groups);
            metrics.record_commit(waiters.len(), started.elapsed());
            metrics.set_store_error(write_failure(&result));
            answer(waiters, result, subscriber.as_ref());
        }
        if let Some(chore) = chore {
            chore.run(writer.connection(), &metrics);
        }
    }
}

/// How long a store that cannot write waits for work before it probes
/// whether it can write again (so `/healthz` recovers on an idle server).
const PROBE_EVERY: Duration = Duration::from_secs(1);

/// The next job; while the last write failed, probes the disk between jobs.
fn next_job(writer: &mut Writer, queue: &mpsc::Receiver<Job>, metrics: &Metrics) -> Option<Job> {
    loop {
        if metrics.store_error().is_none() {
            return queue.recv().ok();
        }
        match queue.recv_timeout(PROBE_EVERY) {
            Ok(job) => return Some(job),
            Err(mpsc::RecvTimeoutError::Disconnected) => return None,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if writer.probe().is_ok() {
                    tracing::info!("the database can be written again");
                    metrics.set_store_error(None);
                }
            }
        }
    }
}

/// Why a commit could not write, if that is why it failed: a refused
/// group (a conflict) is not a failure of the store.
fn write_failure(result: &Result<GroupResults, StoreError>) -> Option<String> {
    let error = match result {
        Err(err) => err,
        Ok(results) => results.iter().find_map(|r| match r {
            Err(err @ (StoreError::Sqlite(_) | StoreError::Sqlx(_))) => Some(err),
            _ => None,
        })?,
    };
    Some(describe(error))
}

/// The error and its causes, on one line.
fn describe(error: &StoreError) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Answers each caller and tells the subscriber what was committed.
fn answer(
    waiters: Vec<Waiter>,
    result: Result<GroupResults, StoreError>,
    subscriber: Option<&Recipient<EventsCommitted>>,
) {
    match result {
        Ok(results) => {
            let mut committed = Vec::new();
            for (waiter, result) in waiters.into_iter().zip(results) {
                if let Ok(events) = &result {
                    committed.extend(events.iter().cloned());
                }
                let _ = waiter.send(result);
            }
            // After the answers: the log lines never delay a caller.
            runlog::committed(&committed);
            if let (Some(sub), false) = (subscriber, committed.is_empty()) {
                sub.do_send(EventsCommitted {
                    events: Arc::new(committed),
                });
            }
        }
        Err(err) => {
            tracing::error!(error.cause_chain = ?err, "group commit failed");
            let shared = Arc::new(err);
            for waiter in waiters {
                let _ = waiter.send(Err(StoreError::Batch(shared.clone())));
            }
        }
    }
}

impl Actor for EventStore {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        // Appends are tiny; a deep mailbox keeps bursts from backing up callers.
        ctx.set_mailbox_capacity(1 << 16);
    }
}

impl Handler<Append> for EventStore {
    type Result = ResponseFuture<Result<Vec<StoredEvent>, StoreError>>;

    fn handle(&mut self, msg: Append, _ctx: &mut Context<Self>) -> Self::Result {
        let (tx, rx) = oneshot::channel();
        let _ = self.jobs.send(Job::Append(msg.events, tx));
        Box::pin(async move { rx.await.unwrap_or(Err(StoreError::Closed)) })
    }
}

impl Handler<SetSubscriber> for EventStore {
    type Result = ();

    fn handle(&mut self, msg: SetSubscriber, _ctx: &mut Context<Self>) {
        let _ = self.jobs.send(Job::Subscribe(msg.subscriber));
    }
}
