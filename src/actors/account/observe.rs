//! The run events any node committed for this user (PostgreSQL's
//! follower, in log order), handed to the queue of each script. A run
//! queued on another node makes the queue here; if this node's exectab
//! does not define the script, the queue only mirrors its runs (a node
//! starts only the scripts it defines).

use std::collections::BTreeMap;

use actix::prelude::*;

use super::AccountSupervisor;
use crate::actors::queue;
use crate::events::{Event, StoredEvent};
use crate::ids::ScriptName;

/// This user's run events, committed by any node, in log order.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Observed {
    pub events: Vec<StoredEvent>,
}

impl Handler<Observed> for AccountSupervisor {
    type Result = ();

    fn handle(&mut self, msg: Observed, ctx: &mut Context<Self>) {
        let mut by_name: BTreeMap<ScriptName, Vec<StoredEvent>> = BTreeMap::new();
        for stored in msg.events {
            if let Some(name) = stored.event.script().cloned() {
                by_name.entry(name).or_default().push(stored);
            }
        }
        for (name, events) in by_name {
            let queue = match self.queues.get(&name) {
                Some(queue) => queue.clone(),
                None => {
                    let queued = events
                        .iter()
                        .any(|e| matches!(e.event, Event::RunQueued { .. }));
                    if !queued {
                        continue;
                    }
                    // Read now, so the queue knows whether it may start them.
                    let limits = self.limits_of(&name);
                    self.queue(&name, limits, ctx)
                }
            };
            queue.do_send(queue::Observed { events });
        }
    }
}
