//! Ending a removed user's runs: its queued runs are cancelled and its
//! running runs killed, each recorded with the operator's command as the
//! one who did it.

use actix::prelude::*;

use super::AccountSupervisor;
use crate::actors::queue;
use crate::events::types::Origin;

/// Cancel every queued run and kill every running run of this account.
#[derive(Message)]
#[rtype(result = "()")]
pub struct EndAllRuns {
    pub origin: Origin,
}

impl Handler<EndAllRuns> for AccountSupervisor {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, msg: EndAllRuns, _ctx: &mut Context<Self>) -> Self::Result {
        let queues: Vec<_> = self.queues.values().cloned().collect();
        Box::pin(async move {
            for queue in queues {
                let Ok((queued, running)) = queue.send(queue::ListRuns).await else {
                    continue;
                };
                for id in queued {
                    let origin = msg.origin.clone();
                    if let Ok(Err(err)) = queue.send(queue::Cancel { id, origin }).await {
                        tracing::warn!(run = %id, error = %err, "cannot cancel a removed user's run");
                    }
                }
                for id in running {
                    let origin = msg.origin.clone();
                    if let Ok(Err(err)) = queue.send(queue::Kill { id, origin }).await {
                        tracing::warn!(run = %id, error = %err, "cannot kill a removed user's run");
                    }
                }
            }
        })
    }
}
