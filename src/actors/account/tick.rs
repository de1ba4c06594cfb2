//! A schedule's tick, as the account takes it: the script must still be
//! scheduled in the exectab now; its run is then accepted like a request
//! with no arguments, marked with the tick (`requested_by: "schedule"`).

use actix::prelude::*;

use super::{enqueue, AccountSupervisor};
use crate::actors::error::RunError;
use crate::actors::queue;
use crate::events::types::Origin;
use crate::ids::ScriptName;
use crate::schedule::Missed;

/// Queue the run of one due tick of `name`'s schedule.
#[derive(Message, Debug)]
#[rtype(result = "Result<queue::Queued, RunError>")]
pub struct EnqueueTick {
    pub name: ScriptName,
    pub tick: i64,
    /// Set on a catch-up run: the missed ticks it stands for.
    pub missed: Option<Missed>,
}

impl Handler<EnqueueTick> for AccountSupervisor {
    type Result = ResponseActFuture<Self, Result<queue::Queued, RunError>>;

    fn handle(&mut self, msg: EnqueueTick, ctx: &mut Context<Self>) -> Self::Result {
        let def = match self.exectab() {
            Ok(exectab) => exectab.get(msg.name.as_str()).cloned(),
            Err(err) => return Box::pin(fut::ready(Err(err))),
        };
        // The line was edited since the timer read it: no schedule, no run.
        let Some(def) = def.filter(|d| d.schedule.is_some()) else {
            return Box::pin(fut::ready(Err(RunError::UnknownScript)));
        };
        let checked = enqueue::Checked {
            name: msg.name,
            def,
            params: Vec::new(),
            stdin: None,
            not_before: 0,
            origin: Origin {
                tick: Some(msg.tick),
                ..Origin::default()
            },
            bytes: 0,
            missed: msg.missed,
        };
        self.enqueue_counted(checked, ctx)
    }
}
