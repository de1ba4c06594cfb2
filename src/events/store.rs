//! The EventStore actor: the only writer of the database, whichever
//! backend it is. Its commits run on a thread of their own that owns the
//! [`Writer`]; appends that arrive while a commit is in flight are
//! gathered into the next single transaction (group commit), so durable
//! throughput is not bounded by one fsync (or round trip) per event. A
//! caller is answered only once its events are durable.
//!
//! SQLite's writer is synchronous (rusqlite) and its thread blocks on a
//! std channel; PostgreSQL's is async (sqlx) and its thread runs a
//! current-thread runtime of its own. Both share the batching and the
//! answering below.

use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use actix::prelude::*;
use tokio::sync::{mpsc as tmpsc, oneshot};

use super::chore::Chore;
use super::error::StoreError;
use super::runlog;
use super::types::{NewEvent, StoredEvent};
use super::{postgres, sqlite};
use crate::metrics::Metrics;

pub use super::database::{open, rebuild_at, Database, GroupResults, Location, Writer};

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

/// Add a recipient of [`EventsCommitted`] (the monitor hub or the
/// follower, and the hooks' delivery worker).
#[derive(Message)]
#[rtype(result = "()")]
pub struct SetSubscriber {
    pub subscriber: Recipient<EventsCommitted>,
}

pub(super) type Waiter = oneshot::Sender<Result<Vec<StoredEvent>, StoreError>>;

/// Work for the writer thread, in arrival order.
pub(super) enum Job {
    Append(Vec<NewEvent>, Waiter),
    Subscribe(Recipient<EventsCommitted>),
    /// Housekeeping, run alone after the appends that came before it.
    Chore(Chore),
}

/// Appends gathered into one transaction at most; a bigger backlog is
/// committed in several, so no caller waits behind an unbounded batch.
const MAX_BATCH: usize = 4096;

/// The way to the writer thread: a std channel to SQLite's blocking
/// thread, a tokio channel to PostgreSQL's runtime.
enum Jobs {
    Sqlite(mpsc::Sender<Job>),
    Postgres(tmpsc::UnboundedSender<Job>),
}

/// The single-writer actor. It only hands work to the writer thread, which
/// answers callers and tells the subscriber itself.
pub struct EventStore {
    jobs: Jobs,
}

impl EventStore {
    /// Starts the writer thread around `writer`. The thread ends, closing
    /// the connection, once the actor is gone and the last job is done.
    pub fn new(writer: Writer, metrics: Metrics) -> Self {
        let thread = std::thread::Builder::new().name("scriptd-writer".into());
        let (jobs, spawned) = match writer {
            Writer::Sqlite(writer) => {
                let (jobs, queue) = mpsc::channel();
                let spawned = thread.spawn(move || write_loop(writer, queue, metrics));
                (Jobs::Sqlite(jobs), spawned)
            }
            Writer::Postgres(writer) => {
                let (jobs, queue) = tmpsc::unbounded_channel();
                let spawned = thread.spawn(move || postgres::store::run(*writer, queue, metrics));
                (Jobs::Postgres(jobs), spawned)
            }
        };
        if let Err(err) = spawned {
            // Every append will then answer `Closed`; nothing is accepted.
            tracing::error!(error = %err, "cannot start the writer thread");
        }
        EventStore { jobs }
    }

    fn send(&self, job: Job) {
        // A gone thread drops the job, and with it the waiter: `Closed`.
        let _ = match &self.jobs {
            Jobs::Sqlite(jobs) => jobs.send(job).map_err(drop),
            Jobs::Postgres(jobs) => jobs.send(job).map_err(drop),
        };
    }

    /// Queues a housekeeping job behind the appends already waiting.
    pub(super) fn chore(&self, chore: Chore) {
        self.send(Job::Chore(chore));
    }
}

/// One round of work taken from the queue: appends for one transaction,
/// and the chore that ends the round, if one came.
#[derive(Default)]
pub(super) struct Round {
    pub groups: Vec<Vec<NewEvent>>,
    pub waiters: Vec<Waiter>,
    pub chore: Option<Chore>,
}

