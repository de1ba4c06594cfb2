//! The supervisor's side of failure handling: it keeps the live run
//! process actors of its user, and rebuilds a failed ScriptQueue from the
//! event log, handing it the processes that still run. Other queues and
//! other users never notice.

use actix::prelude::*;

use super::AccountSupervisor;
use crate::actors::queue::ScriptQueue;
use crate::actors::run::{self, RunProcess};
use crate::ids::{RunId, ScriptName};
use crate::replay;

/// A queue started a run's process actor.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ProcessSpawned {
    pub id: RunId,
    pub name: ScriptName,
    pub process: Addr<RunProcess>,
}

impl Handler<ProcessSpawned> for AccountSupervisor {
    type Result = ();

    fn handle(&mut self, msg: ProcessSpawned, _ctx: &mut Context<Self>) {
        self.processes.insert(msg.id, (msg.name, msg.process));
    }
}

/// A run's process actor is done (or gone).
#[derive(Message)]
#[rtype(result = "()")]
pub struct ProcessGone {
    pub id: RunId,
}

impl Handler<ProcessGone> for AccountSupervisor {
    type Result = ();

    fn handle(&mut self, msg: ProcessGone, _ctx: &mut Context<Self>) {
        self.processes.remove(&msg.id);
    }
}

/// A queue panicked: rebuild it from the event log.
#[derive(Message)]
#[rtype(result = "()")]
pub struct QueueFailed {
    pub name: ScriptName,
}

impl Handler<QueueFailed> for AccountSupervisor {
    type Result = ();

    fn handle(&mut self, msg: QueueFailed, ctx: &mut Context<Self>) {
        let (readers, user, name) = (self.shared.readers.clone(), self.user, msg.name);
        let load = {
            let name = name.clone();
            async move { readers.unfinished_run_events_of(user, &name).await }
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
        let (mut pending, mut live, mut lost) = (Vec::new(), Vec::new(), Vec::new());
        for folded in replay::fold_runs(events) {
            let id = folded.run.id;
            match (folded.started, self.processes.get(&id)) {
                (None, _) => pending.push(folded.run),
                (Some(started), Some((_, process))) if process.connected() => {
                    live.push((folded.run, started, process.clone()))
                }
                (Some(started), _) => lost.push((folded.run, started)),
            }
        }
        let limits = self.limits_of(&name);
        tracing::info!(
            script = %name, pending = pending.len(), running = live.len(), lost = lost.len(),
            "queue rebuilt from the event log"
        );
        let processes: Vec<_> = live.iter().map(|(_, _, p)| p.clone()).collect();
        let queue = ScriptQueue::new(
            self.user,
            name.clone(),
            self.shared.clone(),
            limits,
            pending,
            ctx.address(),
        )
        .adopt(live, lost)
        .start();
        for process in processes {
            process.do_send(run::SetQueue {
                queue: queue.clone(),
            });
        }
        self.queues.insert(name, queue);
    }
}
