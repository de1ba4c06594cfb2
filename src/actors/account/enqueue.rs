//! The last step of accepting a run: its room in the user's quota is
//! reserved, then it goes to its script's queue (reserve, then commit).

use std::future::Future;
use std::sync::Arc;

use actix::prelude::*;

use super::{limits, opts, spec, AccountSupervisor};
use crate::actors::error::RunError;
use crate::actors::queue;
use crate::events::types::Origin;

/// A run request that passed the checks, before its quota reservation.
pub(super) struct Checked {
    pub name: crate::ids::ScriptName,
    pub def: crate::exectab::ScriptDef,
    pub params: Vec<String>,
    pub stdin: Option<Vec<u8>>,
    pub not_before: i64,
    pub origin: Origin,
    pub bytes: u64,
    /// A schedule's catch-up run: the missed ticks it stands for.
    pub missed: Option<crate::schedule::Missed>,
}

impl AccountSupervisor {
    /// Counts the user's queued runs first when the quota needs a fresh
    /// count, then enqueues.
    pub(super) fn enqueue_counted(
        &mut self,
        checked: Checked,
        ctx: &mut Context<Self>,
    ) -> ResponseActFuture<Self, Result<queue::Queued, RunError>> {
        self.counted_then(ctx, move |act, ctx| act.enqueue_checked(checked, ctx))
    }

    /// Runs `then` once the quota has a fresh count of the user's queued
    /// runs (at once when it has one already).
    pub(super) fn counted_then<R: 'static>(
        &mut self,
        ctx: &mut Context<Self>,
        then: impl FnOnce(&mut Self, &mut Context<Self>) -> ResponseActFuture<Self, R> + 'static,
    ) -> ResponseActFuture<Self, R> {
        if !self.quota.needs_count() {
            return then(self, ctx);
        }
        self.count_queued(ctx);
        Box::pin(fut::ready(()).then(move |(), act: &mut Self, ctx| then(act, ctx)))
    }

    /// Counts the user's queued runs before the next message is handled.
    fn count_queued(&mut self, ctx: &mut Context<Self>) {
        // No other message is handled until the count is in, so parallel
        // requests cannot slip past the cap together.
        let (readers, user) = (self.shared.readers.clone(), self.user);
        let count = async move { readers.queued_load(user).await };
        ctx.wait(
            count
                .into_actor(self)
                .map(|counted, act, _ctx| act.quota.set_count(counted)),
        );
    }

    /// Reserves the run's room in the user's quota and hands it to its queue.
    pub(super) fn enqueue_checked(
        &mut self,
        checked: Checked,
        ctx: &mut Context<Self>,
    ) -> ResponseActFuture<Self, Result<queue::Queued, RunError>> {
        let bytes = checked.bytes;
        let sent = match self.send_checked(checked, ctx) {
            Ok(sent) => sent,
            Err(err) => return Box::pin(fut::ready(Err(err))),
        };
        Box::pin(sent.into_actor(self).map(move |result, act, _ctx| {
            act.quota.settle(bytes, result.is_ok());
            result
        }))
    }

    /// Reserves the run's room in the user's quota and sends it to its
    /// queue now; the caller settles the reservation with the answer.
    pub(super) fn send_checked(
        &mut self,
        checked: Checked,
        ctx: &mut Context<Self>,
    ) -> Result<impl Future<Output = Result<queue::Queued, RunError>> + 'static, RunError> {
        let Checked {
            name,
            def,
            params,
            stdin,
            not_before,
            origin,
            bytes,
            missed,
        } = checked;
        self.quota.reserve(&self.shared.config.limits, bytes)?;
        let queue = self.queue(&name, limits(&def), ctx);
        let opts = self
            .opts
            .entry(def.name.clone())
            .or_insert_with(|| Arc::new(opts(&def)))
            .clone();
        let enqueue = queue::Enqueue {
            spec: spec(&def, &params, opts),
            required_args: def.required_args(),
            params,
            stdin,
            not_before,
            limits: limits(&def),
            origin,
            missed,
        };
        let sent = queue.send(enqueue);
        Ok(async move { sent.await.map_err(|_| RunError::ShuttingDown)? })
    }
}