impl Round {
    /// Gathers `first` and whatever `next` yields without waiting, up to
    /// [`MAX_BATCH`] appends or the first chore.
    pub(super) fn gather(
        first: Job,
        subscribers: &mut Vec<Recipient<EventsCommitted>>,
        mut next: impl FnMut() -> Option<Job>,
    ) -> Round {
        let mut round = Round::default();
        let mut job = Some(first);
        while let Some(current) = job {
            match current {
                Job::Append(events, waiter) => {
                    round.groups.push(events);
                    round.waiters.push(waiter);
                }
                Job::Subscribe(recipient) => subscribers.push(recipient),
                Job::Chore(chore) => {
                    // Appends that arrive after it wait for it: one batch.
                    round.chore = Some(chore);
                    break;
                }
            }
            job = if round.groups.len() < MAX_BATCH {
                next()
            } else {
                None
            };
        }
        round
    }
}

/// SQLite: commits whatever has arrived, one transaction per round, until
/// the actor drops its sender.
fn write_loop(mut writer: sqlite::Writer, queue: mpsc::Receiver<Job>, metrics: Metrics) {
    let mut subscribers: Vec<Recipient<EventsCommitted>> = Vec::new();
    while let Some(first) = next_job(&mut writer, &queue, &metrics) {
        let round = Round::gather(first, &mut subscribers, || queue.try_recv().ok());
        if !round.groups.is_empty() {
            let started = Instant::now();
            let result = writer.commit(&round.groups);
            metrics.record_commit(round.waiters.len(), started.elapsed());
            metrics.set_store_error(write_failure(&result));
            answer(round.waiters, result, &subscribers, &metrics);
        }
        if let Some(chore) = round.chore {
            chore.run(writer.connection(), &metrics);
        }
    }
}

/// How long a store that cannot write waits for work before it probes
/// whether it can write again (so `/healthz` recovers on an idle server).
pub(super) const PROBE_EVERY: Duration = Duration::from_secs(1);

/// The next job; while the last write failed, probes the disk between jobs.
fn next_job(
    writer: &mut sqlite::Writer,
    queue: &mpsc::Receiver<Job>,
    metrics: &Metrics,
) -> Option<Job> {
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
pub(super) fn write_failure(result: &Result<GroupResults, StoreError>) -> Option<String> {
    let error = match result {
        Err(err) => err,
        Ok(results) => results.iter().find_map(|r| match r {
            Err(
                err @ (StoreError::Sqlite(_) | StoreError::Sqlx(_) | StoreError::Unavailable(_)),
            ) => Some(err),
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

/// Answers each caller, counts the runs this commit ended (each final
/// event is committed once, by one node: a cluster's nodes each count
/// their own) and tells the subscribers what was committed.
pub(super) fn answer(
    waiters: Vec<Waiter>,
    result: Result<GroupResults, StoreError>,
    subscribers: &[Recipient<EventsCommitted>],
    metrics: &Metrics,
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
            for record in committed.iter().filter_map(|e| e.event.final_record()) {
                metrics.run_ended(record.outcome);
            }
            if !committed.is_empty() {
                let events = Arc::new(committed);
                for sub in subscribers {
                    sub.do_send(EventsCommitted {
                        events: events.clone(),
                    });
                }
            }
        }
        Err(err) => {
            if err.is_lease_lost() {
                tracing::debug!("group commit refused: this node is fenced");
            } else {
                tracing::error!(error.cause_chain = ?err, "group commit failed");
            }
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
        self.send(Job::Append(msg.events, tx));
        Box::pin(async move { rx.await.unwrap_or(Err(StoreError::Closed)) })
    }
}

impl Handler<SetSubscriber> for EventStore {
    type Result = ();

    fn handle(&mut self, msg: SetSubscriber, _ctx: &mut Context<Self>) {
        self.send(Job::Subscribe(msg.subscriber));
    }
}
