//! Firing one tick: its run goes to the account like a request, and the
//! tick's record is committed with it. A tick that starts no run is
//! recorded with why. A tick the database could not take (away, or the
//! disk full) is tried again until it is recorded: the store refuses a
//! second record, so a retry never doubles it.

use std::time::Duration;

use actix::prelude::*;

use super::{Key, Timer};
use crate::actors::account::{EnqueueTicks, Tick};
use crate::actors::directory::GetAccount;
use crate::actors::error::RunError;
use crate::clock;
use crate::events::{Append, Event, NewEvent};
use crate::ids::UserId;
use crate::schedule::{Missed, TickSkip};

/// How long a tick the database could not take waits before it is tried again.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// What became of one attempt at a tick.
enum Fired {
    /// Its run is queued, with the tick's record.
    Started,
    /// Recorded by another node (or an earlier attempt), or no longer
    /// scheduled.
    Done,
    /// Started no run: to be recorded with this reason.
    Skip(TickSkip),
    /// Not recorded: try again.
    Retry,
}

impl Timer {
    /// Fires `tick` of `key`: queues its run, or records `skip`.
    pub(super) fn fire(
        &mut self,
        key: Key,
        tick: i64,
        missed: Option<Missed>,
        skip: Option<TickSkip>,
        ctx: &mut Context<Self>,
    ) {
        if let Some(skip) = skip {
            return self.record_skip(key, tick, missed, skip, ctx);
        }
        let (user, name) = key;
        self.fire_all(user, vec![Tick { name, tick, missed }], ctx);
    }

    /// Fires due ticks of `user`'s schedules together: one message to the
    /// account for all of them, and one future here.
    pub(super) fn fire_all(&mut self, user: UserId, ticks: Vec<Tick>, ctx: &mut Context<Self>) {
        let directory = self.directory.clone();
        let sent = ticks.clone();
        let enqueue = async move {
            let account = directory.send(GetAccount { user }).await.ok().flatten()?;
            account.send(EnqueueTicks { ticks: sent }).await.ok()
        };
        ctx.spawn(enqueue.into_actor(self).map(move |results, act, ctx| {
            // None: shutting down.
            let Some(results) = results else { return };
            for (Tick { name, tick, missed }, result) in ticks.into_iter().zip(results) {
                let key = (user, name);
                match judge(result) {
                    Fired::Started => act.shared.metrics.tick_started(clock::now() - tick as f64),
                    Fired::Done => {}
                    Fired::Skip(skip) => act.record_skip(key, tick, missed, skip, ctx),
                    Fired::Retry => act.retry(key, tick, missed, None, ctx),
                }
            }
        }));
    }

    /// Appends the record of a tick that started no run.
    fn record_skip(
        &mut self,
        key: Key,
        tick: i64,
        missed: Option<Missed>,
        skip: TickSkip,
        ctx: &mut Context<Self>,
    ) {
        let (user, name) = key.clone();
        let event = Event::ScheduleTicked {
            name,
            tick,
            run: None,
            skipped: Some(skip),
            missed,
            late: (clock::now() - tick as f64).max(0.0),
        };
        let append = self.shared.store.send(Append {
            events: vec![NewEvent::new(user, event)],
        });
        ctx.spawn(append.into_actor(self).map(move |result, act, ctx| {
            match crate::run::flatten(result) {
                Ok(_) => act.shared.metrics.tick_skipped(skip.as_str()),
                Err(err) if err.is_tick_taken() => {}
                Err(err) => {
                    tracing::warn!(error.cause_chain = ?err, user = %key.0, script = %key.1,
                        tick, "cannot record a skipped tick; trying again");
                    act.retry(key, tick, missed, Some(skip), ctx);
                }
            }
        }));
    }

    /// Tries the tick again shortly, unless its schedule went meanwhile.
    fn retry(
        &mut self,
        key: Key,
        tick: i64,
        missed: Option<Missed>,
        skip: Option<TickSkip>,
        ctx: &mut Context<Self>,
    ) {
        ctx.run_later(RETRY_AFTER, move |act, ctx| {
            if act.entries.contains_key(&key) {
                act.fire(key, tick, missed, skip, ctx);
            }
        });
    }
}

/// What the account's answer means for the tick.
fn judge(result: Result<crate::actors::queue::Queued, RunError>) -> Fired {
    let err = match result {
        Ok(_) => return Fired::Started,
        Err(err) => err,
    };
    match err {
        RunError::Store(err) if err.is_tick_taken() => Fired::Done,
        RunError::QueueFull { .. } => Fired::Skip(TickSkip::QueueFull),
        RunError::UserQueueFull => Fired::Skip(TickSkip::QuotaFull),
        RunError::UnknownScript | RunError::SkippedScript { .. } | RunError::ShuttingDown => {
            Fired::Done
        }
        RunError::Store(_) | RunError::Unavailable | RunError::DatabaseUnavailable => {
            tracing::warn!(error.cause_chain = ?err, "a tick's run could not be queued; trying again");
            Fired::Retry
        }
        err => {
            tracing::warn!(error.cause_chain = ?err, "a tick's run was refused");
            Fired::Skip(TickSkip::Refused)
        }
    }
}
