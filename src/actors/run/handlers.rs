//! Messages a RunProcess handles (stop, rate-limited publish, queue handover,
//! fault injection) and its cleanup when a panic drops it. The run's own
//! lifecycle is *not* here: see `mod.rs` and `finish.rs`.

use std::time::Duration;

use actix::prelude::*;
use nix::sys::signal::Signal;

use super::{Outlet, Phase, ProcessFailed, RunProcess};
use crate::actors::process;
use crate::run::StopReason;

/// Progress is published at most this often per run.
const PUBLISH_EVERY: Duration = Duration::from_millis(100);

/// Stop the run's process group: SIGTERM, then SIGKILL after the grace.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Stop {
    pub reason: StopReason,
}

impl Handler<Stop> for RunProcess {
    type Result = ();

    fn handle(&mut self, msg: Stop, ctx: &mut Context<Self>) {
        self.stop(msg.reason, ctx);
    }
}

/// Progress changed; publish it now or once the rate limit allows.
#[derive(Message)]
#[rtype(result = "()")]
pub(super) struct Publish;

impl Handler<Publish> for RunProcess {
    type Result = ();

    fn handle(&mut self, _msg: Publish, ctx: &mut Context<Self>) {
        let wait = self
            .last_publish
            .map(|t| PUBLISH_EVERY.saturating_sub(t.elapsed()))
            .unwrap_or_default();
        if wait.is_zero() {
            self.publish();
        } else {
            ctx.run_later(wait, |act, _ctx| {
                let finishing = matches!(act.phase, Phase::Finishing { .. });
                if act.live.borrow().dirty && !finishing {
                    act.publish();
                }
            });
        }
    }
}

/// Makes an actor panic, to test supervision (fault-injection tests only).
#[cfg(feature = "fault-injection")]
#[derive(Message)]
#[rtype(result = "()")]
pub struct Crash;

#[cfg(feature = "fault-injection")]
impl Handler<Crash> for RunProcess {
    type Result = ();

    fn handle(&mut self, _msg: Crash, _ctx: &mut Context<Self>) {
        panic!(
            "fault injection: run {} crashed on request",
            self.start.run.id
        );
    }
}

/// Where notices go now: the run's old queue failed and was rebuilt.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SetOutlet {
    pub outlet: std::sync::Arc<Outlet>,
}

impl Handler<SetOutlet> for RunProcess {
    type Result = ();

    fn handle(&mut self, msg: SetOutlet, _ctx: &mut Context<Self>) {
        self.start.outlet = msg.outlet;
    }
}

impl Drop for RunProcess {
    fn drop(&mut self) {
        // Only a panic drops a run's actor before its end is on record. Its
        // output and exit can no longer be followed, so its processes are
        // killed and reaped, and the queue records the run as failed.
        if !std::thread::panicking() {
            return;
        }
        tracing::error!(run = %self.start.run.id, "run process actor failed; killing its processes");
        self.signal_all(Signal::SIGKILL);
        if let Phase::Running { pid } = self.phase {
            actix::spawn(async move {
                let _ = process::wait_exit(pid).await;
            });
        }
        self.start.outlet.failed.do_send(ProcessFailed {
            id: self.start.run.id,
            ending: matches!(self.phase, Phase::Finishing { .. }),
        });
    }
}
