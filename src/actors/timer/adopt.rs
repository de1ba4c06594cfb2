//! Taking a schedule up (at start, after an edit, on resume): its latest
//! recorded tick says what it missed since, and its `-C` mode what the
//! missed ticks start. Every missed tick is recorded either way.

use actix::prelude::*;

use super::{Key, Phase, Timer};
use crate::clock;
use crate::schedule::{plan_missed, Missed, MissedPlan, TickSkip, MAX_CATCH_UP_RUNS};

impl Timer {
    /// Reads `key`'s latest tick, catches up what it missed (`why`:
    /// missed while no server ran, or while paused), then ticks on.
    pub(super) fn adopt(&mut self, key: Key, why: TickSkip, ctx: &mut Context<Self>) {
        let Some(entry) = self.entries.get_mut(&key) else {
            return;
        };
        entry.phase = Phase::Adopting;
        entry.next = None;
        let readers = self.shared.readers.clone();
        let (user, name) = key.clone();
        let read = async move { readers.last_tick(user, &name).await };
        ctx.spawn(read.into_actor(self).map(move |last, act, ctx| {
            let still_adopting = act
                .entries
                .get(&key)
                .is_some_and(|e| e.phase == Phase::Adopting);
            if !still_adopting {
                return; // paused or edited meanwhile
            }
            let now = clock::now_secs();
            match last {
                Ok(Some(last)) => {
                    let since = last.missed.map_or(last.tick, |m| m.last.max(last.tick));
                    act.catch_up(&key, since, now, why, ctx);
                }
                // A schedule that never ticked has missed nothing.
                Ok(None) => {}
                Err(err) => {
                    tracing::warn!(error.cause_chain = ?err, user = %key.0, script = %key.1,
                        "cannot read the schedule's latest tick; trying again");
                    if let Some(entry) = act.entries.get_mut(&key) {
                        entry.phase = Phase::Unadopted;
                    }
                    return;
                }
            }
            act.plan_next(&key, now, ctx);
        }));
    }

    /// Records (and starts, by `-C`) the ticks due in `(since, now]`.
    fn catch_up(
        &mut self,
        key: &Key,
        since: i64,
        now: i64,
        why: TickSkip,
        ctx: &mut Context<Self>,
    ) {
        let Some(entry) = self.entries.get(key) else {
            return;
        };
        let (listed, count) = entry.cron.due_between(since, now, MAX_CATCH_UP_RUNS + 1);
        let last = match count as usize {
            n if n <= listed.len() => listed.last().copied(),
            _ => entry.cron.latest_until(now),
        };
        let last = last.or_else(|| listed.last().copied()).unwrap_or(now);
        let Some(plan) = plan_missed(entry.catch_up, &listed, last, count) else {
            return;
        };
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
    }
}
