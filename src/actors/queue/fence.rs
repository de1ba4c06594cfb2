//! The node's fence (see `crate::cluster`): while it is up this queue
//! starts nothing (`start_due` reads it), and when it goes up the running
//! runs are stopped, since the node no longer holds its lease and a
//! rescuer ends them on record. When it goes down, due runs start.

use actix::prelude::*;

use super::ScriptQueue;
use crate::run::StopReason;

/// The node's fence went up or down.
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "()")]
pub struct FenceChanged {
    pub up: bool,
}

impl Handler<FenceChanged> for ScriptQueue {
    type Result = ();

    fn handle(&mut self, msg: FenceChanged, ctx: &mut Context<Self>) {
        if msg.up {
            tracing::warn!(user = %self.user, script = %self.name, running = self.running.len(), "fenced: stopping the running runs");
            self.running.stop_all(StopReason::Interrupted);
        } else {
            self.try_start(ctx);
        }
    }
}
