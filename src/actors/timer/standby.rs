//! The ticks this node does not own (see `owner`): each waits in a heap
//! for its turn (its due instant plus its rank's grace) and is fired then
//! only if no record of it has been seen (`Entry::recorded`, kept by
//! `observe` from every node's commits, which also tells the
//! [`owner::Lag`] how late this node's own ticks come back). One armed
//! wake-up for the heap, as for the ticks' own; an entry lives a few
//! hundred milliseconds.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Duration;

use actix::prelude::*;

use super::{owner, Key, Phase, Timer};
use crate::clock;
use crate::cluster::Roster;

/// The ticks stood by for, and what ranks them.
pub(super) struct Standby {
    /// This node's name in the cluster.
    me: String,
    roster: Roster,
    /// (turn in ms since the epoch, tick, rank, schedule), earliest first.
    heap: BinaryHeap<Reverse<(i64, i64, u32, Key)>>,
    /// How late records of ticks come: the grace follows it.
    lag: owner::Lag,
    /// The armed wake-up and the turn it is for.
    armed: Option<(i64, SpawnHandle)>,
}

impl Standby {
    /// No tick stood by for yet; `roster` is empty on SQLite.
    pub(super) fn new(me: String, roster: Roster) -> Self {
        Standby {
            me,
            roster,
            heap: BinaryHeap::new(),
            lag: owner::Lag::default(),
            armed: None,
        }
    }

    /// A record of `tick` of `key` was seen now: if this node owns the
    /// tick, its lateness tells the grace how slow an owner is lately.
    pub(super) fn seen(&mut self, key: &Key, tick: i64) {
        let live = self.roster.live();
        if owner::rank(&self.me, &live, key, tick) == 0 {
            self.lag.seen(tick, clock::now());
        }
    }

    /// When rank `rank` fires `tick`, by the grace as it stands.
    fn turn(&mut self, tick: i64, rank: u32) -> i64 {
        owner::turn_ms(tick, rank, self.lag.grace(clock::now()))
    }
}

impl Timer {
    /// Whether this node fires `tick` of `key` now (it owns it); if not,
    /// the tick waits for its turn here.
    pub(super) fn owns(&mut self, key: &Key, tick: i64, ctx: &mut Context<Self>) -> bool {
        let live = self.standby.roster.live();
        let rank = owner::rank(&self.standby.me, &live, key, tick);
        if rank == 0 {
            self.shared.metrics.tick_fired(false);
            return true;
        }
        let turn = self.standby.turn(tick, rank);
        self.standby
            .heap
            .push(Reverse((turn, tick, rank, key.clone())));
        self.arm_standby(ctx);
        false
    }

    /// Arms the wake-up for the earliest turn.
    fn arm_standby(&mut self, ctx: &mut Context<Self>) {
        let Some(Reverse((turn, ..))) = self.standby.heap.peek() else {
            return;
        };
        let turn = *turn;
        if matches!(self.standby.armed, Some((armed, _)) if armed <= turn) {
            return;
        }
        if let Some((_, handle)) = self.standby.armed.take() {
            ctx.cancel_future(handle);
        }
        let wait = (turn as f64 / 1000.0 - clock::now()).max(0.0);
        let handle = ctx.run_later(Duration::from_secs_f64(wait), |act, ctx| {
            act.standby.armed = None;
            act.relay_due(ctx);
        });
        self.standby.armed = Some((turn, handle));
    }

    /// Fires the ticks whose turn came and whose record was not seen.
    fn relay_due(&mut self, ctx: &mut Context<Self>) {
        let now_ms = (clock::now() * 1000.0) as i64;
        while let Some(Reverse((turn, ..))) = self.standby.heap.peek() {
            if *turn > now_ms {
                break;
            }
            let Some(Reverse((_, tick, rank, key))) = self.standby.heap.pop() else {
                break;
            };
            // Records came later since it was queued: it waits longer.
            let turn = self.standby.turn(tick, rank);
            if turn > now_ms {
                self.standby.heap.push(Reverse((turn, tick, rank, key)));
                continue;
            }
            // A schedule paused, edited or removed meanwhile fires nothing
            // here: its own heap entry was dropped the same way.
            let unrecorded = self.entries.get(&key).is_some_and(|e| {
                e.phase == Phase::Ticking && e.recorded.is_none_or(|seen| seen < tick)
            });
            match unrecorded {
                true => {
                    tracing::debug!(user = %key.0, script = %key.1, tick,
                        "no record of a tick from its owner in time: firing it");
                    self.shared.metrics.tick_fired(true);
                    self.fire(key, tick, None, None, ctx);
                }
                false => self.shared.metrics.tick_yielded(),
            }
        }
        self.arm_standby(ctx);
    }
}
