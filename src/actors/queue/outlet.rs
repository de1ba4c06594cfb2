//! How a ScriptQueue reports to the account that owns it: the notices it
//! sends up, and the [`Outlet`] of recipients it is handed at start. It
//! never holds its account's `Addr`, so this module does not depend on
//! the account's.

use actix::prelude::*;

use crate::actors::run::RunProcess;
use crate::ids::{RunId, ScriptName};

/// The queue started a run's process actor.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ProcessSpawned {
    pub id: RunId,
    pub name: ScriptName,
    pub process: Addr<RunProcess>,
}

/// A run's process actor is done (or gone).
#[derive(Message)]
#[rtype(result = "()")]
pub struct ProcessGone {
    pub id: RunId,
}

/// The queue panicked: rebuild it from the event log.
#[derive(Message)]
#[rtype(result = "()")]
pub struct QueueFailed {
    pub name: ScriptName,
}

/// Where a queue sends its notices.
pub struct Outlet {
    pub spawned: Recipient<ProcessSpawned>,
    pub gone: Recipient<ProcessGone>,
    pub failed: Recipient<QueueFailed>,
}

impl Outlet {
    /// The outlet of an actor that takes every notice.
    pub fn of<A>(addr: &Addr<A>) -> Self
    where
        A: Actor<Context = Context<A>>
            + Handler<ProcessSpawned>
            + Handler<ProcessGone>
            + Handler<QueueFailed>,
    {
        Outlet {
            spawned: addr.clone().recipient(),
            gone: addr.clone().recipient(),
            failed: addr.clone().recipient(),
        }
    }
}
