//! Follower: one per node on PostgreSQL. It tails `events` by `seq` and
//! tells its subscribers (the monitor hub, the account directory, the key
//! watch, the schedule timer) every event committed by any node, once, in
//! log order. Commits are serialised by the commit lock and draw their
//! `seq`s under it, so the order `seq`s become visible in is their order:
//! reading on from the last one seen never misses a row (gaps are
//! rolled-back transactions).
//!
//! It is woken by this node's own commits (which it passes on at once
//! when they follow the last event seen, without reading them back), by
//! the commits' `NOTIFY`, and by a poll: every [`POLL`] while nothing
//! listens for the notifications (the listener is down or reconnecting),
//! every [`QUIET_POLL`] while something does. A live `LISTEN` connection
//! loses no notification, and the listener wakes the follower after each
//! new one is made, so the fast poll would only cost an idle node a
//! statement a second (issue 29, item 3); the slow one stays for what
//! no notification tells, such as a commit of this node whose answer was
//! lost and never settled.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;

use crate::events::postgres::Readers;
use crate::events::{EventsCommitted, StoredEvent};

/// Events read per query; a longer tail takes several.
const PAGE: i64 = 1000;
/// The poll while nothing listens: events are late by this much at most.
pub const POLL: Duration = Duration::from_secs(1);
/// The poll while the listener is up.
pub const QUIET_POLL: Duration = Duration::from_secs(10);
/// The wait before reading again after a failed read.
const RETRY: Duration = Duration::from_millis(500);

/// Something may have been committed: read the log's tail.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Wake;

/// From the listener: whether a `LISTEN` connection is up (sent before
/// the [`Wake`] that follows each new one, so that wake's read sees every
/// commit no notification will tell).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Listening(pub bool);

/// The follower actor.
pub struct Follower {
    readers: Readers,
    subscribers: Vec<Recipient<EventsCommitted>>,
    /// The highest `seq` passed on.
    last: i64,
    /// A read is in flight.
    reading: bool,
    /// Woken while reading: read again when it is done.
    again: bool,
    /// The listener has a live `LISTEN` connection.
    listening: bool,
    /// When the last read began.
    read_at: Instant,
}

impl Follower {
    /// A follower that passes on the events after `last` to `subscribers`.
    pub fn new(readers: Readers, last: i64, subscribers: Vec<Recipient<EventsCommitted>>) -> Self {
        Follower {
            readers,
            subscribers,
            last,
            reading: false,
            again: false,
            listening: false,
            read_at: Instant::now(),
        }
    }

    fn deliver(&mut self, events: Vec<StoredEvent>) {
        let events: Vec<StoredEvent> = events.into_iter().filter(|e| e.seq > self.last).collect();
        let Some(last) = events.last().map(|e| e.seq) else {
            return;
        };
        self.last = last;
        let events = Arc::new(events);
        for subscriber in &self.subscribers {
            subscriber.do_send(EventsCommitted {
                events: events.clone(),
            });
        }
    }

    fn read(&mut self, ctx: &mut Context<Self>) {
        if self.reading {
            self.again = true;
            return;
        }
        self.reading = true;
        self.again = false;
        self.read_at = Instant::now();
        let (readers, after) = (self.readers.clone(), self.last);
        let read = async move { readers.events_since(after, PAGE).await };
        ctx.spawn(read.into_actor(self).map(|result, act, ctx| {
            act.reading = false;
            match result {
                Ok(events) => {
                    let more = events.len() as i64 >= PAGE;
                    act.deliver(events);
                    if more || act.again {
                        act.read(ctx);
                    }
                }
                Err(err) => {
                    tracing::warn!(error.cause_chain = ?err, "cannot read the log's tail; retrying");
                    ctx.run_later(RETRY, |act, ctx| act.read(ctx));
                }
            }
        }));
    }
}

impl Actor for Follower {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.set_mailbox_capacity(1 << 16);
        ctx.run_interval(POLL, |act, ctx| {
            if !act.listening || act.read_at.elapsed() >= QUIET_POLL {
                act.read(ctx);
            }
        });
        self.read(ctx);
    }
}

impl Handler<Wake> for Follower {
    type Result = ();

    fn handle(&mut self, _msg: Wake, ctx: &mut Context<Self>) {
        self.read(ctx);
    }
}

impl Handler<Listening> for Follower {
    type Result = ();

    fn handle(&mut self, msg: Listening, _ctx: &mut Context<Self>) {
        self.listening = msg.0;
    }
}

/// This node's own commit, from its writer. Its events are passed on
/// without a read when they follow the last event seen: this commit held
/// the commit lock from its first `seq` to its last, so no other commit's
/// event lies between them.
impl Handler<EventsCommitted> for Follower {
    type Result = ();

    fn handle(&mut self, msg: EventsCommitted, ctx: &mut Context<Self>) {
        let first = msg.events.first().map(|e| e.seq);
        if !self.reading && first == Some(self.last + 1) {
            self.deliver(msg.events.to_vec());
        } else {
            self.read(ctx);
        }
    }
}
