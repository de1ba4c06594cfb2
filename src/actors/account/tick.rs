//! Schedules' ticks, as the account takes them: the script must still be
//! scheduled in the exectab now; each run is then accepted like a request
//! with no arguments, marked with its tick (`requested_by: "schedule"`).
//! The ticks of one instant come in one message: the exectab is looked
//! at once for all of them, and the account waits on one future, not one
//! per tick (an actor polls every future it holds each time it wakes, so
//! a thousand of them cost a million polls; BENCHMARKS.md, issue 30,
//! "Where a tick's time goes").

use actix::prelude::*;
use futures_util::future::{join_all, Either};

use super::{enqueue, AccountSupervisor};
use crate::actors::error::RunError;
use crate::actors::queue;
use crate::events::types::Origin;
use crate::ids::ScriptName;
use crate::schedule::Missed;

/// One due tick of `name`'s schedule.
#[derive(Debug, Clone)]
pub struct Tick {
    pub name: ScriptName,
    pub tick: i64,
    /// Set on a catch-up run: the missed ticks it stands for.
    pub missed: Option<Missed>,
}

/// What became of each tick, in the order of the message.
pub type TickResults = Vec<Result<queue::Queued, RunError>>;

/// Queue the runs of due ticks of this user's schedules.
#[derive(Message, Debug)]
#[rtype(result = "TickResults")]
pub struct EnqueueTicks {
    pub ticks: Vec<Tick>,
}

impl Handler<EnqueueTicks> for AccountSupervisor {
    type Result = ResponseActFuture<Self, TickResults>;

    fn handle(&mut self, msg: EnqueueTicks, ctx: &mut Context<Self>) -> Self::Result {
        self.counted_then(ctx, move |act, ctx| act.enqueue_ticks(msg.ticks, ctx))
    }
}

impl AccountSupervisor {
    /// Hands each tick's run to its queue, then settles the quota of
    /// those that reserved room, once every queue answered.
    fn enqueue_ticks(
        &mut self,
        ticks: Vec<Tick>,
        ctx: &mut Context<Self>,
    ) -> ResponseActFuture<Self, TickResults> {
        let exectab_read = self.exectab().map(|_| ()).is_ok();
        let mut sends = Vec::with_capacity(ticks.len());
        let mut reserved = Vec::with_capacity(ticks.len());
        for tick in ticks {
            let def = self.exectab.1.get(tick.name.as_str()).cloned();
            let sent = match def {
                // Any read failure is `Unavailable`: the timer tries again.
                _ if !exectab_read => Err(RunError::Unavailable),
                // The line was edited since the timer read it: no schedule, no run.
                Some(def) if def.schedule.is_some() => self.send_checked(
                    enqueue::Checked {
                        name: tick.name,
                        def,
                        params: Vec::new(),
                        stdin: None,
                        not_before: 0,
                        origin: Origin {
                            tick: Some(tick.tick),
                            ..Origin::default()
                        },
                        bytes: 0,
                        missed: tick.missed,
                    },
                    ctx,
                ),
                _ => Err(RunError::UnknownScript),
            };
            reserved.push(sent.is_ok());
            sends.push(match sent {
                Ok(sent) => Either::Left(sent),
                Err(err) => Either::Right(std::future::ready(Err(err))),
            });
        }
        Box::pin(
            join_all(sends)
                .into_actor(self)
                .map(move |results, act, _ctx| {
                    for (result, reserved) in results.iter().zip(reserved) {
                        if reserved {
                            act.quota.settle(0, result.is_ok());
                        }
                    }
                    results
                }),
        )
    }
}
