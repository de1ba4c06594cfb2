//! How runs leave a ScriptQueue and how it stops: the notices a RunProcess
//! sends up (progress, process ended, run ended) and the account's
//! Shutdown. Notices are fire-and-forget; none of these handlers appends
//! an event.

use actix::prelude::*;

use super::ScriptQueue;
use crate::actors::run;
use crate::events::types::{ProgressSnapshot, RunRecord};
use crate::ids::RunId;

/// A RunProcess published new progress.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ProgressChanged {
    pub id: RunId,
    pub progress: ProgressSnapshot,
}

impl Handler<ProgressChanged> for ScriptQueue {
    type Result = ();

    fn handle(&mut self, msg: ProgressChanged, _ctx: &mut Context<Self>) {
        if let Some(running) = self.running.get_mut(&msg.id) {
            running.progress = msg.progress;
        }
    }
}

/// A run's process has exited (or never started) and its final event is
/// being committed: its `-s` slot is free.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ProcessEnded {
    pub id: RunId,
}

impl Handler<ProcessEnded> for ScriptQueue {
    type Result = ();

    fn handle(&mut self, msg: ProcessEnded, ctx: &mut Context<Self>) {
        if self.running.contains_key(&msg.id) && self.ending.insert(msg.id) {
            self.try_start(ctx);
        }
    }
}

/// A run's final event is durable; it is gone from the queue.
#[derive(Message)]
#[rtype(result = "()")]
pub struct RunEnded {
    pub id: RunId,
    pub record: RunRecord,
}

impl Handler<RunEnded> for ScriptQueue {
    type Result = ();

    fn handle(&mut self, msg: RunEnded, ctx: &mut Context<Self>) {
        // The durable end is logged once, by the store (target scriptd::run).
        tracing::debug!(run = %msg.id, script = %self.name, outcome = msg.record.outcome.as_str(), "run left the queue");
        self.run_gone(msg.id, ctx);
    }
}

/// Stop starting runs and interrupt the running ones; answered when none runs.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Shutdown;

impl Handler<Shutdown> for ScriptQueue {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, _msg: Shutdown, ctx: &mut Context<Self>) -> Self::Result {
        self.stopping = true;
        if let Some(timer) = self.timer.take() {
            ctx.cancel_future(timer);
        }
        for running in self.running.values_mut() {
            match &running.process {
                Some(process) => process.do_send(run::Stop {
                    reason: run::StopReason::Interrupted,
                }),
                None => running.kill = Some(run::StopReason::Interrupted),
            }
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        if self.running.is_empty() {
            let _ = tx.send(());
        } else {
            self.idle_waiters.push(tx);
        }
        Box::pin(async move {
            let _ = rx.await;
        })
    }
}
