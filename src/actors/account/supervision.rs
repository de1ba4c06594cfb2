//! The supervisor's side of failure handling: it keeps the live run
//! process actors of its user, and rebuilds a failed ScriptQueue from the
//! event log, handing it the processes that still run. Other queues and
//! other users never notice.

use actix::prelude::*;

use super::AccountSupervisor;
use crate::actors::queue::{ProcessGone, ProcessSpawned, QueueFailed, Restored};
use crate::events::query;
use crate::ids::ScriptName;
use crate::replay;

impl Handler<ProcessSpawned> for AccountSupervisor {
    type Result = ();

    fn handle(&mut self, msg: ProcessSpawned, _ctx: &mut Context<Self>) {
        self.processes.insert(msg.id, (msg.name, msg.process));
    }
}

impl Handler<ProcessGone> for AccountSupervisor {
    type Result = ();

    fn handle(&mut self, msg: ProcessGone, _ctx: &mut Context<Self>) {
        self.processes.remove(&msg.id);
    }
}

impl Handler<QueueFailed> for AccountSupervisor {
    type Result = ();

    fn handle(&mut self, msg: QueueFailed, ctx: &mut Context<Self>) {
        let (pool, user, name) = (self.shared.pool.clone(), self.user, msg.name);
        let load = {
            let name = name.clone();
            async move { query::unfinished_run_events_of(&pool, user, &name).await }
        };
        ctx.spawn(load.into_actor(self).map(move |result, act, ctx| match result {
            Ok(events) => act.rebuild(name, events, ctx),
            Err(err) => {
                tracing::error!(error.cause_chain = ?err, script = %name, "cannot rebuild a failed queue; retrying");
                ctx.run_later(std::time::Duration::from_secs(1), move |_act, ctx| {
                    ctx.notify(QueueFailed { name });
                });
            }
        }));
    }
}

impl AccountSupervisor {
    fn rebuild(
        &mut self,
        name: ScriptName,
        events: Vec<crate::events::StoredEvent>,
        ctx: &mut Context<Self>,
    ) {
        let mut restored = Restored::default();
        for state in replay::fold_runs(events) {
            restored.add(state, |id| {
                self.processes
                    .get(&id)
                    .map(|(_, process)| process)
                    .filter(|process| process.connected())
                    .cloned()
            });
        }
        let limits = self.limits_of(&name);
        let (pending, running, lost) = restored.counts();
        tracing::info!(
            script = %name, pending, running, lost,
            "queue rebuilt from the event log"
        );
        let queue = self.launch(name.clone(), limits, restored, ctx);
        self.queues.insert(name, queue);
    }
}
