//! The EventStore actor: the only writer of the database. Appends that
//! arrive while a commit is in flight are gathered into the next single
//! transaction (group commit), so durable throughput is not bounded by one
//! fsync per event. A caller is answered only once its events are durable.

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Connection, SqliteConnection, SqlitePool};
use tokio::sync::oneshot;

use super::error::StoreError;
use super::projection;
use super::types::{NewEvent, StoredEvent};
use crate::clock;

/// Connections to the database: one writer, a pool of readers.
pub struct Database {
    pub writer: SqliteConnection,
    pub readers: SqlitePool,
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
    let mut writer = SqliteConnection::connect_with(&options(path)).await?;
    sqlx::migrate!("./migrations").run(&mut writer).await?;
    let readers = SqlitePoolOptions::new()
        .max_connections(4)
        .min_connections(1)
        .connect_with(options(path).read_only(true))
        .await?;
    Ok(Database { writer, readers })
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

/// What [`commit`] answers: per group, its stored events or why it was refused.
type GroupResults = Vec<Result<Vec<StoredEvent>, StoreError>>;

/// Appends groups of events in one transaction. Each group is all-or-nothing
/// on its own, so one refused group does not fail the others.
pub async fn commit(
    conn: &mut SqliteConnection,
    groups: &[Vec<NewEvent>],
) -> Result<GroupResults, StoreError> {
    let at = clock::now();
    // Every statement is a round trip to sqlx's SQLite worker thread, and a
    // savepoint per group costs two of them: about 40% of a run's appends
    // (profiled). Groups are refused rarely (one writer), so first try the
    // batch without savepoints and redo it isolated only if something failed.
    if let Some(results) = commit_together(conn, groups, at).await? {
        return Ok(results);
    }
    commit_isolated(conn, groups, at).await
}

/// The whole batch in one transaction; `None` (rolled back) if any append failed.
async fn commit_together(
    conn: &mut SqliteConnection,
    groups: &[Vec<NewEvent>],
    at: f64,
) -> Result<Option<GroupResults>, StoreError> {
    let mut tx = conn.begin().await?;
    let mut results = Vec::with_capacity(groups.len());
    for group in groups {
        let mut stored = Vec::with_capacity(group.len());
        for new in group {
            match append_one(&mut tx, new, at).await {
                Ok(event) => stored.push(event),
                Err(_) => {
                    tx.rollback().await?;
                    return Ok(None);
                }
            }
        }
        results.push(Ok(stored));
    }
    tx.commit().await?;
    Ok(Some(results))
}

/// The batch with a savepoint per group, so a refused group fails alone.
async fn commit_isolated(
    conn: &mut SqliteConnection,
    groups: &[Vec<NewEvent>],
    at: f64,
) -> Result<GroupResults, StoreError> {
    let mut tx = conn.begin().await?;
    let mut results = Vec::with_capacity(groups.len());
    for group in groups {
        let mut savepoint = tx.begin().await?;
        let mut stored = Vec::with_capacity(group.len());
        let mut failed = None;
        for new in group {
            match append_one(&mut savepoint, new, at).await {
                Ok(event) => stored.push(event),
                Err(err) => {
                    failed = Some(err);
                    break;
                }
            }
        }
        match failed {
            None => {
                savepoint.commit().await?;
                results.push(Ok(stored));
            }
            Some(err) => {
                savepoint.rollback().await?;
                results.push(Err(err));
            }
        }
    }
    tx.commit().await?;
    Ok(results)
}

async fn append_one(
    conn: &mut SqliteConnection,
    new: &NewEvent,
    at: f64,
) -> Result<StoredEvent, StoreError> {
    let data = serde_json::to_string(&new.event)?;
    let stream = new.stream();
    let seq = sqlx::query(
        "INSERT INTO events (at, user_id, stream, stream_seq, kind, version, data)
         VALUES (?1, ?2, ?3,
                 (SELECT COALESCE(MAX(stream_seq), 0) + 1 FROM events WHERE stream = ?3),
                 ?4, ?5, ?6)",
    )
    .bind(at)
    .bind(new.user.0)
    .bind(&stream)
    .bind(new.event.kind())
    .bind(new.event.version())
    .bind(data)
    .execute(&mut *conn)
    .await?
    .last_insert_rowid();
    projection::apply(conn, new).await?;
    Ok(StoredEvent {
        seq,
        at,
        user: new.user,
        event: new.event.clone(),
    })
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

/// The single-writer actor around the database connection.
pub struct EventStore {
    /// `None` while a commit is in flight: the connection is inside it.
    conn: Option<SqliteConnection>,
    pending: Vec<(Vec<NewEvent>, Waiter)>,
    subscriber: Option<Recipient<EventsCommitted>>,
    metrics: crate::metrics::Metrics,
}

impl EventStore {
    /// Wraps the writer connection.
    pub fn new(conn: SqliteConnection, metrics: crate::metrics::Metrics) -> Self {
        EventStore {
            conn: Some(conn),
            pending: Vec::new(),
            subscriber: None,
            metrics,
        }
    }

    fn flush(&mut self, ctx: &mut Context<Self>) {
        if self.pending.is_empty() {
            return;
        }
        let Some(mut conn) = self.conn.take() else {
            return; // the in-flight commit will flush again when it lands
        };
        let (groups, waiters): (Vec<_>, Vec<_>) =
            std::mem::take(&mut self.pending).into_iter().unzip();
        let started = std::time::Instant::now();
        let work = async move {
            let result = commit(&mut conn, &groups).await;
            (conn, result)
        };
        ctx.spawn(work.into_actor(self).map(move |(conn, result), act, ctx| {
            act.conn = Some(conn);
            act.metrics.record_commit(waiters.len(), started.elapsed());
            act.answer(waiters, result);
            act.flush(ctx);
        }));
    }

    fn answer(
        &mut self,
        waiters: Vec<Waiter>,
        result: Result<Vec<Result<Vec<StoredEvent>, StoreError>>, StoreError>,
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
                if let (Some(sub), false) = (&self.subscriber, committed.is_empty()) {
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

    fn handle(&mut self, msg: Append, ctx: &mut Context<Self>) -> Self::Result {
        let (tx, rx) = oneshot::channel();
        self.pending.push((msg.events, tx));
        self.flush(ctx);
        Box::pin(async move { rx.await.unwrap_or(Err(StoreError::Closed)) })
    }
}

impl Handler<SetSubscriber> for EventStore {
    type Result = ();

    fn handle(&mut self, msg: SetSubscriber, _ctx: &mut Context<Self>) {
        self.subscriber = Some(msg.subscriber);
    }
}
