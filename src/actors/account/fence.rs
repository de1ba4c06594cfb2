//! Passing the node's fence changes on to every queue of the account.

use actix::prelude::*;

use super::AccountSupervisor;
use crate::actors::queue::FenceChanged;

impl Handler<FenceChanged> for AccountSupervisor {
    type Result = ();

    fn handle(&mut self, msg: FenceChanged, _ctx: &mut Context<Self>) {
        for queue in self.queues.values() {
            queue.do_send(msg);
        }
    }
}
