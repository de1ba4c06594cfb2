//! How a RunProcess reports to the queue that started it: the notices it
//! sends up, and the [`Outlet`] of recipients it is handed at start (and
//! again when its queue is rebuilt). It never holds its queue's `Addr`,
//! so this module does not depend on the queue's.

use actix::prelude::*;

use crate::events::types::{ProgressSnapshot, RunRecord};
use crate::ids::RunId;
use crate::run::PendingRun;

/// The run published new progress.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ProgressChanged {
    pub id: RunId,
    pub progress: ProgressSnapshot,
}

/// The run's process has exited (or never started) and its final event is
/// being committed: its `-s` slot is free.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ProcessEnded {
    pub id: RunId,
}

/// The run's final event is durable; it is gone from the queue.
#[derive(Message)]
#[rtype(result = "()")]
pub struct RunEnded {
    pub id: RunId,
    pub record: RunRecord,
}

/// The attempt's `RunRetrying` is durable: the run waits in its queue
/// again (`run`, due at its next attempt) and holds no slot.
#[derive(Message)]
#[rtype(result = "()")]
pub struct RunRetried {
    pub id: RunId,
    pub run: PendingRun,
}

/// The run's process actor failed (its processes are already killed).
#[derive(Message)]
#[rtype(result = "()")]
pub struct ProcessFailed {
    pub id: RunId,
    /// The run's final event was already sent: only free its slot.
    pub ending: bool,
}

/// Where a RunProcess sends its notices. A queue builds one and shares it
/// (behind an `Arc`) with every run it starts: one reference count per
/// run, as an `Addr` clone was.
pub struct Outlet {
    pub progress: Recipient<ProgressChanged>,
    pub process_ended: Recipient<ProcessEnded>,
    pub run_ended: Recipient<RunEnded>,
    pub retried: Recipient<RunRetried>,
    pub failed: Recipient<ProcessFailed>,
}

impl Outlet {
    /// The outlet of an actor that takes every notice.
    pub fn of<A>(addr: &Addr<A>) -> Self
    where
        A: Actor<Context = Context<A>>
            + Handler<ProgressChanged>
            + Handler<ProcessEnded>
            + Handler<RunEnded>
            + Handler<RunRetried>
            + Handler<ProcessFailed>,
    {
        Outlet {
            progress: addr.clone().recipient(),
            process_ended: addr.clone().recipient(),
            run_ended: addr.clone().recipient(),
            retried: addr.clone().recipient(),
            failed: addr.clone().recipient(),
        }
    }
}
