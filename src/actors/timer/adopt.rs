//! Taking a schedule up (at start, after an edit, on resume): its latest
//! recorded tick says what it missed since, and its `-C` mode what the
//! missed ticks start. Every missed tick is recorded either way.

use actix::prelude::*;

use super::{Key, Phase, Timer, RETRY_AFTER};
use crate::clock;
use crate::events::schedule::LastTick;
use crate::ids::UserId;
use crate::schedule::{plan_missed, Missed, MissedPlan, TickSkip, MAX_CATCH_UP_RUNS};

impl Timer {
    /// Reads `key`'s latest tick, catches up what it missed (`why`:
    /// missed while no server ran, or while paused), then ticks on.
    pub(super) fn adopt(&mut self, key: Key, why: TickSkip, ctx: &mut Context<Self>) {
        if !self.begin_adopting(&key) {
            return;
        }
        let readers = self.shared.readers.clone();
        let (user, name) = key.clone();
        let read = async move { readers.last_tick(user, &name).await };
        ctx.spawn(read.into_actor(self).map(move |last, act, ctx| match last {
            Ok(last) => act.settle(&key, last, why, clock::now_secs(), ctx),
            Err(err) => {
                tracing::warn!(error.cause_chain = ?err, user = %key.0, script = %key.1,
                    "cannot read the schedule's latest tick; trying again");
                ctx.run_later(RETRY_AFTER, move |act, ctx| {
                    if act.still_adopting(&key) {
                        act.adopt(key, why, ctx);
                    }
                });
            }
        }));
    }

    /// Adopts several schedules of `user` at once, with one read of their
    /// latest ticks (100,000 schedules at start: one statement, not one each).
    pub(super) fn adopt_many(
        &mut self,
        user: UserId,
        keys: Vec<Key>,
        why: TickSkip,
        ctx: &mut Context<Self>,
    ) {
        if keys.len() <= 1 {
            for key in keys {
                self.adopt(key, why, ctx);
            }
            return;
        }
        let keys: Vec<Key> = keys
            .into_iter()
            .filter(|key| self.begin_adopting(key))
            .collect();
        let readers = self.shared.readers.clone();
        let read = async move { readers.last_ticks(user).await };
        ctx.spawn(
            read.into_actor(self)
                .map(move |lasts, act, ctx| match lasts {
                    Ok(mut lasts) => {
                        // One "now" for the batch: schedules written alike
                        // then share each search for a next instant.
                        let now = clock::now_secs();
                        for key in keys {
                            let last = lasts.remove(&key.1);
                            act.settle(&key, last, why, now, ctx);
                        }
                    }
                    Err(err) => {
                        tracing::warn!(error.cause_chain = ?err, user = %user,
                    "cannot read the schedules' latest ticks; trying again");
                        ctx.run_later(RETRY_AFTER, move |act, ctx| {
                            let keys = keys.into_iter().filter(|k| act.still_adopting(k)).collect();
                            act.adopt_many(user, keys, why, ctx);
                        });
                    }
                }),
        );
    }

    /// Marks `key` as being adopted; false when it is not scheduled.
    fn begin_adopting(&mut self, key: &Key) -> bool {
        let Some(entry) = self.entries.get_mut(key) else {
            return false;
        };
        entry.phase = Phase::Adopting;
        entry.next = None;
        self.recount = true;
        true
    }

    fn still_adopting(&self, key: &Key) -> bool {
        self.entries
            .get(key)
            .is_some_and(|e| e.phase == Phase::Adopting)
    }

    /// Catches `key` up from its latest tick (if it is still being
    /// adopted: not paused or edited meanwhile), then ticks on.
    fn settle(
        &mut self,
        key: &Key,
        last: Option<LastTick>,
        why: TickSkip,
        now: i64,
        ctx: &mut Context<Self>,
    ) {
        if !self.still_adopting(key) {
            return;
        }
        // A schedule that never ticked has missed nothing.
        let Some(last) = last else {
            return self.plan_next(key, now, ctx);
        };
        let since = last.missed.map_or(last.tick, |m| m.last.max(last.tick));
        match self.catch_up(key, since, now, why, ctx) {
            Some(next) => self.plan(key, Some(next), ctx),
            None => self.plan_next(key, now, ctx),
        }
    }

    /// Records (and starts, by `-C`) the ticks due in `(since, now]`. When
    /// none was due, the first tick after `since` is the next one after
    /// `now` too: it is returned, and saves a second search.
    fn catch_up(
        &mut self,
        key: &Key,
        since: i64,
        now: i64,
        why: TickSkip,
        ctx: &mut Context<Self>,
    ) -> Option<i64> {
        let entry = self.entries.get(key)?;
        let first = self.parses.next_after(&entry.pattern, since);
        if let Some(first) = first.filter(|first| *first > now && since <= now) {
            return Some(first);
        }
        let cron = self.parses.get(&entry.pattern)?;
        let (listed, count) = cron.due_between(since, now, MAX_CATCH_UP_RUNS + 1);
        let last = match count as usize {
            n if n <= listed.len() => listed.last().copied(),
            _ => cron.latest_until(now),
        };
        let last = last.or_else(|| listed.last().copied()).unwrap_or(now);
        let plan = plan_missed(entry.catch_up, &listed, last, count)?;
        tracing::info!(user = %key.0, script = %key.1, missed = count, mode = %entry.catch_up,
            "catching up a schedule's missed ticks");
        match plan {
            MissedPlan::Each(ticks) => {
                for tick in ticks {
                    self.fire(key.clone(), tick, None, None, ctx);
                }
            }
            MissedPlan::Summary {
                first,
                last,
                count,
                run,
            } => {
                let missed = Some(Missed { last, count });
                let skip = (!run).then_some(why);
                self.fire(key.clone(), first, missed, skip, ctx);
            }
        }
        None
    }
}
