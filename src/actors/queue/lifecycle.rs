//! How runs leave a ScriptQueue and how it stops: the notices a RunProcess
//! sends up (progress, process ended, run ended; defined beside the run
//! actor) and the account's Shutdown. Notices are fire-and-forget; none of
//! these handlers appends an event.

use actix::prelude::*;

use super::ProcessGone;
use super::{Phase, ScriptQueue};
use crate::actors::run::{ProcessEnded, ProgressChanged, RunEnded, RunRetried};
use crate::run::StopReason;

impl Handler<ProgressChanged> for ScriptQueue {
    type Result = ();

    fn handle(&mut self, msg: ProgressChanged, _ctx: &mut Context<Self>) {
        self.running.set_progress(msg.id, msg.progress);
    }
}

impl Handler<ProcessEnded> for ScriptQueue {
    type Result = ();

    fn handle(&mut self, msg: ProcessEnded, ctx: &mut Context<Self>) {
        if self.running.end(msg.id) {
            self.claims_blocked = false;
            self.answer_idle_waiters();
            self.try_start(ctx);
        }
    }
}

impl Handler<RunEnded> for ScriptQueue {
    type Result = ();

    fn handle(&mut self, msg: RunEnded, ctx: &mut Context<Self>) {
        // The durable end is logged once, by the store (target scriptd::run).
        tracing::debug!(run = %msg.id, script = %self.name, outcome = msg.record.outcome.as_str(), "run left the queue");
        self.run_gone(msg.id, ctx);
    }
}

impl Handler<RunRetried> for ScriptQueue {
    type Result = ();

    fn handle(&mut self, msg: RunRetried, ctx: &mut Context<Self>) {
        let id = msg.id;
        tracing::debug!(run = %id, script = %self.name, due = msg.run.queued, "run waits for its next attempt");
        self.claims_blocked = false;
        if self.running.remove(id).is_some_and(|r| r.actor().is_some()) {
            self.outlet.gone.do_send(ProcessGone { id });
        }
        // It waits like a run queued for later: no slot, its own timer.
        self.pending.insert(msg.run);
        self.refresh_positions_from(id);
        self.answer_idle_waiters();
        self.try_start(ctx);
    }
}

/// Stop starting runs and interrupt the running ones; answered when none runs.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Shutdown;

impl Handler<Shutdown> for ScriptQueue {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, _msg: Shutdown, ctx: &mut Context<Self>) -> Self::Result {
        if let Phase::Serving = self.phase {
            self.phase = Phase::Stopping {
                idle_waiters: Vec::new(),
            };
        }
        if let Some(timer) = self.timer.take() {
            ctx.cancel_future(timer);
        }
        self.running.stop_all(StopReason::Interrupted);
        let (tx, rx) = tokio::sync::oneshot::channel();
        if let Phase::Stopping { idle_waiters } = &mut self.phase {
            idle_waiters.push(tx);
        }
        self.answer_idle_waiters();
        Box::pin(async move {
            let _ = rx.await;
        })
    }
}
